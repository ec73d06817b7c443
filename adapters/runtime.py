"""The composition root: database, migrations and core, built by the CLI and by tests alike."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.clock import Clock
from bot.core import SymposiumBot
from bot.db.engine import make_engine, make_sessions
from bot.db.migrate import upgrade
from bot.ports import Platform
from bot.settings import CoreSettings


@asynccontextmanager
async def running_core(
    settings: CoreSettings, platform: Platform, clock: Clock, *, deliver_in_background: bool = False
) -> AsyncIterator[SymposiumBot]:
    """Migrate the database, then yield a core bound to it; disposes the engine on the way out."""
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        bot = SymposiumBot(
            make_sessions(engine), clock, platform, settings, deliver_in_background=deliver_in_background
        )
        yield bot
        await bot.close()
    finally:
        await engine.dispose()
