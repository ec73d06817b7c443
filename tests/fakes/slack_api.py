"""A protocol-level fake of Slack: Web API, OAuth, file uploads, response_url and Socket Mode on 127.0.0.1.

The bot talks to it with the real slack-sdk / slack-bolt clients (``base_url=slack.api_url``), so tests run
the same HTTP and WebSocket code as production. Every request is recorded as a ``Call``; tests wait on calls,
held answers and Socket Mode acks through futures, never by sleeping.

State is kept per workspace (tests/fakes/slack_state.py): the default one is TEAM_ID, and any xoxb-/xoxp-
token the fake did not issue belongs to it, so ``AsyncWebClient(token="xoxb-test")`` just works. More
workspaces come from ``add_workspace`` or from installing the app through the fake's OAuth pages.

Rate limits (``rate_limits(enabled=True)``) follow Slack's model: a method's tier is N calls per sliding minute
per workspace (Tier 1 = 1, Tier 2 = 20, Tier 3 = 50, Tier 4 = 100; see ``DEFAULT_PER_MINUTE``), and posts
(chat.postMessage, chat.postEphemeral) are limited to one per second per channel with no workspace ceiling.

``hold(method)`` records calls as they arrive but answers them only when released, judging them then (state
changes included): a crash test can stop the bot between Slack acting on a request and the bot hearing of it.
"""

import asyncio
import base64
import binascii
import itertools
import json
import secrets
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Self
from urllib.parse import urlencode

import pytest
from aiohttp import WSCloseCode, WSMsgType, web

from tests.fakes.slack_payloads import (
    block_actions_body,
    block_actions_payload,
    event_callback_body,
    event_callback_payload,
    signed_headers,
    slash_command_body,
    slash_command_payload,
    view_submission_body,
    view_submission_payload,
)
from tests.fakes.slack_state import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    DEFAULT_PER_MINUTE,
    DEFAULT_SCOPES,
    PER_CHANNEL_METHODS,
    TEAM_ID,
    TEAM_NAME,
    Answer,
    Call,
    Channel,
    Json,
    Message,
    RateLimits,
    SlackError,
    Token,
    Workspace,
    bot_id_for,
    bot_user_id_for,
    ts_key,
)

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "DEFAULT_PER_MINUTE",
    "DEFAULT_SCOPES",
    "PER_CHANNEL_METHODS",
    "TEAM_ID",
    "TEAM_NAME",
    "Call",
    "Channel",
    "FakeSlack",
    "Hold",
    "Message",
    "Token",
    "Workspace",
    "block_actions_body",
    "block_actions_payload",
    "bot_id_for",
    "bot_user_id_for",
    "event_callback_body",
    "event_callback_payload",
    "fake_slack",
    "signed_headers",
    "slash_command_body",
    "slash_command_payload",
    "view_submission_body",
    "view_submission_payload",
]

# Arguments slack-sdk JSON-encodes into a string when it sends a form body rather than JSON.
_JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata")
_TOKEN_KINDS = {"xoxb-": "bot", "xoxp-": "user", "xapp-": "app"}
_CODE_LIFETIME = 600.0  # seconds an OAuth code can be exchanged, as on Slack
INSTALLING_USER = "UINSTALL1"


