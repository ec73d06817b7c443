"""Named reads shared by the services, the delivery loop and the public page."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import values
from bot.db.models import Essay, Intent, OutboxRow, PausedCommunity, Submission, Symposium
from bot.errors import NoActiveIntent, UnknownSymposium


async def symposium(session: AsyncSession, community: str, slug: str | None, *, open_only: bool = True) -> Symposium:
    """The symposium named by slug, else the community's most recently opened (open, unless open_only=False)."""
    query = select(Symposium).where(Symposium.community == community)
    if slug:
        found = await session.scalar(query.where(Symposium.slug == slug.strip().lower()))
        if found is None:
            raise UnknownSymposium(f"There is no symposium “{slug.strip()[:64]}” here. /symposium status lists yours.")
        return found
    newest = query.order_by(Symposium.opened_at.desc(), Symposium.id.desc()).limit(1)
    found = await session.scalar(newest.where(Symposium.status == "open") if open_only else newest)
    if found is not None:
        return found
    closed = await session.scalar(newest) if open_only else None
    if closed is not None and closed.closed_at is not None:
        raise UnknownSymposium(
            f"No call is open here: “{closed.title}” ({closed.slug}) closed on "
            f"{values.local_text(closed.closed_at, closed.timezone)}. An editor can bring it back with "
            "/symposium reopen, or start a new one with /symposium open."
        )
    raise UnknownSymposium("There is no open symposium here yet. An editor can start one with /symposium open.")


async def writers_symposium(session: AsyncSession, community: str, user_id: str, slug: str | None) -> Symposium:
    """The symposium a writer's command is about: the one named; else, of the open ones, the one they have an
    active intent in; else the only one open. With several open and none theirs, they are asked which."""
    if slug:
        return await symposium(session, community, slug)
    open_ones = list(
        await session.scalars(
            select(Symposium)
            .where(Symposium.community == community, Symposium.status == "open")
            .order_by(Symposium.opened_at.desc(), Symposium.id.desc())
        )
    )
    if len(open_ones) <= 1:
        return open_ones[0] if open_ones else await symposium(session, community, None)
    mine = set(
        await session.scalars(
            select(Intent.symposium_id).where(
                Intent.symposium_id.in_([s.id for s in open_ones]),
                Intent.user_id == user_id,
                Intent.status == "active",
            )
        )
    )
    if len(mine) == 1:
        return next(s for s in open_ones if s.id in mine)
    listed = "; ".join(f"“{s.title}” (symposium:{s.slug})" for s in open_ones[:5])
    raise UnknownSymposium(f"Several calls are open here: {listed}. Say which one with symposium:<slug>.")


async def intent_of(session: AsyncSession, symposium_id: int, user_id: str) -> Intent | None:
    return await session.scalar(select(Intent).where(Intent.symposium_id == symposium_id, Intent.user_id == user_id))


async def active_intent(session: AsyncSession, sym: Symposium, user_id: str) -> Intent:
    intent = await intent_of(session, sym.id, user_id)
    if intent is None or intent.status != "active":
        raise NoActiveIntent(
            f"You have no active Intent to Submit for “{sym.title}”. Declare one first: /intent title:<working title>"
        )
    return intent


async def essay_of(session: AsyncSession, intent_id: int) -> Essay | None:
    return await session.scalar(select(Essay).where(Essay.intent_id == intent_id))


async def essay_by_number(session: AsyncSession, sym: Symposium, number: int) -> tuple[Essay, Intent]:
    row = (
        await session.execute(
            select(Essay, Intent)
            .join(Intent, Essay.intent_id == Intent.id)
            .where(Essay.symposium_id == sym.id, Essay.number == number)
        )
    ).first()
    if row is None:
        raise UnknownSymposium(f"There is no essay {number} in “{sym.title}”. /symposium status lists them.")
    return row[0], row[1]


async def latest_submission(session: AsyncSession, essay_id: int) -> Submission | None:
    return await session.scalar(
        select(Submission).where(Submission.essay_id == essay_id).order_by(Submission.revision.desc()).limit(1)
    )


async def published(session: AsyncSession, symposium_id: int) -> Sequence[tuple[Essay, Intent]]:
    rows = await session.execute(
        select(Essay, Intent)
        .join(Intent, Essay.intent_id == Intent.id)
        .where(Essay.symposium_id == symposium_id, Essay.published_at.is_not(None))
        .order_by(Essay.published_at, Essay.number)
    )
    return [(e, i) for e, i in rows]


async def coming_up(
    session: AsyncSession, symposium_id: int, after: datetime | None = None
) -> Sequence[tuple[Essay, Intent]]:
    """Approved essays with a date, not yet announced; with `after`, only dates still ahead (a date that passed
    unannounced is overdue: the editors' business, not the public's)."""
    query = (
        select(Essay, Intent)
        .join(Intent, Essay.intent_id == Intent.id)
        .where(
            Essay.symposium_id == symposium_id,
            Essay.published_at.is_(None),
            Essay.scheduled_for.is_not(None),
            Essay.status == "approved",
            Intent.status == "active",
        )
        .order_by(Essay.scheduled_for, Essay.number)
    )
    if after is not None:
        query = query.where(Essay.scheduled_for > after)
    return [(e, i) for e, i in await session.execute(query)]


