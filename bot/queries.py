"""Named reads shared by the services, the delivery loop and the public page."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Essay, Intent, OutboxRow, Submission, Symposium
from bot.errors import NoActiveIntent, UnknownSymposium


async def symposium(session: AsyncSession, community: str, slug: str | None, *, open_only: bool = True) -> Symposium:
    """The symposium named by slug, else the community's most recently opened (open, unless open_only=False)."""
    query = select(Symposium).where(Symposium.community == community)
    if slug:
        found = await session.scalar(query.where(Symposium.slug == slug.strip().lower()))
        if found is None:
            raise UnknownSymposium(
                f"There is no symposium “{slug.strip()[:64]}” here. /symposium status lists the current one."
            )
        return found
    if open_only:
        query = query.where(Symposium.status == "open")
    found = await session.scalar(query.order_by(Symposium.opened_at.desc(), Symposium.id.desc()).limit(1))
    if found is None:
        raise UnknownSymposium("There is no open symposium here yet. An editor can start one with /symposium open.")
    return found


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


async def coming_up(session: AsyncSession, symposium_id: int) -> Sequence[tuple[Essay, Intent]]:
    rows = await session.execute(
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
    return [(e, i) for e, i in rows]


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
