"""Spacing calls apart, shared by the chat adapters' pacers: each call waits until every key it names (a method,
a channel, the whole bot) is free, and the next slot of each key is counted from when the call *finished*, so
calls reach the platform at least one interval apart whatever the network does."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager


class Spacing:
    """Args:
    now, sleep: the monotonic clock and the wait (tests pass their own).
    """

    def __init__(
        self,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._now, self._sleep = now, sleep
        self._free_at: dict[str, float] = {}

    @asynccontextmanager
    async def slot(self, intervals: Mapping[str, float]) -> AsyncIterator[None]:
        """Wait until each key is free, make the call inside the block, then keep each key busy for its interval."""
        keys = {key: interval for key, interval in intervals.items() if interval > 0}
        if not keys:
            yield
            return
        now = self._now()
        start = max([now, *(self._free_at.get(key, 0.0) for key in keys)])
        for key, interval in keys.items():
            self._free_at[key] = start + interval  # reserved, so concurrent callers queue behind this one
        if start > now:
            await self._sleep(start - now)
        try:
            yield
        finally:
            done = self._now()
            for key, interval in keys.items():
                self._free_at[key] = max(self._free_at[key], done + interval)

    def hold(self, key: str, seconds: float) -> None:
        """Keep `key` busy for `seconds` from now (the platform answered 429 with Retry-After)."""
        self._free_at[key] = max(self._free_at.get(key, 0.0), self._now() + seconds)
