"""Constants and records shared by the Discord fake's REST side (discord_api.py) and gateway (discord_gateway.py).

Import them from tests.fakes.discord_api, which re-exports every name here.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR, ADD_REACTIONS, VIEW_CHANNEL, SEND_MESSAGES = 1 << 3, 1 << 6, 1 << 10, 1 << 11
MANAGE_MESSAGES, EMBED_LINKS, ATTACH_FILES, READ_MESSAGE_HISTORY = 1 << 13, 1 << 14, 1 << 15, 1 << 16
USE_APPLICATION_COMMANDS, CREATE_PUBLIC_THREADS, SEND_MESSAGES_IN_THREADS = 1 << 31, 1 << 35, 1 << 38
PIN_MESSAGES, ALL_PERMISSIONS = 1 << 51, (1 << 53) - 1
EVERYONE_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | EMBED_LINKS
    | (ATTACH_FILES | USE_APPLICATION_COMMANDS | CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS)
)
DEFAULT_BOT_PERMISSIONS = EVERYONE_PERMISSIONS | PIN_MESSAGES

TEXT, DM, PUBLIC_THREAD = 0, 1, 11  # channel types
GUILD_MESSAGES, GUILD_REACTIONS, DM_MESSAGES, DM_REACTIONS = 1 << 9, 1 << 10, 1 << 12, 1 << 13  # intents
PRIVILEGED_INTENTS = 1 << 1 | 1 << 8 | 1 << 15  # members, presences, message content
EPHEMERAL, LOADING, HAS_THREAD = 64, 128, 32  # message flags
ACTION_ROW, BUTTON = 1, 2  # component types
# Interaction types, and the callback types a component click may be answered with.
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE = 4, 5, 6, 7

ERRORS = {
    0: "General error", 10003: "Unknown Channel", 10004: "Unknown Guild", 10007: "Unknown Member",
    10008: "Unknown Message", 10013: "Unknown User", 10015: "Unknown Webhook", 10062: "Unknown interaction",
    30003: "Maximum number of pins reached (250)", 40060: "Interaction has already been acknowledged.",
    50001: "Missing Access", 50005: "Cannot edit a message authored by another user",
    50007: "Cannot send messages to this user", 50013: "Missing Permissions", 50035: "Invalid Form Body",
    160004: "A thread has already been created for this message",
}  # fmt: skip


class ApiError(Exception):
    """A Discord-shaped error answer: HTTP status plus JSON error code."""

    def __init__(self, status: int, code: int, message: str | None = None) -> None:
        super().__init__(message or ERRORS.get(code, f"{status}: Error"))
        self.status, self.code = status, code


@dataclass
class Upload:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Call:
    """A REST request as received (path relative to /api/v10, without query) and the status it got.

    A held call (see FakeDiscord.hold) is recorded on arrival with status 0, and gets its status once answered.
    """

    method: str
    path: str
    json: Any
    files: list[Upload]
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    status: int = 0


@dataclass
class Interaction:
    """An interaction the fake dispatched, and how the bot answered: the callback, original and followups.

    For a button click answered with type 6 or 7, `original` is the message the button is on.
    """

    id: str
    token: str
    type: int
    payload: JSON = field(default_factory=dict)
    callbacks: list[JSON] = field(default_factory=list)
    original: JSON | None = None
    followups: list[JSON] = field(default_factory=list)


@dataclass
class Member:
    roles: list[str]
    permissions: int | None  # replaces what the roles grant, if set
    joined_at: str


@dataclass
class Guild:
    id: str
    name: str
    owner_id: str
    roles: dict[str, JSON] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)


Until = Callable[[Callable[[], bool], float, str], Awaitable[None]]


@dataclass(eq=False)
class Hold:
    """Requests Discord has handled whose answers wait: for tests of a crash between a request and its answer.

    Each matching request takes effect on arrival (a message exists, an interaction is acknowledged) and is
    recorded in `calls` (status 0); it is answered when release() is called.
    """

    method: str
    pattern: re.Pattern[str]
    _until: Until
    times: int | None = None  # how many requests to hold; None: every one until released
    calls: list[Call] = field(default_factory=list)
    released: bool = False
    _gate: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, method: str, path: str) -> bool:
        if self.released or (self.times is not None and len(self.calls) >= self.times):
            return False
        return method == self.method and self.pattern.fullmatch(path) is not None

    def release(self) -> None:
        """Answer every held request; later matching requests are answered at once."""
        self.released = True
        self._gate.set()

    async def arrived(self, count: int = 1, timeout: float = 5.0) -> Call:  # noqa: ASYNC109
        """Wait until `count` requests are held here; returns the count-th."""
        await self._until(lambda: len(self.calls) >= count, timeout, f"{count} held {self.method} {self.pattern}")
        return self.calls[count - 1]


def shard_of(guild_id: str | int, shard_count: int) -> int:
    """The shard a guild's events go to (https://discord.com/developers/docs/events/gateway#sharding)."""
    return (int(guild_id) >> 22) % shard_count


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def route_emoji(key: str) -> JSON:
    """The emoji object for a route-form emoji: a unicode character, or "name:id" for a custom one."""
    name, _, emoji_id = key.partition(":")
    return {"id": emoji_id or None, "name": name}
