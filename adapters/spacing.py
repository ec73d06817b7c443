"""Sliding-window rate limiting, shared by the chat adapters' pacers: per key (a method, a channel, the whole
bot), at most `calls` in any `seconds`. A full window may go at once; the next call waits until the oldest of
the last `calls` leaves the window.

A call counts from when it *finished* (its request reached the platform some time between its start and its end),
and a call still under way counts as finishing now, so calls stay inside the platform's window whatever the
network does. Every caller takes its place in each key's queue before it waits (a reservation): concurrent
callers go in the order they asked, and each counts the ones ahead of it.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """At most `calls` calls in any `seconds`; `Limit(1, s)` spaces calls `s` apart."""

    calls: int
    seconds: float

    @property
    def active(self) -> bool:
        """A limit of no calls or no time limits nothing (only a 429's hold then waits)."""
        return self.calls > 0 and self.seconds > 0

    @classmethod
    def per_second(cls, rate: float) -> "Limit":
        """`rate` calls a second, as a one-second window (a rate under 1: one call per 1/rate seconds)."""
        if rate <= 0:
            return OFF
        calls = max(1, int(rate))
        return cls(calls, calls / rate)


OFF = Limit(0, 0.0)


SWEEP_EVERY = 1000  # calls


class _Call:
    __slots__ = ("at", "done", "started")

    def __init__(self, at: float) -> None:
        self.at = at  # planned start, then start, then end
        self.started = self.done = False


class Limiter:
    """Args:
    now, sleep: the monotonic clock and the wait (tests pass their own).
    """

    def __init__(
        self,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._now, self._sleep = now, sleep
        self._queues: dict[str, list[_Call]] = {}
        self._spans: dict[str, float] = {}
        self._held: dict[str, float] = {}
        self._calls = 0

    @asynccontextmanager
    async def slot(self, limits: Mapping[str, Limit]) -> AsyncIterator[None]:
        """Wait until every key's window allows one more call, then make the call inside the block."""
        keys = dict(limits)
        if not any(limit.active for limit in keys.values()) and not self._holding(keys):
            yield
            return
        call = _Call(self._now())
        self._calls += 1
        if self._calls % SWEEP_EVERY == 0:
            self._sweep(call.at)
        queued = [key for key, limit in keys.items() if limit.active]
        for key in queued:
            self._queues.setdefault(key, []).append(call)
            self._spans[key] = keys[key].seconds
        try:
            while True:
                now = self._now()
                start = max(self._earliest(key, limit, call, now) for key, limit in keys.items())
                if start <= now:
                    break
                call.at = start  # those behind count this call as starting then
                await self._sleep(start - now)
        except BaseException:
            for key in queued:
                self._queues[key].remove(call)
            raise
        call.at, call.started = now, True
        try:
            yield
        finally:
            call.at, call.done = self._now(), True

    def _earliest(self, key: str, limit: Limit, call: _Call, now: float) -> float:
        """When `call` may start as far as `key` is concerned: after the calls ahead of it have started, and once
        fewer than `limit.calls` of them can fall in one window with it."""
        if not limit.active:
            return max(now, self._held.get(key, 0.0))
        queue = self._queues[key]
        queue[:] = [c for c in queue if not (c.done and c.at + limit.seconds <= now)]  # out of every window
        ahead = queue[: queue.index(call)]
        start = max([now, self._held.get(key, 0.0), *(c.at for c in ahead if not c.started)])
        ends = sorted(c.at if c.done else max(c.at, now) for c in ahead)
        if len(ends) >= limit.calls:
            start = max(start, ends[-limit.calls] + limit.seconds)
        return start

    def _sweep(self, now: float) -> None:
        """Forget keys (a DM channel each, say) whose calls have all left their window, and holds that are over."""
        for key, queue in list(self._queues.items()):
            if all(c.done and c.at + self._spans[key] <= now for c in queue):
                del self._queues[key], self._spans[key]
        self._held = {key: until for key, until in self._held.items() if until > now}

    def _holding(self, keys: Mapping[str, Limit]) -> bool:
        now = self._now()
        return any(self._held.get(key, 0.0) > now for key in keys)

    def hold(self, key: str, seconds: float) -> None:
        """Let no call of `key` start for `seconds` from now (the platform answered 429 with Retry-After)."""
        self._held[key] = max(self._held.get(key, 0.0), self._now() + seconds)
