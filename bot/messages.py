"""What the bot says, as structure rather than markup.

Every piece of text in a message is literal: adapters escape it for their platform. Emphasis, mentions,
links and times are parts of their own, so no user-typed character can ever turn into formatting or a ping.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import humanize
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
    """A moment, shown in the reader's own time where the platform can, with the symposium's zone named.

    The words for it are made here, once, for every renderer: `zoned()` in the symposium's zone (a date alone
    when it is a whole day and not relative), and `relative_to(now)`, precise enough for a deadline ("in 1 day
    and 23 hours", never "in a day" for 47 hours)."""

    at: datetime
    zone: str
    relative: bool = True
    kind: Literal["time"] = "time"

    def local(self) -> datetime:
        from bot.values import zone_info  # values imports nothing of messages; the import is only deferred

        return self.at.astimezone(zone_info(self.zone))

    def whole_day(self) -> bool:
        local = self.local()
        return not self.relative and (local.hour, local.minute) == (0, 0)

    def zoned(self) -> str:
        local = self.local()
        return f"{local:%a %Y-%m-%d} {self.zone}" if self.whole_day() else f"{local:%a %Y-%m-%d %H:%M} {self.zone}"

    def relative_to(self, now: datetime) -> str:
        return relative_words(self.at, now)


def relative_words(at: datetime, now: datetime) -> str:
    """ "in 25 minutes", "in 1 day and 23 hours", "19 days ago": the largest units a deadline needs."""
    delta = at - now
    span = abs(delta)
    if span < timedelta(minutes=1):
        return "now"
    unit = "minutes" if span < timedelta(hours=1) else "hours" if span < timedelta(days=7) else "days"
    words = humanize.precisedelta(span, minimum_unit=unit, suppress=["months", "years"], format="%d")
    return f"in {words}" if delta > timedelta() else f"{words} ago"


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
class Action:
    """A button that does what a command does, as whoever presses it (bot/buttons.py).

    `value` is what the platform carries back when it is pressed (`confirm:12`, `propose:12:2027-01-14`: short, so
    it fits Discord's 100-character custom ids with the community added); `command` is the same thing typed, shown
    where there are no buttons (the console, notification text)."""

    label: str
    value: str
    command: str
    style: Literal["primary", "danger", "plain"] = "plain"


@dataclass(frozen=True)
class Message:
    """One message: an optional title, then lines, then the buttons under it."""

    title: str | None
    lines: tuple[Line, ...] = ()
    attachment: Attachment | None = None
    tag: str = "note"
    actions: tuple[Action, ...] = ()

    def plain(self) -> str:
        """The message as plain literal text (for logs, fallbacks and tests)."""
        out = [self.title] if self.title else []
        out += [("• " if line.bullet else "") + "".join(plain_part(p) for p in line.parts) for line in self.lines]
        out += [f"[{action.label}] {action.command}" for action in self.actions]
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

    actions: list[Action] = field(default_factory=list)

    def action(self, action: Action) -> "MessageBuilder":
        self.actions.append(action)
        return self

    def build(self, attachment: Attachment | None = None) -> Message:
        return Message(self.title, tuple(self.lines), attachment, self.tag, tuple(self.actions))


_MESSAGE = TypeAdapter(Message)


def dump_message(message: Message) -> dict[str, Any]:
    return _MESSAGE.dump_python(message, mode="json")


def load_message(data: dict[str, Any]) -> Message:
    return _MESSAGE.validate_python(data)
