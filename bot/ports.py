"""What the core asks of a platform: deliver messages, check what it may do in a channel, and say who acts.

Every call names the community (a Slack workspace, a Discord server, the console), so one deployment can serve
many. The core calls these only with no database transaction open (bot/delivery.py, bot/core.py).
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.commands import Actor
from bot.grammar import OptionSpec
from bot.messages import Message


class DeliveryError(Exception):
    """Base of what a Sender may raise; anything else is treated as a transient failure."""


class RetryLater(DeliveryError):
    """The platform asked us to wait (429) or had a passing failure (5xx, timeout)."""

    def __init__(self, reason: str, after_seconds: float | None = None) -> None:
        super().__init__(reason)
        self.after_seconds = after_seconds


class RateLimited(RetryLater):
    """The platform asked us to wait (429): not a failure of the row, so it does not count against its attempts;
    it waits `after_seconds` and tries again for as long as the platform keeps asking."""

    def __init__(self, reason: str, after_seconds: float) -> None:
        super().__init__(reason, after_seconds)


class Undeliverable(DeliveryError):
    """Refused for good (missing permission, DMs closed, unknown channel); `hint` says how to fix it."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.hint = hint


class MessageGone(DeliveryError):
    """The message to edit no longer exists or can no longer be edited (Discord 10008, Slack message_not_found)."""


@dataclass(frozen=True)
class Attempt:
    """What the outbox knows about one send, so the platform can make it happen once.

    Args:
        nonce: the outbox row's identity, carried by the message where the platform allows (Discord's `nonce`,
            Slack's message metadata).
        in_doubt: an earlier attempt may have reached the platform (its process vanished before recording the
            outcome): look for a message carrying `nonce` since `since` before sending again.
    """

    nonce: str
    in_doubt: bool = False
    since: datetime | None = None


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
    """An adapter's side of the core: outbound messages, checks, and the facts about who acts.

    `ref` is the platform's id of a posted message. A reply `handle` is what the adapter recorded to answer a
    request privately (bot/inbox.py); it is only used while valid.
    """

    name: str
    index_page_chars: int

    async def post(self, community: str, channel: str, message: Message, attempt: Attempt) -> str: ...
    async def edit(self, community: str, channel: str, ref: str, message: Message) -> None: ...
    async def pin(self, community: str, channel: str, ref: str) -> None: ...
    async def unpin(self, community: str, channel: str, ref: str) -> None: ...
    async def add_reactions(self, community: str, channel: str, ref: str, emojis: tuple[str, ...]) -> None: ...
    async def reply_in_thread(
        self, community: str, channel: str, ref: str, message: Message, attempt: Attempt
    ) -> str: ...
    async def direct_message(self, community: str, user_id: str, message: Message, attempt: Attempt) -> None: ...
    async def reply(self, community: str, handle: dict[str, Any], message: Message) -> None:
        """Answer privately through a request's reply handle."""
        ...

    async def check_channel(self, community: str, channel: str) -> ChannelCheck: ...
    async def check_direct_message(self, community: str, user_id: str) -> str | None:
        """None when a DM can reach the user, else what is missing."""
        ...

    async def actor(self, community: str, user_id: str, facts: dict[str, Any]) -> Actor | None:
        """Who acts, with the facts the core decides on (bot/permissions.py); `facts` are what the adapter
        recorded on arrival. None when the platform cannot say now (the request is answered with that)."""
        ...

    def normalize(self, option: OptionSpec, value: str) -> str:
        """An option's value in the core's terms (Slack's `<#C1|x>` → `C1`, the console's `#review` → `review`)."""
        ...
