"""The composition root: every process (the console, Slack, Discord, a delivery worker, the test rigs) is built
and torn down here, in one order: database (migrated), core, public page, the clock that wakes delivery."""

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.fetch import Fetcher, FetchSettings
from adapters.web.app import build_web_app, serve_web
from adapters.web.settings import WebSettings
from bot.clock import Clock
from bot.core import SymposiumBot
from bot.db.engine import make_engine
from bot.db.migrate import upgrade
from bot.matching import EssayFetcher
from bot.ports import Platform
from bot.scheduling import start_ticking, stop_ticking
from bot.settings import CoreSettings

log = logging.getLogger(__name__)


@runtime_checkable
class UsesDatabase(Protocol):
    """A platform that keeps something of its own in the process's database (the DM channels it opened)."""

    def use_database(self, engine: AsyncEngine) -> None: ...

    async def flush(self) -> None:
        """Write what is still only in memory; called on the way out, before the database closes."""


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
async def essay_fetcher(settings: FetchSettings | None = None) -> AsyncIterator[Fetcher]:
    """The HTTP client that looks for essays live (adapters/fetch), closed on the way out."""
    async with Fetcher(settings or FetchSettings()) as fetcher:
        yield fetcher


@asynccontextmanager
async def public_page(
    engine: AsyncEngine, settings: CoreSettings, clock: Clock, web: WebSettings
) -> AsyncIterator[None]:
    """Serve the symposium's public page (SPEC §6) for as long as the block runs."""
    runner = await serve_web(build_web_app(engine, settings, clock, web), web.web_host, web.web_port)
    log.info("public page on http://%s:%s/", web.web_host, web.web_port)
    try:
        yield
    finally:
        await runner.cleanup()


@asynccontextmanager
async def symposium_process(
    settings: CoreSettings,
    platform: Platform,
    clock: Clock,
    *,
    web: WebSettings | None = None,
    ticking: bool = True,
    deliver_in_background: bool = True,
    workers: int | None = None,
    fetcher: EssayFetcher | None = None,
    engine: AsyncEngine | None = None,
) -> AsyncIterator[SymposiumBot]:
    """One process of the bot, for as long as the block runs.

    Args:
        web: serve the public page too.
        ticking: wake on the clock (what falls due, delivery) every `delivery_interval_seconds`; the console and
            tests step the clock themselves.
        deliver_in_background: deliver right after each change (a running bot).
        workers: rows delivered at once (the console: 1, so its transcript keeps the outbox's order).
        fetcher: looks for essays live on their day (`essay_fetcher`); without one, essays are announced at their
            time unchecked and cross-posts wait for their author's `/submit live:`.
        engine: the database, migrated already and disposed by the caller (an adapter that keeps its own tables
            there, such as Slack's installs); by default `migrated_engine`'s.

    On the way out: the clock stops after one last round, the page closes, deliveries under way finish, and the
    database goes last.
    """
    async with AsyncExitStack() as stack:
        if engine is None:
            engine = await stack.enter_async_context(migrated_engine(settings))
        if isinstance(platform, UsesDatabase):
            platform.use_database(engine)
            stack.push_async_callback(platform.flush)  # after the deliveries under way, before the database
        bot = SymposiumBot(
            engine,
            clock,
            platform,
            settings,
            deliver_in_background=deliver_in_background,
            workers=workers,
            fetcher=fetcher,
        )
        stack.push_async_callback(bot.close)
        if web is not None:
            await stack.enter_async_context(public_page(engine, settings, clock, web))
        if ticking:
            scheduler = start_ticking(bot, settings.delivery_interval_seconds)
            stack.push_async_callback(stop_ticking, scheduler, bot)
        yield bot
