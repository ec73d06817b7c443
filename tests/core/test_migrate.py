"""Migrations on start: a database behind the code is brought to the newest schema (one at it is only read)."""

from alembic import command
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.migrate import alembic_config, newest, upgrade


def _indexes(sync: Connection) -> set[str]:
    return {str(index["name"]) for index in inspect(sync).get_indexes("intents")}


async def test_a_database_one_migration_behind_is_brought_to_the_newest_schema_on_start(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:  # the test's database is migrated already: take it back one step
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0007"))
        assert "ix_intents_due_override" not in await conn.run_sync(_indexes)
    await upgrade(engine)
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT version_num FROM alembic_version")) == newest() == "0008"
        assert "ix_intents_due_override" in await conn.run_sync(_indexes)
