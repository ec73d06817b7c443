"""One unit of work is one transaction: state changes, the outbox rows they cause, and their audit rows."""

from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.commands import Actor
from bot.db.models import AuditEntry, HandledEvent, OutboxRow, Symposium
from bot.messages import Message, dump_message
from bot.ports import Platform
from bot.settings import CoreSettings

INDEX_EVERY = timedelta(minutes=1)
OUTBOX: Table = OutboxRow.__table__  # type: ignore[assignment]  # bulk inserts skip the ORM's per-row work
CARD_REACTIONS = ("✅", "❌", "✏️")


class UnitOfWork:
    """`async with UnitOfWork(...) as uow:` ... `await uow.commit()`; leaving without commit rolls back."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        platform: Platform,
        settings: CoreSettings,
    ) -> None:
        self._sessions = sessions
        self.clock = clock
        self.platform = platform
        self.settings = settings
        self.delivery_due = False

    async def __aenter__(self) -> "UnitOfWork":
        self.session = self._sessions()
        self.now = self.clock.now()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.session.rollback()
        await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()

    def add(self, row: Any) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()

    async def first_time(self, event_id: str | None) -> bool:
        """Record a platform event id; False when it was handled before (a redelivered event)."""
        if event_id is None:
            return True
        if await self.session.get(HandledEvent, event_id) is not None:
            return False
        try:
            async with self.session.begin_nested():
                self.session.add(HandledEvent(event_id=event_id, at=self.now))
        except IntegrityError:
            return False
        return True

    def audit(self, actor: Actor, action: str, subject: str, **detail: Any) -> None:
        self.session.add(
            AuditEntry(
                at=self.now,
                community=actor.community,
                actor_id=actor.user_id,
                action=action,
                subject=subject,
                detail=detail,
            )
        )

    def _outbox(
        self,
        op: str,
        message: Message | None,
        *,
        symposium_id: int | None,
        due_at: datetime | None = None,
        **fields: Any,
    ) -> OutboxRow:
        row = OutboxRow(
            op=op,
            symposium_id=symposium_id,
            payload={"message": dump_message(message)} if message else {},
            due_at=due_at or self.now,
            status="pending",
            attempts=0,
            created_at=self.now,
            **fields,
        )
        self.session.add(row)
        if row.due_at <= self.now:
            self.delivery_due = True
        return row

    def post(
        self,
        channel: str,
        message: Message,
        *,
        symposium_id: int | None,
        key: str | None = None,
        reactions: tuple[str, ...] = (),
        pin: bool = False,
        dedupe_key: str | None = None,
    ) -> None:
        row = self._outbox("post", message, symposium_id=symposium_id, channel=channel, key=key, dedupe_key=dedupe_key)
        row.payload = {**row.payload, "reactions": list(reactions), "pin": pin}

    def edit(self, key: str, message: Message, *, symposium_id: int | None) -> None:
        self._outbox("edit", message, symposium_id=symposium_id, key=key)

    def thread(self, key: str, message: Message, *, symposium_id: int | None) -> None:
        """Reply in the thread of the posted message `key` (running commentary under an announcement)."""
        self._outbox("thread", message, symposium_id=symposium_id, key=key)

    def dm(self, user_id: str, message: Message, *, symposium_id: int | None) -> None:
        self._outbox("dm", message, symposium_id=symposium_id, user_id=user_id)

    async def dm_each(self, user_ids: list[str], message: Message, *, symposium_id: int) -> None:
        """The same private message to many people: serialized once, written in bulk."""
        payload = {"message": dump_message(message)}
        rows = [
            {
                "symposium_id": symposium_id,
                "op": "dm",
                "user_id": user_id,
                "payload": payload,
                "due_at": self.now,
                "status": "pending",
                "attempts": 0,
                "created_at": self.now,
            }
            for user_id in user_ids
        ]
        if rows:
            await self.session.execute(insert(OUTBOX), rows)
            self.delivery_due = True

    def schedule(self, row: OutboxRow) -> None:
        """Add a prepared future row (a reminder)."""
        self.session.add(row)

    async def refresh_index(self, symposium_id: int) -> None:
        """Ask for the Essay Index to be re-rendered; changes within a minute of the last edit are merged.
        Every public change comes through here, so it also bumps the symposium's public version."""
        await self.session.execute(
            update(Symposium).where(Symposium.id == symposium_id).values(public_version=Symposium.public_version + 1)
        )
        waiting = await self.session.scalar(
            select(OutboxRow.id)
            .where(OutboxRow.op == "index", OutboxRow.symposium_id == symposium_id, OutboxRow.status == "pending")
            .limit(1)
        )
        if waiting is not None:
            return
        last = await self.session.scalar(
            select(func.max(OutboxRow.sent_at)).where(OutboxRow.op == "index", OutboxRow.symposium_id == symposium_id)
        )
        due = max(self.now, last + INDEX_EVERY) if last else self.now
        self._outbox("index", None, symposium_id=symposium_id, due_at=due)
