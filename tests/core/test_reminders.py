"""Reminders fall exactly where SPEC §4 says, in the symposium's zone (across a daylight-saving change), go out
once, survive a restart, and are dropped when their deadline passed while the bot was down."""

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import SimulatedClock
from bot.db.models import OutboxRow
from tests.conftest import Harness, blocks

BERLIN = (
    "erin: /symposium open title:Spring prompt:Is it spring? intent_deadline:2023-03-27 due:2023-03-30 "
    "publish_from:2023-04-03 publish_to:2023-04-28 review_channel:#review timezone:Europe/Berlin"
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def reminder_times(engine: AsyncEngine) -> dict[str, datetime]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(select(OutboxRow.dedupe_key, OutboxRow.due_at).where(OutboxRow.dedupe_key.like("rem:%")))
        ).all()
    return {key.split(":", 2)[2]: due for key, due in rows}


async def test_reminder_times_are_exact_in_the_zone_across_dst(harness: Harness, engine: AsyncEngine) -> None:
    await harness.run(BERLIN + "\nalice: /intent title:Blossoms")
    times = await reminder_times(engine)
    # Berlin moves from CET (UTC+1) to CEST (UTC+2) on 2023-03-26.
    assert times["intent:202303272159:7"] == utc(2023, 3, 20, 22, 59, 59)
    assert times["intent:202303272159:1"] == utc(2023, 3, 26, 21, 59, 59)
    assert times["due:alice:202303302159:7"] == utc(2023, 3, 23, 22, 59, 59)
    assert times["due:alice:202303302159:2"] == utc(2023, 3, 28, 21, 59, 59)
    assert times["due:alice:202303302159:1"] == utc(2023, 3, 29, 21, 59, 59)


async def test_changing_a_date_reschedules_and_submitting_cancels(harness: Harness, engine: AsyncEngine) -> None:
    await harness.run(BERLIN + "\nalice: /intent title:Blossoms\nbob: /intent title:Pollen")
    out = await harness.run("erin: /symposium edit due:2023-03-31")
    assert len([b for b in blocks(out) if b.startswith("[DM ") and "Dates changed" in b]) == 2
    keys = set(await reminder_times(engine))
    assert "due:alice:202303312159:1" in keys
    assert not any("202303302159" in k for k in keys)
    await harness.run("alice: /submit https://example.com/blossoms")
    keys = set(await reminder_times(engine))
    assert not any(k.startswith("due:alice") for k in keys)
    assert any(k.startswith("due:bob") for k in keys)


async def test_restart_sends_nothing_twice_sends_missed_and_drops_late(harness: Harness, engine: AsyncEngine) -> None:
    from tests.conftest import OPEN

    await harness.run(OPEN + "\nalice: /intent title:Lazy\nclock: 2023-02-25T00:00+00:00")
    first = [b for b in blocks("\n".join(harness.transcript)) if "Reminder" in b]
    assert len(first) == 1
    assert first[0].startswith("#3 [#general] Reminder: Intent to Submit")

    # The bot is stopped for almost two weeks; a new process starts on the same database.
    clock = SimulatedClock(utc(2023, 3, 9, 23, 0))
    later = Harness(engine, clock, {"erin"}, None)
    await later.bot.tick()
    sent = blocks("\n".join(later.transcript))
    assert len(sent) == 1, sent
    assert sent[0].startswith("[DM alice] Reminder: your essay")
    assert "due Fri 2023-03-10 23:59 UTC (in a day)" in sent[0]
    async with engine.connect() as conn:
        statuses = dict(
            (
                await conn.execute(
                    select(OutboxRow.dedupe_key, OutboxRow.status).where(OutboxRow.dedupe_key.like("rem:%"))
                )
            ).all()
        )
    by_suffix = {k.split(":", 2)[2]: v for k, v in statuses.items()}
    assert by_suffix["intent:202303032359:7"] == "sent"
    assert by_suffix["intent:202303032359:1"] == "dropped"
    assert by_suffix["due:alice:202303102359:7"] == "dropped"
    assert by_suffix["due:alice:202303102359:2"] == "sent"
    assert by_suffix["due:alice:202303102359:1"] == "pending"
    await later.run("clock: +1h")
    assert sum("[DM alice] Reminder" in b for b in blocks("\n".join(later.transcript))) == 2
