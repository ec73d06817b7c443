"""Read-only answers: a person's status (with the editors' dashboard), the Essay Index, help."""

from sqlalchemy import func, select

from bot import compose, grammar, queries
from bot.commands import Actor, ShowEssays, ShowHelp, ShowStatus
from bot.db.models import Essay, Intent, Symposium
from bot.errors import UnknownSymposium
from bot.index import index_pages, public_essays, upcoming_essays
from bot.messages import Line, Message, MessageBuilder, Strong, Time
from bot.permissions import is_editor
from bot.uow import UnitOfWork


async def show_status(cmd: ShowStatus, uow: UnitOfWork) -> Message:
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium, open_only=False)
    b = MessageBuilder(f"{sym.title} ({sym.status})", tag="reply")
    intent = await queries.intent_of(uow.session, sym.id, cmd.actor.user_id)
    if intent is None or intent.status != "active":
        b.line("You have no active Intent to Submit.")
        if sym.status == "open" and (uow.now <= sym.intent_deadline or sym.allow_late_intents):
            b.line("Intents close ", Time(sym.intent_deadline, sym.timezone), ": /intent title:<working title>")
    else:
        await _participant(uow, b, sym, intent)
    if await is_editor(uow, cmd.actor):
        await dashboard(uow, b, sym)
    return b.build()


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
        compose.STATUS_WORDS[essay.status],
        *((": ", sub.reason) if sub.reason else ()),
    )
    if essay.published_at:
        b.line(Strong("Published "), Time(essay.published_at, sym.timezone, relative=False))
    elif essay.scheduled_for:
        b.line(Strong("Arranged date: "), Time(essay.scheduled_for, sym.timezone))
        b.line(*compose.next_step(sym, essay, intent))


async def dashboard(uow: UnitOfWork, b: MessageBuilder, sym: Symposium) -> None:
    s = uow.session
    intents = dict(
        (
            await s.execute(
                select(Intent.status, func.count()).where(Intent.symposium_id == sym.id).group_by(Intent.status)
            )
        ).all()
    )
    essays = dict(
        (
            await s.execute(
                select(Essay.status, func.count()).where(Essay.symposium_id == sym.id).group_by(Essay.status)
            )
        ).all()
    )
    b.line(Strong("Editors' dashboard"))
    b.item(f"Intents: {intents.get('active', 0)} active, {intents.get('withdrawn', 0)} withdrawn")
    b.item("Essays: " + (", ".join(f"{n} {compose.STATUS_WORDS[k]}" for k, n in sorted(essays.items())) or "none yet"))
    waiting = await queries.waiting_for_review(s, sym.id)
    for number, since in waiting:
        b.item(f"Waiting for review: essay {number}, since ", Time(since, sym.timezone))
    for essay_, _ in await queries.coming_up(s, sym.id):
        assert essay_.scheduled_for is not None
        b.item(
            f"Essay {essay_.number} scheduled ",
            Time(essay_.scheduled_for, sym.timezone),
            "" if essay_.live_url else " (no live link yet)",
        )
    for row in await queries.undelivered(s, sym.id):
        b.item(f"Undelivered {row.op} to {row.channel or row.user_id}: {row.last_error or 'failed'}")


async def show_essays(cmd: ShowEssays, uow: UnitOfWork) -> Message:
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium, open_only=False)
    pages = index_pages(
        sym,
        await public_essays(uow.session, sym),
        await upcoming_essays(uow.session, sym),
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
    for usage, text in grammar.help_lines(editor, uow.platform.name):
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
