"""The gateway half of the Discord fake: sessions per shard, IDENTIFY and RESUME with replay, events routed by shard.

FakeDiscord (discord_api.py) inherits it; tests use it through FakeDiscord.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from tests.fakes.discord_shapes import JSON, PRIVILEGED_INTENTS, Call, Guild, shard_of

GUILD_EVENTS_BY_ID = {"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"}  # these carry the guild's id as "id"


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    compress: Callable[[bytes], bytes] | None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(eq=False)
class _Session:
    """A gateway session; its dispatch log outlives a connection so that a RESUME can replay what was missed."""

    id: str
    intents: int
    conn: _Connection | None
    shard: tuple[int, int] = (0, 1)  # [shard_id, shard_count] as IDENTIFY sent it; [0, 1] if it did not
    log: list[JSON] = field(default_factory=list)
    sent: int = 0  # frames written on the current connection (after a RESUME: the client's seq)
    ready_seq: int = 0
    resumable: bool = True
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def receives(self, guild_id: str | None) -> bool:
        """A guild's events go to its shard; events outside guilds (DMs) go to shard 0, as on Discord."""
        shard_id, count = self.shard
        return shard_of(guild_id, count) == shard_id if guild_id else shard_id == 0

    @property
    def ready(self) -> bool:
        return self.sent >= self.ready_seq > 0


def _compressor(kind: str | None) -> Callable[[bytes], bytes] | None:
    """Transport compression as the client asked for it: one stream per connection, flushed per message."""
    if kind == "zlib-stream":
        z = zlib.compressobj()
        return lambda data: z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)
    if kind == "zstd-stream":
        import zstandard  # discord.py asks for zstd only when it can import zstandard itself

        zc = zstandard.ZstdCompressor().compressobj()
        return lambda data: zc.compress(data) + zc.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    return None


