"""Client-side pacing under Slack's rate limits, so the outbox sends at the limit rather than into 429s.

Slack answers a burst past a method's tier with 429 and a whole-second Retry-After, so a client that finds the
limit by hitting it loses up to a second per call; one that spaces its calls loses nothing. Each call waits for
its method's slot (and, for posts, its channel's), and the next slot is counted from when the call *finished*,
so calls reach Slack at least one interval apart whatever the network does. A 429 still happens (another
process, a stricter workspace): the method is then held for Retry-After and the outbox retries the row.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from adapters.spacing import Spacing

# Slack's published tiers, in calls a minute per workspace, for the methods the bot calls (Tier 2 = 20,
# Tier 3 = 50, Tier 4 = 100). chat.postMessage is "about one message a second per channel"; the bot also keeps
# it to one a second across the workspace, so DMs to many people are paced rather than burst.
SLACK_TIERS: Mapping[str, int] = {
    "chat.postMessage": 60,
    "chat.update": 50,
    "pins.add": 20,
    "pins.remove": 20,
    "reactions.add": 50,
    "reactions.get": 50,
    "conversations.open": 50,
    "conversations.info": 50,
    "conversations.history": 50,
    "files.getUploadURLExternal": 100,
    "files.completeUploadExternal": 100,
}
POSTING = frozenset({"chat.postMessage"})


class Pacer:
    """Holds each call until its method (and its channel, for posts) may be called again.

    Args:
        per_minute: calls a minute allowed per method; methods not listed are not paced.
        channel_interval: seconds between two posts in one channel (0: no pacing per channel).
        now, sleep: the monotonic clock and the wait (tests pass their own).
    """

    def __init__(
        self,
        per_minute: Mapping[str, float],
        channel_interval: float,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = {method: 60 / calls for method, calls in per_minute.items() if calls > 0}
        self._channel_interval = channel_interval
        self._spacing = Spacing(now, sleep)

    @asynccontextmanager
    async def slot(self, method: str, channel: str | None = None) -> AsyncIterator[None]:
        intervals = {method: self._interval.get(method, 0.0)}
        if channel is not None and method in POSTING:
            intervals["channel:" + channel] = self._channel_interval
        async with self._spacing.slot(intervals):
            yield

    def hold(self, method: str, seconds: float) -> None:
        """Slack answered 429: keep a paced method waiting for Retry-After."""
        if method in self._interval:
            self._spacing.hold(method, seconds)


def retry_after(response: Any) -> float:
    """The seconds a 429 asks to wait (Slack's Retry-After header; 1 when it says nothing usable)."""
    headers = {key.lower(): value for key, value in (response.headers or {}).items()}
    try:
        return max(0.0, float(headers.get("retry-after", "1")))
    except ValueError:
        return 1.0
