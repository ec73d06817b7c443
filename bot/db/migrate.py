"""Apply Alembic migrations on the app's own engine, before anything else runs."""

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def newest() -> str | None:
    """The head revision of this code's migrations (read from their files once per process)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _at_newest(connection: Connection) -> bool:
    return MigrationContext.configure(connection).get_current_revision() == newest()


MIGRATION_LOCK = 7_251_003  # a PostgreSQL advisory lock id of this application's own


async def upgrade(engine: AsyncEngine) -> None:
    """Migrate to the newest schema. On PostgreSQL, processes starting together take turns (an advisory lock
    held for the migrating transaction), so two never run the same migration at once; SQLite's write lock
    already serializes them."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK})
        if await connection.run_sync(_at_newest):  # the usual start: one read, no migration scripts loaded
            return
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
