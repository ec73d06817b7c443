"""Looking for essays live: claim the looks due (one short transaction), fetch with no transaction open, record
each look's findings (one short transaction each, with the announcement it allows). The rules are in
bot/services/live.py; the fetching (and its guard against server-side request forgery) is the adapter's
`EssayFetcher` (adapters/fetch)."""

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from bot.matching import EssayFetcher
from bot.services import live
from bot.services.live import Found, Look
from bot.uow import UnitOfWork

log = logging.getLogger(__name__)


class LiveChecks:
    """Args:
    unit_of_work: opens a unit of work (the core's).
    poll: the least time between two looks at one essay (a feed is polled at most this often).
    concurrency: looks fetched at once; `batch`: looks claimed per round.
    """

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        fetcher: EssayFetcher,
        poll: timedelta,
        *,
        concurrency: int = 16,
        batch: int = 200,
    ) -> None:
        self.unit_of_work, self.fetcher, self.poll = unit_of_work, fetcher, poll
        self.batch = batch
        self._slots = asyncio.Semaphore(concurrency)

    async def round(self) -> int:
        """Every look due now, batch after batch; returns how many essays were announced."""
        announced = 0
        while True:
            async with self.unit_of_work() as uow:
                looks = await live.claim(uow, self.batch)
                await uow.commit()
            if not looks:
                return announced
            found = await asyncio.gather(*(self._look(look) for look in looks))
            for look, what in zip(looks, found, strict=True):
                announced += await self._record(look, what)
            if len(looks) < self.batch:
                return announced

    async def _look(self, look: Look) -> Found:
        async with self._slots:
            try:
                return await self._fetch(look)
            except Exception as exc:  # the fetcher answers bad URLs with reasons; this is a bug, logged
                log.exception("looking at essay %s failed", look.essay_id)
                return Found(failed=type(exc).__name__)

    async def _fetch(self, look: Look) -> Found:
        if look.kind == "page":
            assert look.url is not None
            return Found(page=await self.fetcher.page(look.url), fetches=1)
        found = Found(feed_url=look.url)
        if look.discover_from is not None:
            found.feed_url = await self.fetcher.discover(look.discover_from)
            found.fetches += 1
        if found.feed_url is not None:
            found.feed = await self.fetcher.feed(found.feed_url, etag=look.etag, modified=look.modified)
            found.fetches += 1
        return found

    async def _record(self, look: Look, found: Found) -> int:
        try:
            async with self.unit_of_work() as uow:
                announced = await live.record(uow, look, found, self.poll)
                await uow.commit()
        except Exception:  # the claim runs out and the essay is looked at again
            log.exception("recording the look at essay %s failed", look.essay_id)
            return 0
        return int(announced)
