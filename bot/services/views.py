"""Read-only answers: a person's status (with the editors' dashboard), the Essay Index, help."""

from datetime import datetime

from sqlalchemy import func, select

from bot import compose, grammar, queries
from bot.commands import Actor, ShowEssays, ShowHelp, ShowStatus
from bot.db.models import Essay, Intent, LiveCheck, Symposium
from bot.errors import UnknownSymposium
from bot.index import index_pages, public_essays, upcoming_essays
from bot.messages import Line, Message, MessageBuilder, Part, Strong, Time
from bot.permissions import is_editor
from bot.uow import UnitOfWork


async def show_status(cmd: ShowStatus, uow: UnitOfWork) -> Message:
    """The writer's place in every symposium they take part in (or the one named), then, for editors, the
    dashboard of the current symposium."""
    community, user = cmd.actor.community, cmd.actor.user_id
    current = await queries.symposium(uow.session, community, cmd.symposium, open_only=False)
    if cmd.symposium is None:
        current = await _current(uow, community) or current
    theirs = [] if cmd.symposium else await _symposia_of(uow, community, user)
    shown = [current, *(s for s in theirs if s.id != current.id)]
    several = len(shown) > 1
    b = MessageBuilder("Your symposia" if several else f"{current.title} ({current.status})", tag="reply")
    for sym in shown:
        if several:
            b.line(Strong(f"{sym.title} ({sym.status}, symposium:{sym.slug})"))
        intent = await queries.intent_of(uow.session, sym.id, user)
        if intent is not None and (intent.status == "active" or await _published(uow, intent)):
            await _participant(uow, b, sym, intent)
            continue
        b.line("You have no active Intent to Submit.")
        if sym.status == "open" and (uow.now <= sym.intent_deadline or sym.allow_late_intents):
            b.line("Intents close ", Time(sym.intent_deadline, sym.timezone), ": /intent title:<working title>")
    if await is_editor(uow, cmd.actor):
        await dashboard(uow, b, current)
    return b.build()


async def _current(uow: UnitOfWork, community: str) -> Symposium | None:
    """The newest open symposium, else the newest."""
    return await uow.session.scalar(
        select(Symposium)
        .where(Symposium.community == community)
        .order_by((Symposium.status == "open").desc(), Symposium.opened_at.desc(), Symposium.id.desc())
        .limit(1)
    )


async def _symposia_of(uow: UnitOfWork, community: str, user: str) -> list[Symposium]:
    return list(
        await uow.session.scalars(
            select(Symposium)
            .join(Intent, Intent.symposium_id == Symposium.id)
            .where(Symposium.community == community, Intent.user_id == user)
            .order_by((Symposium.status == "open").desc(), Symposium.opened_at.desc())
        )
    )


async def _published(uow: UnitOfWork, intent: Intent) -> bool:
    essay = await queries.essay_of(uow.session, intent.id)
    return essay is not None and essay.published_at is not None


async def _participant(uow: UnitOfWork, b: MessageBuilder, sym: Symposium, intent: Intent) -> None:
    b.line(Strong("Your intent: "), intent.title, f" ({compose.prompt_text(sym, intent.prompt_no)}; {intent.route})")
    essay = await queries.essay_of(uow.session, intent.id)
    due = intent.due_override or sym.due_at
    if essay is None:
        b.line(Strong("Submission: "), "none yet; due ", Time(due, sym.timezone))
        return
    sub = await queries.latest_submission(uow.session, essay.id)
    assert sub is not None
    b.line(
        Strong(f"Essay {essay.number}: "),
        f"revision {sub.revision}, ",
        "published" if essay.published_at else compose.STATUS_WORDS[essay.status],
        *((": ", sub.reason) if sub.reason else ()),
    )
    if essay.published_at:
        b.line(Strong("Published "), Time(essay.published_at, sym.timezone, relative=False))
    elif essay.scheduled_for:
        b.line(Strong("Arranged date: "), Time(essay.scheduled_for, sym.timezone))
        b.line(*compose.next_step(sym, essay, intent))


DASHBOARD_LISTED = 10  # essays listed per group; the count says how many there are


async def dashboard(uow: UnitOfWork, b: MessageBuilder, sym: Symposium) -> None:
    """Counts, then each group of essays by number: what waits for an editor first."""
    s = uow.session
    intents = dict(
        (
            await s.execute(
                select(Intent.status, func.count()).where(Intent.symposium_id == sym.id).group_by(Intent.status)
            )
        ).all()
    )
    rows = (
        await s.execute(
            select(Essay, Intent)
            .join(Intent, Essay.intent_id == Intent.id)
            .where(Essay.symposium_id == sym.id)
            .order_by(Essay.number)
        )
    ).all()
    groups: dict[str, list[tuple[Essay, Intent]]] = {}
    for essay, intent in rows:
        groups.setdefault(_group(essay, uow.now), []).append((essay, intent))
    b.line(Strong("Editors' dashboard"))
    b.item(f"Intents: {intents.get('active', 0)} active, {intents.get('withdrawn', 0)} withdrawn")
    counts = [compose.count(len(groups[g]), "essay") + " " + words for g, words in GROUPS.items() if g in groups]
    b.item("Essays: " + ("; ".join(counts) if counts else "none yet"))
    since = dict(await queries.waiting_for_review(s, sym.id))
    problems = {
        essay_id: problem
        for essay_id, problem in await s.execute(
            select(LiveCheck.essay_id, LiveCheck.problem)
            .join(Essay, LiveCheck.essay_id == Essay.id)
            .where(Essay.symposium_id == sym.id, LiveCheck.problem.is_not(None))
        )
        if problem
    }
    for group, words in GROUPS.items():
        listed = groups.get(group, [])
        for essay, intent in listed[:DASHBOARD_LISTED]:
            b.item(*_entry(group, words, essay, intent, sym, since), *_standing(group, essay, sym, problems))
        if len(listed) > DASHBOARD_LISTED:
            b.item(f"… and {len(listed) - DASHBOARD_LISTED} more {words}")
    for row in await queries.undelivered(s, sym.id):
        b.item(f"Undelivered {row.op} to {row.channel or row.user_id}: {row.last_error or 'failed'}")