class _Changes:
    """Wakes every waiter when the fake's state changes; ``notify`` is synchronous, so ``release`` can call it."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter


class Hold:
    """Calls to one method, recorded as they arrive (``Call.pending``) and answered only at ``release()``.

    A held call is judged when it is released, as if it arrived then: injected failures, its token, the rate
    windows and the state change (a post creates its message at release, not at arrival). That is what a crash
    test asks: did Slack act on a request whose answer the bot never saw? Releasing after the client went away
    still changes the state, and the unread answer is dropped quietly.
    """

    def __init__(self, fake: "FakeSlack", method: str) -> None:
        self.method = method
        self._fake = fake
        self._held: list[int] = []  # indexes in fake.calls, in arrival order
        self._waiting: list[tuple[int, Callable[[], Answer], asyncio.Future[Answer]]] = []

    @property
    def calls(self) -> list[Call]:
        """Every call this hold caught, as recorded now (pending until released)."""
        return [self._fake.calls[i] for i in self._held]

    async def arrived(self, count: int = 1, timeout: float = 5) -> list[Call]:  # noqa: ASYNC109
        """Wait until ``count`` calls were caught in all; return them."""
        async with asyncio.timeout(timeout):
            await self._fake._changes.wait_for(lambda: len(self._held) >= count)
        return self.calls

    def release(self) -> None:
        """Answer every waiting call, in arrival order, and stop holding the method."""
        self._fake._release(self)


@dataclass
class _OAuthApp:
    client_id: str
    client_secret: str
    token_rotation: bool
    expires_in: int
    redirect_uri: str | None


@dataclass
class _Grant:
    """An authorization code waiting for oauth.v2.access."""

    team_id: str
    user_id: str
    scopes: tuple[str, ...]
    user_scopes: tuple[str, ...]
    redirect_uri: str | None
    expires_at: float


class FakeSlack:
    """Slack's servers: answers like Slack, keeps each workspace's state, records every call.

    Web API method ``a.b`` is served by ``_api_a_b(workspace, payload, token)``; any other method answers
    ``unknown_method``. ``now`` is the monotonic clock for call times, rate windows and expiries (a test may
    pass its own to move time without waiting).
    """

    def __init__(self, *, now: Callable[[], float] = time.monotonic) -> None:
        self.now = now
        self.base_url = ""
        self.calls: list[Call] = []
        self.workspaces: dict[str, Workspace] = {}
        self.connections = 0  # Socket Mode connections accepted so far, reconnections included
        self.rate_limited: Counter[str] = Counter()  # 429s answered by the rate model, by method
        self._ids = itertools.count(1)
        self._failures: defaultdict[str, deque[Answer]] = defaultdict(deque)
        self._last_ts = 0
        self._storm: tuple[int, int, int, frozenset[str], Iterator[int]] | None = None
        self._rates = RateLimits()
        self._holds: dict[str, Hold] = {}
        self._changes = _Changes()
        self._tokens: dict[str, Token] = {}
        self._refresh_tokens: dict[str, Token] = {}  # refresh token -> the access token it renews
        self._made_up_revoked = False  # the default workspace was uninstalled: made-up tokens are revoked too
        self._oauth: _OAuthApp | None = None
        self._grants: dict[str, _Grant] = {}
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[Json]] = {}
        self._runner: web.AppRunner | None = None
        self.add_workspace(TEAM_ID, name=TEAM_NAME)

    @property
    def api_url(self) -> str:
        """What the bot passes as slack-sdk's ``base_url`` (ending with a slash, as slack-sdk needs)."""
        return f"{self.base_url}/api/"

    @property
    def authorize_url(self) -> str:
        """The install page: slack-bolt's ``authorization_url`` (OAuthSettings) for this fake."""
        return f"{self.base_url}/oauth/v2/authorize"

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{token}", self._respond)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/oauth/v2/authorize", self._authorize)
        app.router.add_get("/socket-mode", self._socket)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.release_all()  # a test that forgot a hold must not leave handlers waiting through shutdown
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY)
        if self._runner is not None:
            await self._runner.cleanup()

    # ----- workspaces, and their set-up for tests (team_id defaults to the default workspace)

    def add_workspace(self, team_id: str, name: str = "") -> Workspace:
        """A workspace with its own bot user (``bot_user_id_for(team_id)``); an existing one is returned as is."""
        if team_id not in self.workspaces:
            self.workspaces[team_id] = Workspace(team_id, name or f"Workspace {team_id}", self._ids)
        return self.workspaces[team_id]

    def workspace(self, team_id: str = TEAM_ID) -> Workspace:
        return self.workspaces[team_id]

    @property
    def channels(self) -> dict[str, Channel]:
        """The default workspace's conversations (``workspace(team_id).channels`` for another's)."""
        return self.workspaces[TEAM_ID].channels

    @property
    def users(self) -> dict[str, Json]:
        return self.workspaces[TEAM_ID].users

    @property
    def views(self) -> dict[str, Json]:
        return self.workspaces[TEAM_ID].views

    @property
    def files(self) -> dict[str, Json]:
        return self.workspaces[TEAM_ID].files

    def add_user(
        self,
        user_id: str,
        *,
        name: str = "",
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
        team_id: str = TEAM_ID,
    ) -> Json:
        """Register a user's roles; unregistered users exist anyway, as plain members."""
        ws = self.workspaces[team_id]
        return ws.add_user(user_id, name=name, is_admin=is_admin, is_owner=is_owner, is_bot=is_bot)

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str = "",
        is_private: bool = False,
        is_member: bool = True,
        team_id: str = TEAM_ID,
    ) -> Channel:
        """Register a channel; with ``is_member=False`` the bot's writes to it answer ``not_in_channel``."""
        return self.workspaces[team_id].add_channel(channel_id, name=name, is_private=is_private, is_member=is_member)

    def delete_channel(self, channel_id: str, *, team_id: str = TEAM_ID) -> None:
        """Make every method naming this channel answer ``channel_not_found``."""
        self.workspaces[team_id].delete_channel(channel_id)

    def dm_channel_id(self, user_id: str, *, team_id: str = TEAM_ID) -> str:
        """The bot's DM channel ("D…") with a user, the one ``conversations.open`` returns."""
        return self.workspaces[team_id].dm_channel_id(user_id)

    def add_reaction(self, channel_id: str, ts: str, name: str, user_id: str, *, team_id: str = TEAM_ID) -> None:
        """A user reacts in the Slack client (no event is sent), e.g. while the bot was down."""
        users = self.workspaces[team_id].channels[channel_id].messages[ts].reactions.setdefault(name, [])
        if user_id not in users:
            users.append(user_id)

    def remove_reaction(self, channel_id: str, ts: str, name: str, user_id: str, *, team_id: str = TEAM_ID) -> None:
        """A user takes a reaction back in the Slack client."""
        reactions = self.workspaces[team_id].channels[channel_id].messages[ts].reactions
        reactions[name].remove(user_id)
        if not reactions[name]:
            del reactions[name]

    def response_url(self, token: str) -> str:
        """An absolute URL for a request's ``response_url``; posts to it are recorded as "response_url"."""
        return f"{self.base_url}/respond/{token}"

    # ----- OAuth ("distribution"): installs, tokens, uninstalls

    def configure_oauth(
        self,
        client_id: str,
        client_secret: str,
        *,
        token_rotation: bool = False,
        expires_in: int = 43200,
        redirect_uri: str | None = None,
    ) -> None:
        """Make the app installable: the authorize page and oauth.v2.access accept these credentials.

        ``redirect_uri`` is the app's configured redirect URL, used when the authorize URL carries none.
        """
        self._oauth = _OAuthApp(client_id, client_secret, token_rotation, expires_in, redirect_uri)

    def expire_token(self, token: str) -> None:
        """Make ``token`` expire now: calls with it answer ``token_expired`` (a refresh token still renews it)."""
        if (known := self._token(token)) is not None:
            known.expires_at = self.now()

    def uninstall(self, team_id: str) -> tuple[str, str]:
        """Uninstall the app from a workspace: revoke its every token; return the bodies of the two events
        Slack then sends (``app_uninstalled``, ``tokens_revoked``), for the test to POST or wrap in envelopes."""
        ws = self.workspaces[team_id]
        tokens = [t for t in self._tokens.values() if t.team_id == team_id and t.kind != "app"]
        users = sorted({t.user_id for t in tokens if t.kind == "user" and t.user_id and not t.revoked})
        for token in tokens:
            token.revoked = True
        self._refresh_tokens = {k: t for k, t in self._refresh_tokens.items() if t.team_id != team_id}
        if team_id == TEAM_ID:
            self._made_up_revoked = True
        ts = self._next_ts()
        uninstalled = {"type": "app_uninstalled", "event_ts": ts}
        revoked = {"type": "tokens_revoked", "tokens": {"oauth": users, "bot": [ws.bot_user_id]}, "event_ts": ts}
        return (
            event_callback_body(uninstalled, f"Ev{next(self._ids):08d}", team_id),
            event_callback_body(revoked, f"Ev{next(self._ids):08d}", team_id),
        )

    def _token(self, value: str | None) -> Token | None:
        """The fake's record of a token; a made-up xoxb-/xoxp-/xapp- token is the default workspace's."""
        kind = _TOKEN_KINDS.get((value or "")[:5])
        if value is None or kind is None:
            return None
        if value not in self._tokens:
            bot = kind == "bot"
            self._tokens[value] = Token(
                value,
                TEAM_ID,
                kind,
                BOT_USER_ID if bot else "",
                DEFAULT_SCOPES if bot else (),
                revoked=self._made_up_revoked,
                issued=False,
            )
        return self._tokens[value]

    def _issue(self, ws: Workspace, kind: str, user_id: str, scopes: tuple[str, ...]) -> Json:
        """A new access token (and, with rotation on, its refresh token); returns its oauth.v2.access fields."""
        prefix = "xoxb-" if kind == "bot" else "xoxp-"
        token = Token(f"{prefix}{ws.id}-{next(self._ids)}-{secrets.token_hex(8)}", ws.id, kind, user_id, scopes)
        self._tokens[token.value] = token
        fields: Json = {"access_token": token.value, "token_type": kind, "scope": ",".join(scopes)}
        if self._oauth is not None and self._oauth.token_rotation:
            token.expires_at = self.now() + self._oauth.expires_in
            refresh = f"xoxe-1-{secrets.token_hex(16)}"
            self._refresh_tokens[refresh] = token
            fields |= {"refresh_token": refresh, "expires_in": self._oauth.expires_in}
        return fields

    # ----- failures, rate limits and held answers

    def fail(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int = 1,
        times: int = 1,
        page: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (also "response_url", "upload_url") with a failure:

        by default HTTP 429 with Retry-After; ``status=500``: a server error; ``error=…``: 200 with ok false;
        ``page=…``: that text as an HTML page, not JSON (as a proxy in front of Slack answers a 502).
        """
        if page is not None:
            answer: Answer = (status or 502, page, {})
        elif error is not None and status is None:
            answer = (200, {"ok": False, "error": error}, {})
        elif status in (None, 429):
            answer = (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
        else:
            answer = (status, {"ok": False, "error": error or "internal_error"}, {})
        self._failures[method].extend([answer] * times)

    def rate_limits(
        self,
        *,
        enabled: bool = True,
        per_minute: Mapping[str, int | None] | None = None,
        window_seconds: float = 60.0,
        burst: int | None = None,
    ) -> None:
        """Switch Slack's rate limits on (or off), with every window emptied.

        ``per_minute`` overrides tiers, in calls per window (0 or None: no limit; naming chat.postMessage adds
        a workspace-wide ceiling Slack does not have). ``window_seconds`` scales the minute, and the posts'
        per-channel second with it (window_seconds / 60), so a benchmark can run Slack's minute in seconds.
        ``burst`` is ignored: Slack's window already allows a burst of a whole tier (kept for old callers).
        """
        del burst
        self._rates.configure(enabled, per_minute, window_seconds)
        for ws in self.workspaces.values():
            ws.windows.clear()

    def rate_floor_seconds(self, method: str, calls: int) -> float:
        """The least time in which ``calls`` successful calls of ``method`` fit in one workspace's windows,
        starting empty: 0 when the method has no workspace-wide limit."""
        return self._rates.floor_seconds(method, calls)

    def rate_floor_per_channel_seconds(self, calls: int) -> float:
        """The least time in which ``calls`` posts to ONE channel fit (one per window_seconds / 60)."""
        return self._rates.floor_per_channel_seconds(calls)

    def hold(self, method: str) -> Hold:
        """Hold the answers of ``method`` (a Web API method, "response_url" or "upload_url") until released;
        holding a method already held returns that hold."""
        if method not in self._holds:
            self._holds[method] = Hold(self, method)
        return self._holds[method]

    def release_all(self) -> None:
        for hold in list(self._holds.values()):
            hold.release()

    # ----- recorded calls

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def calls_in(self, team_id: str, method: str | None = None) -> list[Call]:
        """The calls made in one workspace (of one method)."""
        return [c for c in self.calls if c.team == team_id and (method is None or c.method == method)]

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

        async with asyncio.timeout(timeout):
            await self._changes.wait_for(lambda: len(matching()) >= count)
        return matching()

    async def _serve(self, call: Call, answer: Callable[[], Answer]) -> Answer:
        """Answer a call now and record it, or, while its method is held, record it pending and wait."""
        hold = self._holds.get(call.method)
        if hold is None:
            status, body, headers = answer()
            self.calls.append(replace(call, status=status, response=body))
            self._changes.notify()
            return status, body, headers
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        hold._held.append(len(self.calls))
        hold._waiting.append((len(self.calls), answer, future))
        self.calls.append(replace(call, status=0, pending=True))
        self._changes.notify()
        return await future

    def _release(self, hold: Hold) -> None:
        if self._holds.get(hold.method) is hold:
            del self._holds[hold.method]
        waiting, hold._waiting = hold._waiting, []
        for index, answer, future in waiting:
            status, body, headers = answer()
            self.calls[index] = replace(self.calls[index], status=status, response=body, pending=False)
            if not future.done():  # done: the handler was cancelled with its client; nobody reads the answer
                future.set_result((status, body, headers))
        self._changes.notify()

    def storm(self, every: int, *, status: int = 429, retry_after: int = 1, methods: Collection[str] = ()) -> None:
        """From now on, fail every `every`-th call (counted across `methods`, or every Web API method and
        response_url when none is named) with a 429 (Retry-After) or, with `status=500`, a server error, until
        `calm()`. Calls answered with a failure change nothing."""
        self._storm = (every, status, retry_after, frozenset(methods), itertools.count(1))

    def calm(self) -> None:
        self._storm = None

    def _injected(self, method: str) -> Answer | None:
        if self._failures[method]:
            return self._failures[method].popleft()
        if self._storm is not None:
            every, status, retry_after, methods, counter = self._storm
            if (not methods or method in methods) and next(counter) % every == 0:
                if status == 429:
                    return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}
                return status, {"ok": False, "error": "internal_error"}, {}
        return None

    # ----- HTTP endpoints

    async def _api(self, request: web.Request) -> web.Response:
        at = self.now()
        method = request.match_info["method"]
        payload, token, client = await _read_payload(request)
        call = Call(method, payload, at, token=token, team=self._team_of(method, payload, token))
        status, body, headers = await self._serve(call, lambda: self._answer(method, payload, token, client))
        if isinstance(body, str):
            return web.Response(text=body, status=status, headers=headers, content_type="text/html")
        return web.json_response(body, status=status, headers=headers)

    def _team_of(self, method: str, payload: Json, token: str | None) -> str | None:
        if method == "oauth.v2.access":
            grant = self._grants.get(payload.get("code", ""))
            renewed = self._refresh_tokens.get(payload.get("refresh_token", ""))
            return grant.team_id if grant else renewed.team_id if renewed else None
        known = self._token(token)
        return known.team_id if known else None

    def _answer(self, method: str, payload: Json, token: str | None, client: tuple[str, str] | None) -> Answer:
        if injected := self._injected(method):
            return injected
        if method == "oauth.v2.access":  # the app authenticates with its client id and secret, not a token
            return self._oauth_access(payload, client)
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return _error("unknown_method")
        if auth_error := _auth_error(method, token):
            return _error(auth_error)
        known = self._token(token)
        assert known is not None
        if known.revoked:
            return _error("token_revoked")
        if known.expires_at is not None and known.expires_at <= self.now():
            return _error("token_expired")
        headers = {"X-OAuth-Scopes": ",".join(known.scopes)} if known.kind != "app" and known.scopes else {}
        ws = self.workspaces[known.team_id]
        channel = str(payload.get("channel", "")) if method in PER_CHANNEL_METHODS else ""
        if retry_after := self._rates.admit(ws.windows, method, channel, self.now()):
            self.rate_limited[method] += 1
            return 429, {"ok": False, "error": "ratelimited"}, headers | {"Retry-After": str(retry_after)}
        try:
            return 200, {"ok": True, **handler(ws, payload, known)}, headers
        except SlackError as e:
            return 200, {"ok": False, "error": e.error}, headers

    async def _respond(self, request: web.Request) -> web.Response:
        at = self.now()
        payload, _, _ = await _read_payload(request)
        call = Call("response_url", payload, at, token=request.match_info["token"])
        return _plain(await self._serve(call, lambda: self._injected("response_url") or (200, {}, {})), "ok")

    async def _upload(self, request: web.Request) -> web.Response:
        at = self.now()
        file_id = request.match_info["file_id"]
        ws = next((ws for ws in self.workspaces.values() if file_id in ws.files), None)
        if ws is None:
            raise web.HTTPNotFound()
        content = await request.read()

        def answer() -> Answer:
            injected = self._injected("upload_url")
            if injected is None:
                ws.files[file_id]["content"] = content
            return injected or (200, {}, {})

        call = Call("upload_url", {"file_id": file_id}, at, team=ws.id)
        return _plain(await self._serve(call, answer), f"OK - {len(content)}")

    async def _authorize(self, request: web.Request) -> web.Response:
        """The page a user installs the app from: redirects to the app with a code (or access_denied)."""
        at = self.now()
        query = dict(request.query)
        team_id = query.get("team") or TEAM_ID
        call = Call("authorize", query, at, team=team_id)
        status, body, headers = await self._serve(call, lambda: self._grant(query, team_id))
        if status == 302:
            return web.Response(status=302, headers=headers)
        return web.Response(status=status, text=body.get("error", ""))

    def _grant(self, query: dict[str, str], team_id: str) -> Answer:
        if injected := self._injected("authorize"):
            return injected
        if self._oauth is None or query.get("client_id") != self._oauth.client_id:
            return 400, {"error": "invalid_client_id"}, {}
        redirect_uri = query.get("redirect_uri") or self._oauth.redirect_uri
        if not redirect_uri:
            return 400, {"error": "bad_redirect_uri"}, {}
        state = query.get("state", "")
        if query.get("deny") in ("1", "true"):
            answer = {"error": "access_denied", "state": state}
        else:
            self.add_workspace(team_id)
            code = f"{next(self._ids)}.{secrets.token_hex(12)}"
            self._grants[code] = _Grant(
                team_id,
                query.get("user") or INSTALLING_USER,
                _scopes(query.get("scope", "")),
                _scopes(query.get("user_scope", "")),
                query.get("redirect_uri"),
                self.now() + _CODE_LIFETIME,
            )
            answer = {"code": code, "state": state}
        location = f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(answer)}"
        return 302, answer, {"Location": location}

    # ----- Socket Mode

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()  # autoping answers slack-sdk's keep-alive pings
        await ws.prepare(request)
        self._sockets.append(ws)
        self.connections += 1
        hello = {"type": "hello", "num_connections": len(self._sockets), "debug_info": {"host": "fake-slack"}}
        await ws.send_json(hello | {"connection_info": {"app_id": APP_ID}})
        self._changes.notify()
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
        async with asyncio.timeout(timeout):
            await self._changes.wait_for(lambda: self.connections >= count)

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
                await self._changes.wait_for(lambda: any(not ws.closed for ws in self._sockets))
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

    # ----- Web API methods: (workspace, arguments, calling token) -> the answer's fields besides "ok"

    def _next_ts(self) -> str:
        """Like Slack's: the wall-clock time of posting in microseconds, unique and increasing."""
        self._last_ts = micros = max(self._last_ts + 100, int(time.time() * 1_000_000))
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _api_auth_test(self, ws: Workspace, _: Json, token: Token) -> Json:
        acting = token.user_id if token.kind == "user" and token.issued else ws.bot_user_id
        answer = {
            "url": f"https://{ws.domain}.slack.com/",
            "team": ws.name,
            "user": ws.user(acting)["name"],
            "team_id": ws.id,
            "user_id": acting,
            "is_enterprise_install": False,
        }
        return answer | ({"bot_id": ws.bot_id} if acting == ws.bot_user_id else {})

    def _api_auth_revoke(self, _ws: Workspace, _: Json, token: Token) -> Json:
        token.revoked = True
        self._refresh_tokens = {k: t for k, t in self._refresh_tokens.items() if t is not token}
        return {"revoked": True}

    def _api_apps_connections_open(self, *_: object) -> Json:
        ws_url = self.base_url.replace("http://", "ws://", 1)
        return {"url": f"{ws_url}/socket-mode?ticket={uuid.uuid4()}&app_id={APP_ID}"}

    def _api_chat_postMessage(self, ws: Workspace, p: Json, _: Token) -> Json:
        channel = ws.channel(p.get("channel", ""))
        if not (p.get("text") or p.get("blocks") or p.get("attachments")):
            raise SlackError("no_text")
        message = Message(self._next_ts(), p.get("text", ""), p.get("blocks") or [], p.get("thread_ts"))
        message.metadata = _metadata(p)
        channel.messages[message.ts] = message
        return {"channel": channel.id, "ts": message.ts, "message": ws.message_json(message, metadata=True)}

    def _api_chat_update(self, ws: Workspace, p: Json, _: Token) -> Json:
        channel, message = ws.message(p, "ts")
        message.text = p.get("text", message.text)
        message.blocks = p.get("blocks", message.blocks)
        if "metadata" in p:
            message.metadata = _metadata(p)
        message.edits += 1
        answer = {"channel": channel.id, "ts": message.ts, "text": message.text}
        return answer | {"message": ws.message_json(message)}

    def _api_chat_delete(self, ws: Workspace, p: Json, _: Token) -> Json:
        channel, message = ws.message(p, "ts")
        del channel.messages[message.ts]
        if message.ts in channel.pins:
            channel.pins.remove(message.ts)
        return {"channel": channel.id, "ts": message.ts}

    def _api_chat_postEphemeral(self, ws: Workspace, p: Json, _: Token) -> Json:
        ws.channel(p.get("channel", ""))
        ws.user(p.get("user", ""))
        return {"message_ts": self._next_ts()}

    def _api_conversations_history(self, ws: Workspace, p: Json, _: Token) -> Json:
        """Top-level messages newest first (thread replies are not history), paged by a ts cursor."""
        channel = ws.channel(p.get("channel", ""))
        oldest, latest = _ts_argument(p, "oldest"), _ts_argument(p, "latest")
        inclusive = _flag(p.get("inclusive"))
        try:
            limit = min(max(int(p.get("limit") or 100), 1), 1000)
        except ValueError:
            raise SlackError("invalid_limit") from None
        before = _cursor_ts(p["cursor"]) if p.get("cursor") else None
        found = []
        for message in channel.messages.values():
            ts = ts_key(message.ts)
            if message.thread_ts not in (None, message.ts) or (before is not None and ts >= before):
                continue
            if oldest is not None and (ts < oldest or (ts == oldest and not inclusive)):
                continue
            if latest is not None and (ts > latest or (ts == latest and not inclusive)):
                continue
            found.append(message)
        found.sort(key=lambda m: ts_key(m.ts), reverse=True)
        page, has_more = found[:limit], len(found) > limit
        metadata = _flag(p.get("include_all_metadata"))
        return {
            "messages": [ws.message_json(m, metadata=metadata) for m in page],
            "has_more": has_more,
            "pin_count": len(channel.pins),
            "response_metadata": {"next_cursor": _cursor(page[-1].ts) if has_more else ""},
        }

    def _api_pins_add(self, ws: Workspace, p: Json, _: Token) -> Json:
        channel, message = ws.message(p, "timestamp")
        if message.ts in channel.pins:
            raise SlackError("already_pinned")
        channel.pins.append(message.ts)
        return {}

    def _api_pins_remove(self, ws: Workspace, p: Json, _: Token) -> Json:
        channel = ws.channel(p.get("channel", ""))
        if p.get("timestamp") not in channel.pins:
            raise SlackError("no_pin")
        channel.pins.remove(p["timestamp"])
        return {}

    def _api_reactions_add(self, ws: Workspace, p: Json, token: Token) -> Json:
        _, message = ws.message(p, "timestamp")
        users = message.reactions.setdefault(p.get("name", ""), [])
        acting = token.user_id if token.kind == "user" and token.issued else ws.bot_user_id
        if acting in users:
            raise SlackError("already_reacted")
        users.append(acting)
        return {}

    def _api_reactions_get(self, ws: Workspace, p: Json, _: Token) -> Json:
        channel, message = ws.message(p, "timestamp")
        return {"type": "message", "channel": channel.id, "message": ws.message_json(message)}

    def _api_conversations_open(self, ws: Workspace, p: Json, _: Token) -> Json:
        user = ws.user(p.get("users", ""))
        if user["is_bot"]:
            raise SlackError("cannot_dm_bot")
        already_open = user["id"] in ws.dms
        answer: Json = {"channel": {"id": ws.dm_channel_id(user["id"])}}
        return answer | ({"no_op": True, "already_open": True} if already_open else {})

    def _api_conversations_info(self, ws: Workspace, p: Json, _: Token) -> Json:
        channel = ws.channel(p.get("channel", ""), member=False)
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

    def _api_users_info(self, ws: Workspace, p: Json, _: Token) -> Json:
        return {"user": ws.user(p.get("user", ""))}

    def _api_views_open(self, ws: Workspace, p: Json, _: Token) -> Json:
        if not p.get("trigger_id") or not isinstance(p.get("view"), dict):
            raise SlackError("invalid_arguments")
        view_id = f"V{next(self._ids):08d}"
        ids = {"id": view_id, "team_id": ws.id, "app_id": APP_ID, "hash": f"h{next(self._ids)}"}
        ws.views[view_id] = p["view"] | ids | {"state": {"values": {}}}
        return {"view": ws.views[view_id]}

    def _api_views_update(self, ws: Workspace, p: Json, _: Token) -> Json:
        wanted = {p.get("view_id"), p.get("external_id")} - {None}
        found = [view for view in ws.views.values() if wanted & {view["id"], view.get("external_id")}]
        if not found or not isinstance(p.get("view"), dict):
            raise SlackError("not_found")
        found[0] |= p["view"] | {"id": found[0]["id"], "hash": f"h{next(self._ids)}"}
        return {"view": found[0]}

    def _api_files_getUploadURLExternal(self, ws: Workspace, p: Json, _: Token) -> Json:
        if not p.get("filename") or not str(p.get("length", "")).isdigit():
            raise SlackError("invalid_arguments")
        file_id = f"F{next(self._ids):08d}"
        ws.files[file_id] = {"id": file_id, "name": p["filename"], "size": int(p["length"]), "content": None}
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, ws: Workspace, p: Json, _: Token) -> Json:
        specs = p.get("files") or []
        files = [ws.files[spec["id"]] for spec in specs if spec.get("id") in ws.files]
        if not specs or len(files) != len(specs) or any(file["content"] is None for file in files):
            raise SlackError("file_not_found")
        if p.get("channel_id"):
            ws.channel(p["channel_id"])
        for file, spec in zip(files, specs, strict=True):
            file["title"] = spec.get("title") or file["name"]
            file["channel"], file["initial_comment"] = p.get("channel_id"), p.get("initial_comment")
        return {"files": [{k: v for k, v in file.items() if k != "content"} for file in files]}

    def _oauth_access(self, p: Json, client: tuple[str, str] | None) -> Answer:
        """oauth.v2.access: exchange a code for tokens, or renew a token with its refresh token."""
        client_id, client_secret = client or (p.get("client_id"), p.get("client_secret"))
        if self._oauth is None or client_id != self._oauth.client_id:
            return _error("invalid_client_id")
        if client_secret != self._oauth.client_secret:
            return _error("bad_client_secret")
        if p.get("grant_type") == "refresh_token":
            return self._renew(p.get("refresh_token", ""))
        grant = self._grants.get(p.get("code", ""))
        if grant is None or grant.expires_at <= self.now():
            return _error("invalid_code")
        if grant.redirect_uri is not None and p.get("redirect_uri") != grant.redirect_uri:
            return _error("bad_redirect_uri")
        if grant.redirect_uri is None and p.get("redirect_uri") not in (None, self._oauth.redirect_uri):
            return _error("bad_redirect_uri")
        del self._grants[p["code"]]
        ws = self.workspaces[grant.team_id]
        answer: Json = {"ok": True, "app_id": APP_ID} | _installed(ws) | {"authed_user": {"id": grant.user_id}}
        if grant.scopes:
            answer |= self._issue(ws, "bot", ws.bot_user_id, grant.scopes) | {"bot_user_id": ws.bot_user_id}
        if grant.user_scopes:
            answer["authed_user"] |= self._issue(ws, "user", grant.user_id, grant.user_scopes)
        return 200, answer, {}

    def _renew(self, refresh_token: str) -> Answer:
        """A refresh issues a new access and refresh token; the old access token lives until it expires."""
        old = self._refresh_tokens.pop(refresh_token, None)
        if old is None or old.revoked:
            return _error("invalid_refresh_token")
        ws = self.workspaces[old.team_id]
        answer: Json = {"ok": True, "app_id": APP_ID} | self._issue(ws, old.kind, old.user_id, old.scopes)
        if old.kind == "bot":
            answer["bot_user_id"] = ws.bot_user_id
        else:
            answer["user_id"] = old.user_id
        return 200, answer | _installed(ws), {}


