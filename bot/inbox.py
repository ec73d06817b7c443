"""The inbox: what a platform sent, recorded before it is acknowledged, so an acknowledged request survives a crash.

An adapter records an `Arrival` (one short insert), acknowledges, and then asks the core to handle it; the
handling transaction marks the entry done together with its effects and its reply, so each arrival takes effect
once. Entries left pending by a process that died are handled when the bot next starts (or on a later tick).
The platform's own id of a request (`key`) is unique, so a redelivered event or a replayed command is recognised.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.engine import dialect_insert
from bot.db.models import InboxEntry

KEEP_HANDLED = timedelta(days=7)
BATCH = 100  # long past any platform's redelivery or replay window


class Kind(StrEnum):
    COMMAND = "command"  # body: text (`/submit url:…`), channel
    FORM = "form"  # body: command (a catalogue path), values, channel
    REACTION = "reaction"  # body: channel, ref, emoji, added
    ACTION = "action"  # body: action, value, channel (a button)


@dataclass(frozen=True)
class Arrival:
    """One request as the adapter received it.

    Args:
        key: the platform's id of this request (Slack `trigger_id`/`event_id`, a Discord interaction id).
        facts: what the adapter already knows about the person (Discord sends their roles along), handed back to
            `Platform.actor` when the request is handled.
        reply: how to answer privately (a Slack `response_url`, a Discord interaction token), valid until
            `reply_until`; without one, the answer goes as a direct message.
    """

    key: str
    community: str
    user_id: str
    kind: Kind
    body: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)
    reply: dict[str, Any] | None = None
    reply_until: datetime | None = None


@dataclass
class Ticket:
    """An arrival on its way through the core. `id` is its inbox row, None when it could not be recorded in time
    (it is then handled from memory, and lost if the process dies first); `duplicate` when it was seen before.
    `after` and `turn` keep one person's arrivals in order (bot/core.py)."""

    arrival: Arrival
    id: int | None
    duplicate: bool = False
    received_at: datetime | None = None
    after: "asyncio.Future[None] | None" = field(default=None, repr=False)
    turn: "asyncio.Future[None] | None" = field(default=None, repr=False)


def _values(arrival: Arrival, now: datetime, status: str) -> dict[str, Any]:
    return {
        "key": arrival.key,
        "community": arrival.community,
        "user_id": arrival.user_id,
        "kind": arrival.kind.value,
        "body": {**arrival.body, "facts": arrival.facts},
        "reply": arrival.reply,
        "reply_until": arrival.reply_until,
        "status": status,
        "received_at": now,
        "handled_at": now if status == "done" else None,
    }


async def record(session: AsyncSession, arrivals: list[Arrival], now: datetime) -> list[Ticket]:
    """Insert the arrivals in one statement; a key seen before (in the inbox, or earlier in `arrivals`) inserts
    nothing and makes its ticket a duplicate. The statement is executed for the rows, not built with them: built
    with `.values([...])` it had no cache key and was compiled afresh each time (14–24 ms for 50 rows); this way it
    is compiled once, and SQLAlchemy still sends one multi-row INSERT (its "insertmanyvalues")."""
    statement = (
        dialect_insert(session, InboxEntry)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(InboxEntry.key, InboxEntry.id)
    )
    rows = [_values(arrival, now, "pending") for arrival in arrivals]
    ids: dict[str, int] = {key: row_id for key, row_id in (await session.execute(statement, rows)).all()}
    tickets = []
    for arrival in arrivals:
        row_id = ids.pop(arrival.key, None)  # the first arrival of a key has its row; any other is a duplicate
        tickets.append(Ticket(arrival, row_id, duplicate=row_id is None, received_at=now))
    return tickets


