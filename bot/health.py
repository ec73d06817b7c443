"""Heartbeats: each chat process writes its platform connection state to the database, so that `/healthz` on any
web server (in the same process or another) reports it; a row not refreshed for `STALE_AFTER` is stale."""

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.engine import dialect_insert
from bot.db.models import Heartbeat

BEAT_EVERY = timedelta(seconds=15)
STALE_AFTER = 4 * BEAT_EVERY
FORGET_AFTER = timedelta(days=1)  # a process gone this long (restarted, scaled down) is no longer listed


def this_process() -> str:
    """host:pid, the key of this process's heartbeat."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Beat:
    process: str
    platform: str
    state: str
    detail: str
    started_at: datetime
    seen_at: datetime

    def stale(self, now: datetime) -> bool:
        return now - self.seen_at > STALE_AFTER


async def beat(session: AsyncSession, beat: Beat) -> None:
    """Record this process's state now (in the caller's transaction), and forget processes long gone."""
    values = {
        "process": beat.process, "platform": beat.platform, "state": beat.state, "detail": beat.detail[:200],
        "started_at": beat.started_at, "seen_at": beat.seen_at,
    }  # fmt: skip
    changed = {k: values[k] for k in ("platform", "state", "detail", "started_at", "seen_at")}
    insert = dialect_insert(session, Heartbeat).values(values)
    await session.execute(insert.on_conflict_do_update(index_elements=["process"], set_=changed))
    await session.execute(delete(Heartbeat).where(Heartbeat.seen_at < beat.seen_at - FORGET_AFTER))


async def beats(session: AsyncSession) -> list[Beat]:
    """Every process's last heartbeat, by platform then process."""
    rows = await session.scalars(select(Heartbeat).order_by(Heartbeat.platform, Heartbeat.process))
    return [Beat(r.process, r.platform, r.state, r.detail, r.started_at, r.seen_at) for r in rows]
