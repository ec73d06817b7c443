"""What the Slack fake remembers: workspaces and their conversations, tokens, and Slack's rate-limit windows.

Kept apart from the HTTP server (tests/fakes/slack_api.py, which re-exports every public name) so each file
reads on its own: this one holds no I/O.
"""

import math
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

TEAM_ID, BOT_USER_ID, BOT_ID, APP_ID = "T0000FAKE", "U0000BOT1", "B0000BOT1", "A0000APP1"
TEAM_NAME = "Fake Workspace"

# The bot scopes of adapters/slack/manifest.yml: what the default workspace's token holds (X-OAuth-Scopes).
DEFAULT_SCOPES = (
    "commands",
    "chat:write",
    "pins:write",
    "reactions:read",
    "reactions:write",
    "im:write",
    "users:read",
    "channels:read",
    "groups:read",
    "files:write",
)

# Slack's published tiers, in calls per minute per workspace and method.
_TIERS = {
    1: "apps.connections.open",
    20: "pins.add pins.remove",
    50: "chat.update chat.delete reactions.add reactions.get conversations.open conversations.info "
    "conversations.history",
    100: "users.info views.open views.update files.getUploadURLExternal files.completeUploadExternal auth.test",
}
DEFAULT_PER_MINUTE = {method: limit for limit, methods in _TIERS.items() for method in methods.split()}
# Slack's "special" tier: about one message a second per channel, and no workspace-wide ceiling.
PER_CHANNEL_METHODS = frozenset({"chat.postMessage", "chat.postEphemeral"})

Json = dict[str, Any]
Answer = tuple[int, Json | str, dict[str, str]]  # HTTP status, body (str: not JSON, as a proxy's page), headers


def bot_user_id_for(team_id: str) -> str:
    """The bot's user id in a workspace: BOT_USER_ID in the default one, "U{team}BOT" elsewhere."""
    return BOT_USER_ID if team_id == TEAM_ID else f"U{team_id}BOT"


def bot_id_for(team_id: str) -> str:
    """The bot's bot id ("B…") in a workspace, as auth.test answers it."""
    return BOT_ID if team_id == TEAM_ID else f"B{team_id}BOT"


def domain_for(team_id: str, name: str = "") -> str:
    """The workspace's subdomain, as payloads carry it in ``team.domain``."""
    if team_id == TEAM_ID:
        return "fake-workspace"
    return "-".join((name or team_id).lower().split())


def ts_key(ts: str) -> Decimal:
    """A message ts as a number that compares exactly (floats lose the microseconds)."""
    try:
        return Decimal(ts)
    except InvalidOperation:
        raise SlackError("invalid_ts") from None


@dataclass(frozen=True)
class Call:
    """One request the fake received; ``token`` is the bearer token (for "response_url", the URL's id).

    ``team`` is the workspace the call was made in (the token's, or the file's for "upload_url"); None when
    unknown (no or malformed token, "response_url"). ``pending`` is True (and ``status`` 0) while its answer
    is held (``FakeSlack.hold``); the release replaces the record with the answered call.
    """

    method: str
    payload: Json
    at_monotonic: float
    status: int = 200
    response: Json = field(default_factory=dict)
    token: str | None = None
    team: str | None = None
    pending: bool = False


@dataclass
class Message:
    """A posted message as it stands now, so a test can tell an edit in place from a re-post."""

    ts: str
    text: str
    blocks: list[Any]
    thread_ts: str | None = None
    edits: int = 0
    reactions: dict[str, list[str]] = field(default_factory=dict)  # name -> users, in reaction order
    metadata: Json | None = None  # {"event_type": ..., "event_payload": {...}}, as chat.postMessage got it


@dataclass
class Channel:
    """A conversation; channels the bot is not a member of refuse its writes with ``not_in_channel``."""

    id: str
    name: str
    is_private: bool = False
    is_member: bool = True
    im_user: str | None = None
    messages: dict[str, Message] = field(default_factory=dict)  # by ts, in posting order
    pins: list[str] = field(default_factory=list)


