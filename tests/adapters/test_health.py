"""Operations: `/healthz` (the database and each chat process's connection, from heartbeats) and
`symposium-bot communities`."""

import asyncio
import json
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.cli import main
from adapters.console.adapter import ConsolePlatform
from adapters.heartbeat import Heartbeat
from adapters.run_discord import run_discord
from adapters.runtime import symposium_process
from adapters.web.app import build_web_app
from adapters.web.settings import WebSettings
from bot import health
from bot.clock import SimulatedClock
from bot.core import SymposiumBot
from bot.db.engine import make_engine, make_sessions
from bot.db.migrate import upgrade
from bot.inbox import Arrival, Kind
from bot.settings import CoreSettings
from tests.adapters import test_discord
from tests.adapters.test_discord import ERIN, GENERAL, GUILD, World, open_options, run_settings
from tests.conftest import _execute
from tests.fakes.discord_api import FakeDiscord

fake_discord, fake, world = test_discord.fake_discord, test_discord.fake, test_discord.world
Client = TestClient[web.Request, web.Application]
SLACK_TEAM = "T0123ABCDE"
DAYS_AHEAD = {"intent_deadline": 10, "due": 20, "publish_from": 30, "publish_to": 60}


async def never(seconds: float) -> None:
    await asyncio.Event().wait()


@asynccontextmanager
async def page(engine: AsyncEngine, clock: SimulatedClock) -> AsyncIterator[Client]:
    app = build_web_app(engine, CoreSettings(database_url=str(engine.url)), clock, sleep=never)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def healthz(client: Client) -> tuple[int, dict[str, Any]]:
    response = await client.get("/healthz")
    assert response.headers["Cache-Control"] == "no-store"
    return response.status, await response.json()


async def record(engine: AsyncEngine, beat: health.Beat) -> None:
    async with make_sessions(engine).begin() as session:
        await health.beat(session, beat)


async def test_healthz_reports_the_database_and_each_process_s_connection(
    engine: AsyncEngine, clock: SimulatedClock
) -> None:
    now = clock.now()
    elsewhere = health.Beat("shard-host:7", "discord", "connected", "shards 2-3 of 4", now, now - timedelta(minutes=5))
    await record(engine, elsewhere)
    here = health.Beat(health.this_process(), "discord", "connected", "shards 0-1 of 4", now, now)
    await record(engine, here)
    async with page(engine, clock) as client:
        status, body = await healthz(client)
        assert status == 200
        assert body["database"] == "ok"
        states = {p["process"]: (p["state"], p["stale"], p["this_process"]) for p in body["platforms"]}
        assert states == {"shard-host:7": ("connected", True, False), here.process: ("connected", False, True)}
        # This very process's connection going down makes it unhealthy; another's does not.
        await record(engine, health.Beat(here.process, "discord", "disconnected", here.detail, now, now))
        assert (await healthz(client))[0] == 503
        await record(engine, health.Beat(here.process, "discord", "connected", here.detail, now, now))
        await record(engine, health.Beat("shard-host:7", "discord", "disconnected", elsewhere.detail, now, now))
        assert (await healthz(client))[0] == 200


async def test_healthz_answers_503_when_the_database_is_gone(
    database_url: str, tmp_path: Path, clock: SimulatedClock
) -> None:
    if database_url.startswith("sqlite"):
        folder = tmp_path / "gone"
        folder.mkdir()
        url = f"sqlite+aiosqlite:///{folder}/symposium.db"
    else:
        name = f"symposium_gone_{uuid.uuid4().hex[:10]}"
        await _execute(f'CREATE DATABASE "{name}"')
        url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        await upgrade(engine)
        async with page(engine, clock) as client:
            assert (await healthz(client))[0] == 200
            await engine.dispose()
            if database_url.startswith("sqlite"):
                shutil.rmtree(folder)
            else:
                await _execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            status, body = await healthz(client)
            assert (status, body) == (503, {"database": "error", "platforms": []})
    finally:
        await engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_discord_client_s_connection_reaches_healthz_through_its_heartbeat(world: World) -> None:
    heartbeat = Heartbeat(world.engine, world.clock, "discord", "unsharded", world.client.connection_state)
    await heartbeat.beat()
    async with page(world.engine, world.clock) as client:
        status, body = await healthz(client)
    [me] = body["platforms"]
    assert (status, me["state"], me["this_process"], me["stale"]) == (200, "connected", True, False)


