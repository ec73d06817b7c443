"""What the public pages may show: public views of essays, never an account, read by a refresher, never by a
request.

`PublicData.read()` reads the symposia's rows in one short read-only transaction and keeps them as a
`Snapshot`. A symposium's full view (its essays and commentary) is read again, in the same transaction, only when
its row changed (the core bumps `public_version` with every change the public sees, so every such change changes
the row) or when its publication began by the clock (`publish_from` passed). Requests only look up what the last
refresh published (`PublicData.views`), so they cost no database read at all; how often refreshes run, and so
how stale a page can be, is the web app's business (adapters/web/app.py: every WEB_REFRESH_SECONDS).

Each view carries a fingerprint of everything its pages are rendered from, so a rendered page is reused until
that changes.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
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
    begun: bool
    """Publication has begun: an essay is out, or `publish_from` has passed. The page then leads with the index."""
    key: tuple[Stamp, bool]
    """What the view was read for: the symposium's row, and whether `publish_from` had passed."""
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


EMPTY = Snapshot((), {}, "")


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


async def read_view(session: AsyncSession, sym: Symposium, key: tuple[Stamp, bool], now: datetime) -> SymposiumView:
    """One symposium's public view, read in the caller's transaction."""
    published = tuple(await public_essays(session, sym))
    coming = tuple(await upcoming_essays(session, sym, now))
    comments = tuple(_without_introductions(await running_commentary(session, sym.id), published))
    begun = bool(published) or key[1]
    fingerprint = _fingerprint(key[0], published, coming, comments, begun)
    return SymposiumView(sym, published, coming, comments, begun, key, fingerprint)


def _without_introductions(comments: list[PublicComment], published: Sequence[PublicEssay]) -> list[PublicComment]:
    """Drop a first comment that became its essay's introduction (commenting on an essay announced without
    commentary sets both), so the page does not say it twice."""
    intro = {e.number: e.commentary for e in published}
    first = {c.essay_number: c for c in reversed(comments)}
    return [c for c in comments if not (first[c.essay_number] is c and c.text == intro.get(c.essay_number))]


async def _read_only_snapshot(session: AsyncSession) -> None:
    """One consistent, read-only view of the database for the whole refresh. SQLite's reads in one transaction
    already see one snapshot (WAL) and the sessions begin plain `BEGIN`; PostgreSQL is told so."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))


class PublicData:
    """The snapshot and views the pages are rendered from (see the module's docstring): empty until the first
    refresh. `read()` reads what changed, `publish()` makes it what requests see; the web app renders the pages
    in between, so a request never finds a view whose page is still being rendered."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock
        self.snapshot = EMPTY
        self.views: dict[str, SymposiumView] = {}

    async def read(self) -> tuple[Snapshot, dict[str, SymposiumView], set[str]]:
        """The symposia now, their views (those whose row and clock phase are unchanged are kept, not read), and
        the slugs whose view is new or gone. Changes nothing: hand the result to `publish`."""
        now = self.clock.now()
        views: dict[str, SymposiumView] = {}
        async with self.sessions() as session:
            await _read_only_snapshot(session)
            snapshot = await read_snapshot(session)
            for sym in snapshot.symposia:
                key = (snapshot.stamps[sym.slug], now >= sym.publish_from)
                known = self.views.get(sym.slug)
                views[sym.slug] = known if known and known.key == key else await read_view(session, sym, key, now)
        changed = {slug for slug in views.keys() | self.views.keys() if views.get(slug) is not self.views.get(slug)}
        return snapshot, views, changed

    def publish(self, snapshot: Snapshot, views: dict[str, SymposiumView]) -> None:
        self.snapshot, self.views = snapshot, views
