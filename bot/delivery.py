"""The outbox dispatcher: claims due rows, delivers them through the platform, records what happened.

Rows are claimed by setting a lease (`claimed_until`) in a short transaction, with `FOR UPDATE SKIP LOCKED` on
PostgreSQL, so any number of processes can deliver and each row goes out once; a process killed mid-delivery
leaves a lease that expires, and the row is tried again. Keyed posts are idempotent: once a key has a posted
message, the post is not repeated.
"""

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.clock import Clock
from bot.compose import notice
from bot.db.models import OutboxRow, PostedMessage, Symposium
from bot.index import index_pages, public_essays, upcoming_essays
from bot.messages import ChannelRef, Mention, Message, dump_message, load_message
from bot.ports import MessageGone, Platform, RetryLater, Undeliverable
from bot.settings import CoreSettings

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
BATCH = 100
WAIT_FOR_POST = timedelta(seconds=5)


def backoff(attempts: int) -> timedelta:
    """Seconds before the next try: 10 · 2^(attempts − 1), capped at one hour (10 s, 20 s, 40 s, … 3600 s)."""
    return timedelta(seconds=min(3600, 10 * 2 ** max(0, attempts - 1)))


class Defer(Exception):
    """The row depends on a post not yet delivered; try again shortly without counting an attempt."""


