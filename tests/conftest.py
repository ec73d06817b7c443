"""Shared fixtures: a migrated database (a SQLite file, and PostgreSQL when TEST_DATABASE_URL is set),
a simulated clock, and the whole bot driven through the console adapter."""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.console.adapter import ConsolePlatform, ConsoleSession
from bot.clock import SimulatedClock
from bot.core import SymposiumBot
from bot.db.engine import make_engine, make_sessions
from bot.db.migrate import upgrade
from bot.settings import CoreSettings

START = datetime(2023, 2, 1, 9, 0, tzinfo=UTC)
PG = os.environ.get("TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A private database for this test session, so parallel runs never share tables."""
    if not PG:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    import asyncio

    name = f"symposium_test_{uuid.uuid4().hex[:10]}"
    admin = make_url(PG)

    async def run(sql: str) -> None:
        engine = make_engine(admin.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    yield admin.set(database=name).render_as_string(hide_password=False)
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db')}/symposium.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


class Harness:
    """The whole bot through the console adapter: feed it script lines, read back the transcript."""

    def __init__(self, engine: AsyncEngine, clock: SimulatedClock, editors: set[str], base_url: str | None) -> None:
        self.engine, self.clock = engine, clock
        self.transcript: list[str] = []
        self.platform = ConsolePlatform(clock, self.transcript.append)
        self.settings = CoreSettings(database_url=str(engine.url), public_base_url=base_url)
        self.bot = SymposiumBot(make_sessions(engine), clock, self.platform, self.settings)
        self.session = ConsoleSession(self.bot, self.platform, clock, editors)

    async def run(self, script: str) -> str:
        """Run the lines; return what the bot printed for them."""
        start = len(self.transcript)
        for line in script.strip().splitlines():
            await self.session.run_line(line)
        return "\n".join(self.transcript[start:])


@pytest.fixture
def harness(engine: AsyncEngine, clock: SimulatedClock) -> Harness:
    return Harness(engine, clock, {"erin"}, None)


OPEN = (
    "erin: /symposium open title:Is the orchestrator dead or alive? prompt:Is the orchestrator dead or alive? "
    "intent_deadline:2023-03-03 due:2023-03-10 publish_from:2023-03-13 publish_to:2023-04-28 review_channel:#review "
    "alt_prompts:What comes after? | Who orchestrates the orchestrator? | Is it a scheduler?"
)


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, to show that a refused command changed nothing."""
    from bot.db.models import Base

    async with engine.connect() as conn:
        return {
            table.name: sorted(map(tuple, (await conn.execute(table.select())).all()), key=repr)
            for table in Base.metadata.sorted_tables
        }


def blocks(transcript: str) -> list[str]:
    """Split console output into messages: a header line and its indented continuation lines."""
    out: list[str] = []
    for line in transcript.splitlines():
        if line.startswith("    ") and out:
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out
