"""What the public pages may show: public views of essays, never an account, read as rarely as freshness allows.

Every request waits for a *snapshot* begun after it arrived: the symposia's rows, one cheap read. Concurrent
requests share one snapshot, so a busy page costs one small read per batch, and a reader still sees every change
committed before the request came. A symposium's full view (its essays and commentary) is read again only when
its row changes: the core bumps `public_version` with every change the public sees. Each view carries a
fingerprint of everything its pages are rendered from, so a rendered page is reused until that changes.
"""

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.compose import PublicEssay
from bot.db.models import Commentary, Essay, Symposium
from bot.index import public_essays, upcoming_essays

Stamp = tuple[object, ...]


@dataclass(frozen=True)
class PublicComment:
    """A piece of running commentary: its essay's number, text and time; not the editor who wrote it."""

    id: int
    essay_number: int
    text: str
    created_at: datetime


@dataclass(frozen=True)
class SymposiumView:
    sym: Symposium
    published: tuple[PublicEssay, ...]
    coming: tuple[PublicEssay, ...]
    comments: tuple[PublicComment, ...]
    fingerprint: str

    @cached_property
    def _by_essay(self) -> dict[int, list[PublicComment]]:
        grouped: dict[int, list[PublicComment]] = {}
        for comment in self.comments:
            grouped.setdefault(comment.essay_number, []).append(comment)
        return grouped

    def comments_on(self, number: int) -> list[PublicComment]:
        """Running commentary on one essay, newest first."""
        return self._by_essay.get(number, [])


@dataclass(frozen=True)
class Snapshot:
    symposia: tuple[Symposium, ...]
    stamps: dict[str, Stamp]
    fingerprint: str


def _row(sym: Symposium) -> Stamp:
    return tuple(getattr(sym, column.key) for column in Symposium.__table__.columns)


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


async def all_symposia(session: AsyncSession) -> Sequence[Symposium]:
    """Every symposium this bot serves, open ones first, the newest first."""
    rows = await session.scalars(
        select(Symposium).order_by(Symposium.status.desc(), Symposium.opened_at.desc(), Symposium.id.desc())
    )
    return list(rows)


async def symposium_by_slug(session: AsyncSession, slug: str) -> Symposium | None:
    return await session.scalar(select(Symposium).where(Symposium.slug == slug))


async def running_commentary(session: AsyncSession, symposium_id: int) -> list[PublicComment]:
    """Running commentary on published essays, newest first."""
    rows = await session.execute(
        select(Commentary.id, Essay.number, Commentary.text, Commentary.created_at)
        .join(Essay, Commentary.essay_id == Essay.id)
        .where(Essay.symposium_id == symposium_id, Essay.published_at.is_not(None))
        .order_by(Commentary.created_at.desc(), Commentary.id.desc())
    )
    return [PublicComment(*row) for row in rows]


async def read_snapshot(session: AsyncSession) -> Snapshot:
    symposia = tuple(await all_symposia(session))
    stamps = {s.slug: _row(s) for s in symposia}
    return Snapshot(symposia, stamps, _fingerprint(*stamps.values()))


async def read_view(session: AsyncSession, slug: str) -> tuple[Stamp, SymposiumView] | None:
    """One symposium's public view and its stamp, read in one transaction."""
    sym = await symposium_by_slug(session, slug)
    if sym is None:
        return None
    published = tuple(await public_essays(session, sym))
    coming = tuple(await upcoming_essays(session, sym))
    comments = tuple(_without_introductions(await running_commentary(session, sym.id), published))
    view = SymposiumView(sym, published, coming, comments, _fingerprint(_row(sym), published, coming, comments))
    return _row(sym), view


def _without_introductions(comments: list[PublicComment], published: Sequence[PublicEssay]) -> list[PublicComment]:
    """Drop a first comment that became its essay's introduction (commenting on an essay announced without
    commentary sets both), so the page does not say it twice."""
    intro = {e.number: e.commentary for e in published}
    first = {c.essay_number: c for c in reversed(comments)}
    return [c for c in comments if not (first[c.essay_number] is c and c.text == intro.get(c.essay_number))]


class PublicData:
    """The snapshots and views the pages are rendered from (see the module's docstring)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._lock = asyncio.Lock()
        self._started = self._finished = 0
        self._snapshot: Snapshot | None = None
        self._views: dict[str, tuple[Stamp, SymposiumView]] = {}

    async def snapshot(self) -> Snapshot:
        """A snapshot begun after this call: joins the next one when one is already under way."""
        arrival = self._started
        async with self._lock:
            if self._snapshot is not None and self._finished > arrival:
                return self._snapshot
            self._started += 1
            number = self._started
            async with self.sessions() as session:
                self._snapshot = await read_snapshot(session)
            self._finished = number
            return self._snapshot

    async def symposium(self, slug: str) -> SymposiumView | None:
        stamp = (await self.snapshot()).stamps.get(slug)
        if stamp is None:
            self._views.pop(slug, None)
            return None
        known = self._views.get(slug)
        if known is not None and known[0] == stamp:
            return known[1]
        async with self.sessions() as session:
            read = await read_view(session, slug)
        if read is None:
            return None
        self._views[slug] = read
        return read[1]