async def waiting_for_review(session: AsyncSession, symposium_id: int) -> list[tuple[int, datetime]]:
    """(essay number, when its latest revision came) for every essay waiting for a decision."""
    rows = await session.execute(
        select(Essay.number, func.max(Submission.submitted_at))
        .join(Submission, Submission.essay_id == Essay.id)
        .where(Essay.symposium_id == symposium_id, Essay.status == "pending")
        .group_by(Essay.number)
        .order_by(Essay.number)
    )
    return [(number, since) for number, since in rows]


async def undelivered(session: AsyncSession, symposium_id: int) -> list[OutboxRow]:
    """Messages given up on, listed until they are delivered."""
    return list(
        await session.scalars(
            select(OutboxRow)
            .where(OutboxRow.symposium_id == symposium_id, OutboxRow.status == "failed")
            .order_by(OutboxRow.id)
        )
    )


async def taken_days(session: AsyncSession, sym: Symposium) -> set[date]:
    """The symposium's local days that have an approved essay arranged or announced."""
    rows = await session.execute(
        select(Essay.scheduled_for, Essay.published_at).where(Essay.symposium_id == sym.id, Essay.status == "approved")
    )
    return {values.local_day(at, sym.timezone) for pair in rows if (at := pair[0] or pair[1]) is not None}


def window_weekdays(sym: Symposium, first: date) -> list[date]:
    """Weekdays of the publication window, from `first` on."""
    start = max(first, values.local_day(sym.publish_from, sym.timezone))
    end = values.local_day(sym.publish_to, sym.timezone)
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    return [day for day in days if day.weekday() < 5]


async def other_days(session: AsyncSession, sym: Symposium, essay: Essay, now: datetime, n: int = 2) -> list[date]:
    """Free weekdays of the window to offer an author instead of their date, nearest to it first, from tomorrow."""
    if essay.scheduled_for is None:
        return []
    day = values.local_day(essay.scheduled_for, sym.timezone)
    taken = await taken_days(session, sym)
    free = [
        d
        for d in window_weekdays(sym, values.local_day(now, sym.timezone) + timedelta(days=1))
        if d not in taken and d != day
    ]
    return sorted(free, key=lambda d: (abs((d - day).days), d))[:n]


@dataclass(frozen=True)
class CommunityHealth:
    """One community as operators see it (`symposium-bot communities`)."""

    community: str
    symposia: int
    open_symposia: int
    newest_title: str
    last_delivery: datetime | None
    """When a message of this community was last delivered."""
    waiting: int
    """Messages due now or earlier and not yet delivered (delivery is behind when this stays above zero)."""
    failed: int
    """Messages given up on (listed to the editors until delivered)."""
    paused: str | None = None
    """Why its deliveries wait (the app was uninstalled, its tokens revoked), when they do."""


async def communities(session: AsyncSession, now: datetime) -> list[CommunityHealth]:
    """Every community with a symposium, in id order: its symposia and how its deliveries stand."""
    open_count = func.sum(case((Symposium.status == "open", 1), else_=0))
    symposia = {
        row.community: row
        for row in await session.execute(
            select(Symposium.community, func.count().label("total"), open_count.label("open")).group_by(
                Symposium.community
            )
        )
    }
    newest = select(func.max(Symposium.id)).group_by(Symposium.community).scalar_subquery()
    titles = dict(
        (await session.execute(select(Symposium.community, Symposium.title).where(Symposium.id.in_(newest)))).all()
    )
    pending = and_(OutboxRow.status == "pending", OutboxRow.due_at <= now)
    outbox = {
        row.community: row
        for row in await session.execute(
            select(
                OutboxRow.community,
                func.max(OutboxRow.sent_at).label("last"),
                func.sum(case((pending, 1), else_=0)).label("waiting"),
                func.sum(case((OutboxRow.status == "failed", 1), else_=0)).label("failed"),
            )
            .where(OutboxRow.community.is_not(None))
            .group_by(OutboxRow.community)
        )
    }
    paused = dict((await session.execute(select(PausedCommunity.community, PausedCommunity.reason))).all())
    found = []
    for community in sorted(symposia):
        sym, out = symposia[community], outbox.get(community)
        found.append(
            CommunityHealth(
                community=community,
                symposia=int(sym.total),
                open_symposia=int(sym.open or 0),
                newest_title=titles.get(community, ""),
                last_delivery=out.last if out is not None else None,
                waiting=int(out.waiting or 0) if out is not None else 0,
                failed=int(out.failed or 0) if out is not None else 0,
                paused=paused.get(community),
            )
        )
    return found
