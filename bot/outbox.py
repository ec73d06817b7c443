"""The outbox's vocabulary, its one writer (every outgoing message is a row built by `outbox_row`) and the query
that picks the next row to claim (`QUEUE`, used by bot/delivery.py).

A row says what to do (`Op`), where (a channel, a person, or the key of a message posted before) and what
(a stored message, or a `compose` spec the core turns into a message when the row is delivered). `destination`
is the place rows are kept in order for: rows to one destination go out in the order they were written.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.db.engine import dialect_insert
from bot.db.models import OutboxRow, PausedCommunity
from bot.db.types import UtcDateTime
from bot.messages import Message, dump_message


class Op(StrEnum):
    POST = "post"  # to a channel; with a key, posted once and remembered for edits
    EDIT = "edit"  # the message posted under a key
    THREAD = "thread"  # a reply in the thread of the message posted under a key
    DM = "dm"  # a private message to a person
    REPLY = "reply"  # the private answer to a command, through its reply handle (a DM once that expired)
    INDEX = "index"  # the Essay Index, composed from the database when delivered
    REMIND = "remind"  # a reminder to every writer of one deadline, written out as DMs when due (not delivered)


class Status(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # given up on; listed for the editors until dismissed
    DROPPED = "dropped"  # no longer worth sending (a reminder whose deadline passed)


def destination_of(op: Op, channel: str | None, user_id: str | None, key: str | None, symposium_id: int | None) -> str:
    """Rows to one destination keep their order: a channel, a person's DMs, one posted message's edits."""
    if op is Op.REPLY:
        return f"reply:{user_id}"
    if op is Op.INDEX:
        return f"index:{symposium_id}"
    if op is Op.REMIND:
        return f"remind:{symposium_id}"
    if op in (Op.EDIT, Op.THREAD):
        return f"key:{key}"
    return f"channel:{channel}" if channel else f"user:{user_id}"


def outbox_row(
    now: datetime,
    op: Op,
    *,
    community: str,
    symposium_id: int | None,
    message: Message | None = None,
    compose: dict[str, Any] | None = None,
    channel: str | None = None,
    user_id: str | None = None,
    key: str | None = None,
    extra: dict[str, Any] | None = None,
    due_at: datetime | None = None,
    deadline: datetime | None = None,
    group: str | None = None,
    dedupe_key: str | None = None,
    scope: str | None = None,
    bulk: bool = False,
    claimed_until: datetime | None = None,
    claim: str | None = None,
) -> dict[str, Any]:
    """One outbox row as column values. `message` is stored as it is; `compose` asks the core to compose the
    message at delivery (the Essay Index, reminders), so what goes out reflects the database at that moment."""
    payload: dict[str, Any] = dict(extra or {})
    if message is not None:
        payload["message"] = dump_message(message)
    if compose is not None:
        payload["compose"] = compose
    return {
        "community": community,
        "symposium_id": symposium_id,
        "op": op.value,
        "channel": channel,
        "user_id": user_id,
        "key": key,
        "destination": destination_of(op, channel, user_id, key, symposium_id),
        "payload": payload,
        "due_at": due_at or now,
        "deadline": deadline,
        "group": group,
        "dedupe_key": dedupe_key,
        "scope": scope,
        "bulk": bulk,
        "status": Status.PENDING.value,
        "attempts": 0,
        "last_error": None,
        "claimed_until": claimed_until,
        "claim": claim,
        "created_at": now,
        "sent_at": None,
    }


async def write_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert rows built by `outbox_row` in one statement; a row whose dedupe key is taken is skipped (two
    processes planning the same reminder or digest)."""
    if rows:
        await session.execute(dialect_insert(session, OutboxRow).on_conflict_do_nothing(), rows)


def _queue(bulk: bool) -> Any:
    """The next row to claim: pending, of this kind, due at `:now`, not claimed (or its claim ran out), not for a
    paused community (bot/services/communities.py), and no earlier row to its destination due, being sent or
    being retried. Built once: a claim is the hot path."""
    now = bindparam("now", type_=UtcDateTime())
    earlier = aliased(OutboxRow)
    held_back = (
        select(earlier.id)
        .where(
            earlier.destination == OutboxRow.destination,
            earlier.status == Status.PENDING,
            earlier.id < OutboxRow.id,
            or_(earlier.due_at <= now, earlier.last_error.is_not(None)),
        )
        .exists()
    )
    paused = select(PausedCommunity.community).where(PausedCommunity.community == OutboxRow.community).exists()
    return (
        select(OutboxRow)
        .where(
            OutboxRow.status == Status.PENDING,
            OutboxRow.bulk.is_(bulk),
            OutboxRow.due_at <= now,
            OutboxRow.op != Op.REMIND,  # the core writes a plan out (bot/services/reminders.py); it is not sent
            or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
            ~held_back,
            ~paused,
        )
        .order_by(OutboxRow.due_at, OutboxRow.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


QUEUE = {bulk: _queue(bulk) for bulk in (False, True)}
