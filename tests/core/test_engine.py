"""SQLite's write lock, taken in turn by the process's writers: first come, first served, and a writer that waits
longer than its busy timeout fails as SQLite would ("database is locked") instead of waiting for ever."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import make_engine, make_sessions

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, pool_size=12)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE turns (n INTEGER)"))
    yield engine
    await engine.dispose()


async def test_writers_take_the_lock_in_the_order_they_asked(engine: AsyncEngine) -> None:
    """SQLite's busy handler lets waiters sleep and retry, so the lock went to whoever woke at the right moment;
    ten writers queued behind one that holds it now write in the order they began."""
    warm = [await engine.connect() for _ in range(11)]  # pooled connections, their busy timeout set: no await
    for conn in warm:  # between a writer's checkout and its turn, so the order they begin is the order they ask
        await conn.execute(text("SELECT 1"))
        await conn.commit()
    for conn in warm:
        await conn.close()
    sessions = make_sessions(engine)
    holder = sessions()
    await holder.begin()
    await holder.execute(text("INSERT INTO turns VALUES (0)"))
    checked_out = asyncio.Event()
    event.listen(engine.sync_engine.pool, "checkout", lambda *_: checked_out.set())

    async def write(n: int) -> None:
        async with sessions() as session, session.begin():
            await session.execute(text("INSERT INTO turns VALUES (:n)"), {"n": n})

    writers = []
    for n in range(1, 11):
        writers.append(asyncio.create_task(write(n)))
        await checked_out.wait()  # the writer runs on to its turn without yielding, and waits there
        checked_out.clear()
    assert not any(w.done() for w in writers)
    await holder.commit()
    await holder.close()
    await asyncio.gather(*writers)
    async with sessions() as session:
        order = [n for (n,) in (await session.execute(text("SELECT n FROM turns ORDER BY rowid"))).all()]
    assert order == list(range(11))


async def test_a_writer_that_waits_past_its_busy_timeout_is_told_the_database_is_locked(engine: AsyncEngine) -> None:
    holder = make_sessions(engine)()
    await holder.begin()
    await holder.execute(text("INSERT INTO turns VALUES (0)"))
    try:
        impatient = make_sessions(engine, busy_timeout_ms=50)
        with pytest.raises(OperationalError, match="database is locked"):
            async with impatient() as session, session.begin():
                await session.execute(text("INSERT INTO turns VALUES (1)"))
    finally:
        await holder.rollback()
        await holder.close()
    async with make_sessions(engine)() as session, session.begin():  # the turn was given back: the next one writes
        await session.execute(text("INSERT INTO turns VALUES (2)"))
    async with make_sessions(engine, read_only=True)() as session:
        assert (await session.execute(text("SELECT n FROM turns"))).scalars().all() == [2]
