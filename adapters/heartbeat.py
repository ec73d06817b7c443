"""This process's platform connection state into the database (bot/health.py), for `/healthz` on any web server:
written when the connection changes and every `BEAT_EVERY` besides, so a process that died shows as stale."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from bot import health
from bot.clock import Clock
from bot.db.engine import make_sessions

log = logging.getLogger(__name__)


class Heartbeat:
    """Args:
    state: this process's connection state now ("connected", "disconnected", "delivering"); "stopped" is
        written on the way out.
    detail: what the process holds, e.g. "shards 0-1 of 4".
    """

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        platform: str,
        detail: str,
        state: Callable[[], str],
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.sessions = make_sessions(engine, busy_timeout_ms=2_000)
        self.clock, self.platform, self.detail, self.state, self.sleep = clock, platform, detail, state, sleep
        self.process, self.started_at = health.this_process(), clock.now()
        self._tasks: set[asyncio.Task[None]] = set()

    async def beat(self) -> None:
        """Write the state now; a failure is logged (the database's own health is /healthz's first answer)."""
        now = self.clock.now()
        try:
            async with self.sessions.begin() as session:
                await health.beat(
                    session,
                    health.Beat(self.process, self.platform, self.state(), self.detail, self.started_at, now),
                )
        except Exception:
            log.warning("could not record this process's heartbeat", exc_info=True)

    def changed(self) -> None:
        """The connection changed: write it at once, in the background."""
        task = asyncio.create_task(self.beat())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self) -> None:
        while True:
            await self.beat()
            await self.sleep(health.BEAT_EVERY.total_seconds())

    @asynccontextmanager
    async def running(self) -> AsyncIterator["Heartbeat"]:
        task = asyncio.create_task(self.run())
        try:
            yield self
        finally:
            task.cancel()
            for pending in (task, *self._tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await pending
            self.state = lambda: "stopped"
            await self.beat()
