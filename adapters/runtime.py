"""The composition root: database, migrations, core and the public page, built by the CLI and by tests alike."""

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.web.app import build_web_app, serve_web
from adapters.web.settings import WebSettings
from bot.clock import Clock
from bot.core import SymposiumBot
from bot.db.engine import make_engine, make_sessions
from bot.db.migrate import upgrade
from bot.ports import Platform
from bot.settings import CoreSettings

log = logging.getLogger(__name__)


@asynccontextmanager
async def migrated_engine(settings: CoreSettings) -> AsyncIterator[AsyncEngine]:
    """The database, migrated to the newest schema; disposed on the way out."""
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def public_page(
    engine: AsyncEngine, settings: CoreSettings, clock: Clock, web: WebSettings
) -> AsyncIterator[None]:
    """Serve the symposium's public page (SPEC §6) for as long as the block runs."""
    runner = await serve_web(build_web_app(engine, settings, clock), web.web_host, web.web_port)
    log.info("public page on http://%s:%s/", web.web_host, web.web_port)
    try:
        yield
    finally:
        await runner.cleanup()


@asynccontextmanager
async def running_core(
    settings: CoreSettings,
    platform: Platform,
    clock: Clock,
    *,
    deliver_in_background: bool = False,
    web: WebSettings | None = None,
) -> AsyncIterator[SymposiumBot]:
    """Migrate the database, then yield a core bound to it, with the public page served when `web` is given."""
    async with AsyncExitStack() as stack:
        engine = await stack.enter_async_context(migrated_engine(settings))
        if web is not None:
            await stack.enter_async_context(public_page(engine, settings, clock, web))
        bot = SymposiumBot(
            make_sessions(engine), clock, platform, settings, deliver_in_background=deliver_in_background
        )
        yield bot
        await bot.close()