class SlackError(Exception):
    """Raised by a method handler to answer HTTP 200 with ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass
class Token:
    """A token the fake knows: issued by OAuth, or made up by a test (``issued=False``, default workspace)."""

    value: str
    team_id: str
    kind: str  # "bot", "user" or "app" (xapp-, Socket Mode only)
    user_id: str  # the bot user for a bot token, the installing user for a user token
    scopes: tuple[str, ...] = ()
    expires_at: float | None = None
    revoked: bool = False
    issued: bool = True


@dataclass
class Workspace:
    """One Slack workspace (team): its people, conversations, modals, files and rate-limit windows."""

    id: str
    name: str
    ids: Iterator[int] = field(repr=False)  # shared with the fake, so ids are unique across workspaces
    channels: dict[str, Channel] = field(default_factory=dict)
    users: dict[str, Json] = field(default_factory=dict)  # users.info objects
    views: dict[str, Json] = field(default_factory=dict)  # views.open objects, by id
    files: dict[str, Json] = field(default_factory=dict)  # uploads, with their "content" and "channel"
    dms: dict[str, str] = field(default_factory=dict)  # user id -> DM channel id
    gone_channels: set[str] = field(default_factory=set)
    windows: dict[tuple[str, str], deque[float]] = field(default_factory=dict, repr=False)  # see RateLimits

    def __post_init__(self) -> None:
        self.add_user(self.bot_user_id, name="symposium", is_bot=True)

    @property
    def bot_user_id(self) -> str:
        return bot_user_id_for(self.id)

    @property
    def bot_id(self) -> str:
        return bot_id_for(self.id)

    @property
    def domain(self) -> str:
        return domain_for(self.id, self.name)

    def add_user(
        self, user_id: str, *, name: str = "", is_admin: bool = False, is_owner: bool = False, is_bot: bool = False
    ) -> Json:
        name = name or user_id.lower()
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.id,
            "name": name,
            "deleted": False,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_bot": is_bot,
            "profile": {"display_name": name, "real_name": name},
        }
        return self.users[user_id]

    def add_channel(
        self, channel_id: str, *, name: str = "", is_private: bool = False, is_member: bool = True
    ) -> Channel:
        self.gone_channels.discard(channel_id)
        self.channels[channel_id] = Channel(channel_id, name or channel_id.lower(), is_private, is_member)
        return self.channels[channel_id]

    def delete_channel(self, channel_id: str) -> None:
        self.channels.pop(channel_id, None)
        self.gone_channels.add(channel_id)

    def dm_channel_id(self, user_id: str) -> str:
        if user_id not in self.dms:
            self.dms[user_id] = dm = f"D{next(self.ids):08d}"
            self.channels[dm] = Channel(dm, user_id, im_user=user_id)
        return self.dms[user_id]

    # ----- lookups the Web API methods share; they raise SlackError as Slack answers

    def channel(self, channel_id: str, *, member: bool = True) -> Channel:
        """Channels spring into existence on first use unless deleted; writes need the bot as a member."""
        if not channel_id or channel_id in self.gone_channels:
            raise SlackError("channel_not_found")
        channel = self.channels.get(channel_id) or self.add_channel(channel_id)
        if member and not channel.is_member:
            raise SlackError("not_in_channel")
        return channel

    def message(self, payload: Json, ts_field: str) -> tuple[Channel, Message]:
        channel = self.channel(payload.get("channel", ""))
        if (message := channel.messages.get(payload.get(ts_field, ""))) is None:
            raise SlackError("message_not_found")
        return channel, message

    def user(self, user_id: str) -> Json:
        if not user_id:
            raise SlackError("user_not_found")
        return self.users.get(user_id) or self.add_user(user_id)

    def message_json(self, message: Message, *, metadata: bool = False) -> Json:
        body: Json = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": APP_ID,
            "team": self.id,
            "text": message.text,
            "ts": message.ts,
        }
        if message.blocks:
            body["blocks"] = message.blocks
        if message.thread_ts:
            body["thread_ts"] = message.thread_ts
        if message.reactions:
            body["reactions"] = [{"name": n, "users": u, "count": len(u)} for n, u in message.reactions.items()]
        if metadata and message.metadata is not None:
            body["metadata"] = message.metadata
        return body


def _wait(times: deque[float], limit: int, window: float, now: float) -> float:
    """Seconds until a sliding ``window`` holding the admitted ``times`` admits one more call (0: now)."""
    while times and times[0] <= now - window:
        times.popleft()
    return 0.0 if len(times) < limit else times[len(times) - limit] + window - now


class RateLimits:
    """Slack's rate limits as Slack counts them: a method's tier is N calls per sliding window per workspace
    (a burst of N passes), and each post is also limited to 1 per channel per window/60 (Slack's "one a
    second"). Only admitted calls count; a call over a limit learns, in whole seconds, when one more fits.
    """

    def __init__(self) -> None:
        self.enabled = False
        self.per_window: dict[str, int] = {}
        self.window = 60.0

    def configure(self, enabled: bool, per_minute: Mapping[str, int | None] | None, window_seconds: float) -> None:
        limits = {**DEFAULT_PER_MINUTE, **(per_minute or {})} if enabled else {}
        self.enabled, self.window = enabled, window_seconds
        self.per_window = {method: n for method, n in limits.items() if n}

    def admit(self, windows: dict[tuple[str, str], deque[float]], method: str, channel: str, now: float) -> int:
        """Count the call and return 0, or return its Retry-After (whole seconds, at least 1) without counting."""
        checks = []
        if method in self.per_window:
            checks.append(((method, ""), self.per_window[method], self.window))
        if self.enabled and method in PER_CHANNEL_METHODS and channel:
            checks.append(((method, channel), 1, self.window / 60))
        wait = max((_wait(windows.setdefault(key, deque()), n, span, now) for key, n, span in checks), default=0.0)
        if wait > 0:
            return max(1, math.ceil(wait))
        for key, _, _ in checks:
            windows[key].append(now)
        return 0

    def floor_seconds(self, method: str, calls: int) -> float:
        n = self.per_window.get(method)
        return 0.0 if not n or calls <= n else (math.ceil(calls / n) - 1) * self.window

    def floor_per_channel_seconds(self, calls: int) -> float:
        return max(0, calls - 1) * self.window / 60
