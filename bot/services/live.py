"""Seeing essays go live on their day: what to look at, and what a look found.

For every essay due today the bot looks at its link and tells the truth (bot/live.py fetches, with no
transaction open, between `claim` and `record`):

- an essay with a live link (a direct essay's, or one its author gave) is fetched at its time and announced only
  when it answers 200 with an HTML page; the final URL after redirects is the one announced;
- a cross-post without one: its author's feed (given with `/intent feed:`, or found from their site) is polled
  from the morning of its day, at most every `poll`, with conditional requests; an entry whose link is the
  essay's or whose title matches gives the live link, and the essay is announced at its time;
- when its day ends with no live link, or its link does not answer, its author and the review channel are told,
  once for that date (`report_missed`).

Each essay's looking is a `live_checks` row. A look is claimed first (a lease and a token, taken by one UPDATE
that re-checks the row, so two processes never look at one essay at once) and its findings are recorded only
under that claim, in one transaction with the announcement they allow.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, Select, and_, or_, select, update

from bot import queries, values
from bot.commands import system_actor
from bot.db.engine import dialect_insert
from bot.db.models import Essay, Intent, LiveCheck, Symposium
from bot.matching import FeedCheck, PageCheck, matching_entry
from bot.messages import Mention, MessageBuilder, Strong, Time
from bot.services import previews
from bot.services.publishing import announce
from bot.services.reminders import morning
from bot.uow import UnitOfWork
from bot.values import zone_info

KEEP_LOOKING = timedelta(days=3)  # an essay not found on its day is still looked for this long after it
LINK_GRACE = timedelta(hours=1)  # a link that still does not answer this long after its time is reported
LEASE = timedelta(minutes=2)  # longer than any look (fetches are cut at 10 s each)


@dataclass(frozen=True)
class Look:
    """One claimed look at one essay: its page, or its author's feed (found from `discover_from` first when the
    feed is not known yet, or its author gave another site)."""

    essay_id: int
    claim: str
    kind: Literal["page", "feed"]
    url: str | None
    title: str
    link: str | None = None
    discover_from: str | None = None
    etag: str | None = None
    modified: str | None = None


@dataclass
class Found:
    """What a look found: a page check, or a feed (and where the feed was found)."""

    page: PageCheck | None = None
    feed: FeedCheck | None = None
    feed_url: str | None = None
    fetches: int = 0
    failed: str | None = None  # the look itself broke (a bug, not a bad URL); nothing is concluded


def end_of_day(sym: Symposium, moment: datetime) -> datetime:
    """The end of the moment's day in the symposium's zone."""
    local = moment.astimezone(zone_info(sym.timezone))
    return datetime.combine(local.date() + timedelta(days=1), time(0, 0), local.tzinfo).astimezone(moment.tzinfo)


def _due(*more: ColumnElement[bool]) -> Select[Essay, Intent, Symposium, LiveCheck]:
    """Essays approved, scheduled and not yet announced (and as `more` says), with their intent, symposium and
    live check (None before the first look)."""
    return (
        select(Essay, Intent, Symposium, LiveCheck)
        .join(Intent, Essay.intent_id == Intent.id)
        .join(Symposium, Essay.symposium_id == Symposium.id)
        .outerjoin(LiveCheck, LiveCheck.essay_id == Essay.id)
        .where(
            Essay.status == "approved",
            Essay.published_at.is_(None),
            Essay.scheduled_for.is_not(None),
            Intent.status == "active",
            Symposium.status == "open",
            *more,
        )
    )


async def claim(uow: UnitOfWork, limit: int) -> list[Look]:
    """Claim the looks due now: pages at their essay's time, feeds from the morning of their essay's day, each
    no sooner than its `next_at`."""
    now = uow.now
    rows = (
        await uow.session.execute(
            _due(
                Essay.scheduled_for <= now + timedelta(days=1),
                Essay.scheduled_for > now - KEEP_LOOKING,
                or_(
                    LiveCheck.id.is_(None),
                    and_(
                        LiveCheck.next_at <= now,
                        or_(LiveCheck.claimed_until.is_(None), LiveCheck.claimed_until < now),
                    ),
                ),
            ).order_by(Essay.scheduled_for, Essay.id)
        )
    ).all()
    wanted: dict[int, Look] = {}
    token = uuid.uuid4().hex
    for essay, intent, sym, check in rows:
        if len(wanted) >= limit:
            break
        assert essay.scheduled_for is not None
        if essay.live_url:
            if (check is not None and check.verified_url == essay.live_url) or essay.scheduled_for > now:
                continue
            wanted[essay.id] = Look(essay.id, token, "page", essay.live_url, intent.title)
        elif intent.route == "crosspost" and now >= morning(sym, essay.scheduled_for):
            sub = await queries.latest_submission(uow.session, essay.id)
            submitted = sub.url if sub is not None else None
            source = intent.feed_url or submitted  # a Substack draft's address names its site
            if check is not None and check.feed_from == source and check.feed_url is not None:
                look = Look(
                    essay.id, token, "feed", check.feed_url, intent.title, submitted, None, check.etag, check.modified
                )
            else:
                look = Look(essay.id, token, "feed", None, intent.title, submitted, discover_from=source)
            wanted[essay.id] = look
    if not wanted:
        return []
    await uow.session.execute(
        dialect_insert(uow.session, LiveCheck).on_conflict_do_nothing(),
        [{"essay_id": essay_id, "next_at": now, "fetches": 0} for essay_id in wanted],
    )
    claimed = await uow.session.scalars(
        update(LiveCheck)
        .where(
            LiveCheck.essay_id.in_(wanted),
            LiveCheck.next_at <= now,
            or_(LiveCheck.claimed_until.is_(None), LiveCheck.claimed_until < now),
        )
        .values(claim=token, claimed_until=now + LEASE)
        .returning(LiveCheck.essay_id)
        .execution_options(synchronize_session=False)
    )
    return [wanted[essay_id] for essay_id in claimed]


async def record(uow: UnitOfWork, look: Look, found: Found, poll: timedelta) -> bool:
    """Record what a look found, under its claim; announce the essay when its time has come and its link was seen
    live. True when it was announced."""
    check = await uow.session.scalar(
        select(LiveCheck).where(LiveCheck.essay_id == look.essay_id, LiveCheck.claim == look.claim).with_for_update()
    )
    if check is None:  # the claim ran out and another process looked again
        return False
    check.claim, check.claimed_until = None, None
    check.next_at = uow.now + poll
    check.fetches += found.fetches
    essay = await uow.session.scalar(select(Essay).where(Essay.id == look.essay_id).with_for_update())
    intent = await uow.session.get(Intent, essay.intent_id) if essay is not None else None
    sym = await uow.session.get(Symposium, essay.symposium_id) if essay is not None else None
    if essay is None or intent is None or sym is None or found.failed:
        return False
    if essay.published_at is not None or essay.status != "approved" or intent.status != "active":
        return False
    if look.discover_from is not None:
        check.feed_from, check.feed_url, check.etag, check.modified = look.discover_from, found.feed_url, None, None
    if found.page is not None:
        _page(essay, check, found.page)
    elif found.feed is not None:
        check.etag, check.modified = found.feed.etag, found.feed.modified
        await _feed(uow, sym, essay, intent, check, found.feed, look)
    elif look.kind == "feed":
        check.problem = f"no feed was found at {look.discover_from}" if look.discover_from else "no feed is known"
    seen_live = essay.live_url is not None and check.verified_url == essay.live_url
    if seen_live and essay.scheduled_for is not None and essay.scheduled_for <= uow.now:
        await announce(uow, sym, essay, intent)
        uow.audit(system_actor(sym.community), "publish_live", f"essay:{essay.id}", link=essay.live_url)
        return True
    return False


def _page(essay: Essay, check: LiveCheck, page: PageCheck) -> None:
    if page.ok:
        essay.live_url = check.verified_url = page.final_url
        check.problem = None
    else:
        check.problem = f"its link {values.shown_link(page.final_url or essay.live_url or '')} {page.reason}"


async def _feed(
    uow: UnitOfWork, sym: Symposium, essay: Essay, intent: Intent, check: LiveCheck, feed: FeedCheck, look: Look
) -> None:
    where = values.shown_link(check.feed_url or "")
    if feed.status in ("gone", "failed"):
        check.problem = f"its author's feed {where} {feed.reason}"
        return
    if feed.status == "unchanged":
        return
    entry = matching_entry(feed.entries, title=intent.title, link=look.link)
    if entry is None:
        check.problem = f"its author's feed {where} has no entry titled “{intent.title}” yet"
        return
    essay.live_url = check.verified_url = entry.link
    check.problem = None
    await previews.changed(uow, sym, essay)
    uow.audit(system_actor(sym.community), "found_live", f"essay:{essay.id}", link=entry.link, feed=check.feed_url)


# ----- a day that ended with no essay live


def report_due(sym: Symposium, essay: Essay, check: LiveCheck | None) -> datetime:
    """When an unannounced essay is reported: at the end of its day, or an hour after its time when its link was
    looked at and did not answer."""
    assert essay.scheduled_for is not None
    if essay.live_url and check is not None and check.problem:
        return min(end_of_day(sym, essay.scheduled_for), essay.scheduled_for + LINK_GRACE)
    return end_of_day(sym, essay.scheduled_for)


async def report_missed(uow: UnitOfWork) -> int:
    """Essays whose day ended unannounced, or whose link does not answer: their author and the review channel
    are told, once per date."""
    rows = (
        await uow.session.execute(
            _due(
                Essay.scheduled_for <= uow.now,
                or_(LiveCheck.missed_for.is_(None), LiveCheck.missed_for != Essay.scheduled_for),
            ).with_for_update(of=Essay, skip_locked=True)
        )
    ).all()
    told = 0
    for essay, intent, sym, check in rows:
        assert essay.scheduled_for is not None
        if uow.now < report_due(sym, essay, check):
            continue
        if check is None:
            check = LiveCheck(essay_id=essay.id, next_at=uow.now, fetches=0)
            uow.add(check)
        await _report(uow, sym, essay, intent, check)
        told += 1
    return told


def _why(essay: Essay, intent: Intent, check: LiveCheck) -> str:
    if check.problem:
        return check.problem
    if essay.live_url:
        return f"its link {values.shown_link(essay.live_url)} was not seen live"
    if intent.route == "crosspost":
        return "no live link was given, and no feed of its author's is known"
    return "it has no live link"


async def _report(uow: UnitOfWork, sym: Symposium, essay: Essay, intent: Intent, check: LiveCheck) -> None:
    """Tell the author and the review channel, once for this date, that the essay is not live, and what to do."""
    assert essay.scheduled_for is not None
    if check.missed_for == essay.scheduled_for:
        return
    check.missed_for = essay.scheduled_for
    why = _why(essay, intent, check)
    editors = MessageBuilder(f"Essay {essay.number} is not live", tag="notice")
    editors.line(
        "“",
        intent.title,
        "” by ",
        Mention(intent.user_id, intent.user_name),
        " was due ",
        Time(essay.scheduled_for, sym.timezone, relative=False),
        f": {why}.",
    )
    editors.line(
        Strong("To fix: "),
        f"/symposium publish essay:{essay.number} url:<link> announces it now; "
        f"/symposium schedule essay:{essay.number} date:YYYY-MM-DD gives it a new date.",
    )
    uow.post(sym, sym.review_channel, editors.build())
    author = MessageBuilder(f"“{intent.title}” is not live yet", tag="notice")
    author.line(
        "Essay ", str(essay.number), " was due ", Time(essay.scheduled_for, sym.timezone, relative=False), f": {why}."
    )
    if intent.route == "crosspost":
        author.line(
            Strong("What to do: "),
            "publish it on your site, then give the live link with /submit live:<link>; or, if it is live, check "
            "that its title matches and say where your site is: /intent feed:<your site>. I keep looking for "
            f"{KEEP_LOOKING.days} days.",
        )
    else:
        author.line(Strong("What to do: "), "nothing; the editors publish it and have been told.")
    uow.dm(sym, intent.user_id, author.build())
    uow.audit(system_actor(sym.community), "missed", f"essay:{essay.id}", why=why)


async def next_due(uow: UnitOfWork, *, looking: bool) -> datetime | None:
    """The earliest moment a missed day, or (when `looking`) a look, may fall due (the console steps its clock
    through these)."""
    now = uow.now
    rows = (await uow.session.execute(_due(Essay.scheduled_for > now - KEEP_LOOKING))).all()
    moments: list[datetime] = []
    for essay, intent, sym, check in rows:
        assert essay.scheduled_for is not None
        if check is None or check.missed_for != essay.scheduled_for:
            moments.append(report_due(sym, essay, check))
        start = essay.scheduled_for if essay.live_url else morning(sym, essay.scheduled_for)
        if looking and (essay.live_url or intent.route == "crosspost"):
            moments.append(max(start, check.next_at) if check is not None else start)
    return min((m for m in moments if m > now), default=None)