class Recorder:
    """Records arrivals in batches (group commit): what arrives while one write is under way goes into the next,
    one transaction for all of it, so fifty requests at once cost a few short writes, not fifty in a row that
    each acknowledgement waits behind. A batch that cannot be written within `within` seconds fails as a whole
    (rolled back): each of its arrivals is then handled from memory, never both recorded and handled so."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], now: Callable[[], datetime], within: float) -> None:
        self._sessions, self._now, self._within = sessions, now, within
        self._batch: list[tuple[Arrival, asyncio.Future[Ticket]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def record(self, arrival: Arrival) -> Ticket:
        future: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()
        self._batch.append((arrival, future))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write())
        return await asyncio.shield(future)  # a caller that gives up does not cancel the others' write

    async def _write(self) -> None:
        while self._batch:
            batch, self._batch = self._batch, []
            try:
                async with asyncio.timeout(self._within):
                    async with self._sessions() as session, session.begin():
                        tickets = await record(session, [arrival for arrival, _ in batch], self._now())
            except Exception as exc:  # the database is slow or away: each arrival is handled from memory
                for _, future in batch:
                    future.set_exception(exc)
            else:
                for (_, future), ticket in zip(batch, tickets, strict=True):
                    future.set_result(ticket)


async def take(session: AsyncSession, ticket: Ticket, now: datetime) -> bool:
    """Mark the arrival handled, inside the handling transaction; False when it was handled already (by another
    process recovering it, or a late insert of one handled from memory)."""
    if ticket.id is not None:
        done = await session.execute(
            update(InboxEntry)
            .where(InboxEntry.id == ticket.id, InboxEntry.status == "pending")
            .values(status="done", handled_at=now)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]
    inserted = await session.scalar(
        dialect_insert(session, InboxEntry)
        .values(_values(ticket.arrival, now, "done"))
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(InboxEntry.id)
    )
    if inserted is not None:
        return True
    late = await session.execute(  # the insert that timed out landed after all: this handling takes it
        update(InboxEntry)
        .where(InboxEntry.key == ticket.arrival.key, InboxEntry.status == "pending")
        .values(status="done", handled_at=now)
    )
    return bool(late.rowcount)  # type: ignore[attr-defined]


async def waiting(session: AsyncSession, received_before: datetime, now: datetime, limit: int = BATCH) -> list[Ticket]:
    """Arrivals to handle again, oldest first: pending ones received before `received_before` (their handler
    stopped), and those that had to wait whose time has come."""
    rows = await session.scalars(
        select(InboxEntry)
        .where(
            InboxEntry.status == "pending",
            or_(
                and_(InboxEntry.received_at < received_before, InboxEntry.retry_at.is_(None)),
                InboxEntry.retry_at <= now,
            ),
        )
        .order_by(InboxEntry.id)
        .limit(limit)
    )
    return [_ticket(row) for row in rows]


async def postpone(session: AsyncSession, ticket: Ticket, now: datetime, until: datetime) -> None:
    """Keep the arrival pending and handle it again at `until` (recorded now if it was handled from memory)."""
    if ticket.id is None:
        values = _values(ticket.arrival, now, "pending") | {"retry_at": until}
        await session.execute(
            dialect_insert(session, InboxEntry).values(values).on_conflict_do_nothing(index_elements=["key"])
        )
        return
    await session.execute(update(InboxEntry).where(InboxEntry.id == ticket.id).values(retry_at=until))


def _ticket(row: InboxEntry) -> Ticket:
    body = dict(row.body)
    facts = body.pop("facts", {}) or {}
    arrival = Arrival(
        key=row.key,
        community=row.community,
        user_id=row.user_id,
        kind=Kind(row.kind),
        body=body,
        facts=facts,
        reply=row.reply,
        reply_until=row.reply_until,
    )
    return Ticket(arrival, row.id, received_at=row.received_at)


async def prune(session: AsyncSession, now: datetime) -> None:
    """Forget arrivals handled long ago (their keys only matter inside the platforms' redelivery windows)."""
    await session.execute(
        delete(InboxEntry).where(InboxEntry.status == "done", InboxEntry.handled_at < now - KEEP_HANDLED)
    )
