"""A protocol-level fake of Slack: Web API, file uploads, response_url and Socket Mode on 127.0.0.1.

The bot talks to it with the real slack-sdk / slack-bolt clients (``base_url=slack.api_url``), so tests run
the same HTTP and WebSocket code as production. Every request is recorded as a ``Call``; tests wait on calls
and Socket Mode acks through an ``asyncio.Condition`` and futures, never by sleeping.

Default rate limits (``rate_limits(enabled=True)``) follow Slack's published tiers, per method and workspace:
Tier 1 = 1/min, Tier 2 = 20/min, Tier 3 = 50/min, Tier 4 = 100/min (see ``_TIERS``); chat.postMessage's
special tier ("one message a second per channel") is modelled as 60/min for the whole workspace.
"""

import asyncio
import hashlib
import hmac
import itertools
import json
import math
import time
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import urlencode

import pytest
from aiohttp import WSCloseCode, WSMsgType, web

TEAM_ID, BOT_USER_ID, BOT_ID, APP_ID = "T0000FAKE", "U0000BOT1", "B0000BOT1", "A0000APP1"

_TIERS = {
    1: "apps.connections.open",
    20: "pins.add pins.remove",
    50: "chat.update chat.delete reactions.add reactions.get conversations.open conversations.info",
    60: "chat.postMessage",
    100: "auth.test chat.postEphemeral users.info views.open views.update "
    "files.getUploadURLExternal files.completeUploadExternal",
}
DEFAULT_PER_MINUTE = {method: limit for limit, methods in _TIERS.items() for method in methods.split()}

# Arguments slack-sdk JSON-encodes into a string when it sends a form body rather than JSON.
_JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata")

Json = dict[str, Any]
Answer = tuple[int, Json, dict[str, str]]  # HTTP status, body, headers


@dataclass(frozen=True)
class Call:
    """One request the fake received; ``token`` is the bearer token (for "response_url", the URL's id)."""

    method: str
    payload: Json
    at_monotonic: float
    status: int = 200
    response: Json = field(default_factory=dict)
    token: str | None = None


@dataclass
class Message:
    """A posted message as it stands now, so a test can tell an edit in place from a re-post."""

    ts: str
    text: str
    blocks: list[Any]
    thread_ts: str | None = None
    edits: int = 0
    reactions: dict[str, list[str]] = field(default_factory=dict)  # name -> users, in reaction order


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