GROUPS = {
    "overdue": "overdue (their date passed unannounced)",
    "waiting": "waiting for review",
    "unscheduled": "approved, without a date",
    "scheduled": "scheduled",
    "changes_requested": "with changes requested",
    "published": "published",
    "declined": "declined",
    "withdrawn": "withdrawn",
}


def _group(essay: Essay, now: datetime) -> str:
    if essay.published_at is not None:
        return "published"
    if essay.status == "approved":
        if essay.scheduled_for is None:
            return "unscheduled"
        return "overdue" if essay.scheduled_for <= now else "scheduled"
    return {"pending": "waiting"}.get(essay.status, essay.status)


def _entry(
    group: str, words: str, essay: Essay, intent: Intent, sym: Symposium, since: dict[int, datetime]
) -> tuple[str | Time, ...]:
    head = f"Essay {essay.number} “{intent.title}”"
    if group == "waiting" and essay.number in since:
        return (head, " waiting for review since ", Time(since[essay.number], sym.timezone))
    if group in ("scheduled", "overdue") and essay.scheduled_for is not None:
        late = " was due " if group == "overdue" else " scheduled "
        link = "" if essay.live_url else " (no live link yet)"
        return (head, late, Time(essay.scheduled_for, sym.timezone), link)
    if group == "published" and essay.published_at is not None:
        return (head, " published ", Time(essay.published_at, sym.timezone, relative=False))
    if group == "unscheduled":
        return (head, " approved, without a date: /symposium schedule essay:auto arranges one")
    return (head, " ", words)


def _standing(group: str, essay: Essay, sym: Symposium, problems: dict[int, str]) -> tuple[str | Part, ...]:
    """What an editor should know of an arranged date: unconfirmed or another day proposed, and why an essay
    whose time came is not live."""
    if group not in ("scheduled", "overdue"):
        return ()
    said: tuple[str | Part, ...] = ("; ", *compose.confirmation(sym, essay)) if group == "scheduled" else ()
    if essay.id in problems:
        said += (f"; {problems[essay.id]}",)
    return said


async def show_essays(cmd: ShowEssays, uow: UnitOfWork) -> Message:
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium, open_only=False)
    pages = index_pages(
        sym,
        await public_essays(uow.session, sym),
        await upcoming_essays(uow.session, sym, uow.now),
        uow.settings.public_base_url,
        page_chars=1_000_000,
    )
    return pages[0]


async def show_help(cmd: ShowHelp, uow: UnitOfWork) -> Message:
    editor = await is_editor(uow, cmd.actor)
    b = MessageBuilder("Symposium Bot: commands", tag="reply")
    try:
        sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium)
        b.line("Current symposium: ", sym.title, f" ({sym.slug})")
    except UnknownSymposium:
        b.line("No symposium is open here yet.")
    for usage, text in grammar.help_lines(editor, uow.surface):
        b.lines.append(Line((Strong(usage),), bullet=True))
        b.line("  ", text)
    b.line("Every command takes symposium:<slug> to pick a symposium other than the latest.")
    if editor:
        b.line("Editors decide by reacting on review cards: ✅ approve, ❌ decline, ✏️ request changes.")
    return b.build()


async def suggestions(
    uow: UnitOfWork, actor: Actor, option: str, typed: str, slug: str | None
) -> list[tuple[str, str]]:
    """Autocomplete choices as (label, value) for the `symposium`, `prompt` and `essay` options."""
    typed = typed.strip().lower()
    if option == "symposium":
        rows = await uow.session.execute(
            select(Symposium.slug, Symposium.title)
            .where(Symposium.community == actor.community)
            .order_by(Symposium.opened_at.desc())
        )
        choices = [(f"{title} ({slug})", slug) for slug, title in rows]
    else:
        try:
            sym = await queries.symposium(uow.session, actor.community, slug)
        except UnknownSymposium:
            return []
        if option == "prompt":
            choices = [(f"0: {sym.prompt}", "0")] + [
                (f"{n}: {alt}", str(n)) for n, alt in enumerate(sym.alt_prompts, 1)
            ]
        elif option == "essay" and await is_editor(uow, actor):
            essays = await uow.session.execute(
                select(Essay.number, Intent.title, Essay.status)
                .join(Intent, Essay.intent_id == Intent.id)
                .where(Essay.symposium_id == sym.id)
                .order_by(Essay.number)
            )
            choices = [(f"{n}: {title} ({compose.STATUS_WORDS[status]})", str(n)) for n, title, status in essays]
        else:
            return []
    return [(label[:100], value) for label, value in choices if typed in label.lower()][:25]
