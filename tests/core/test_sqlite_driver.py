"""The SQLite driver's one-trip cursor keeps what SQLAlchemy reads from a cursor: rows, row counts, inserted
keys, RETURNING, executemany, errors as SQLAlchemy's own, and server-side streams."""

from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.db.engine import make_engine
from bot.db.sqlite_driver import OneTripCursor

NOTES = Table("notes", MetaData(), Column("id", Integer, primary_key=True), Column("text", String, unique=True))


async def test_the_one_trip_cursor_answers_as_sqlalchemy_expects(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(NOTES.metadata.create_all)
            first = await conn.execute(insert(NOTES).values(text="a"))
            assert first.inserted_primary_key == (1,)
            await conn.execute(insert(NOTES), [{"text": "b"}, {"text": "c"}])  # executemany
            returned = await conn.execute(insert(NOTES).values(text="d").returning(NOTES.c.id))
            assert returned.scalar_one() == 4
            changed = await conn.execute(update(NOTES).where(NOTES.c.id > 2).values(text=NOTES.c.text + "!"))
            assert changed.rowcount == 2
            assert (await conn.execute(select(NOTES.c.text).order_by(NOTES.c.id))).scalars().all() == [
                "a",
                "b",
                "c!",
                "d!",
            ]
            streamed = await conn.stream(select(NOTES.c.id).order_by(NOTES.c.id))
            assert [row.id async for row in streamed] == [1, 2, 3, 4]
            with pytest.raises(IntegrityError):
                await conn.execute(insert(NOTES).values(text="a"))
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert isinstance(raw.dbapi_connection.cursor(), OneTripCursor)  # type: ignore[union-attr]
    finally:
        await engine.dispose()
