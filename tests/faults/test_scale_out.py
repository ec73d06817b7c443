"""Scale-out on PostgreSQL, faults included: two delivery processes share a 1,000-message fan-out and one is
killed half-way; the database restarts half-way through another. Every message arrives exactly once.

The fan-out goes to the fake Slack; a message counts as delivered when the fake holds it in the writer's DM
channel, so a message sent twice would be seen twice.
"""

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.runtime import symposium_process
from adapters.slack.app import make_client
from adapters.slack.pacing import Pacer
from adapters.slack.sender import SlackPlatform
from adapters.slack.settings import SlackSettings
from bot.clock import SimulatedClock
from bot.db.engine import make_engine
from bot.db.models import OutboxRow
from bot.settings import CoreSettings
from tests.conftest import START
from tests.fakes import slack_api
from tests.fakes.slack_api import TEAM_ID, FakeSlack
from tests.faults.population import fan_out
from tests.faults.postgres import own_postgres
from tests.faults.process import READY_DELIVERY, BotProcess, slack_env

fake_slack = slack_api.fake_slack

WRITERS = 1_000


def dm_counts(fake: FakeSlack) -> Counter[str]:
    """Messages in each direct-message channel of the fake."""
    return Counter({c.id: len(c.messages) for c in fake.workspace().channels.values() if c.im_user})


def delivered_dm(call: slack_api.Call) -> bool:
    return call.status == 200 and str(call.payload.get("channel", "")).startswith("D")


async def pending_dms(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            query = select(func.count()).where(OutboxRow.op == "dm", OutboxRow.status == "pending")
            return int((await conn.execute(query)).scalar_one())
    finally:
        await engine.dispose()


async def test_two_delivery_processes_deliver_a_fan_out_once_though_one_is_killed_mid_way(
    fake_slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several delivering processes need PostgreSQL; SQLite runs one")
    await fan_out(database_url, TEAM_ID, WRITERS, SimulatedClock(START.replace(year=2026, month=12)))
    env = slack_env(fake_slack, database_url)
    async with (
        BotProcess(tmp_path / "a", env, "--deliver-only", ready=READY_DELIVERY) as first,
        BotProcess(tmp_path / "b", env, "--deliver-only", ready=READY_DELIVERY),
    ):
        await fake_slack.wait_for("chat.postMessage", delivered_dm, count=WRITERS // 4, timeout=60)
        await first.kill()  # mid-way: its claimed rows run out of lease and the other process resolves them
        await fake_slack.wait_for("chat.postMessage", delivered_dm, count=WRITERS, timeout=60)
        # The killed process's last claims are resolved by the other one, from the channel's history when they
        # were sent (no new post then), so wait on the outbox rather than on the next post.
        async with asyncio.timeout(60):
            while await pending_dms(database_url):  # noqa: ASYNC110 - another process's database: nothing to await
                await asyncio.sleep(0.2)
    counts = dm_counts(fake_slack)
    assert len(counts) == WRITERS
    assert set(counts.values()) == {1}, [c for c, n in counts.items() if n != 1]


async def test_a_postgresql_restart_mid_fan_out_loses_nothing_and_doubles_nothing(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    async with own_postgres() as server:
        clock = SimulatedClock(START.replace(year=2026, month=12))
        await fan_out(server.url, TEAM_ID, WRITERS, clock)
        settings = SlackSettings(
            slack_bot_token="xoxb-test", slack_signing_secret="s", slack_api_base_url=fake_slack.api_url
        )
        platform = SlackPlatform(make_client(settings), clock, Pacer({}, 0))
        core = CoreSettings(database_url=server.url, delivery_lease_seconds=30)
        async with symposium_process(core, platform, clock, ticking=False, deliver_in_background=False) as bot:
            delivering = asyncio.create_task(bot.deliver())
            await fake_slack.wait_for("chat.postMessage", delivered_dm, count=WRITERS // 3, timeout=60)
            await server.restart()  # every connection is cut; the pool finds out and connects again
            await delivering  # the round ends at the first failure; nothing is lost with it
            for _ in range(10):  # later rounds, as the scheduler's ticks would be
                clock.advance(bot.dispatcher.lease)  # claims that were cut off run out, and are resolved
                await bot.deliver()
                if not await pending_dms(server.url):
                    break
        assert await pending_dms(server.url) == 0
    counts = dm_counts(fake_slack)
    assert len(counts) == WRITERS
    assert set(counts.values()) == {1}, [c for c, n in counts.items() if n != 1]
