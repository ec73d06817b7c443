"""The outbox: retries with backoff, failures said in the review channel, edits that fall back to a new post,
leases that survive a crash, and two workers that deliver every row once."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.console.adapter import ConsolePlatform, ConsoleSession
from adapters.runtime import symposium_process
from bot.clock import SimulatedClock
from bot.composer import CoreComposer
from bot.core import SymposiumBot
from bot.db.engine import make_sessions
from bot.db.models import OutboxRow
from bot.delivery import Dispatcher, backoff
from bot.messages import Message
from bot.ports import Attempt, MessageGone, RateLimited, RetryLater, Undeliverable
from bot.settings import CoreSettings
from tests.conftest import OPEN, START, Harness, blocks, harness_for

SUBMITTED = f"""
{OPEN}
alice: /intent title:Good data engineers are lazy
alice: /submit https://example.com/lazy
"""


class FlakyPlatform(ConsolePlatform):
    """The console platform with failures on demand: `fail[op] = [exception, ...]` raised in turn."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.fail: dict[str, list[Exception]] = {}

    def _maybe_fail(self, op: str) -> None:
        if self.fail.get(op):
            raise self.fail[op].pop(0)

    async def post(self, community: str, channel: str, message: Message, attempt: Attempt) -> str:
        self._maybe_fail(f"post:{channel}")
        return await super().post(community, channel, message, attempt)

    async def edit(self, community: str, channel: str, ref: str, message: Message) -> None:
        self._maybe_fail("edit")
        await super().edit(community, channel, ref, message)

    async def direct_message(self, community: str, user_id: str, message: Message, attempt: Attempt) -> None:
        self._maybe_fail(f"dm:{user_id}")
        await super().direct_message(community, user_id, message, attempt)


@pytest.fixture
async def harness(database_url: str, clock: SimulatedClock) -> AsyncIterator[Harness]:
    async with harness_for(database_url, clock, {"erin"}, platform=FlakyPlatform) as harness:
        yield harness


@pytest.fixture
def flaky(harness: Harness) -> FlakyPlatform:
    assert isinstance(harness.platform, FlakyPlatform)
    return harness.platform


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert backoff(30) == timedelta(hours=1)


async def test_a_rate_limited_message_waits_and_arrives_once_in_order(harness: Harness, flaky: FlakyPlatform) -> None:
    await harness.run(OPEN)
    flaky.fail["post:review"] = [RetryLater("429", after_seconds=30)]
    out = await harness.run(
        "alice: /intent title:Lazy\nalice: /submit https://example.com/lazy\n"
        "bob: /intent title:Busy\nbob: /submit https://example.com/busy"
    )
    assert "[#review]" not in out
    out = await harness.run("clock: +1m")
    cards = [b.split("\n")[0] for b in blocks(out) if "[#review] Essay" in b]
    assert cards == ["#3 [#review] Essay 1: Lazy", "#4 [#review] Essay 2: Busy"]
    assert "[#review] Essay" not in await harness.run("clock: +10m")


async def test_a_dm_refused_for_good_becomes_a_notice_and_stays_listed(harness: Harness, flaky: FlakyPlatform) -> None:
    await harness.run(SUBMITTED)
    flaky.fail["dm:alice"] = [Undeliverable("the user does not accept direct messages", "ask them to open their DMs")]
    out = await harness.run("erin: react ✅ last")
    notice = next(b for b in blocks(out) if "could not deliver" in b)
    assert notice.split(" ")[1] == "[#review]"
    assert "A direct message to @alice: the user does not accept direct messages." in notice
    assert "To fix: ask them to open their DMs" in notice
    assert "Undelivered dm to alice" in await harness.run("erin: /symposium status")


async def test_when_the_review_channel_fails_the_opener_is_told_privately(
    harness: Harness, flaky: FlakyPlatform
) -> None:
    await harness.run(OPEN + "\nalice: /intent title:Lazy")
    flaky.fail["post:review"] = [Undeliverable("missing permission", "grant Send Messages in #review")]
    out = await harness.run("alice: /submit https://example.com/lazy")
    notice = next(b for b in blocks(out) if "could not deliver" in b)
    assert notice.startswith("[DM erin] I could not deliver a message")
    assert "grant Send Messages in #review" in notice


async def test_an_edit_of_a_deleted_message_posts_anew_and_moves_the_pin(
    harness: Harness, flaky: FlakyPlatform
) -> None:
    await harness.run(SUBMITTED + "erin: react ✅ last\nerin: /symposium schedule essay:1 date:2023-03-14")
    flaky.fail["edit"] = [MessageGone("10008")]
    out = await harness.run("clock: +2m")
    assert "[#general] Essay Index" in out
    assert "pinned in #general" in out
    assert "#2 unpinned in #general" in out


async def test_transient_failures_give_up_after_the_attempts_and_say_so(harness: Harness, flaky: FlakyPlatform) -> None:
    await harness.run(SUBMITTED)
    flaky.fail["dm:alice"] = [RetryLater("HTTP 500")] * harness.settings.delivery_max_attempts
    await harness.run("erin: react ✅ last")
    out = await harness.run("clock: +1d")
    assert "A direct message to @alice: HTTP 500" in out
    assert "[DM alice]" not in out


async def test_a_row_claimed_by_a_worker_that_died_is_delivered_after_its_lease(
    harness: Harness, engine: AsyncEngine
) -> None:
    await harness.run(OPEN + "\nalice: /intent title:Lazy")
    dead = dispatcher(harness, harness.platform)
    await harness.session.command("erin", "/symposium notify text:Hello writers")
    claimed = await dead._claim(bulk_ok=True)  # the worker claims, then is killed before delivering
    assert claimed is not None
    assert await harness.bot.tick() == 0
    harness.clock.advance(dead.lease + timedelta(seconds=1))
    assert await harness.bot.tick() == 1