def _installed(ws: Workspace) -> Json:
    return {"team": {"id": ws.id, "name": ws.name}, "enterprise": None, "is_enterprise_install": False}


def _error(error: str) -> Answer:
    return 200, {"ok": False, "error": error}, {}


def _plain(answer: Answer, text: str) -> web.Response:
    """Endpoints outside the Web API answer plain text, unless a failure was injected for them."""
    status, body, headers = answer
    if status != 200:
        return web.json_response(body, status=status, headers=headers)
    return web.Response(text=text)


def _auth_error(method: str, token: str | None) -> str | None:
    """Slack's answer to a missing or wrong kind of token (app-level tokens only open Socket Mode)."""
    if not token:
        return "not_authed"
    if not token.startswith(tuple(_TOKEN_KINDS)):
        return "invalid_auth"
    if token.startswith("xapp-") != (method == "apps.connections.open"):
        return "not_allowed_token_type"
    return None


def _flag(value: object) -> bool:
    """A boolean argument as slack-sdk sends it: True in JSON, "true" or "1" in a form."""
    return value is True or value == 1 or str(value).lower() in ("true", "1")


def _scopes(text: str) -> tuple[str, ...]:
    return tuple(scope for scope in text.replace(" ", ",").split(",") if scope)


def _metadata(p: Json) -> Json | None:
    """Message metadata as Slack accepts it: an event_type and an event_payload object."""
    metadata = p.get("metadata")
    if metadata is None:
        return None
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not isinstance(metadata.get("event_payload", {}), dict)
    ):
        raise SlackError("invalid_metadata_format")
    return {"event_type": metadata["event_type"], "event_payload": metadata.get("event_payload", {})}