class _SlackError(Exception):
    """Raised by a method handler to answer HTTP 200 with ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass
class _Bucket:
    """Token bucket holding at most ``capacity`` calls, refilled at ``rate`` calls a second."""

    rate: float
    capacity: int
    tokens: float
    last: float

    def take(self, now: float) -> float:
        """Spend a token and return 0, or return the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class FakeSlack:
    """Slack's servers for one workspace: answers like Slack, keeps its state, records every call.

    Web API method ``a.b`` is served by ``_api_a_b``; any other method answers ``unknown_method``.
    """

    def __init__(self) -> None:
        self.base_url = ""
        self.calls: list[Call] = []
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, Json] = {}  # users.info objects
        self.views: dict[str, Json] = {}  # views.open objects, by id
        self.files: dict[str, Json] = {}  # uploads, with their "content" and the "channel" they went to
        self.connections = 0  # Socket Mode connections accepted so far, reconnections included
        self._gone_channels: set[str] = set()
        self._dms: dict[str, str] = {}
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._failures: defaultdict[str, deque[Answer]] = defaultdict(deque)
        self._buckets: dict[str, _Bucket] = {}
        self._changed = asyncio.Condition()
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[Json]] = {}
        self._runner: web.AppRunner | None = None
        self.add_user(BOT_USER_ID, name="symposium", is_bot=True)

    @property
    def api_url(self) -> str:
        """What the bot passes as slack-sdk's ``base_url`` (ending with a slash, as slack-sdk needs)."""
        return f"{self.base_url}/api/"

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{token}", self._respond)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket-mode", self._socket)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY)
        if self._runner is not None:
            await self._runner.cleanup()

    # ----- workspace set-up for tests

    def add_user(
        self,
        user_id: str,
        *,
        name: str = "",
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
    ) -> Json:
        """Register a user's roles; unregistered users exist anyway, as plain members."""
        name = name or user_id.lower()
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM_ID,
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
        """Register a channel; with ``is_member=False`` the bot's writes to it answer ``not_in_channel``."""
        self._gone_channels.discard(channel_id)
        self.channels[channel_id] = Channel(channel_id, name or channel_id.lower(), is_private, is_member)
        return self.channels[channel_id]

    def delete_channel(self, channel_id: str) -> None:
        """Make every method naming this channel answer ``channel_not_found``."""
        self.channels.pop(channel_id, None)
        self._gone_channels.add(channel_id)

    def dm_channel_id(self, user_id: str) -> str:
        """The bot's DM channel ("D…") with a user, the one ``conversations.open`` returns."""
        if user_id not in self._dms:
            self._dms[user_id] = dm = f"D{next(self._ids):08d}"
            self.channels[dm] = Channel(dm, user_id, im_user=user_id)
        return self._dms[user_id]

    def add_reaction(self, channel_id: str, ts: str, name: str, user_id: str) -> None:
        """A user reacts in the Slack client (no event is sent), e.g. while the bot was down."""
        users = self.channels[channel_id].messages[ts].reactions.setdefault(name, [])
        if user_id not in users:
            users.append(user_id)

    def remove_reaction(self, channel_id: str, ts: str, name: str, user_id: str) -> None:
        """A user takes a reaction back in the Slack client."""
        reactions = self.channels[channel_id].messages[ts].reactions
        reactions[name].remove(user_id)
        if not reactions[name]:
            del reactions[name]

    def response_url(self, token: str) -> str:
        """An absolute URL for a request's ``response_url``; posts to it are recorded as "response_url"."""
        return f"{self.base_url}/respond/{token}"

    # ----- failures and rate limits

    def fail(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int = 1,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (also "response_url", "upload_url") with a failure:

        by default HTTP 429 with Retry-After; ``status=500``: a server error; ``error=…``: 200 with ok false.
        """
        if error is not None and status is None:
            answer: Answer = (200, {"ok": False, "error": error}, {})
        elif status in (None, 429):
            answer = (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
        else:
            answer = (status, {"ok": False, "error": error or "internal_error"}, {})
        self._failures[method].extend([answer] * times)

    def rate_limits(self, *, enabled: bool = True, per_minute: Mapping[str, int] | None = None, burst: int = 1) -> None:
        """Switch per-method token buckets on (Slack's tiers, overridden by ``per_minute``) or off."""
        now = time.monotonic()
        limits = {**DEFAULT_PER_MINUTE, **(per_minute or {})} if enabled else {}
        self._buckets = {m: _Bucket(n / 60, burst, burst, now) for m, n in limits.items()}

    def rate_floor_seconds(self, method: str, calls: int) -> float:
        """The least time in which ``calls`` successful calls of ``method`` fit under its rate limit."""
        bucket = self._buckets[method]
        return max(0, calls - bucket.capacity) / bucket.rate

    # ----- recorded calls

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        count: int = 1,
        timeout: float = 5,  # noqa: ASYNC109
    ) -> list[Call]:
        """Wait until ``count`` calls of ``method`` (matching ``predicate``) arrived; return all matching."""

        def matching() -> list[Call]:
            return [call for call in self.calls_to(method) if predicate is None or predicate(call)]

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(matching()) >= count)
        return matching()

    async def _record(self, call: Call) -> None:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()

    # ----- HTTP endpoints

    async def _api(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        method = request.match_info["method"]
        payload, token = await _read_payload(request)
        status, body, headers = self._answer(method, payload, token, at)
        await self._record(Call(method, payload, at, status, body, token))
        return web.json_response(body, status=status, headers=headers)

    def _answer(self, method: str, payload: Json, token: str | None, at: float) -> Answer:
        if self._failures[method]:
            return self._failures[method].popleft()
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        if auth_error := _auth_error(method, token):
            return 200, {"ok": False, "error": auth_error}, {}
        if method in self._buckets and (wait := self._buckets[method].take(at)):
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(math.ceil(wait))}
        try:
            return 200, {"ok": True, **handler(payload)}, {}
        except _SlackError as e:
            return 200, {"ok": False, "error": e.error}, {}

    async def _respond(self, request: web.Request) -> web.Response:
        payload, _ = await _read_payload(request)
        return await self._plain("response_url", payload, request.match_info["token"], "ok")

    async def _upload(self, request: web.Request) -> web.Response:
        file = self.files.get(request.match_info["file_id"])
        if file is None:
            raise web.HTTPNotFound()
        content = await request.read()
        response = await self._plain("upload_url", {"file_id": file["id"]}, None, f"OK - {len(content)}")
        if response.status == 200:
            file["content"] = content
        return response

    async def _plain(self, method: str, payload: Json, token: str | None, text: str) -> web.Response:
        """Endpoints outside the Web API answer plain text, unless a failure was injected for them."""
        at = time.monotonic()
        status, body, headers = self._failures[method].popleft() if self._failures[method] else (200, {}, {})
        await self._record(Call(method, payload, at, status, body, token))
        if status != 200:
            return web.json_response(body, status=status, headers=headers)
        return web.Response(text=text)

    # ----- Socket Mode

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()  # autoping answers slack-sdk's keep-alive pings
        await ws.prepare(request)
        self._sockets.append(ws)
        self.connections += 1
        hello = {"type": "hello", "num_connections": len(self._sockets), "debug_info": {"host": "fake-slack"}}
        await ws.send_json(hello | {"connection_info": {"app_id": APP_ID}})
        async with self._changed:
            self._changed.notify_all()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    ack = json.loads(msg.data)
                    future = self._acks.get(ack.get("envelope_id", ""))
                    if future is not None and not future.done():
                        future.set_result(ack)
        finally:
            self._sockets.remove(ws)
        return ws

    async def wait_connected(self, count: int = 1, timeout: float = 5) -> None:  # noqa: ASYNC109
        """Wait until ``count`` Socket Mode connections were accepted in all (so a reconnection counts)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self.connections >= count)

    async def socket_send(self, envelope_type: str, payload: Json, timeout: float = 5) -> Json:  # noqa: ASYNC109
        """Push an envelope on the newest connection; return the client's ack (it may carry a ``payload``)."""
        envelope_id = str(uuid.uuid4())
        envelope: Json = {"envelope_id": envelope_id, "type": envelope_type, "payload": payload}
        envelope["accepts_response_payload"] = envelope_type != "events_api"
        if envelope_type == "events_api":
            envelope |= {"retry_attempt": 0, "retry_reason": ""}
        self._acks[envelope_id] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    await self._changed.wait_for(lambda: any(not ws.closed for ws in self._sockets))
                await [ws for ws in self._sockets if not ws.closed][-1].send_json(envelope)
                return await self._acks[envelope_id]
        finally:
            del self._acks[envelope_id]

    async def disconnect(self, reason: str | None = None) -> None:
        """Drop every connection server-side; with ``reason``, send Slack's "disconnect" notice instead."""
        for ws in [ws for ws in self._sockets if not ws.closed]:
            if reason is None:
                await ws.close(code=WSCloseCode.GOING_AWAY)
            else:
                await ws.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-slack"}})

    # ----- Web API methods

    def _channel(self, channel_id: str, *, member: bool = True) -> Channel:
        """Channels spring into existence on first use unless deleted; writes need the bot as a member."""
        if not channel_id or channel_id in self._gone_channels:
            raise _SlackError("channel_not_found")
        channel = self.channels.get(channel_id) or self.add_channel(channel_id)
        if member and not channel.is_member:
            raise _SlackError("not_in_channel")
        return channel

    def _message(self, payload: Json, ts_key: str) -> tuple[Channel, Message]:
        channel = self._channel(payload.get("channel", ""))
        if (message := channel.messages.get(payload.get(ts_key, ""))) is None:
            raise _SlackError("message_not_found")
        return channel, message

    def _user(self, user_id: str) -> Json:
        if not user_id:
            raise _SlackError("user_not_found")
        return self.users.get(user_id) or self.add_user(user_id)

    def _next_ts(self) -> str:
        micros = 1_700_000_000_000_000 + 100 * next(self._ts)
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _message_json(self, message: Message) -> Json:
        body: Json = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "text": message.text,
            "ts": message.ts,
        }
        if message.blocks:
            body["blocks"] = message.blocks
        if message.thread_ts:
            body["thread_ts"] = message.thread_ts
        if message.reactions:
            body["reactions"] = [{"name": n, "users": u, "count": len(u)} for n, u in message.reactions.items()]
        return body

    def _api_auth_test(self, _: Json) -> Json:
        return {
            "url": "https://fake-workspace.slack.com/",
            "team": "Fake Workspace",
            "user": self.users[BOT_USER_ID]["name"],
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
        }

    def _api_apps_connections_open(self, _: Json) -> Json:
        ws_url = self.base_url.replace("http://", "ws://", 1)
        return {"url": f"{ws_url}/socket-mode?ticket={uuid.uuid4()}&app_id={APP_ID}"}

    def _api_chat_postMessage(self, p: Json) -> Json:
        channel = self._channel(p.get("channel", ""))
        if not (p.get("text") or p.get("blocks") or p.get("attachments")):
            raise _SlackError("no_text")
        message = Message(self._next_ts(), p.get("text", ""), p.get("blocks") or [], p.get("thread_ts"))
        channel.messages[message.ts] = message
        return {"channel": channel.id, "ts": message.ts, "message": self._message_json(message)}

    def _api_chat_update(self, p: Json) -> Json:
        channel, message = self._message(p, "ts")
        message.text = p.get("text", message.text)
        message.blocks = p.get("blocks", message.blocks)
        message.edits += 1
        answer = {"channel": channel.id, "ts": message.ts, "text": message.text}
        return answer | {"message": self._message_json(message)}

    def _api_chat_delete(self, p: Json) -> Json:
        channel, message = self._message(p, "ts")
        del channel.messages[message.ts]
        if message.ts in channel.pins:
            channel.pins.remove(message.ts)
        return {"channel": channel.id, "ts": message.ts}

    def _api_chat_postEphemeral(self, p: Json) -> Json:
        self._channel(p.get("channel", ""))
        self._user(p.get("user", ""))
        return {"message_ts": self._next_ts()}

    def _api_pins_add(self, p: Json) -> Json:
        channel, message = self._message(p, "timestamp")
        if message.ts in channel.pins:
            raise _SlackError("already_pinned")
        channel.pins.append(message.ts)
        return {}

    def _api_pins_remove(self, p: Json) -> Json:
        channel = self._channel(p.get("channel", ""))
        if p.get("timestamp") not in channel.pins:
            raise _SlackError("no_pin")
        channel.pins.remove(p["timestamp"])
        return {}

    def _api_reactions_add(self, p: Json) -> Json:
        _, message = self._message(p, "timestamp")
        users = message.reactions.setdefault(p.get("name", ""), [])
        if BOT_USER_ID in users:
            raise _SlackError("already_reacted")
        users.append(BOT_USER_ID)
        return {}

    def _api_reactions_get(self, p: Json) -> Json:
        channel, message = self._message(p, "timestamp")
        return {"type": "message", "channel": channel.id, "message": self._message_json(message)}

    def _api_conversations_open(self, p: Json) -> Json:
        user = self._user(p.get("users", ""))
        if user["is_bot"]:
            raise _SlackError("cannot_dm_bot")
        already_open = user["id"] in self._dms
        answer: Json = {"channel": {"id": self.dm_channel_id(user["id"])}}
        return answer | ({"no_op": True, "already_open": True} if already_open else {})

    def _api_conversations_info(self, p: Json) -> Json:
        channel = self._channel(p.get("channel", ""), member=False)
        is_im = channel.im_user is not None
        info = {
            "id": channel.id,
            "name": channel.name,
            "is_channel": not (is_im or channel.is_private),
            "is_group": channel.is_private,
            "is_im": is_im,
            "is_private": channel.is_private or is_im,
            "is_member": channel.is_member,
            "is_archived": False,
        }
        return {"channel": info | ({"user": channel.im_user} if is_im else {})}

    def _api_users_info(self, p: Json) -> Json:
        return {"user": self._user(p.get("user", ""))}

    def _api_views_open(self, p: Json) -> Json:
        if not p.get("trigger_id") or not isinstance(p.get("view"), dict):
            raise _SlackError("invalid_arguments")
        view_id = f"V{next(self._ids):08d}"
        ids = {"id": view_id, "team_id": TEAM_ID, "app_id": APP_ID, "hash": f"h{next(self._ids)}"}
        self.views[view_id] = p["view"] | ids | {"state": {"values": {}}}
        return {"view": self.views[view_id]}

    def _api_views_update(self, p: Json) -> Json:
        wanted = {p.get("view_id"), p.get("external_id")} - {None}
        found = [view for view in self.views.values() if wanted & {view["id"], view.get("external_id")}]
        if not found or not isinstance(p.get("view"), dict):
            raise _SlackError("not_found")
        found[0] |= p["view"] | {"id": found[0]["id"], "hash": f"h{next(self._ids)}"}
        return {"view": found[0]}

    def _api_files_getUploadURLExternal(self, p: Json) -> Json:
        if not p.get("filename") or not str(p.get("length", "")).isdigit():
            raise _SlackError("invalid_arguments")
        file_id = f"F{next(self._ids):08d}"
        self.files[file_id] = {
            "id": file_id,
            "name": p["filename"],
            "size": int(p["length"]),
            "content": None,
        }
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, p: Json) -> Json:
        specs = p.get("files") or []
        files = [self.files[spec["id"]] for spec in specs if spec.get("id") in self.files]
        if not specs or len(files) != len(specs) or any(file["content"] is None for file in files):
            raise _SlackError("file_not_found")
        if p.get("channel_id"):
            self._channel(p["channel_id"])
        for file, spec in zip(files, specs, strict=True):
            file["title"] = spec.get("title") or file["name"]
            file["channel"], file["initial_comment"] = p.get("channel_id"), p.get("initial_comment")
        return {"files": [{k: v for k, v in file.items() if k != "content"} for file in files]}


