"""Client-side pacing under SPEC §4's limits, so the outbox sends at the limit rather than into 429s.

discord.py already waits when a route's bucket runs dry (X-RateLimit-Remaining 0 until X-RateLimit-Reset-After)
and retries short 429s; what it does not know is the bot-wide budget (SPEC §4: 25 REST calls a second; Discord's
global limit is 50), nor SPEC §4's one message a second per channel. Each REST call of the sender takes a place
in the bot-wide one-second window (a full second's calls may go at once), and each message also its channel's
(a DM goes to the user's own DM channel, so DMs to many people do not wait for one another). Windows count from
when calls finished (adapters/spacing.py).
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from adapters.spacing import Limit, Limiter

ALL_CALLS = "*"


class Pacer:
    """Args:
    calls_per_second: REST calls a second for the whole bot (0: unpaced).
    place_interval: seconds between two messages to one channel (0: unpaced).
    now, sleep: the monotonic clock and the wait (tests pass their own).
    """

    def __init__(
        self,
        calls_per_second: float,
        place_interval: float,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._calls = Limit.per_second(calls_per_second)
        self._place = Limit(1, place_interval)
        self._limiter = Limiter(now, sleep)

    @asynccontextmanager
    async def slot(self, place: str | None = None) -> AsyncIterator[None]:
        """Wait for a call slot (and `place`'s message slot, when given), then make the call inside the block."""
        limits = {ALL_CALLS: self._calls} | ({"place:" + place: self._place} if place is not None else {})
        async with self._limiter.slot(limits):
            yield
