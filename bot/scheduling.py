"""APScheduler is only the clock that wakes delivery: one interval job calls `tick()`; the database says what is due."""

import asyncio
import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core import SymposiumBot

log = logging.getLogger(__name__)


def start_ticking(bot: SymposiumBot, every_seconds: float) -> AsyncIOScheduler:
    """Wake the bot now and every `every_seconds`; call `.shutdown()` on the result when stopping."""
    scheduler = AsyncIOScheduler()

    async def tick() -> None:
        try:
            await bot.tick()
        except Exception:  # the next tick tries again; the rows stay in the outbox
            log.exception("delivery round failed")

    scheduler.add_job(tick, "interval", seconds=every_seconds, max_instances=1, coalesce=True)
    scheduler.start()
    scheduler.add_job(tick)  # once, right away: what fell due while the bot was down
    return scheduler


async def stop_ticking(scheduler: AsyncIOScheduler, bot: SymposiumBot, last_round_seconds: float = 10.0) -> None:
    """Stop waking the bot, without cancelling a round mid-transaction: pause, send what is due in one last
    round (briefly), then shut the scheduler down."""
    scheduler.pause()

    async def last_round() -> None:
        await bot.tick()
        await bot.deliver()  # after the round under way, if any

    try:
        await asyncio.wait_for(last_round(), last_round_seconds)
    except TimeoutError:
        log.warning("the last delivery round did not finish in %s s; the outbox keeps the rest", last_round_seconds)
    finally:
        scheduler.shutdown(wait=False)
