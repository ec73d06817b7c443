"""The editors' daily digest: each morning, while a submission has waited more than 48 hours for review, the
review channel is told which, and which messages could not be delivered (SPEC §4)."""

from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import queries
from bot.db.models import Essay, OutboxRow, Submission, Symposium
from bot.messages import MessageBuilder, Time
from bot.services.reminders import morning
from bot.uow import UnitOfWork
from bot.values import zone_info

WAITING_TOO_LONG = timedelta(hours=48)
MORNING_WINDOW = timedelta(hours=3)  # a digest goes out in the morning, or not that day


async def daily_digests(uow: UnitOfWork) -> None:
    """Each morning (from the symposium's reminder time, for three hours), while a submission has waited over 48
    hours, tell the editors: one a day at most, in the morning or not that day."""
    for sym in await uow.session.scalars(select(Symposium).where(Symposium.status == "open")):
        local = uow.now.astimezone(zone_info(sym.timezone))
        start = morning(sym, datetime.combine(local.date(), time(23, 59), local.tzinfo))
        key = f"digest:{sym.id}:{local:%Y%m%d}"
        if not start <= uow.now < start + MORNING_WINDOW:
            continue
        if await uow.session.scalar(select(OutboxRow.id).where(OutboxRow.dedupe_key == key)):
            continue
        waiting = await queries.waiting_for_review(uow.session, sym.id)
        overdue = [(n, at) for n, at in waiting if uow.now - at >= WAITING_TOO_LONG]
        if not overdue:
            continue
        b = MessageBuilder(f"Daily digest: {sym.title}", tag="reminder")
        b.line(f"{len(overdue)} submission{'s' if len(overdue) != 1 else ''} waited more than 48 hours:")
        for number, at in overdue:
            b.item(f"essay {number}, since ", Time(at, sym.timezone))
        for row in await queries.undelivered(uow.session, sym.id):
            b.item(f"undelivered {row.op} to {row.channel or row.user_id}: {row.last_error or 'failed'}")
        uow.post(sym, sym.review_channel, b.build(), dedupe_key=key)


async def next_digest_check(session: AsyncSession, now: datetime) -> datetime | None:
    """The next moment a digest could be due: a symposium's morning window, from when its oldest submission
    waiting for review has waited 48 hours (later that same morning, when that is inside the window)."""
    oldest = await session.execute(
        select(Symposium, func.min(Submission.submitted_at))
        .join(Essay, Essay.symposium_id == Symposium.id)
        .join(Submission, Submission.essay_id == Essay.id)
        .where(Symposium.status == "open", Essay.status == "pending")
        .group_by(Symposium.id)
    )
    moments = []
    for sym, since in oldest:
        ripe = since + WAITING_TOO_LONG
        local = max(now, ripe).astimezone(zone_info(sym.timezone))
        for day in (local.date(), local.date() + timedelta(days=1)):
            start = morning(sym, datetime.combine(day, time(23, 59), local.tzinfo))
            if now < (at := max(start, ripe)) < start + MORNING_WINDOW:
                moments.append(at)
                break
    return min(moments, default=None)
