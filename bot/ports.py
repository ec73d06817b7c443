"""What the core asks of a platform: deliver messages and check what it may do in a channel."""

from dataclasses import dataclass, field
from typing import Protocol

from bot.messages import Message


class DeliveryError(Exception):
    """Base of what a Sender may raise; anything else is treated as a transient failure."""


class RetryLater(DeliveryError):
    """The platform asked us to wait (429) or had a passing failure (5xx, timeout)."""

    def __init__(self, reason: str, after_seconds: float | None = None) -> None:
        super().__init__(reason)
        self.after_seconds = after_seconds


class Undeliverable(DeliveryError):
    """Refused for good (missing permission, DMs closed, unknown channel); `hint` says how to fix it."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.hint = hint


class MessageGone(DeliveryError):
    """The message to edit no longer exists or can no longer be edited (Discord 10008, Slack message_not_found)."""


@dataclass(frozen=True)
class ChannelCheck:
    channel: str
    works: tuple[str, ...] = ()
    missing: dict[str, str] = field(default_factory=dict)
    readable_by_everyone: bool = False

    @property
    def can_post(self) -> bool:
        return "post" in self.works


class Platform(Protocol):
    """An adapter's outbound side. `ref` is the platform's id of a posted message."""

    name: str
    index_page_chars: int

    async def post(self, channel: str, message: Message) -> str: ...
    async def edit(self, channel: str, ref: str, message: Message) -> None: ...
    async def pin(self, channel: str, ref: str) -> None: ...
    async def unpin(self, channel: str, ref: str) -> None: ...
    async def add_reactions(self, channel: str, ref: str, emojis: tuple[str, ...]) -> None: ...
    async def reply_in_thread(self, channel: str, ref: str, message: Message) -> str: ...
    async def direct_message(self, user_id: str, message: Message) -> None: ...
    async def check_channel(self, channel: str) -> ChannelCheck: ...
    async def check_direct_message(self, user_id: str) -> str | None:
        """None when a DM can reach the user, else what is missing."""
        ...
