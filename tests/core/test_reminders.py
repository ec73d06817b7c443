"""Reminders fall exactly where SPEC §4 says, in the symposium's zone (across a daylight-saving change), go out
once, survive a restart, and are dropped when their deadline passed while the bot was down."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.console.adapter import ConsolePlatform
from bot.clock import SimulatedClock
from bot.db.models import OutboxRow
from bot.messages import Message
from bot.ports import Attempt, RateLimited
from tests.conftest import Harness, blocks, harness_for

BERLIN = (
    "erin: /symposium open title:Spring prompt:Is it spring? intent_deadline:2023-03-27 due:2023-03-30 "
    "publish_from:2023-04-03 publish_to:2023-04-28 review_channel:#review timezone:Europe/Berlin"
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def jump(harness: Harness, when: datetime) -> str:
    """Set the clock to `when` (the bot was down meanwhile) and tick once; what the bot sent then."""
    start = len(harness.transcript)
    harness.clock.set(when)
    await harness.bot.tick()
    return "\n".join(harness.transcript[start:])


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
    assert times["dues:202303302159:7"] == utc(2023, 3, 23, 22, 59, 59)
    assert times["dues:202303302159:2"] == utc(2023, 3, 28, 21, 59, 59)
    assert times["dues:202303302159:1"] == utc(2023, 3, 29, 21, 59, 59)
    out = await jump(harness, utc(2023, 3, 23, 23))
    assert "[DM alice] Reminder: your essay for Spring" in out
    assert (await reminder_times(engine))["due:alice:202303302159:7"] == utc(2023, 3, 23, 22, 59, 59)


async def test_changing_a_date_reschedules_and_submitting_cancels(harness: Harness, engine: AsyncEngine) -> None:
    await harness.run(BERLIN + "\nalice: /intent title:Blossoms\nbob: /intent title:Pollen")
    out = await harness.run("erin: /symposium edit due:2023-03-31")
    assert len([b for b in blocks(out) if b.startswith("[DM ") and "Dates changed" in b]) == 2
    keys = set(await reminder_times(engine))
    assert "dues:202303312159:1" in keys
    assert not any("202303302159" in k for k in keys)
    await harness.run("alice: /submit https://example.com/blossoms")
    out = await jump(harness, utc(2023, 3, 25))
    assert "[DM bob] Reminder: your essay for Spring" in out
    assert "[DM alice] Reminder" not in out
    keys = set(await reminder_times(engine))
    assert "due:bob:202303312159:7" in keys
    assert not any(k.startswith("due:alice") for k in keys)


async def test_restart_sends_nothing_twice_sends_missed_and_drops_late(harness: Harness, engine: AsyncEngine) -> None:
    from tests.conftest import OPEN

    await harness.run(OPEN + "\nalice: /intent title:Lazy\nclock: 2023-02-25T00:00+00:00")
    first = [b for b in blocks("\n".join(harness.transcript)) if "Reminder" in b]
    assert len(first) == 1
    assert first[0].startswith("#3 [#general] Reminder: Intent to Submit")

    # The bot is stopped for almost two weeks; a new process starts on the same database.
    clock = SimulatedClock(utc(2023, 3, 9, 23, 0))
    async with harness_for(harness.settings.database_url, clock, {"erin"}) as later:
        await later.bot.tick()
        await check_restart(later, engine)


async def check_restart(later: Harness, engine: AsyncEngine) -> None:
    sent = blocks("\n".join(later.transcript))
    assert len(sent) == 1, sent
    assert sent[0].startswith("[DM alice] Reminder: your essay")
    assert "due Fri 2023-03-10 23:59 UTC (in 1 day)" in sent[0]
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
    assert by_suffix["dues:202303102359:7"] == "dropped"  # a later one for the same deadline was due too
    assert "due:alice:202303102359:7" not in by_suffix
    assert by_suffix["dues:202303102359:2"] == "sent"
    assert by_suffix["due:alice:202303102359:2"] == "sent"
    assert by_suffix["dues:202303102359:1"] == "pending"
    await later.run("clock: +1h")
    assert sum("[DM alice] Reminder" in b for b in blocks("\n".join(later.transcript))) == 2


async def test_a_symposium_sets_its_own_reminders(harness: Harness, engine: AsyncEngine) -> None:
    await harness.run(BERLIN + " remind_intent:3 remind_due:5,1 remind_at:07:30\nalice: /intent title:Blossoms")
    times = await reminder_times(engine)
    assert sorted(k for k in times if k.startswith(("intent:", "due"))) == [
        "dues:202303302159:1",
        "dues:202303302159:5",
        "intent:202303272159:3",
    ]
    await harness.run(
        "alice: /submit https://example.com/b\nerin: react ✅ last\nerin: /symposium schedule essay:1 date:2023-04-04"
    )
    times = await reminder_times(engine)
    assert times["pub:alice:202304040700:day"] == utc(2023, 4, 4, 5, 30)  # 07:30 in Berlin (CEST)
    assert "Changed: remind_due." in await harness.run("erin: /symposium edit remind_due:none")
    assert not any(k.startswith("dues:") for k in await reminder_times(engine))
    refused = await harness.run("erin: /symposium edit remind_due:0,99")
    assert "remind_due takes one to five days, each from 1 to 60" in refused


async def test_a_writer_chooses_which_reminders_they_get(harness: Harness, engine: AsyncEngine) -> None:
    await harness.run(
        BERLIN
        + "\nalice: /intent title:Blossoms\nbob: /intent title:Pollen\nbob: /submit https://example.com/p"
        + "\nerin: react ✅ last\nerin: /symposium schedule essay:1 date:2023-04-04"
    )
    assert any(k.startswith("pub:bob:") for k in await reminder_times(engine))
    assert "before your due date only" in await harness.run("bob: /symposium reminders due-only")
    assert not any(k.startswith("pub:bob:") for k in await reminder_times(engine))
    await harness.run("alice: /symposium reminders off")
    assert "[DM alice] Reminder" not in await jump(harness, utc(2023, 3, 24))  # 7 days before
    assert "You will get private reminders before your due date and" in await harness.run(
        "alice: /symposium reminders on"
    )
    assert "[DM alice] Reminder: your essay" in await jump(harness, utc(2023, 3, 28, 22))  # 2 days before


async def test_a_reminder_is_a_small_spec_composed_when_it_goes_out(harness: Harness, engine: AsyncEngine) -> None:
    await harness.run(BERLIN + "\nalice: /intent title:Blossoms\nalice: /intent title:Cherry blossoms")
    async with engine.connect() as conn:
        payloads = (
            (await conn.execute(select(OutboxRow.payload).where(OutboxRow.dedupe_key.like("rem:%:due%"))))
            .scalars()
            .all()
        )
    assert len(payloads) == 3
    assert all(p == {"compose": {"kind": "due", "days": p["compose"]["days"]}} for p in payloads)  # no message
    await harness.run("alice: /intent title:Cherry blossoms in spring")
    out = await jump(harness, utc(2023, 3, 24))
    assert "“Cherry blossoms in spring” is due" in out


async def test_a_deadlines_reminder_is_one_row_written_out_to_its_writers_in_chunks(
    harness: Harness, engine: AsyncEngine
) -> None:
    """Planning writes one row per deadline and offset however many write (a recompute at 10,000 writers costs
    what it costs at one); when it falls due it is written out, a chunk of writers per transaction, to each
    writer of that deadline once."""
    from bot.services import reminders

    writers = "\n".join(f"w{n}: /intent title:Essay {n}" for n in range(7))
    await harness.run(BERLIN + "\n" + writers + "\nw6: /withdraw\nerin: /symposium extend user:@w5 due:2023-04-20")
    async with engine.connect() as conn:
        plans = (await conn.execute(select(OutboxRow.dedupe_key).where(OutboxRow.op == "remind"))).scalars().all()
    assert sorted(k.split(":", 2)[2] for k in plans) == sorted(
        f"dues:{due}:{days}" for due in ("202303302159", "202304202159") for days in (7, 2, 1)
    )

    harness.clock.set(utc(2023, 3, 24))  # a day after the first plan fell due
    chunks = 0
    while True:
        async with harness.bot.unit_of_work() as uow:
            more = await reminders.write_out(uow, chunk=2)
            await uow.commit()
        if not more:
            break
        chunks += 1
    assert chunks == 3  # five writers of that deadline (w5 has another, w6 withdrew), two at a time, then done
    out = await harness.run("clock: +1m")
    reminded = sorted(b.split("]")[0] for b in blocks(out) if "Reminder: your essay" in b)
    assert reminded == [f"[DM w{n}" for n in range(5)]
    async with harness.bot.unit_of_work() as uow:
        assert not await reminders.write_out(uow)  # written out once
    assert "Reminder: your essay" not in await harness.run("clock: +1h")


def test_a_busy_publication_day_names_its_reminder_within_the_key_column() -> None:
    """A hundred essays on one day once made a key longer than the outbox's dedupe column (PostgreSQL refused it)."""
    from bot.db.models import Essay, Symposium
    from bot.services.reminders import _publication_days

    day = utc(2030, 5, 6, 10)
    sym = Symposium(id=1, timezone="Europe/Berlin", remind_at="08:00", community="c", review_channel="#review")
    essays = [Essay(number=n, scheduled_for=day) for n in range(1, 101)]
    everyone = _publication_days(sym, utc(2030, 5, 1), [(e, None) for e in essays])  # type: ignore[misc]
    fewer = _publication_days(sym, utc(2030, 5, 1), [(e, None) for e in essays[:-1]])  # type: ignore[misc]
    limit = OutboxRow.__table__.c.dedupe_key.type.length
    assert len(everyone) == 1
    assert len(everyone[0]["dedupe_key"]) <= limit
    assert everyone[0]["dedupe_key"] != fewer[0]["dedupe_key"]  # a new essay that day makes a new reminder


