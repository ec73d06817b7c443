"""Each person's direct-message channel id, shared by the chat adapters: opening one costs a rate-limited call
(Slack's conversations.open, Tier 3; Discord's POST /users/@me/channels), and the id never changes, so it is
opened once and kept, in memory and, once the process's database is bound, in `dm_channels`.

No transaction is held across the network: the caller looks the id up (one short read), opens the channel on the
platform, then records it (one short write, ON CONFLICT DO NOTHING: two processes opening the same channel agree
on it anyway).
"""

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.engine import make_sessions
from bot.db.models import DmChannel


class DmChannels:
    def __init__(self) -> None:
        self._known: dict[tuple[str, str], str] = {}
        self._reads: async_sessionmaker[AsyncSession] | None = None
        self._writes: async_sessionmaker[AsyncSession] | None = None
        self._dialect = ""

    def use_database(self, engine: AsyncEngine) -> None:
        """Keep the ids in the process's database too (adapters/runtime.py binds it once the database is up)."""
        self._reads, self._writes = make_sessions(engine, read_only=True), make_sessions(engine)
        self._dialect = engine.dialect.name

    async def get(self, community: str, user_id: str) -> str | None:
        """The channel opened before, in this process or (with a database) in any."""
        if (known := self._known.get((community, user_id))) is not None or self._reads is None:
            return known
        async with self._reads() as session:
            found = await session.scalar(
                select(DmChannel.channel_id).where(DmChannel.community == community, DmChannel.user_id == user_id)
            )
        if found is not None:
            self._known[(community, user_id)] = found
        return found

    async def remember(self, community: str, user_id: str, channel_id: str) -> None:
        self._known[(community, user_id)] = channel_id
        if self._writes is None:
            return
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        async with self._writes.begin() as session:
            await session.execute(
                insert(DmChannel)
                .values(community=community, user_id=user_id, channel_id=channel_id)
                .on_conflict_do_nothing()
            )

    async def forget(self, community: str, user_id: str) -> None:
        """The platform no longer knows the channel: the next message opens one again."""
        self._known.pop((community, user_id), None)
        if self._writes is not None:
            async with self._writes.begin() as session:
                await session.execute(
                    delete(DmChannel).where(DmChannel.community == community, DmChannel.user_id == user_id)
                )