@dataclass
class Dispatcher:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    platform: Platform
    settings: CoreSettings

    async def deliver_due(self) -> int:
        """Deliver every row due now, oldest first; returns how many were sent."""
        sent, after = 0, 0
        while True:
            rows = await self._claim(after)
            if not rows:
                return sent
            blocked: set[str] = set()
            for row in rows:
                after = row.id
                destination = row.channel or row.user_id or row.key or ""
                if destination in blocked:
                    await self._release(row)
                    continue
                if await self._deliver(row):
                    sent += 1
                else:
                    blocked.add(destination)

    async def _claim(self, after: int) -> list[OutboxRow]:
        """Lease the next due rows; a row waits while an older one to the same place is being retried (order)."""
        now = self.clock.now()
        earlier = aliased(OutboxRow)
        retrying_before = (
            select(earlier.id)
            .where(
                earlier.status == "pending",
                earlier.attempts > 0,
                earlier.id < OutboxRow.id,
                func.coalesce(earlier.channel, earlier.user_id, earlier.key)
                == func.coalesce(OutboxRow.channel, OutboxRow.user_id, OutboxRow.key),
            )
            .exists()
        )
        async with self.sessions() as session, session.begin():
            rows = list(
                await session.scalars(
                    select(OutboxRow)
                    .where(
                        OutboxRow.status == "pending",
                        OutboxRow.due_at <= now,
                        OutboxRow.id > after,
                        or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
                        ~retrying_before,
                    )
                    .order_by(OutboxRow.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            for row in rows:
                row.claimed_until = now + LEASE
        return rows

    async def _release(self, row: OutboxRow) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(update(OutboxRow).where(OutboxRow.id == row.id).values(claimed_until=None))

    async def _deliver(self, row: OutboxRow) -> bool:
        """Deliver one row; False when its destination should wait (so later rows keep their order)."""
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            row = await session.get(OutboxRow, row.id) or row
            if row.status != "pending":
                return True
            if reason := await self._stale(session, row, now):
                log.info("dropped reminder %s: %s", row.dedupe_key, reason)
                row.status, row.last_error, row.claimed_until = "dropped", reason, None
                return True
            try:
                await self._send(session, row)
            except Defer:
                row.due_at, row.claimed_until = now + WAIT_FOR_POST, None
                return False
            except RetryLater as exc:
                return await self._retry(session, row, str(exc), exc.after_seconds, now)
            except Undeliverable as exc:
                await self._fail(session, row, str(exc), exc.hint)
                return True
            except Exception as exc:  # a platform library's own error: transient until proven otherwise
                log.exception("delivering outbox row %s failed", row.id)
                return await self._retry(session, row, f"{type(exc).__name__}: {exc}", None, now)
            row.status, row.sent_at, row.claimed_until, row.attempts = "sent", self.clock.now(), None, row.attempts + 1
            return True

    async def _stale(self, session: AsyncSession, row: OutboxRow, now: datetime) -> str | None:
        """Why a reminder should not go out any more: its deadline passed, or a later one for it is due too."""
        if row.deadline is not None and row.deadline <= now:
            return "its deadline passed before it could be sent"
        if row.group is not None:
            later = await session.scalar(
                select(OutboxRow.id)
                .where(
                    OutboxRow.group == row.group,
                    OutboxRow.status == "pending",
                    OutboxRow.due_at <= now,
                    OutboxRow.due_at > row.due_at,
                )
                .limit(1)
            )
            if later is not None:
                return "a later reminder for the same deadline replaces it"
        return None

    async def _retry(
        self, session: AsyncSession, row: OutboxRow, error: str, after: float | None, now: datetime
    ) -> bool:
        row.attempts += 1
        row.last_error, row.claimed_until = error[:500], None
        if row.attempts >= self.settings.delivery_max_attempts:
            await self._fail(session, row, error, "")
            return True
        row.due_at = now + (timedelta(seconds=after) if after is not None else backoff(row.attempts))
        return False

    async def _fail(self, session: AsyncSession, row: OutboxRow, error: str, hint: str) -> None:
        """Give up on a row, and say so: a notice in the review channel, or to the opener when that is what fails."""
        row.status, row.last_error, row.claimed_until = "failed", error[:500], None
        log.warning("undeliverable outbox row %s (%s): %s", row.id, row.op, error)
        sym = await session.get(Symposium, row.symposium_id) if row.symposium_id else None
        if sym is None or row.payload.get("failure"):
            return
        what = {"dm": "A direct message", "index": "The Essay Index", "edit": "An edit", "thread": "Running commentary"}
        where = Mention(row.user_id, row.user_id) if row.user_id else ChannelRef(row.channel or sym.announce_channel)
        message = notice(what.get(row.op, "A message"), where, error, hint)
        review_failed = row.channel == sym.review_channel or (row.op == "edit" and (row.key or "").startswith("card:"))
        session.add(
            OutboxRow(
                symposium_id=sym.id,
                op="dm" if review_failed else "post",
                user_id=sym.opened_by if review_failed else None,
                channel=None if review_failed else sym.review_channel,
                payload={"message": dump_message(message), "failure": True},
                due_at=self.clock.now(),
                status="pending",
                attempts=0,
                created_at=self.clock.now(),
            )
        )

    async def _send(self, session: AsyncSession, row: OutboxRow) -> None:
        message = load_message(row.payload["message"]) if "message" in row.payload else None
        match row.op:
            case "dm":
                assert row.user_id
                assert message
                await self.platform.direct_message(row.user_id, message)
            case "post":
                assert row.channel
                assert message
                await self._post(
                    session,
                    row.key,
                    row.channel,
                    message,
                    tuple(row.payload.get("reactions", ())),
                    bool(row.payload.get("pin")),
                )
            case "edit":
                assert row.key
                assert message
                await self._edit(session, row.key, message)
            case "thread":
                assert row.key
                assert message
                posted = await self._posted(session, row.key)
                await self.platform.reply_in_thread(posted.channel, posted.ref, message)
            case "index":
                assert row.symposium_id
                await self._index(session, row.symposium_id)

    async def _posted(self, session: AsyncSession, key: str) -> PostedMessage:
        posted = await session.scalar(select(PostedMessage).where(PostedMessage.key == key))
        if posted is not None:
            return posted
        waiting = await session.scalar(
            select(OutboxRow.id)
            .where(OutboxRow.key == key, OutboxRow.op == "post", OutboxRow.status == "pending")
            .limit(1)
        )
        if waiting is not None:
            raise Defer
        raise Undeliverable(f"the message it refers to ({key}) was never posted")

    async def _post(
        self,
        session: AsyncSession,
        key: str | None,
        channel: str,
        message: Message,
        reactions: tuple[str, ...],
        pin: bool,
    ) -> PostedMessage | None:
        posted = await session.scalar(select(PostedMessage).where(PostedMessage.key == key)) if key else None
        if posted is None:
            ref = await self.platform.post(channel, message)
            if key is None:
                return None
            posted = PostedMessage(key=key, channel=channel, ref=ref, pinned=False, posted_at=self.clock.now())
            session.add(posted)
            await session.flush()
        if reactions:
            await self.platform.add_reactions(channel, posted.ref, reactions)
        if pin and not posted.pinned:
            await self.platform.pin(channel, posted.ref)
            posted.pinned = True
        return posted

    async def _edit(self, session: AsyncSession, key: str, message: Message) -> None:
        """Edit in place; when the platform refuses (deleted, too old), post anew, pin it and unpin the old one."""
        posted = await self._posted(session, key)
        try:
            await self.platform.edit(posted.channel, posted.ref, message)
        except MessageGone:
            old_ref, was_pinned = posted.ref, posted.pinned
            posted.ref = await self.platform.post(posted.channel, message)
            posted.pinned, posted.posted_at = False, self.clock.now()
            if was_pinned:
                await self.platform.pin(posted.channel, posted.ref)
                posted.pinned = True
                with contextlib.suppress(MessageGone, Undeliverable):
                    await self.platform.unpin(posted.channel, old_ref)

    async def _index(self, session: AsyncSession, symposium_id: int) -> None:
        sym = await session.get(Symposium, symposium_id)
        assert sym is not None
        pages = index_pages(
            sym,
            await public_essays(session, sym),
            await upcoming_essays(session, sym),
            self.settings.public_base_url,
            self.platform.index_page_chars,
        )
        for number, page in enumerate(pages):
            key = f"index:{sym.id}:{number}"
            if await session.scalar(select(PostedMessage.id).where(PostedMessage.key == key)) is None:
                await self._post(session, key, sym.announce_channel, page, (), pin=True)
            else:
                await self._edit(session, key, page)