async def test_run_discord_keeps_a_heartbeat_and_says_stopped_on_the_way_out(
    fake: FakeDiscord, engine: AsyncEngine, clock: SimulatedClock
) -> None:
    core = CoreSettings(database_url=engine.url.render_as_string(hide_password=False))
    web_settings = WebSettings(web_host="127.0.0.1", web_port=free_port())
    running = asyncio.create_task(run_discord(core, run_settings(fake), clock, web=web_settings))
    await fake.wait_ready()
    url = f"http://127.0.0.1:{web_settings.web_port}/healthz"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        body = await response.json()
        assert response.status == 200, body
        assert body["database"] == "ok"
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    async with make_sessions(engine)() as session:
        [last] = [b for b in await health.beats(session) if b.process == health.this_process()]
    assert (last.platform, last.state, last.detail) == ("discord", "stopped", "unsharded")


async def opened_in(bot: SymposiumBot, community: str, n: int) -> None:
    """A symposium whose dates lie ahead of the real clock (which `communities` reads), so its reminders are not
    due yet."""
    day = bot.clock.now().date()
    dates = {key: str(day + timedelta(days=days)) for key, days in DAYS_AHEAD.items()}
    values = open_options() | dates | {"slug": f"orch-{n}"}
    body = {"command": "symposium open", "values": values, "channel": GENERAL}
    ticket = await bot.receive(Arrival(f"test:{community}:{n}", community, ERIN, Kind.FORM, body))
    await bot.handle(ticket)


async def two_communities(url: str, clock: SimulatedClock) -> None:
    """A Discord server with two symposia, everything delivered; a Slack workspace with one, whose call and
    Essay Index are not delivered yet (the editor's private answer is)."""
    console = ConsolePlatform(clock, lambda _: None, {ERIN})
    async with symposium_process(
        CoreSettings(database_url=url), console, clock, ticking=False, deliver_in_background=False
    ) as bot:
        await opened_in(bot, GUILD, 1)
        await opened_in(bot, GUILD, 2)
        await bot.deliver()
        await opened_in(bot, SLACK_TEAM, 3)
        await bot.pause_community(SLACK_TEAM, "the app was uninstalled")


def test_communities_lists_each_with_its_platform_symposia_and_deliveries(database_url: str) -> None:
    clock = SimulatedClock(datetime.now(UTC).replace(microsecond=0))
    asyncio.run(two_communities(database_url, clock))
    result = CliRunner().invoke(main, ["communities", "--json"], env={"DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    discord_row, slack_row = json.loads(result.output)
    assert discord_row == {
        "community": GUILD, "platform": "discord", "symposia": 2, "open": 2,
        "newest": open_options()["title"], "last_delivery": clock.now().isoformat(), "waiting": 0, "failed": 0,
        "paused": None,
    }  # fmt: skip
    assert (slack_row["community"], slack_row["platform"], slack_row["symposia"]) == (SLACK_TEAM, "slack", 1)
    assert slack_row["waiting"] >= 2  # the call and the Essay Index, at least, wait for delivery
    assert slack_row["paused"] == "the app was uninstalled"
    table = CliRunner().invoke(main, ["communities"], env={"DATABASE_URL": database_url})
    assert table.exit_code == 0, table.output
    header, *rows = table.output.splitlines()
    assert header.split()[:3] == ["COMMUNITY", "PLATFORM", "SYMPOSIA"]
    assert [row.split()[:4] for row in rows] == [[GUILD, "discord", "2", "2"], [SLACK_TEAM, "slack", "1", "1"]]
    assert rows[1].endswith("(paused: the app was uninstalled)")
