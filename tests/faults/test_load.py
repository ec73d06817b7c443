"""No lock across the network, and order kept under failure: SQLite stays writable while the bot waits on Slack,
writers get their answers while a fan-out goes out under Slack's limits, and storms of 429s and 500s end with
every message delivered once, in order per destination, and two commands from one editor taking effect in the
order they were sent (HTTP and Socket Mode)."""

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack.app import serve_socket_mode
from adapters.slack.pacing import SLACK_TIERS, Pacer
from bot.clock import SimulatedClock
from bot.db.models import OutboxRow
from tests.adapters.test_slack import ALICE, BOB, EDITOR, GENERAL, REVIEW, SlackRig, cards, fake, fake_slack
from tests.fakes.slack_api import TEAM_ID, FakeSlack, slash_command_payload
from tests.faults.population import fan_out, writer

__all__ = ["fake", "fake_slack"]  # fixtures, used by name

WRITERS = 1_000


async def pending(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).where(OutboxRow.status == "pending", OutboxRow.scope.is_(None))
        return int((await conn.execute(query)).scalar_one())


async def settle(rig: SlackRig, engine: AsyncEngine, within: timedelta = timedelta(hours=1)) -> None:
    """Step the clock a few seconds at a time, delivering, until nothing but future reminders is left."""
    until = rig.clock.now() + within
    while rig.clock.now() < until:
        await rig.after_ack.drain()
        await rig.advance(timedelta(seconds=3))
        if not await pending(engine):
            return
    raise AssertionError(f"{await pending(engine)} rows still pending")


def texts(fake: FakeSlack, channel: str) -> list[str]:
    return [m.text.split("\n")[0] for m in fake.channels[channel].messages.values()]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_another_process_writes_to_sqlite_while_a_platform_call_is_in_flight(
    fake: FakeSlack, engine: AsyncEngine, clock: SimulatedClock, database_url: str
) -> None:
    async with SlackRig(fake, engine, clock) as rig:
        await rig.open_symposium()
        await rig.command(ALICE, "/intent title:Held up")
        await rig.command(ALICE, "/submit https://alice.example/held")
        held = fake.hold("chat.postMessage")
        delivering = asyncio.create_task(rig.bot.deliver())
        await held.arrived()  # the review card is on its way to Slack, and Slack has not answered
        path = database_url.removeprefix("sqlite+aiosqlite:///")
        writer_process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            "db = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)\n"  # no waiting for a lock at all
            "db.execute('BEGIN IMMEDIATE')\n"
            'db.execute("INSERT INTO editors (community, user_id, added_by, added_at) '
            "VALUES ('T', 'U', 'U', '2023-01-01 00:00:00.000000')\")\n"
            "db.execute('COMMIT')\n",
            path,
            stderr=asyncio.subprocess.PIPE,
        )
        _, error = await writer_process.communicate()
        assert writer_process.returncode == 0, error.decode()
        held.release()
        await delivering
        assert len(cards(fake)) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_writers_get_their_answers_within_a_second_while_a_fan_out_goes_out_under_slacks_limits(
    fake: FakeSlack, engine: AsyncEngine, clock: SimulatedClock, database_url: str
) -> None:
    await fan_out(database_url, TEAM_ID, WRITERS, clock)  # 1,000 DMs waiting in the outbox
    fake.rate_limits()  # Slack's published tiers, enforced
    rig = SlackRig(fake, engine, clock, pacer=Pacer(SLACK_TIERS, 1.0), background=True)
    async with rig:
        rig.bot.wake()
        # Under way: Slack's Tier 3 lets the first 50 conversations.open go at once, and their DMs follow at once;
        # the fake serves that burst in this process, on this machine's two cores. The rounds run after it, while
        # the other 950 go out at the pace the tier allows.
        await fake.wait_for("chat.postMessage", lambda c: c.payload["channel"].startswith("D"), count=50, timeout=30)
        waits: list[float] = []
        # Round 0 warms up, untimed: each writer's first command asks Slack who they are (kept for 10 minutes),
        # and the process compiles its statements once; a deadline rush meets a bot that has been running.
        for round_no in range(5):
            sent: dict[str, float] = {}

            async def submit(n: int, round_no: int = round_no, sent: dict[str, float] = sent) -> None:
                body, token = rig.command_body(writer(n), f"/submit https://w{n}.example/essay-{round_no}")
                sent[token] = time.monotonic()
                response = await rig.post(body)
                assert response.status == 200

            await asyncio.gather(*(submit(n) for n in range(1, 11)))  # ten writers at once
            for token, at in sent.items():
                (answer,) = await fake.wait_for("response_url", lambda c, token=token: c.token == token)
                assert "submitted" in answer.payload["text"], answer.payload["text"]
                if round_no:
                    waits.append(answer.at_monotonic - at)
        assert len(waits) == 40
        # A lock held across a paced call (the tier holds the next conversations.open for seconds, up to a minute)
        # would show as a reply seconds late. The sub-second figure is a benchmark's (`python -m bench load`, reply
        # p99 with and without the fan-out): on this 2-core machine, in a full parallel-free test run, the slowest
        # of these 40 replies measured 0.9 to 1.0 s.
        assert max(waits) < 2.0, sorted(waits)[-5:]
        assert fake.rate_limited.total() == 0  # paced under the limits, never into them


