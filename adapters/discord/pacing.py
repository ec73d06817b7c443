"""Client-side pacing under SPEC §4's limits, so the outbox sends at a steady rate rather than in bursts.

discord.py already waits when a route's bucket runs dry (X-RateLimit-* headers) and retries short 429s; what it
does not know is the bot-wide budget, nor that one message a second per channel reads better than a burst. Each
REST call of the sender takes a slot (25 a second in all), and each message also its place's slot (one a second
per channel; every DM shares one place, so DMs to many people are paced too). Slots are counted from when a call
finished, so calls reach Discord at least one interval apart whatever the network does.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.spacing import Spacing

ALL_CALLS = "*"


class Pacer:
    """Args:
    calls_per_second: REST calls a second for the whole bot (0: unpaced).
    place_interval: seconds between two messages to one place (0: unpaced).
    """

    def __init__(self, calls_per_second: float, place_interval: float) -> None:
        self._call_interval = 1 / calls_per_second if calls_per_second > 0 else 0.0
        self._place_interval = place_interval
        self._spacing = Spacing()

    @asynccontextmanager
    async def slot(self, place: str | None = None) -> AsyncIterator[None]:
        """Wait for a call slot (and `place`'s message slot, when given), then make the call inside the block."""
        intervals = {ALL_CALLS: self._call_interval} | ({place: self._place_interval} if place is not None else {})
        async with self._spacing.slot(intervals):
            yield