def _ts_argument(p: Json, name: str) -> Decimal | None:
    value = p.get(name)
    if value in (None, ""):
        return None
    try:
        return ts_key(str(value))
    except SlackError:
        raise SlackError(f"invalid_ts_{name}") from None


def _cursor(ts: str) -> str:
    """Slack's cursors are opaque base64; this one names the last message returned."""
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _cursor_ts(cursor: str) -> Decimal:
    try:
        kind, _, ts = base64.b64decode(cursor, validate=True).decode().partition(":")
        if kind != "next_ts":
            raise ValueError(kind)
        return ts_key(ts)
    except (ValueError, binascii.Error, SlackError):
        raise SlackError("invalid_cursor") from None


async def _read_payload(request: web.Request) -> tuple[Json, str | None, tuple[str, str] | None]:
    """Merge query, form and JSON arguments as Slack accepts them; return them, the bearer token, and the
    client id and secret of HTTP Basic auth (how slack-sdk authenticates oauth.v2.access)."""
    payload: Json = dict(request.query)
    if request.content_type == "application/json":
        payload.update(await request.json())
    elif request.body_exists:
        payload.update(await request.post())
    for key in _JSON_FIELDS:
        if isinstance(payload.get(key), str) and payload[key].startswith(("[", "{")):
            payload[key] = json.loads(payload[key])
    auth = request.headers.get("Authorization", "")
    client = None
    if auth.startswith("Basic "):
        try:
            client_id, _, secret = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
            client = (client_id, secret)
        except (ValueError, binascii.Error):
            client = ("", "")
    token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else payload.pop("token", None)
    return payload, token, client


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """A running fake per test (expose it with ``pytest_plugins`` in a conftest, or a module attribute)."""
    async with FakeSlack() as slack:
        yield slack
