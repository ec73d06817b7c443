"""What the bot says, as structure rather than markup.

Every piece of text in a message is literal: adapters escape it for their platform. Emphasis, mentions,
links and times are parts of their own, so no user-typed character can ever turn into formatting or a ping.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter


@dataclass(frozen=True)
class Text:
    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True)
class Strong:
    text: str
    kind: Literal["strong"] = "strong"


@dataclass(frozen=True)
class Mention:
    """A person named by account: the only part that may notify anyone (review cards name their author).
    User text never becomes one."""

    user_id: str
    name: str
    kind: Literal["mention"] = "mention"


@dataclass(frozen=True)
class ChannelRef:
    channel: str
    kind: Literal["channel"] = "channel"


@dataclass(frozen=True)
class Link:
    url: str
    label: str
    kind: Literal["link"] = "link"


@dataclass(frozen=True)
class Time:
    """A moment, shown in the reader's own time where the platform can, with the symposium's zone named."""

    at: datetime
    zone: str
    relative: bool = True
    kind: Literal["time"] = "time"


Part = Annotated[Text | Strong | Mention | ChannelRef | Link | Time, Field(discriminator="kind")]


@dataclass(frozen=True)
class Line:
    parts: tuple[Part, ...]
    bullet: bool = False


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: str
    media_type: str = "text/csv"


@dataclass(frozen=True)
class Message:
    """One message: an optional title, then lines."""

    title: str | None
    lines: tuple[Line, ...] = ()
    attachment: Attachment | None = None
    tag: str = "note"

    def plain(self) -> str:
        """The message as plain literal text (for logs, fallbacks and tests)."""
        out = [self.title] if self.title else []
        out += [("• " if line.bullet else "") + "".join(plain_part(p) for p in line.parts) for line in self.lines]
        return "\n".join(out)


def plain_part(part: Part) -> str:
    match part:
        case Text(text) | Strong(text):
            return text
        case Mention(_, name):
            return f"@{name}"
        case ChannelRef(channel):
            return f"#{channel}"
        case Link(url, label):
            return label if label == url else f"{label} <{url}>"
        case Time(at):
            return at.isoformat()
    raise TypeError(part)


@dataclass
class MessageBuilder:
    """Builds a message line by line: `b.line("Due ", Time(...))`; strings become literal text."""

    title: str | None
    tag: str = "note"
    lines: list[Line] = field(default_factory=list)

    def line(self, *parts: "Part | str", bullet: bool = False) -> "MessageBuilder":
        self.lines.append(Line(tuple(Text(p) if isinstance(p, str) else p for p in parts), bullet))
        return self

    def item(self, *parts: "Part | str") -> "MessageBuilder":
        return self.line(*parts, bullet=True)

    def build(self, attachment: Attachment | None = None) -> Message:
        return Message(self.title, tuple(self.lines), attachment, self.tag)


_MESSAGE = TypeAdapter(Message)


def dump_message(message: Message) -> dict[str, Any]:
    return _MESSAGE.dump_python(message, mode="json")


def load_message(data: dict[str, Any]) -> Message:
    return _MESSAGE.validate_python(data)
