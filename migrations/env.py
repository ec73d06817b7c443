"""Alembic environment: reuses the connection bot/db/migrate.py passes, else connects to DATABASE_URL."""

import asyncio

from alembic import context
from sqlalchemy import Connection

from bot.db.engine import make_engine
from bot.db.models import Base
from bot.settings import CoreSettings


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone() -> None:
    engine = make_engine(CoreSettings().database_url)
    async with engine.begin() as connection:
        await connection.run_sync(run)
    await engine.dispose()


given = context.config.attributes.get("connection")
if given is not None:
    run(given)
else:
    asyncio.run(run_standalone())
