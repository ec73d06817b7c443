"""The sliding-window limiter (adapters/spacing.py) and the Slack and Discord pacers built on it, on a virtual
clock: every wait, and every call's own duration, is a `VirtualClock.sleep`, and the clock jumps to the next
wake-up once every task waits. No real time passes."""

import asyncio
import heapq
import itertools
from collections import Counter
from collections.abc import Awaitable
from typing import Any

import pytest

from adapters.discord.pacing import Pacer as DiscordPacer
from adapters.slack.pacing import SLACK_TIERS, Pacer
from adapters.spacing import SWEEP_EVERY, Limit, Limiter


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        woken = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), woken))
        await woken

    async def run(self, *work: Awaitable[Any]) -> None:
        """Run `work` concurrently; whenever every unfinished task is asleep, move to the earliest wake-up (so
        all the tasks that sleep on this clock must be among `work`)."""
        tasks = [asyncio.ensure_future(w) for w in work]
        while True:
            await asyncio.sleep(0)
            waiting = [t for t in tasks if not t.done()]
            if not waiting:
                break
            if len(self._sleepers) == len(waiting):
                at, _, woken = heapq.heappop(self._sleepers)
                self.now = max(self.now, at)
                woken.set_result(None)
        for task in tasks:
            task.result()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def slack(clock: VirtualClock, channel_interval: float = 1.0, post_ceiling: int = 0) -> Pacer:
    return Pacer(SLACK_TIERS, channel_interval, clock.time, clock.sleep, post_ceiling=post_ceiling)


async def test_a_full_tier_goes_at_once_and_the_next_call_waits_exactly_until_the_window_allows_it(
    clock: VirtualClock,
) -> None:
    pacer, starts = slack(clock), []

    async def one_after_another() -> None:
        for _ in range(52):
            async with pacer.slot("conversations.open"):
                starts.append(clock.now)
                await clock.sleep(0.2)  # the call takes 200 ms

    await clock.run(one_after_another())

    # Tier 3 is 50 a minute: the first 50 go back to back; the 51st waits for the first call (which ended at
    # 0.2 s) to leave the minute, the 52nd for the second.
    assert starts[:50] == pytest.approx([0.2 * n for n in range(50)])
    assert starts[50:] == pytest.approx([60.2, 60.4])


async def test_concurrent_callers_take_their_places_in_order(clock: VirtualClock) -> None:
    pacer, starts = slack(clock), []

    async def one(n: int) -> None:
        async with pacer.slot("conversations.open"):
            starts.append((n, round(clock.now, 3)))
            await clock.sleep(0.2)

    await clock.run(*(one(n) for n in range(120)))

    assert Counter(at for _, at in starts) == {0.0: 50, 60.2: 50, 120.4: 20}
    assert [n for n, _ in starts] == list(range(120))  # in the order they asked


async def test_posts_wait_one_second_per_channel_and_nothing_across_the_workspace(clock: VirtualClock) -> None:
    pacer, starts = slack(clock), []

    async def post(channel: str) -> None:
        async with pacer.slot("chat.postMessage", channel):
            starts.append((channel, clock.now))

    await clock.run(*(post(channel) for channel in ["C1", "C2", "C1", "C1", *(f"D{n}" for n in range(100))]))

    assert [at for channel, at in starts if channel == "C1"] == [0.0, 1.0, 2.0]
    assert {at for channel, at in starts if channel != "C1"} == {0.0}  # a hundred DMs at once, one per channel


async def test_a_workspace_post_ceiling_is_a_setting(clock: VirtualClock) -> None:
    pacer, starts = slack(clock, post_ceiling=2), []

    async def post(channel: str) -> None:
        async with pacer.slot("chat.postMessage", channel):
            starts.append(clock.now)

    await clock.run(*(post(f"D{n}") for n in range(3)))

    assert starts == [0.0, 0.0, 60.0]


async def test_a_429_holds_its_method_or_its_channel_for_retry_after(clock: VirtualClock) -> None:
    pacer, starts = slack(clock), {}

    async def call(method: str, channel: str | None = None) -> None:
        async with pacer.slot(method, channel):
            starts[method, channel] = clock.now

    pacer.hold("conversations.open", 5)
    pacer.hold("chat.postMessage", 3, "C1")
    await clock.run(
        call("conversations.open"),
        call("reactions.add"),
        call("chat.postMessage", "C1"),
        call("chat.postMessage", "C2"),
    )

    assert starts == {
        ("conversations.open", None): 5.0,
        ("reactions.add", None): 0.0,
        ("chat.postMessage", "C1"): 3.0,
        ("chat.postMessage", "C2"): 0.0,
    }


async def test_keys_are_independent_and_a_call_waits_for_all_of_its_own(clock: VirtualClock) -> None:
    limiter, starts = Limiter(clock.time, clock.sleep), []
    a, b = {"a": Limit(1, 10)}, {"b": Limit(2, 10)}

    async def call(name: str, limits: dict[str, Limit]) -> None:
        async with limiter.slot(limits):
            starts.append((name, clock.now))

    await clock.run(call("a1", a), call("b1", b), call("a2", a), call("b2", b), call("ab", a | b))

    assert sorted(starts) == [("a1", 0.0), ("a2", 10.0), ("ab", 20.0), ("b1", 0.0), ("b2", 0.0)]


async def test_a_caller_cancelled_while_waiting_gives_its_place_up(clock: VirtualClock) -> None:
    limiter, limit = Limiter(clock.time, clock.sleep), {"m": Limit(1, 10)}
    async with limiter.slot(limit):
        pass
    waiting = asyncio.create_task(limiter.slot(limit).__aenter__())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    clock.now = 10.0
    async with limiter.slot(limit):
        assert clock.now == 10.0  # no wait for the one that left


async def test_discord_lets_a_second_of_calls_go_at_once_and_paces_each_channel(clock: VirtualClock) -> None:
    pacer, starts = DiscordPacer(25, 1.0, clock.time, clock.sleep), []

    async def call(place: str | None) -> None:
        async with pacer.slot(place):
            starts.append((place, clock.now))

    await clock.run(*(call(f"dm{n}") for n in range(30)), call("c1"), call("c1"))

    # 25 calls in any second (SPEC §4): 25 at once, the next ones a second later; DMs to different people are
    # different channels, so only the bot-wide window holds them, and a channel's second message its second.
    assert Counter(at for _, at in starts) == {0.0: 25, 1.0: 6, 2.0: 1}
    assert [at for place, at in starts if place == "c1"] == [1.0, 2.0]


def test_a_rate_per_second_is_a_one_second_window() -> None:
    assert Limit.per_second(25) == Limit(25, 1.0)
    assert Limit.per_second(0.5) == Limit(1, 2.0)
    assert not Limit.per_second(0).active


async def test_keys_whose_calls_have_left_their_window_are_forgotten(clock: VirtualClock) -> None:
    limiter = Limiter(clock.time, clock.sleep)
    for n in range(SWEEP_EVERY - 1):
        async with limiter.slot({f"channel:D{n}": Limit(1, 1.0)}):
            pass
    clock.now = 1.0
    async with limiter.slot({"channel:C1": Limit(1, 1.0)}):
        pass

    assert list(limiter._queues) == ["channel:C1"]
