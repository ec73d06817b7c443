"""The outbox dispatcher: claim a row, send it with no transaction open, record what happened.

Claim, send, record (as procrastinate's worker does): a row is claimed in one short transaction (a lease and a
token; `FOR UPDATE SKIP LOCKED` on PostgreSQL, so any number of processes deliver and each row goes out once),
what it needs is read in a read-only session, the platform is called with no transaction open (so no database
lock waits on the network), and the outcome is written in another short transaction. A row whose lease ran out
without an outcome (its process died mid-send) is *in doubt*: the platform is asked to look for it before
sending again (bot/ports.py `Attempt`).

Rows to one destination go out in the order they were written: a row is claimed only when no earlier row to the
same destination is due, being sent or being retried. Fan-out rows (`bulk`) come after the rest and never hold
every worker, so a review card or a reply is not stuck behind a thousand direct messages.

The dispatcher knows delivery only: what a composed row (the Essay Index, a reminder) says, and who is told
when a row cannot be delivered, is the core's `Composer`.
"""

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db.models import OutboxRow, PausedCommunity, PostedMessage
from bot.outbox import QUEUE, Op, Status, write_rows
from bot.ports import Attempt, Platform, RateLimited, RetryLater, Undeliverable
from bot.sending import Outcome, Posted, Sender
from bot.sends import Composer, Send
from bot.settings import CoreSettings

log = logging.getLogger(__name__)

WAIT_FOR_POST = timedelta(seconds=5)


def backoff(attempts: int) -> timedelta:
    """Seconds before the next try: 10 · 2^(attempts − 1), capped at one hour (10 s, 20 s, 40 s, … 3600 s)."""
    return timedelta(seconds=min(3600, 10 * 2 ** max(0, attempts - 1)))


class _Again(Exception):
    """A claim picked a row of a community that became full meanwhile."""


class Defer(Exception):
    """The row refers to a post not yet delivered; try again shortly without counting an attempt."""


@dataclass
class Job:
    """A claimed row: a detached copy, the claim's token and whether an earlier attempt may have been sent."""

    row: OutboxRow
    claim: str
    in_doubt: bool = False
    since: datetime | None = None


Prepared = Outcome | tuple[list[Send] | str, dict[str, Posted]]