class FakeGateway:
    """Discord's gateway: any number of concurrent sessions, one per [shard_id, shard_count].

    A guild's events go only to the session of its shard, `(guild_id >> 22) % shard_count`; DM events go to shard
    0. Each session keeps its own log, so a RESUME replays what that session missed.
    """

    # Provided by FakeDiscord.
    bot_user: JSON
    application_id: str
    guilds: dict[str, Guild]
    calls: list[Call]

    def _guild_create(self, guild_id: str) -> JSON:
        raise NotImplementedError

    def __init__(self) -> None:
        self.port = 0
        self.heartbeat_interval_ms = 600_000  # long, so that no test depends on heartbeat timing
        self.echo = True  # send the bot's own messages and reactions back as gateway events
        self.recommended_shards = 1  # "shards" in GET /gateway/bot
        # GET /gateway/bot's session_start_limit; each IDENTIFY takes one from "remaining".
        self.session_start_limit = {"total": 1000, "remaining": 1000, "reset_after": 14_400_000, "max_concurrency": 1}
        self.identifies_over_limit = 0  # IDENTIFYs with none remaining (Discord would reset the bot's token)
        self.connections: list[str] = []  # gateway URLs (path and query) the client connected to
        self.identify_count = self.resume_count = 0
        self._sessions: dict[tuple[int, int], _Session] = {}  # the live (resumable) session of each shard
        self._conns: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._cond = asyncio.Condition()

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/resume"

    async def _close_gateway(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in list(self._conns):
            await conn.ws.close(code=1001)

    # ---- waiting -----------------------------------------------------------------------------------------------

    async def _until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:  # noqa: ASYNC109
        try:
            async with asyncio.timeout(timeout), self._cond:
                await self._cond.wait_for(predicate)
        except TimeoutError:
            seen = "".join(f"\n  {c.method} {c.path} -> {c.status}" for c in self.calls[-20:])
            raise TimeoutError(f"timed out waiting for {what}; last calls:{seen}") from None

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    # ---- what tests call -----------------------------------------------------------------------------------------

    def _sessions_of(self, shard: int | None) -> list[_Session]:
        return [s for s in self._sessions.values() if shard is None or s.shard[0] == shard]

    async def wait_ready(self, timeout: float = 5.0, *, shard: int | None = None) -> None:  # noqa: ASYNC109
        """Wait until the session of `shard` (None: every live session, and at least one) has written READY and
        its GUILD_CREATEs."""

        def ready() -> bool:
            sessions = self._sessions_of(shard)
            return bool(sessions) and all(s.ready for s in sessions)

        await self._until(ready, timeout, "READY" if shard is None else f"READY on shard {shard}")

    async def dispatch(
        self,
        event: str,
        data: JSON,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        shard: int | None = None,
    ) -> int:
        """Send a DISPATCH and wait until it has been written (after the resume, if the client is away).

        It goes where Discord would send it: to the session of the guild's shard (`guild_id` in `data`, or `id` for
        GUILD_CREATE/UPDATE/DELETE), or to shard 0 outside guilds; `shard` sends it there instead. Returns its seq (in
        the first session it went to).
        """
        guild_id = data.get("id") if event in GUILD_EVENTS_BY_ID else data.get("guild_id")
        where = f"shard {shard}" if shard is not None else f"guild {guild_id}" if guild_id else "DMs (shard 0)"

        def targets() -> list[_Session]:
            if shard is not None:
                return self._sessions_of(shard)
            return [s for s in self._sessions.values() if s.receives(guild_id)]

        await self._until(lambda: bool(targets()), timeout, f"a gateway session for {where}")
        sent = [(session, self._enqueue(session, event, data)) for session in targets()]
        for session, _ in sent:
            await self._pump(session)
        await self._until(lambda: all(s.sent >= q or not s.resumable for s, q in sent), timeout, f"{event} delivery")
        if any(s.sent < seq for s, seq in sent):
            raise ConnectionError(f"the session was invalidated before {event} was delivered")
        return sent[0][1]

    async def drop_connection(self, *, resumable: bool = True, shard: int | None = None) -> None:
        """Close the gateway socket of `shard` (None: every live one) with 4000; if not resumable the session is
        gone, so a RESUME gets op 9."""
        dropped = [s for s in self._sessions_of(shard) if s.conn is not None]
        if not dropped:
            raise RuntimeError("no live gateway connection" + (f" on shard {shard}" if shard is not None else ""))
        for session in dropped:
            conn, session.conn = session.conn, None
            if not resumable:
                session.resumable = False
                del self._sessions[session.shard]
            assert conn is not None
            await conn.ws.close(code=4000, message=b"Unknown error.")
        await self._notify()

    def gateway_log(self, shard: int = 0) -> list[JSON]:
        """The DISPATCH frames ({"op", "t", "s", "d"}) of shard's live session, READY first; [] without one."""
        return [frame for s in self._sessions_of(shard) for frame in s.log]

    # ---- sending -------------------------------------------------------------------------------------------------

    @staticmethod
    def _enqueue(session: _Session, event: str, data: JSON) -> int:
        session.log.append({"op": 0, "t": event, "s": len(session.log) + 1, "d": data})
        return len(session.log)

    def _echo(self, event: str, data: JSON, channel: JSON, guild_intent: int, dm_intent: int) -> None:
        """An event caused by the bot's own REST call; Discord sends those to the gateway too."""
        guild_id = channel.get("guild_id")
        intent = guild_intent if guild_id else dm_intent
        if not self.echo:
            return
        for session in self._sessions.values():
            if session.intents & intent and session.receives(guild_id):
                self._enqueue(session, event, data)
                task = asyncio.get_running_loop().create_task(self._pump(session))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _pump(self, session: _Session) -> None:
        async with session.lock:
            while session.conn is not None and session.sent < len(session.log):
                try:
                    await self._send(session.conn, session.log[session.sent])
                except ConnectionError:
                    break
                session.sent += 1
        await self._notify()

    @staticmethod
    async def _send(conn: _Connection, frame: JSON) -> None:
        async with conn.lock:  # a compressed stream must be written in the order it was compressed
            if conn.ws.closed:
                raise ConnectionResetError("gateway socket closed")
            if conn.compress is None:
                await conn.ws.send_str(json.dumps(frame))
            else:
                await conn.ws.send_bytes(conn.compress(json.dumps(frame).encode()))

    # ---- receiving -----------------------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = _Connection(ws, _compressor(request.query.get("compress")))
        self.connections.append(str(request.rel_url))
        self._conns.add(conn)
        try:
            with contextlib.suppress(ConnectionError):
                await self._send(conn, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
                async for msg in ws:
                    if msg.type is aiohttp.WSMsgType.TEXT:
                        await self._on_op(conn, json.loads(msg.data))
        finally:
            self._conns.discard(conn)
            for session in self._sessions.values():
                if session.conn is conn:
                    session.conn = None
            await self._notify()
        return ws

    async def _on_op(self, conn: _Connection, msg: JSON) -> None:
        op, data = msg.get("op"), msg.get("d") or {}
        if op == 1:  # HEARTBEAT
            await self._send(conn, {"op": 11, "d": None})
        elif op == 2 and int(data.get("intents", 0)) & PRIVILEGED_INTENTS:  # the bot has no privileged intent
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
        elif op == 2:
            await self._identify(conn, data)
        elif op == 6:
            await self._resume(conn, data)

    async def _identify(self, conn: _Connection, data: JSON) -> None:
        """A new session for the shard: READY listing the shard's guilds, then a GUILD_CREATE for each.

        The shard's previous session can no longer resume; sessions of other shards go on.
        """
        shard_id, count = data.get("shard") or (0, 1)
        if not 0 <= shard_id < count:
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        if (old := self._sessions.get((shard_id, count))) is not None:
            old.resumable = False
        session = self._sessions[shard_id, count] = _Session(
            secrets.token_hex(16), int(data.get("intents", 0)), conn, (shard_id, count)
        )
        self.identify_count += 1
        if self.session_start_limit["remaining"] > 0:
            self.session_start_limit["remaining"] -= 1
        else:
            self.identifies_over_limit += 1
        guilds = [g for g in self.guilds if session.receives(g)]
        ready = {
            "v": 10, "user": self.bot_user, "session_id": session.id, "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url, "application": {"id": self.application_id, "flags": 0},
            "guilds": [{"id": g, "unavailable": True} for g in guilds], "private_channels": [],
            "relationships": [], "presences": [], "_trace": ["fake-discord"],
        }  # fmt: skip
        if "shard" in data:
            ready["shard"] = [shard_id, count]
        self._enqueue(session, "READY", ready)
        for guild_id in guilds:
            self._enqueue(session, "GUILD_CREATE", self._guild_create(guild_id))
        session.ready_seq = len(session.log)
        await self._pump(session)

    async def _resume(self, conn: _Connection, data: JSON) -> None:
        """Replay what the client missed since its seq, then RESUMED; an unknown session gets op 9."""
        session = next((s for s in self._sessions.values() if s.id == data.get("session_id")), None)
        if session is None or not session.resumable:
            await self._send(conn, {"op": 9, "d": False})  # INVALID_SESSION, not resumable
            return
        session.conn, session.sent = conn, int(data.get("seq") or 0)
        self._enqueue(session, "RESUMED", {"_trace": ["fake-discord"]})
        self.resume_count += 1
        await self._pump(session)
