"""One unit of work is one transaction: state changes, the outbox rows they cause, and their audit rows.

Services only write what should be sent (outbox rows); they never call a platform. What a command needs to know
from the platform first (can the bot post in a channel?) is asked before the transaction opens and handed in
as `checks`.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.commands import Actor
from bot.db.engine import dialect_insert
from bot.db.models import AuditEntry, OutboxRow, Symposium
from bot.messages import Message
from bot.outbox import Op, Status, outbox_row, write_rows
from bot.ports import ChannelCheck
from bot.settings import CoreSettings

INDEX_EVERY = timedelta(minutes=1)
CARD_REACTIONS = ("✅", "❌", "✏️")


@dataclass(frozen=True)
class Checks:
    """What the platform said before the transaction opened: channel checks by channel, and whether a direct
    message reaches the person who asked (None: it does; text: what is missing; absent: not asked)."""

    channels: dict[str, ChannelCheck] = field(default_factory=dict)
    direct_message: str | None = None


@dataclass(frozen=True)
class Claimed:
    """An outbox row this process claimed as it wrote it (a reply), to deliver at once."""

    id: int
    claim: str


class UnitOfWork:
    """`async with UnitOfWork(...) as uow:` ... `await uow.commit()`; leaving without commit rolls back.

    Args:
        surface: the platform's name (help differs per platform).
        community: the community the work is for (each outbox row names it).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: CoreSettings,
        *,
        surface: str,
        community: str = "",
        checks: Checks | None = None,
    ) -> None:
        self._sessions = sessions
        self.clock, self.settings, self.surface, self.community = clock, settings, surface, community
        self.checks = checks or Checks()
        self.delivery_due = False
        self.due_later: datetime | None = None
        """The earliest row written to go out later (a merged edit, a reminder): the bot wakes for it."""
        self.replied: Claimed | None = None
        self._rows: list[dict[str, Any]] = []
        self._reply_row: dict[str, Any] | None = None

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
        await self._write_outbox()
        await self.session.commit()

    def add(self, row: Any) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()

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

    # ----- the outbox (rows are written together when the work commits)

    def outbox(self, op: Op, sym: Symposium | None, **fields: Any) -> None:
        """Add one row (see bot/outbox.py); it belongs to `sym`'s community, else to the request's."""
        community = sym.community if sym is not None else self.community
        row = outbox_row(self.now, op, community=community, symposium_id=sym.id if sym else None, **fields)
        self._rows.append(row)
        self._due(row["due_at"])

    def writes(self, op: Op, key: str) -> bool:
        """Whether this unit of work already writes a row of `op` for the message `key`."""
        return any(row["op"] == op and row["key"] == key for row in self._rows)

    def post(
        self,
        sym: Symposium,
        channel: str,
        message: Message,
        *,
        key: str | None = None,
        reactions: tuple[str, ...] = (),
        pin: bool = False,
        dedupe_key: str | None = None,
    ) -> None:
        extra = {"reactions": list(reactions), "pin": pin} if reactions or pin else None
        self.outbox(
            Op.POST,
            sym,
            channel=channel,
            message=message,
            key=key,
            extra=extra,
            dedupe_key=dedupe_key,
        )

    def edit(self, sym: Symposium, key: str, message: Message) -> None:
        self.outbox(Op.EDIT, sym, key=key, message=message)

    def thread(self, sym: Symposium, key: str, message: Message) -> None:
        """Reply in the thread of the posted message `key` (running commentary under an announcement)."""
        self.outbox(Op.THREAD, sym, key=key, message=message)

    def dm(self, sym: Symposium, user_id: str, message: Message) -> None:
        self.outbox(Op.DM, sym, user_id=user_id, message=message)

    def dm_each(self, sym: Symposium, user_ids: list[str], message: Message) -> None:
        """The same private message to many people: a fan-out, delivered after everything else that is due."""
        for user_id in user_ids:
            self.outbox(Op.DM, sym, user_id=user_id, message=message, bulk=True)

    def reply(
        self, user_id: str, message: Message, handle: dict[str, Any] | None, until: datetime | None, lease: timedelta
    ) -> None:
        """The private answer to the request being handled, claimed by this process to deliver right after the
        commit (`self.replied`); if this process dies first, the claim expires and another delivers it."""
        extra = {"handle": handle, "until": until.isoformat() if until else None}
        self._reply_row = outbox_row(
            self.now,
            Op.REPLY,
            community=self.community,
            symposium_id=None,
            user_id=user_id,
            message=message,
            extra=extra,
            claimed_until=self.now + lease,
            claim=uuid.uuid4().hex,
        )

    async def write_now(self, rows: list[dict[str, Any]]) -> None:
        """Insert prepared rows at once (reminders, planned in bounded chunks)."""
        await write_rows(self.session, rows)
        for row in rows:
            self._due(row["due_at"])

    def _due(self, at: datetime) -> None:
        if at <= self.now:
            self.delivery_due = True
        elif self.due_later is None or at < self.due_later:
            self.due_later = at

    async def _write_outbox(self) -> None:
        rows, self._rows = self._rows, []
        await self.write_now(rows)
        if (reply := self._reply_row) is not None:
            row_id = await self.session.scalar(
                dialect_insert(self.session, OutboxRow).values(reply).returning(OutboxRow.id)
            )
            assert row_id is not None
            self.replied, self._reply_row = Claimed(row_id, reply["claim"]), None

    async def refresh_index(self, sym: Symposium) -> None:
        """Ask for the Essay Index to be re-rendered; changes within a minute of the last edit are merged.
        Every public change comes through here, so it also bumps the symposium's public version."""
        await self.session.execute(
            update(Symposium).where(Symposium.id == sym.id).values(public_version=Symposium.public_version + 1)
        )
        if any(row["op"] == Op.INDEX and row["symposium_id"] == sym.id for row in self._rows):
            return
        waiting = await self.session.scalar(
            select(OutboxRow.id)
            .where(OutboxRow.op == Op.INDEX, OutboxRow.symposium_id == sym.id, OutboxRow.status == Status.PENDING)
            .limit(1)
        )
        if waiting is not None:
            return
        last = await self.session.scalar(
            select(func.max(OutboxRow.sent_at)).where(OutboxRow.op == Op.INDEX, OutboxRow.symposium_id == sym.id)
        )
        due = max(self.now, last + INDEX_EVERY) if last else self.now
        self.outbox(Op.INDEX, sym, due_at=due)