async def test_the_editors_digest_comes_in_the_morning_once_a_day(harness: Harness, engine: AsyncEngine) -> None:
    """The first digest once came twice in 8 hours (in the evening, then the next morning)."""
    from tests.conftest import OPEN

    await harness.run(OPEN + "\nalice: /intent title:Waiting\nalice: /submit https://example.com/waiting")
    await harness.run("clock: 2023-02-03T07:00+00:00\nclock: +13h\nclock: +4d")  # 48 hours pass at 09:00 on the 3rd
    async with engine.connect() as conn:
        query = select(OutboxRow.created_at).where(OutboxRow.dedupe_key.like("digest:%"))
        sent = sorted(at.replace(tzinfo=UTC) for at in (await conn.execute(query)).scalars())
    assert [at.date().day for at in sent] == [3, 4, 5, 6, 7]
    assert all(8 <= at.hour < 11 for at in sent), sent  # the symposium's mornings (08:00, UTC here)
    assert sent[0] >= utc(2023, 2, 3, 9)  # not before the submission has waited 48 hours


class HeldReminders(ConsolePlatform):
    """Holds the first reminder DM in flight until the test lets it go; then Slack says "later" (a 429)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.sending, self.release = asyncio.Event(), asyncio.Event()

    async def direct_message(self, community: str, user_id: str, message: Message, attempt: Attempt) -> None:
        if message.tag == "reminder" and not self.release.is_set():
            self.sending.set()
            await self.release.wait()
            raise RateLimited("ratelimited", after_seconds=30)
        await super().direct_message(community, user_id, message, attempt)


async def test_a_reminder_in_flight_survives_a_recompute_and_goes_out_once(database_url: str) -> None:
    """Planning again while a reminder was being sent once deleted its claimed row, and the reminder was lost
    when the platform asked to try it later."""
    from tests.conftest import OPEN, START

    clock = SimulatedClock(START)
    async with harness_for(database_url, clock, {"erin"}, platform=HeldReminders) as harness:
        platform = harness.platform
        assert isinstance(platform, HeldReminders)
        await harness.run(OPEN + "\nalice: /intent title:Slow going")
        moving = asyncio.create_task(harness.run("clock: 2023-03-04T01:00+00:00"))  # the 7-day due reminder
        async with asyncio.timeout(5):
            await platform.sending.wait()
        await harness.session.command("alice", "/intent title:Slow going, renamed")  # plans her reminders again
        platform.release.set()
        await moving
        await harness.run("clock: +1h")
        reminders = [b for b in blocks("\n".join(harness.transcript)) if b.startswith("[DM alice]") and "Reminder" in b]
    assert len(reminders) == 1, reminders
