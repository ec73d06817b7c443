"""When a running bot delivers: a round in the background after each change (a call while one runs asks for one
more), and again when a row put off falls due before the next tick (a 429's Retry-After, an edit waiting for its
post, a card's merged edit), instead of up to `delivery_interval_seconds` later. The console and tests, which
deliver inline, only use `deliver`."""

import asyncio
import contextlib
import logging
from datetime import datetime

from bot.clock import Clock
from bot.delivery import Dispatcher

log = logging.getLogger(__name__)


class Waker:
    def __init__(self, dispatcher: Dispatcher, clock: Clock, tick_seconds: float, *, background: bool) -> None:
        self.dispatcher, self.clock, self.tick_seconds, self.background = dispatcher, clock, tick_seconds, background
        self._lock = asyncio.Lock()
        self._round: asyncio.Task[None] | None = None
        self._again = False
        self._soon: tuple[asyncio.TimerHandle, datetime] | None = None

    async def deliver(self) -> int:
        """Deliver every row due now; returns how many were sent."""
        async with self._lock:
            return await self.dispatcher.deliver_due()

    def wake(self) -> None:
        """Deliver what is due, in the background; a call while a round runs starts one more."""
        if not self.background:
            return
        if self._round is not None and not self._round.done():
            self._again = True
            self.dispatcher.kick()
            return
        self._round = asyncio.create_task(self._rounds())

    async def _rounds(self) -> None:
        while True:
            self._again = False
            try:
                await self.deliver()
            except Exception:  # the next tick tries again; the rows stay in the outbox
                log.exception("delivery round failed")
            if not self._again:
                break
        if (due := await self.dispatcher.next_due()) is not None:
            self.wake_at(due)

    def wake_at(self, due: datetime) -> None:
        """Wake when `due` comes, if that is before the next tick. One timer: the earliest."""
        seconds = (due - self.clock.now()).total_seconds()
        if not self.background or self.dispatcher.stopping or seconds >= self.tick_seconds:
            return
        if self._soon is not None:
            if self._soon[1] <= due:
                return
            self._soon[0].cancel()
        self._soon = (asyncio.get_running_loop().call_later(max(seconds, 0.05), self._woken), due)

    def _woken(self) -> None:
        self._soon = None
        self.wake()

    def stop(self) -> None:
        """Wake no more on a timer (the process is stopping)."""
        if self._soon is not None:
            self._soon[0].cancel()
            self._soon = None

    async def finish(self, grace_seconds: float) -> None:
        """Let the round under way finish within the grace; past it, cancel it (a row it claimed keeps its claim
        and is sent after the next start)."""
        if self._round is None or self._round.done():
            return
        done, _ = await asyncio.wait({self._round}, timeout=grace_seconds)
        if not done:
            self._round.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._round
