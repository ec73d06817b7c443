"""Announcing essays (by an editor, or by themselves when their time comes and their link is live), running
commentary, and renaming an announced essay deliberately."""

from sqlalchemy import select

from bot import compose, queries, values
from bot.commands import CommentEssay, PublishEssay, RenameEssay, system_actor
from bot.db.models import Commentary, Essay, Intent, LiveCheck, Symposium
from bot.errors import InvalidValue, Refused
from bot.messages import Message, MessageBuilder, Strong
from bot.permissions import require_editor
from bot.services import previews, reminders
from bot.services.dates import approved
from bot.services.intents import pen_name_is_free
from bot.uow import UnitOfWork


async def publish(cmd: PublishEssay, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium publish")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium)
    essay, intent = await queries.essay_by_number(uow.session, sym, values.integer(cmd.essay or "", "essay"))
    approved(essay)
    if cmd.url is not None:
        essay.live_url = values.link(cmd.url, "url")
    if cmd.commentary is not None:
        essay.commentary = values.optional_text(
            cmd.commentary, "commentary", maximum=values.COMMENTARY_MAX, one_line=False
        )
    if essay.live_url is None:
        raise InvalidValue(
            f"Essay {essay.number} has no live link yet: /symposium publish essay:{essay.number} url:<link>"
        )
    unconfirmed = essay.scheduled_for is not None and essay.date_confirmed_at is None
    await announce(uow, sym, essay, intent)
    uow.audit(cmd.actor, "publish", f"essay:{essay.id}", unconfirmed=unconfirmed)
    b = MessageBuilder(f"Essay {essay.number} announced", tag="reply")
    b.line("The announcement and the Essay Index are on their way.")
    if unconfirmed:
        b.line(Strong("Note: "), "its author had not confirmed the arranged date.")
    return b.build()


async def announce(uow: UnitOfWork, sym: Symposium, essay: Essay, intent: Intent) -> None:
    essay.published_at = uow.now
    essay.public_name = intent.pen_name or intent.user_name  # fixed from now on (/symposium rename changes it)
    uow.post(
        sym,
        sym.announce_channel,
        compose.announcement(sym, compose.public_view(essay, intent), uow.settings.public_base_url),
        key=f"announcement:{essay.id}",
    )
    uow.dm(
        sym,
        intent.user_id,
        MessageBuilder(f"“{intent.title}” is live", tag="decision")
        .line("Your essay has been announced. Thank you for writing!")
        .build(),
    )
    await reminders.recompute(uow, sym, intent.user_id)
    await uow.refresh_index(sym)


async def publish_due(uow: UnitOfWork, *, seen_live: bool) -> int:
    """Announce every essay whose arranged time has come and that has a live link; with `seen_live`, only a link
    the bot saw live (bot/services/live.py). Returns how many. Each essay is locked for the announcing transaction
    (PostgreSQL), so two processes ticking at once announce it once."""
    query = (
        select(Essay, Intent, Symposium)
        .join(Intent, Essay.intent_id == Intent.id)
        .join(Symposium, Essay.symposium_id == Symposium.id)
        .where(
            Essay.status == "approved",
            Essay.published_at.is_(None),
            Essay.scheduled_for <= uow.now,
            Essay.live_url.is_not(None),
            Intent.status == "active",
        )
        .order_by(Essay.scheduled_for, Essay.id)
        .with_for_update(of=Essay, skip_locked=True)
    )
    if seen_live:
        query = query.join(LiveCheck, LiveCheck.essay_id == Essay.id).where(LiveCheck.verified_url == Essay.live_url)
    rows = (await uow.session.execute(query)).all()
    for essay, intent, sym in rows:
        await announce(uow, sym, essay, intent)
        uow.audit(system_actor(sym.community), "publish_scheduled", f"essay:{essay.id}")
    return len(rows)


async def comment(cmd: CommentEssay, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium comment")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium, open_only=False)
    essay, intent = await queries.essay_by_number(uow.session, sym, values.integer(cmd.essay or "", "essay"))
    text = values.text(cmd.text or "", "commentary", maximum=values.COMMENTARY_MAX, one_line=False)
    if essay.published_at is None:
        essay.commentary = text
        await previews.changed(uow, sym, essay)
        uow.audit(cmd.actor, "commentary", f"essay:{essay.id}")
        return (
            MessageBuilder(f"Commentary set for essay {essay.number}", tag="reply")
            .line("It introduces the essay when it is announced.")
            .build()
        )
    uow.add(Commentary(essay_id=essay.id, text=text, author_id=cmd.actor.user_id, created_at=uow.now))
    if not essay.commentary:
        essay.commentary = text
    uow.thread(
        sym,
        f"announcement:{essay.id}",
        compose.running_commentary(compose.public_view(essay, intent), text),
    )
    await uow.refresh_index(sym)
    uow.audit(cmd.actor, "commentary", f"essay:{essay.id}")
    return (
        MessageBuilder(f"Commentary added to essay {essay.number}", tag="reply")
        .line("Posted under its announcement; the Essay Index follows.")
        .build()
    )


async def rename(cmd: RenameEssay, uow: UnitOfWork) -> Message:
    """Change an announced essay's public title, name or bio on purpose: the announcement is edited in place and
    the Essay Index follows. Nothing links the old name to the new in public (a writer may be moving to a pen
    name for a reason)."""
    await require_editor(uow, cmd.actor, "/symposium rename")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium, open_only=False)
    essay, intent = await queries.essay_by_number(uow.session, sym, values.integer(cmd.essay or "", "essay"))
    if essay.published_at is None:
        raise Refused(
            f"Essay {essay.number} is not announced yet: its author changes these with /intent, and the preview "
            "follows."
        )
    title = values.optional_text(cmd.title, "title", maximum=values.TITLE_MAX)
    pen_name = values.clearable(cmd.pen_name, "pen name", maximum=values.PEN_NAME_MAX)
    bio = values.clearable(cmd.bio, "bio", maximum=values.BIO_MAX, one_line=False)
    if title is None and pen_name is None and bio is None:
        raise InvalidValue(
            f"Say what changes: /symposium rename essay:{essay.number} title:… pen_name:… bio:… (pen_name:none "
            "publishes it under the author's own name)."
        )
    if pen_name and pen_name != values.CLEAR:
        await pen_name_is_free(uow, sym, intent.user_id, pen_name)
    before = essay.public_name
    if title is not None:
        intent.title = title
    if pen_name is not None:
        intent.pen_name = None if pen_name == values.CLEAR else pen_name
    if bio is not None:
        intent.bio = None if bio == values.CLEAR else bio
    essay.public_name = intent.pen_name or intent.user_name
    public = compose.public_view(essay, intent)
    uow.edit(sym, f"announcement:{essay.id}", compose.announcement(sym, public, uow.settings.public_base_url))
    await uow.refresh_index(sym)
    uow.dm(
        sym,
        intent.user_id,
        MessageBuilder(f"“{intent.title}” was updated", tag="decision")
        .line(f"The editors changed how essay {essay.number} is published: by ", Strong(public.public_name), ".")
        .line("Its announcement and the Essay Index now say so.")
        .build(),
    )
    uow.audit(cmd.actor, "rename", f"essay:{essay.id}", before=before, after=essay.public_name)
    return (
        MessageBuilder(f"Essay {essay.number} renamed", tag="reply")
        .line(
            "Its announcement is edited in place and the Essay Index follows: “",
            intent.title,
            "” by ",
            Strong(public.public_name),
            ".",
        )
        .build()
    )