def _auth_error(method: str, token: str | None) -> str | None:
    """Slack's answer to a missing or wrong kind of token (app-level tokens only open Socket Mode)."""
    if not token:
        return "not_authed"
    if not token.startswith(("xoxb-", "xoxp-", "xapp-")):
        return "invalid_auth"
    if token.startswith("xapp-") != (method == "apps.connections.open"):
        return "not_allowed_token_type"
    return None


async def _read_payload(request: web.Request) -> tuple[Json, str | None]:
    """Merge query, form and JSON arguments as Slack accepts them; return them and the token."""
    payload: Json = dict(request.query)
    if request.content_type == "application/json":
        payload.update(await request.json())
    elif request.body_exists:
        payload.update(await request.post())
    for key in _JSON_FIELDS:
        if isinstance(payload.get(key), str) and payload[key].startswith(("[", "{")):
            payload[key] = json.loads(payload[key])
    auth = request.headers.get("Authorization", "")
    token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else payload.pop("token", None)
    return payload, token


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """A running fake per test (expose it with ``pytest_plugins`` in a conftest, or a module attribute)."""
    async with FakeSlack() as slack:
        yield slack


# ----- What Slack sends the bot: payloads for Socket Mode envelopes, bodies for HTTP mode


def signed_headers(secret: str, body: str, timestamp: int) -> dict[str, str]:
    """Slack's v0 request signature (HMAC-SHA256 of ``v0:timestamp:body``) and the body's content type."""
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    kind = "application/json" if body.startswith("{") else "application/x-www-form-urlencoded"
    return {
        "Content-Type": kind,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={digest}",
    }


