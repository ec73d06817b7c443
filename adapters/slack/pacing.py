"""Client-side pacing at Slack's rate limits, so the outbox sends at the limit rather than into 429s.

Slack counts each method's tier per workspace in a sliding minute and lets a whole tier go in a burst (Tier 3:
50 calls at once, then one more as each leaves the minute); posts are "about one message a second per channel",
with no workspace-wide ceiling. Each call waits for its method's window (and, for posts, its channel's second;
and the optional workspace post ceiling), counted from when earlier calls finished (adapters/spacing.py). A 429
still happens (another process, a stricter workspace): the method (for a post, its channel) is then held for
Retry-After and the outbox retries the row.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from adapters.slack.settings import SlackSettings
from adapters.spacing import OFF, Limit, Limiter

# Slack's published tiers, in calls a minute per workspace, for the methods the bot calls (Tier 2 = 20,
# Tier 3 = 50, Tier 4 = 100). chat.postMessage has no tier: it is paced per channel.
SLACK_TIERS: Mapping[str, int] = {
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
MINUTE = 60.0
ALL_POSTS = "posts"


class Pacer:
    """Holds each call until its method's minute (and its channel's second, for posts) allows it.

    Args:
        per_minute: calls a minute allowed per method; methods not listed are not paced.
        channel_interval: seconds between two posts in one channel (0: no pacing per channel).
        post_ceiling: posts a minute across the workspace (0: none, as Slack has none).
        minute: the window's length (60; a benchmark shortens Slack's minute in the fake and here alike).
        now, sleep: the monotonic clock and the wait (tests pass their own).
    """

    def __init__(
        self,
        per_minute: Mapping[str, float],
        channel_interval: float,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        *,
        post_ceiling: int = 0,
        minute: float = MINUTE,
    ) -> None:
        self._tiers = {method: Limit(int(calls), minute) for method, calls in per_minute.items() if int(calls) > 0}
        self._channel = Limit(1, channel_interval)
        self._ceiling = Limit(post_ceiling, minute)
        self._limiter = Limiter(now, sleep)

    @asynccontextmanager
    async def slot(self, method: str, channel: str | None = None) -> AsyncIterator[None]:
        limits = {method: self._tiers.get(method, OFF)}
        if method in POSTING:
            limits[ALL_POSTS] = self._ceiling
            if channel is not None:
                limits["channel:" + channel] = self._channel
        async with self._limiter.slot(limits):
            yield

    def hold(self, method: str, seconds: float, channel: str | None = None) -> None:
        """Slack answered 429: keep the method (a post: its channel) waiting for Retry-After."""
        if method in self._tiers:
            self._limiter.hold(method, seconds)
        if method in POSTING and channel is not None:
            self._limiter.hold("channel:" + channel, seconds)


def retry_after(response: Any) -> float:
    """The seconds a 429 asks to wait (Slack's Retry-After header; 1 when it says nothing usable)."""
    headers = {key.lower(): value for key, value in (response.headers or {}).items()}
    try:
        return max(0.0, float(headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


def pacer_for(settings: SlackSettings) -> Pacer:
    """The pacer the settings ask for (one per workspace: Slack counts its limits per workspace)."""
    return Pacer(
        SLACK_TIERS if settings.slack_pace_methods else {},
        settings.slack_post_interval_seconds,
        post_ceiling=settings.slack_post_ceiling_per_minute,
    )
