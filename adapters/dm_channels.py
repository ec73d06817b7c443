"""Each person's direct-message channel id, shared by the chat adapters: opening one costs a rate-limited call
(Slack's conversations.open, Tier 3; Discord's POST /users/@me/channels), and the id never changes, so it is
opened once and kept, in memory and, once the process's database is bound, in `dm_channels`.

No transaction is held across the network: the caller looks the id up (the community's ids are read once, in one
short read), opens the channel on the platform, then records it (written soon after, with others, ON CONFLICT DO NOTHING: two processes opening the
same channel agree on it anyway).
"""

import asyncio
import logging

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.engine import dialect_insert, make_sessions
from bot.db.models import DmChannel

log = logging.getLogger(__name__)

WRITE_AFTER = 1.0  # seconds


class DmChannels:
    def __init__(self) -> None:
        self._known: dict[tuple[str, str], str] = {}
        self._loaded: set[str] = set()  # communities whose ids were read from the database
        self._reads: async_sessionmaker[AsyncSession] | None = None
        self._writes: async_sessionmaker[AsyncSession] | None = None
        self._pending: dict[tuple[str, str], str] = {}
        self._writing = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None

    def use_database(self, engine: AsyncEngine) -> None:
        """Keep the ids in the process's database too (adapters/runtime.py binds it once the database is up)."""
        self._reads, self._writes = make_sessions(engine, read_only=True), make_sessions(engine)

    async def get(self, community: str, user_id: str) -> str | None:
        """The channel opened before, by this process or (with a database) by any before this one first asked;
        None when unknown (or the database cannot say)."""
        if self._reads is not None and community not in self._loaded:
            await self._load(community)
        return self._known.get((community, user_id))

    async def _load(self, community: str) -> None:
        """Every id the database holds for `community`, in one read: a fan-out's lookups then cost no read each.
        One another process opens later is not seen here, and is opened again once (the same id, on both)."""
        assert self._reads is not None
        try:
            async with self._reads() as session:
                rows = await session.execute(
                    select(DmChannel.user_id, DmChannel.channel_id).where(DmChannel.community == community)
                )
        except SQLAlchemyError as exc:  # the DMs still go: their channels are opened again
            log.warning("could not read the DM channel ids from the database: %s", exc)
            return
        for user_id, channel_id in rows:
            self._known.setdefault((community, user_id), channel_id)
        self._loaded.add(community)

    async def remember(self, community: str, user_id: str, channel_id: str) -> None:
        """Keep the id: in memory at once, in the database within `WRITE_AFTER` seconds, together with every id
        opened meanwhile (a fan-out's burst of opens is one write transaction, not a burst of them competing with
        people's commands for the database). An id not written (the process stopped first, the write failed)
        costs one more open later, nothing else."""
        self._known[(community, user_id)] = channel_id
        if self._writes is None:
            return
        self._pending[(community, user_id)] = channel_id
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_soon())

    async def _write_soon(self) -> None:
        await asyncio.sleep(WRITE_AFTER)
        # From here on it writes: `flush` must not cancel it mid-transaction (a write transaction cancelled there
        # was seen to keep SQLite's write lock until the connection was collected, refusing the next writer).
        self._writer = None
        await self.flush()

    async def flush(self) -> None:
        """Write the ids not yet written (the process calls this on its way out, before the database closes)."""
        if self._writes is None:
            return
        if self._writer is not None:
            self._writer.cancel()  # still waiting to write: written here instead
        async with self._writing:
            if not self._pending:
                return
            batch, self._pending = self._pending, {}
            rows = [{"community": c, "user_id": u, "channel_id": channel} for (c, u), channel in batch.items()]
            try:
                async with self._writes.begin() as session:
                    await session.execute(dialect_insert(session, DmChannel).on_conflict_do_nothing(), rows)
            except SQLAlchemyError as exc:
                log.warning("could not keep %d DM channel ids in the database: %s", len(rows), exc)
            except asyncio.CancelledError:
                self._pending = batch | self._pending  # for the flush that cancelled this write
                raise