@pytest.mark.parametrize("status", [429, 500])
async def test_a_storm_of_failures_ends_with_every_message_delivered_once_in_order(
    fake: FakeSlack, engine: AsyncEngine, clock: SimulatedClock, status: int
) -> None:
    async with SlackRig(fake, engine, clock) as rig:
        await rig.open_symposium()
        fake.storm(every=3, status=status)  # for a minute: every third call to Slack fails
        storm_ends = clock.now() + timedelta(minutes=1)
        people = [ALICE, BOB, "UCARA0001", "UDAN00001"]
        for n, user in enumerate(people, 1):
            for line in (f"/intent title:Essay {n}", f"/submit https://w{n}.example/e"):
                body, _ = rig.command_body(user, line)
                assert (await rig.post(body)).status == 200
        with contextlib.suppress(AssertionError):
            await settle(rig, engine, within=timedelta(seconds=30))
        decided = cards(fake)
        for ts in decided:  # the cards posted so far are decided during the storm, the rest after it
            body, _ = rig.reaction_body(EDITOR, REVIEW, ts, "white_check_mark")
            assert (await rig.post(body)).status == 200
        for text in ("Thank you all.", "One more thing."):  # two DMs to each writer, in this order
            body, _ = rig.command_body(EDITOR, f"/symposium notify text:{text}")
            assert (await rig.post(body)).status == 200
        with contextlib.suppress(AssertionError):
            await settle(rig, engine, within=storm_ends - clock.now())
        fake.calm()
        await settle(rig, engine)
        for ts in [ts for ts in cards(fake) if ts not in decided]:
            body, _ = rig.reaction_body(EDITOR, REVIEW, ts, "white_check_mark")
            assert (await rig.post(body)).status == 200
        await settle(rig, engine)

    numbered = [t for t in texts(fake, REVIEW) if t.startswith("Essay")]
    assert [t.split(":")[0] for t in numbered] == [f"Essay {n}" for n in (1, 2, 3, 4)]  # numbered as submitted
    assert sorted(t.split(": ")[1] for t in numbered) == [f"Essay {n}" for n in (1, 2, 3, 4)]  # each once
    assert texts(fake, GENERAL)[:2] == ["Call for essays: Is the orchestrator dead or alive?", "Essay Index: Is the orchestrator dead or alive?"]  # fmt: skip
    for n, user in enumerate(people, 1):
        dms = [m.text for m in fake.channels[fake.dm_channel_id(user)].messages.values()]
        assert len(dms) == 3
        assert len([t for t in dms if t.startswith(f"“Essay {n}”: approved")]) == 1
        notes = [t.split("\n")[1] for t in dms if t.startswith("From the editors")]
        assert notes == ["Thank you all.", "One more thing."]  # in the order they were written
    for ts in cards(fake):
        assert "approved" in fake.channels[REVIEW].messages[ts].text
    answered = {c.token for c in fake.calls_to("response_url") if c.status == 200}
    assert len(answered) == 1 + 2 * len(people) + 2  # every command, answered once
    assert len([c for c in fake.calls_to("response_url") if c.status == 200]) == len(answered)
    assert fake.rate_limited.total() == 0


@contextlib.asynccontextmanager
async def socket_mode(rig: SlackRig, fake: FakeSlack) -> AsyncIterator[None]:
    connected = asyncio.Event()

    async def on_connected() -> None:
        connected.set()

    serving = asyncio.create_task(serve_socket_mode(rig.app, "xapp-test", on_connected))
    try:
        async with asyncio.timeout(5):
            await connected.wait()
        yield
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving


@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_two_commands_sent_a_moment_apart_take_effect_in_order_under_429s(
    fake: FakeSlack, engine: AsyncEngine, clock: SimulatedClock, mode: str
) -> None:
    async with SlackRig(fake, engine, clock) as rig:
        await rig.open_symposium()
        for n, user in ((1, ALICE), (2, BOB), (3, "UCARA0001"), (4, "UDAN00001")):
            await rig.command(user, f"/intent title:Essay {n}")
            await rig.command(user, f"/submit https://w{n}.example/e")
            await rig.command(EDITOR, f"/symposium decide essay:{n} decision:approve")
        await settle(rig, engine)
        fake.storm(every=3, status=429)
        lines = [f"/symposium publish essay:{n} url:https://w{n}.example/live" for n in (3, 4)]
        if mode == "http":
            for line in lines:
                body, _ = rig.command_body(EDITOR, line)
                assert (await rig.post(body)).status == 200
        else:
            async with socket_mode(rig, fake):
                for n, line in enumerate(lines):
                    name, _, text = line.partition(" ")
                    payload = slash_command_payload(
                        name, text, user_id=EDITOR, channel_id=GENERAL,
                        response_url=fake.response_url(f"sock{n}"), trigger_id=f"sock{n}.trigger",
                    )  # fmt: skip
                    await fake.socket_send("slash_commands", payload)  # acknowledged; the next follows at once
                await rig.after_ack.drain()
        await settle(rig, engine)
        fake.calm()
    announced = [t for t in texts(fake, GENERAL) if t.startswith("New essay")]
    assert announced == ["New essay: Essay 3", "New essay: Essay 4"]
