"""SQLite's write lock, taken in turn by the process's writers: first come, first served, and a writer that waits
longer than its busy timeout fails as SQLite would ("database is locked") instead of waiting for ever."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.engine import make_engine, make_sessions

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, pool_size=12)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE turns (n INTEGER)"))
    yield engine
    await engine.dispose()


async def warm_up(engine: AsyncEngine, count: int) -> None:
    """Pooled connections with their busy timeout set: no await between a writer's checkout and its turn, so the
    order writers begin is the order they ask."""
    warm = [await engine.connect() for _ in range(count)]
    for conn in warm:
        await conn.execute(text("SELECT 1"))
        await conn.commit()
    for conn in warm:
        await conn.close()


async def test_writers_take_the_lock_in_the_order_they_asked(engine: AsyncEngine) -> None:
    """SQLite's busy handler lets waiters sleep and retry, so the lock went to whoever woke at the right moment;
    ten writers queued behind one that holds it now write in the order they began."""
    await warm_up(engine, 11)
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
    assert await order(engine) == list(range(11))


async def order(engine: AsyncEngine) -> list[int]:
    async with make_sessions(engine, read_only=True)() as session:
        return [n for (n,) in (await session.execute(text("SELECT n FROM turns ORDER BY rowid"))).all()]


async def test_an_arrival_being_recorded_goes_before_the_writers_already_waiting(engine: AsyncEngine) -> None:
    """An ack waits for the transaction under way, not for every command and delivery queued behind it."""
    await warm_up(engine, 5)
    sessions, urgent = make_sessions(engine), make_sessions(engine, urgent=True)
    holder = sessions()
    await holder.begin()
    await holder.execute(text("INSERT INTO turns VALUES (0)"))
    checked_out = asyncio.Event()
    event.listen(engine.sync_engine.pool, "checkout", lambda *_: checked_out.set())

    async def write(maker: async_sessionmaker[AsyncSession], n: int) -> None:
        async with maker() as session, session.begin():
            await session.execute(text("INSERT INTO turns VALUES (:n)"), {"n": n})

    writers = []
    for maker, n in ((sessions, 1), (sessions, 2), (sessions, 3), (urgent, 9)):
        writers.append(asyncio.create_task(write(maker, n)))
        await checked_out.wait()  # it runs on to its turn and waits there
        checked_out.clear()
    await holder.commit()
    await holder.close()
    await asyncio.gather(*writers)
    assert await order(engine) == [0, 9, 1, 2, 3]


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
