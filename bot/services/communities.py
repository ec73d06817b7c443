"""Pausing a community: when the app leaves it (uninstalled, its tokens revoked), nothing more is sent there.

Its symposia stay as they are and their outbox rows stay pending: delivery skips them (bot/delivery.py) rather
than failing or dropping them, and they go out if the community is resumed (the app installed again).
"""

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import PausedCommunity


async def pause(session: AsyncSession, community: str, reason: str, now: datetime) -> bool:
    """Pause `community`; False when it was paused already (the first reason is kept)."""
    if await session.get(PausedCommunity, community) is not None:
        return False
    session.add(PausedCommunity(community=community, reason=reason[:200], paused_at=now))
    return True


async def resume(session: AsyncSession, community: str) -> bool:
    """Resume `community`; False when it was not paused."""
    result = await session.execute(delete(PausedCommunity).where(PausedCommunity.community == community))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def paused(session: AsyncSession) -> dict[str, str]:
    """Every paused community, with why."""
    rows = await session.execute(select(PausedCommunity.community, PausedCommunity.reason))
    return {community: reason for community, reason in rows}


async def is_paused(session: AsyncSession, community: str) -> bool:
    return await session.get(PausedCommunity, community) is not None