def dispatcher(harness: Harness, platform: ConsolePlatform) -> Dispatcher:
    """Another delivery worker on the same database (as another process would be)."""
    engine, settings = harness.engine, harness.settings
    return Dispatcher(
        make_sessions(engine),
        make_sessions(engine, read_only=True),
        harness.clock,
        platform,
        settings,
        CoreComposer(settings, platform.index_page_chars),
    )


async def test_two_workers_deliver_every_row_once(harness: Harness, engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several delivering processes need PostgreSQL; SQLite runs one")
    await harness.run(OPEN)
    for n in range(40):
        await harness.run(f"writer{n}: /intent title:Essay {n}")
    await harness.session.command("erin", "/symposium notify text:Hello writers")
    async with engine.connect() as conn:
        due = (
            await conn.execute(
                select(func.count())
                .select_from(OutboxRow)
                .where(OutboxRow.status == "pending", OutboxRow.due_at <= harness.clock.now())
            )
        ).scalar_one()
    seen: list[str] = []
    workers = []
    for _ in range(2):
        workers.append(dispatcher(harness, ConsolePlatform(harness.clock, seen.append)))
    counts = await asyncio.gather(*(w.deliver_due() for w in workers))
    assert sum(counts) == due == 40
    assert len([line for line in seen if line.startswith("[DM writer")]) == 40


class HeldFanOut(ConsolePlatform):
    """Holds a fan-out's DMs until the test lets them go (at Slack's pace one takes minutes); says when an essay's
    announcement is posted."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.held, self.release, self.announced = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def direct_message(self, community: str, user_id: str, message: Message, attempt: Attempt) -> None:
        if "deadline is near" in message.plain():
            self.held.set()
            await self.release.wait()
        await super().direct_message(community, user_id, message, attempt)

    async def post(self, community: str, channel: str, message: Message, attempt: Attempt) -> str:
        ref = await super().post(community, channel, message, attempt)
        if (message.title or "").startswith("New essay"):
            self.announced.set()
        return ref


@asynccontextmanager
async def running_bot(
    database_url: str, platform: ConsolePlatform, clock: SimulatedClock, workers: int
) -> AsyncIterator[tuple[SymposiumBot, ConsoleSession]]:
    """A bot that delivers in the background as a running one does (the clock does not tick it), with a console
    session to feed it lines."""
    settings = CoreSettings(database_url=database_url)
    async with symposium_process(
        settings, platform, clock, ticking=False, deliver_in_background=True, workers=workers
    ) as bot:
        yield bot, ConsoleSession(bot, platform, clock)


async def test_an_essay_is_announced_at_its_time_while_a_long_fan_out_goes_out(database_url: str) -> None:
    """The clock's tick once waited for the delivery round it started: while a fan-out went out at the platform's
    pace, no tick looked at the time, and an essay due meanwhile waited for the whole fan-out."""
    clock = SimulatedClock(START)
    platform = HeldFanOut(clock, lambda _: None, {"erin"})
    async with running_bot(database_url, platform, clock, workers=2) as (bot, session):
        script = OPEN + (
            "\nalice: /intent title:On time\nalice: /submit url:https://alice.example/draft"
            "\nerin: /symposium decide essay:1 decision:approve"
            "\nerin: /symposium schedule essay:1 date:2023-03-14 url:https://alice.example/live"
            "\nbob: /intent title:Later"
        )
        for line in script.splitlines():
            await session.run_line(line)
        clock.set(datetime(2023, 3, 14, 8, 58, tzinfo=UTC))  # the morning of its day, all else sent
        await bot.tick()
        await bot.deliver()
        await session.command("erin", "/symposium notify text:The deadline is near.")
        bot.wake()  # as the scheduler would; the console's own lines deliver inline
        try:
            async with asyncio.timeout(5):
                await platform.held.wait()  # the fan-out is under way, and stays so
            clock.set(datetime(2023, 3, 14, 9, 1, tzinfo=UTC))
            async with asyncio.timeout(5):
                await bot.tick()
                await platform.announced.wait()
            assert not platform.release.is_set()
        finally:
            platform.release.set()


class Watched(FlakyPlatform):
    """Says when a post to the review channel went out."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.carded = asyncio.Event()

    async def post(self, community: str, channel: str, message: Message, attempt: Attempt) -> str:
        ref = await super().post(community, channel, message, attempt)
        if channel == "review":
            self.carded.set()
        return ref


class RunningClock(SimulatedClock):
    """The script's dates, with time running on from its start as it does for a running bot."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self._began = time.monotonic()

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=time.monotonic() - self._began)


async def test_a_row_a_429_put_off_goes_when_it_falls_due_not_at_the_next_tick(database_url: str) -> None:
    """A running bot sent a row put off by a 429 (or an edit waiting for its post) only at its next tick, up to
    `delivery_interval_seconds` (15 s) after it fell due. Nothing ticks here: the bot's own wake-up sends it."""
    clock = RunningClock(START)
    platform = Watched(clock, lambda _: None, {"erin"})
    async with running_bot(database_url, platform, clock, workers=1) as (_, session):
        for line in OPEN.strip().splitlines():
            await session.run_line(line)
        platform.fail["post:review"] = [RateLimited("429", after_seconds=0.3)]
        await session.run_line("alice: /intent title:Lazy")
        await session.run_line("alice: /submit https://example.com/lazy")
        assert not platform.carded.is_set()
        async with asyncio.timeout(5):
            await platform.carded.wait()