def slash_command_payload(command: str, text: str = "", **fields: str) -> dict[str, str]:
    """A slash command as the ``slash_commands`` envelope payload (form-encoded in HTTP mode).

    ``fields`` override the defaults, e.g. ``user_id``, ``channel_id``, ``response_url``, ``trigger_id``.
    """
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "fake-workspace",
        "channel_id": "C0000GEN1",
        "channel_name": "general",
        "user_id": "U0000USR1",
        "user_name": "user",
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": "",
        "trigger_id": "1111.2222.fake",
        **fields,
    }


def slash_command_body(command: str, text: str = "", **fields: str) -> str:
    """The form body Slack POSTs for a slash command in HTTP mode."""
    return urlencode(slash_command_payload(command, text, **fields))


def event_callback_payload(event: Json, event_id: str = "Ev0000001", team_id: str = TEAM_ID) -> Json:
    """An Events API ``event_callback`` wrapping ``event``: the ``events_api`` envelope payload."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(float(event.get("event_ts", 0))),
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": BOT_USER_ID, "is_bot": True}],
    }


def event_callback_body(event: Json, event_id: str = "Ev0000001", team_id: str = TEAM_ID) -> str:
    """The JSON body Slack POSTs for an event in HTTP mode."""
    return json.dumps(event_callback_payload(event, event_id, team_id))


def view_submission_payload(callback_id: str, values: Json, user_id: str = "U0000USR1", **view: Any) -> Json:
    """A modal's ``view_submission`` carrying ``state.values``: the ``interactive`` envelope payload.

    ``view`` overrides fields of the submitted view, e.g. ``private_metadata`` or ``id``.
    """
    return {
        "type": "view_submission",
        "token": "legacy-verification-token",
        "api_app_id": APP_ID,
        "team": {"id": TEAM_ID, "domain": "fake-workspace"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
        "trigger_id": "3333.4444.fake",
        "view": {
            "id": "V0000VIEW",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": "",
            "state": {"values": values},
            "hash": "h1",
            **view,
        },
    }


def view_submission_body(callback_id: str, values: Json, user_id: str = "U0000USR1", **view: Any) -> str:
    """The form body (``payload=<json>``) Slack POSTs for a modal submission in HTTP mode."""
    return urlencode({"payload": json.dumps(view_submission_payload(callback_id, values, user_id, **view))})