class Dispatcher:
    """Delivers the outbox.

    Args:
        reads: read-only sessions (on SQLite they never wait for the write lock).
        workers: rows delivered at once by `deliver_due` (1 keeps the console's transcript in order).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reads: async_sessionmaker[AsyncSession],
        clock: Clock,
        platform: Platform,
        settings: CoreSettings,
        composer: Composer,
        *,
        workers: int | None = None,
        commands_busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.sessions, self.reads, self.clock, self.platform = sessions, reads, clock, platform
        self.sender = Sender(platform, clock)
        self.commands_busy = commands_busy
        self.settings, self.composer = settings, composer
        self.workers = workers or settings.delivery_workers
        self.lease = timedelta(seconds=settings.delivery_lease_seconds)
        self._bulk_busy = self._busy = self._changes = 0
        self.per_community = settings.delivery_workers_per_community
        self.fan_out_workers = settings.delivery_fan_out_workers
        self._community_busy: Counter[str] = Counter()
        self._changed = asyncio.Event()
        self._stopping = False

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Claim nothing more (the process is stopping); rows under way finish."""
        self._stopping = True
        self._changed.set()

    async def deliver_due(self) -> int:
        """Deliver every row due now, and what falls due while the round lasts; returns how many were sent.

        A worker that finds nothing to claim waits while others are still sending (a row they finish may free the
        next one to its destination, and `kick` says new rows were written); the round ends when every worker is
        idle, so a review card written during a long fan-out is taken at once by an idle worker."""
        self._busy, self._changes = 0, 0
        if not await self._anything_due():
            return 0
        counts = await asyncio.gather(*(self._work() for _ in range(self.workers)))
        return sum(counts)

    async def _anything_due(self) -> bool:
        """Whether a row may be claimable now, read without taking a lock: an idle tick then costs one read, not a
        write transaction per worker (on SQLite each takes the database's write lock)."""
        now = self.clock.now()
        try:
            async with self.reads() as session:
                due = await session.scalar(
                    select(OutboxRow.id)
                    .where(
                        OutboxRow.status == Status.PENDING,
                        OutboxRow.due_at <= now,
                        OutboxRow.op != Op.REMIND,
                        or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
                    )
                    .limit(1)
                )
        except Exception as exc:  # the database is away: the next round tries again
            log.warning("looking for due outbox rows failed (%s: %s)", type(exc).__name__, exc)
            return False
        return due is not None

    async def next_due(self) -> datetime | None:
        """When the earliest row still waiting falls due (one held back by a 429's Retry-After, an edit waiting for
        its post); None when none waits or the database is away."""
        try:
            async with self.reads() as session:
                return await session.scalar(
                    select(func.min(OutboxRow.due_at)).where(
                        OutboxRow.status == Status.PENDING,
                        OutboxRow.op != Op.REMIND,
                        OutboxRow.due_at > self.clock.now(),
                    )
                )
        except Exception:  # the next tick looks again
            return None

    def kick(self) -> None:
        """New rows are due: idle workers of the round under way look again."""
        self._changes += 1
        self._changed.set()

    async def _work(self) -> int:
        sent = 0
        while not self._stopping:
            seen = self._changes
            # Commands first: while one is being handled, a fan-out goes on with one sender only, so a burst the
            # platform allows does not keep writers waiting for the database (or, in one process, for the loop).
            fan_out = 1 if self.commands_busy() else min(self.fan_out_workers, max(1, self.workers - 1))
            bulk_ok = self._bulk_busy < fan_out
            try:
                job = await self._claim(bulk_ok)
            except Exception as exc:  # the database is away: the next round tries again
                log.warning("claiming outbox rows failed (%s: %s)", type(exc).__name__, exc)
                return sent
            if job is None:
                if not self._busy and self._changes == seen:
                    self._changed.set()  # the round is over: wake the other idle workers so they see it
                    return sent
                while self._busy and self._changes == seen and not self._stopping:
                    self._changed.clear()
                    await self._changed.wait()
                continue
            self._busy += 1
            community = job.row.community or ""  # counted as busy by `_claim`
            if job.row.bulk:
                self._bulk_busy += 1
            try:
                sent += await self._deliver(job)
            except Exception:  # its outcome could not be recorded: the claim runs out and the row is in doubt
                log.exception("outbox row %s: the outcome could not be recorded", job.row.id)
                return sent
            finally:
                self._busy -= 1
                self._community_busy[community] -= 1
                if job.row.bulk:
                    self._bulk_busy -= 1
                self.kick()
        return sent

    async def deliver_claimed(self, row_id: int, claim: str) -> bool:
        """Deliver a row this process claimed as it wrote it (a reply); True when it went out."""
        async with self.reads() as session:
            row = await session.get(OutboxRow, row_id)
            if row is None or row.claim != claim or row.status != Status.PENDING:
                return False
            if row.community and await session.get(PausedCommunity, row.community) is not None:
                return False  # left to the queue, which skips it while its community is paused
            job = Job(row, claim)
            prepared = await self._prepare(job, session)  # one read transaction, closed before the send
        return bool(await self._deliver(job, prepared))

    async def _claim(self, bulk_ok: bool) -> Job | None:
        """Lease the longest-due row that no earlier row to its destination holds back: the rest of the outbox
        first, then fan-out rows when this worker may take one. Each pass walks the pending rows of its kind in
        the order they fell due (a partial index), so a claim reads a handful of rows, not the whole queue.

        With `delivery_workers_per_community`, a community with that many rows under way here is passed over, so
        one slow community (a platform making it wait) never holds every worker."""
        while True:
            try:
                return await self._claim_once(bulk_ok)
            except _Again:  # another worker took a row of the same community meanwhile: look again, passing it over
                continue

    async def _claim_once(self, bulk_ok: bool) -> Job | None:
        now = self.clock.now()
        counted: str | None = None
        try:
            async with self.sessions() as session, session.begin():
                for bulk in (False, True) if bulk_ok else (False,):
                    query = QUEUE[bulk]
                    if full := [c for c, n in self._community_busy.items() if self._full(n)]:
                        query = query.where(or_(OutboxRow.community.is_(None), OutboxRow.community.not_in(full)))
                    row = await session.scalar(query, {"now": now})
                    if row is not None:
                        break
                else:
                    return None
                community = row.community or ""
                if self._full(self._community_busy[community]):
                    raise _Again
                self._community_busy[community] += 1  # until `_work` is done with the row
                counted = community
                job = Job(row, uuid.uuid4().hex)
                if row.claimed_until is not None:  # a claim ran out with no outcome: its sender may have sent it
                    job.in_doubt, job.since = True, row.claimed_until - self.lease
                await session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == row.id)
                    .values(claimed_until=now + self.lease, claim=job.claim)
                    .execution_options(synchronize_session=False)
                )
                session.expunge(row)
        except BaseException:
            if counted is not None:
                self._community_busy[counted] -= 1
            raise
        return job

    def _full(self, busy: int) -> bool:
        """Whether a community with `busy` rows under way here may take no more (delivery_workers_per_community)."""
        return self.per_community is not None and busy >= self.per_community

    async def _deliver(self, job: Job, prepared: Prepared | None = None) -> int:
        """Prepare (read), send (no transaction), record (write). Returns 1 when the row went out."""
        if prepared is None:
            prepared = await self._prepare(job)
        if isinstance(prepared, Outcome):
            outcome = prepared
        else:
            sends, posted = prepared
            attempt = Attempt(f"symposium-{job.row.id}", job.in_doubt, job.since)
            outcome = (
                Outcome(dropped=sends) if isinstance(sends, str) else await self.sender.send(attempt, sends, posted)
            )
        await self._record(job, outcome)
        return 1 if outcome.error is None and outcome.dropped is None else 0

    async def _prepare(self, job: Job, session: AsyncSession | None = None) -> Prepared:
        """What sending the row takes (its sends, or why it is dropped, and what they edit), read in `session` or
        in a read transaction of its own; an Outcome when it cannot go now."""
        try:
            if session is None:
                async with self.reads() as own:
                    return await self._read_sends(own, job.row)
            return await self._read_sends(session, job.row)
        except Defer as exc:
            return Outcome(error=exc)
        except Exception as exc:
            log.exception("preparing outbox row %s failed", job.row.id)
            return Outcome(error=RetryLater(f"preparing it failed ({type(exc).__name__})"))

    async def _read_sends(self, session: AsyncSession, row: OutboxRow) -> tuple[list[Send] | str, dict[str, Posted]]:
        sends = await self.composer.sends(session, row, self.clock.now())
        return sends, (await self._known(session, sends) if isinstance(sends, list) else {})

    async def _known(self, session: AsyncSession, sends: list[Send]) -> dict[str, Posted]:
        """What was posted already under the keys these sends name; Defer when one they edit is yet to be posted."""
        keys = [s.key for s in sends if s.key]
        if not keys:
            return {}
        found = await session.scalars(select(PostedMessage).where(PostedMessage.key.in_(keys)))
        known = {p.key: Posted(p.channel, p.ref, p.pinned) for p in found}
        for send in sends:
            missing = send.op in (Op.EDIT, Op.THREAD) and send.key not in known
            if missing and await self._post_waiting(session, send.key or ""):
                raise Defer
        return known

    @staticmethod
    async def _post_waiting(session: AsyncSession, key: str) -> bool:
        waiting = await session.scalar(
            select(OutboxRow.id)
            .where(OutboxRow.key == key, OutboxRow.op == Op.POST, OutboxRow.status == Status.PENDING)
            .limit(1)
        )
        return waiting is not None

    async def _record(self, job: Job, outcome: Outcome) -> None:
        row, now, error = job.row, self.clock.now(), outcome.error
        values: dict[str, Any] = {"claimed_until": None, "claim": None}
        notices: list[dict[str, Any]] = []
        async with self.sessions() as session, session.begin():
            await self._remember_posts(session, outcome.posted, now)
            if outcome.dropped is not None:
                log.info("dropped outbox row %s (%s): %s", row.id, row.dedupe_key, outcome.dropped)
                values |= {"status": Status.DROPPED, "last_error": outcome.dropped}
            elif error is None:
                values |= {"status": Status.SENT, "sent_at": now, "attempts": row.attempts + 1}
            elif isinstance(error, Defer):
                values |= {"due_at": now + WAIT_FOR_POST, "last_error": "waiting for the message it refers to"}
            elif isinstance(error, Undeliverable):
                values |= self._given_up(row, str(error))
                notices = await self.composer.undeliverable(session, row, str(error), error.hint, now)
            else:
                if not isinstance(error, RetryLater):
                    log.error("delivering outbox row %s failed", row.id, exc_info=error)
                reason = str(error) if isinstance(error, RetryLater) else f"{type(error).__name__}: {error}"
                attempts = row.attempts + (0 if isinstance(error, RateLimited) else 1)
                if attempts >= self.settings.delivery_max_attempts:
                    values |= self._given_up(row, reason) | {"attempts": attempts}
                    notices = await self.composer.undeliverable(session, row, reason, "", now)
                else:
                    after = error.after_seconds if isinstance(error, RetryLater) else None
                    wait = timedelta(seconds=after) if after is not None else backoff(attempts)
                    values |= {"attempts": attempts, "due_at": now + wait, "last_error": reason[:500]}
            result = await session.execute(
                update(OutboxRow).where(OutboxRow.id == row.id, OutboxRow.claim == job.claim).values(**values)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                log.warning("outbox row %s was claimed by another process before its outcome was recorded", row.id)
            await write_rows(session, notices)

    @staticmethod
    def _given_up(row: OutboxRow, error: str) -> dict[str, Any]:
        log.warning("undeliverable outbox row %s (%s): %s", row.id, row.op, error)
        return {"status": Status.FAILED, "last_error": error[:500]}

    @staticmethod
    async def _remember_posts(session: AsyncSession, posted: dict[str, Posted], now: datetime) -> None:
        for key, post in posted.items():
            known = await session.scalar(select(PostedMessage).where(PostedMessage.key == key))
            if known is None:
                session.add(
                    PostedMessage(key=key, channel=post.channel, ref=post.ref, pinned=post.pinned, posted_at=now)
                )
            elif (known.ref, known.pinned) != (post.ref, post.pinned):
                if known.ref != post.ref:
                    known.posted_at = now
                known.ref, known.pinned = post.ref, post.pinned
