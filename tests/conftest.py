"""Shared fixtures: a migrated database (a SQLite file, and PostgreSQL when TEST_DATABASE_URL is set),
a simulated clock, and the whole bot driven through the console adapter."""

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.console.adapter import ConsolePlatform, ConsoleSession
from adapters.runtime import symposium_process
from bot.clock import SimulatedClock
from bot.core import SymposiumBot
from bot.db.engine import make_engine
from bot.db.migrate import upgrade
from bot.matching import EssayFetcher
from bot.settings import CoreSettings

START = datetime(2023, 2, 1, 9, 0, tzinfo=UTC)
PG = os.environ.get("TEST_DATABASE_URL")


async def _execute(sql: str, database: str | None = None) -> list[Any]:
    """Run SQL on the PostgreSQL server of TEST_DATABASE_URL (its own database, or `database`), outside any
    transaction; returns the rows of the last statement."""
    import asyncpg

    url = make_url(PG or "")
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database=database or url.database
    )
    try:
        return list(await conn.fetch(sql)) if sql.lstrip().upper().startswith("SELECT") else [await conn.execute(sql)]
    finally:
        await conn.close()


def _in_thread(work: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to the end on its own loop (session fixtures may be first asked for inside a test's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


async def _migrate(url: str) -> None:
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per test session; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "symposium.db"
    _in_thread(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@dataclass(frozen=True)
class PostgresDatabase:
    url: str
    name: str
    empty: str
    """SQL that empties every table and restarts every sequence: the database as freshly migrated."""


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[PostgresDatabase]:
    """A PostgreSQL database of this test session's own, migrated once. Each test starts by emptying it: 12 ms,
    where `CREATE DATABASE … TEMPLATE` measured 250 ms a test here (it syncs the new database's files)."""
    if not PG:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    from bot.db.models import Base

    name = f"symposium_test_{uuid.uuid4().hex[:10]}"
    _in_thread(_execute(f'CREATE DATABASE "{name}"'))
    url = make_url(PG).set(database=name).render_as_string(hide_password=False)
    _in_thread(_migrate(url))
    sequences = _in_thread(_execute("SELECT sequence_name FROM information_schema.sequences", name))
    empty = "; ".join(
        [f'DELETE FROM "{table.name}"' for table in reversed(Base.metadata.sorted_tables)]
        + [f'ALTER SEQUENCE "{row[0]}" RESTART' for row in sequences]
    )
    yield PostgresDatabase(url, name, empty)
    _in_thread(_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A freshly migrated database for one test: a copy of the SQLite template, or the session's PostgreSQL
    database emptied."""
    if request.param == "sqlite":
        path = tmp_path / "symposium.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    database: PostgresDatabase = request.getfixturevalue("postgres_database")
    await _execute(database.empty, database.name)
    return database.url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


class Harness:
    """The whole bot through the console adapter: feed it script lines, read back the transcript."""

    def __init__(self, bot: SymposiumBot, platform: ConsolePlatform, clock: SimulatedClock, lines: list[str]) -> None:
        self.bot, self.platform, self.clock, self.transcript = bot, platform, clock, lines
        self.engine, self.settings = bot.engine, bot.settings
        self.session = ConsoleSession(bot, platform, clock)
        self.states: BuiltStates | None = None

    async def start_from(self, script: str) -> None:
        """The state `script` leaves, built once per test session (`BuiltStates`); what it printed is not kept."""
        assert self.states is not None, "start_from needs the `harness` fixture"
        await self.states.enter(self, script, lambda harness: harness.run(script))

    async def run(self, script: str) -> str:
        """Run the lines; return what the bot printed for them."""
        start = len(self.transcript)
        for line in script.strip().splitlines():
            await self.session.run_line(line)
        return "\n".join(self.transcript[start:])


@asynccontextmanager
async def harness_for(
    database_url: str,
    clock: SimulatedClock,
    editors: set[str],
    base_url: str | None = None,
    platform: type[ConsolePlatform] = ConsolePlatform,
    fetcher: EssayFetcher | None = None,
) -> AsyncIterator[Harness]:
    """A harness built by the bot's own composition root (adapters/runtime.py), stepped by the test."""
    lines: list[str] = []
    console = platform(clock, lines.append, editors)
    settings = CoreSettings(database_url=database_url, public_base_url=base_url)
    async with symposium_process(
        settings, console, clock, ticking=False, deliver_in_background=False, workers=1, fetcher=fetcher
    ) as bot:
        yield Harness(bot, console, clock, lines)


@pytest.fixture
async def harness(database_url: str, clock: SimulatedClock, built_states: "BuiltStates") -> AsyncIterator[Harness]:
    async with harness_for(database_url, clock, {"erin"}) as harness:
        harness.states = built_states
        yield harness


class BuiltStates:
    """Database states that a script builds through the whole bot (a published symposium: a second of commands),
    built once per test session and database kind, then copied into each test's fresh database in milliseconds:
    every row of every table but the inbox (the requests that built it, whose console ids the next harness
    reuses), the console's posted messages, and the clock where the script left it."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], tuple[dict[str, list[dict[str, Any]]], dict[int, Any], datetime]] = {}

    async def enter(self, harness: Harness, name: str, build: Callable[[Harness], Awaitable[None]]) -> None:
        """Bring `harness` to the state `build` makes of a fresh database, building it only the first time."""
        from sqlalchemy import insert, select, text

        from bot.db.models import Base

        engine = harness.engine
        tables = [t for t in Base.metadata.sorted_tables if t.name != "inbox"]
        key = (engine.dialect.name, name)
        if key not in self._states:
            await build(harness)
            async with engine.connect() as conn:
                rows = {t.name: [dict(r._mapping) for r in await conn.execute(select(t))] for t in tables}
            self._states[key] = (rows, dict(harness.platform.posted), harness.clock.now())
            return
        rows, posted, now = self._states[key]
        async with engine.begin() as conn:
            for table in tables:
                if rows[table.name]:
                    await conn.execute(insert(table), rows[table.name])
                    if engine.dialect.name == "postgresql" and "id" in table.c:
                        sequence = f"pg_get_serial_sequence('{table.name}', 'id')"
                        await conn.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {table.name}))"))
        harness.platform.posted.update(posted)
        harness.clock.set(now)


@pytest.fixture(scope="session")
def built_states() -> BuiltStates:
    return BuiltStates()


OPEN = (
    "erin: /symposium open title:Is the orchestrator dead or alive? prompt:Is the orchestrator dead or alive? "
    "intent_deadline:2023-03-03 due:2023-03-10 publish_from:2023-03-13 publish_to:2023-04-28 review_channel:#review "
    "alt_prompts:What comes after? | Who orchestrates the orchestrator? | Is it a scheduler?"
)


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, to show that a refused command changed nothing: all but the record of the
    request itself (its inbox entry) and the answer to it (its reply in the outbox)."""
    from bot.db.models import Base, OutboxRow

    async with engine.connect() as conn:
        return {
            table.name: sorted(
                map(tuple, (await conn.execute(table.select().where(*_not_requests(table, OutboxRow)))).all()),
                key=repr,
            )
            for table in Base.metadata.sorted_tables
            if table.name != "inbox"
        }


def _not_requests(table: Any, outbox: Any) -> list[Any]:
    return [outbox.op != "reply"] if table.name == outbox.__tablename__ else []


def blocks(transcript: str) -> list[str]:
    """Split console output into messages: a header line and its indented continuation lines."""
    out: list[str] = []
    for line in transcript.splitlines():
        if line.startswith("    ") and out:
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out
