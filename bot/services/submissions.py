"""Submitting an essay (each /submit is a new revision with its own review card) and giving a live link."""

from sqlalchemy import func, select

from bot import compose, queries, values
from bot.commands import Submit
from bot.db.models import Essay, Submission, Symposium
from bot.errors import InvalidValue, Refused
from bot.messages import Message, MessageBuilder, Strong, Time
from bot.permissions import is_editor
from bot.services import previews, publishing, reminders, reviews
from bot.uow import CARD_REACTIONS, UnitOfWork


async def submit(cmd: Submit, uow: UnitOfWork) -> Message:
    if cmd.live is not None and cmd.url is None:
        return await give_live_link(cmd, uow)
    if cmd.url is None:
        raise InvalidValue("Give your essay's link: /submit url:<link>")
    if cmd.live is not None:
        raise InvalidValue("Give either url: (a submission) or live: (the published essay's link), not both.")
    sym = await queries.writers_symposium(uow.session, cmd.actor.community, cmd.actor.user_id, cmd.symposium)
    intent = await queries.active_intent(uow.session, sym, cmd.actor.user_id)
    url = values.link(cmd.url)
    note = values.optional_text(cmd.note, "note", maximum=values.NOTE_MAX, one_line=False)
    essay = await queries.essay_of(uow.session, intent.id)
    previous = await queries.latest_submission(uow.session, essay.id) if essay else None
    if essay is not None and previous is not None and (previous.url, previous.note) == (url, note):
        return (
            MessageBuilder(f"Essay {essay.number}: nothing changed", tag="reply")
            .line(
                f"That link is already revision {previous.revision} of essay {essay.number}, which is "
                f"{compose.STATUS_WORDS[essay.status]}. To send a new revision, submit its new link or a new note."
            )
            .build()
        )
    if essay is None:
        # Numbers are given in order: concurrent first submissions queue on the symposium's row (PostgreSQL).
        await uow.session.execute(select(Symposium.id).where(Symposium.id == sym.id).with_for_update())
        number = (await uow.session.scalar(select(func.max(Essay.number)).where(Essay.symposium_id == sym.id)) or 0) + 1
        essay = Essay(symposium_id=sym.id, intent_id=intent.id, number=number, status="pending")
        uow.add(essay)
        await uow.flush()
    elif essay.published_at is not None:
        raise Refused(f"Essay {essay.number} is already published; ask an editor if something needs fixing.")
    due = intent.due_override or sym.due_at
    sub = Submission(
        essay_id=essay.id,
        revision=(previous.revision + 1) if previous else 1,
        url=url,
        note=note,
        late=uow.now > due,
        submitted_at=uow.now,
        superseded=False,
        author_is_editor=await is_editor(uow, cmd.actor),
    )
    uow.add(sub)
    await uow.flush()
    if previous is not None:
        previous.superseded = True
        uow.edit(
            sym,
            f"card:{previous.id}",
            compose.review_card(sym, essay, intent, previous, superseded=True),
        )
        if essay.status != "pending" and essay.scheduled_for is not None:
            await reviews.cancel_date(uow, sym, essay, intent, "a new revision was submitted and waits for review")
    essay.status = "pending"
    uow.post(
        sym,
        sym.review_channel,
        compose.review_card(sym, essay, intent, sub),
        key=f"card:{sub.id}",
        reactions=CARD_REACTIONS,
    )
    await reminders.recompute(uow, sym, cmd.actor.user_id)
    uow.audit(cmd.actor, "submit", f"submission:{sub.id}", essay=essay.number, revision=sub.revision)
    b = MessageBuilder(
        f"Essay {essay.number} submitted" + (f" (revision {sub.revision})" if sub.revision > 1 else ""), tag="reply"
    )
    b.line(Strong("Title: "), intent.title)
    b.line(Strong("Link: "), url)
    if sub.late:
        b.line(
            "It arrived after the due date (",
            Time(due, sym.timezone),
            "), so it is marked late; the editors still read it.",
        )
    b.line("The editors review it next; you will hear from me privately.")
    return b.build()


async def give_live_link(cmd: Submit, uow: UnitOfWork) -> Message:
    sym = await queries.writers_symposium(uow.session, cmd.actor.community, cmd.actor.user_id, cmd.symposium)
    intent = await queries.active_intent(uow.session, sym, cmd.actor.user_id)
    if intent.route != "crosspost":
        raise Refused(
            "A live link is for an essay you publish yourself (route:crosspost); the editors publish this one. "
            "If you publish it on your own site, change the route first: /intent route:crosspost"
        )
    essay = await queries.essay_of(uow.session, intent.id)
    if essay is None or essay.status != "approved":
        raise Refused("A live link is for an approved essay: submit it first with /submit url:<link>.")
    if essay.published_at is not None:
        raise Refused(f"Essay {essay.number} is already announced.")
    essay.live_url = values.link(cmd.live or "", "live link")
    uow.audit(cmd.actor, "live_link", f"essay:{essay.id}")
    b = MessageBuilder("Live link recorded", tag="reply")
    if essay.scheduled_for is not None and essay.scheduled_for <= uow.now:
        await publishing.announce(uow, sym, essay, intent)
        b.line("Its day has come, so it is announced now. Thank you!")
    elif essay.scheduled_for is not None:
        await reminders.recompute(uow, sym, intent.user_id)
        await previews.changed(uow, sym, essay)
        b.line("It will be announced by itself on ", Time(essay.scheduled_for, sym.timezone), ".")
    else:
        b.line("The editors will announce it once they arrange its date.")
    return b.build()
