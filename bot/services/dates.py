"""Publication dates: arranged by the editors (by hand or spread over the window), confirmed by the author or
another day proposed and accepted, or held.

Every change of an essay's date goes through `set_date`, which keeps what depends on it in step: the author's
confirmation (a new date is unconfirmed until they say so), the review card, the preview in the review channel,
the reminders and the Essay Index.
"""

from datetime import datetime, timedelta

from sqlalchemy import select

from bot import compose, queries, values
from bot.commands import AcceptDate, Actor, ConfirmDate, HoldEssay, ProposeDate, ScheduleEssay
from bot.db.models import Essay, Intent, Symposium
from bot.errors import InvalidValue, Refused
from bot.messages import ChannelRef, Message, MessageBuilder, Time
from bot.permissions import require_editor
from bot.services import previews, reminders
from bot.services.reviews import refresh_card
from bot.uow import UnitOfWork


def approved(essay: Essay) -> None:
    if essay.published_at is not None:
        raise Refused(f"Essay {essay.number} is already published.")
    if essay.status != "approved":
        raise Refused(
            f"Essay {essay.number} is {compose.STATUS_WORDS[essay.status]}; only approved essays can be "
            "scheduled or published."
        )


async def set_date(
    uow: UnitOfWork,
    sym: Symposium,
    essay: Essay,
    intent: Intent,
    when: datetime | None,
    *,
    confirmed: bool = False,
    held_by: str | None = None,
) -> None:
    """Give the essay its date (None: no date), and bring the card, the preview, the reminders and the index in
    step. `confirmed`: the author chose this date (a proposal accepted), so it needs no confirming; `held_by`:
    the editor who held it, for the preview's note."""
    essay.scheduled_for = when
    essay.date_confirmed_at = uow.now if confirmed and when is not None else None
    essay.proposed_for = None
    await refresh_card(uow, sym, essay, intent)
    await previews.plan(uow, sym, essay, held_by=held_by)
    await reminders.recompute(uow, sym, intent.user_id)
    await uow.refresh_index(sym)


async def _arrange(uow: UnitOfWork, sym: Symposium, essay: Essay, intent: Intent, when: datetime) -> None:
    """An editor's date: the author is asked to confirm it or to propose another day."""
    await set_date(uow, sym, essay, intent, when)
    other = await queries.other_days(uow.session, sym, essay, uow.now)
    uow.dm(sym, intent.user_id, compose.scheduled_dm(sym, essay, intent, other))


async def schedule(cmd: ScheduleEssay, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium schedule")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium)
    if (cmd.essay or "").strip().lower() == "auto":
        reply = await schedule_auto(uow, sym)
        uow.audit(cmd.actor, "schedule_auto", f"symposium:{sym.id}")
        return reply
    essay, intent = await queries.essay_by_number(uow.session, sym, values.integer(cmd.essay or "", "essay"))
    approved(essay)
    if cmd.date is None:
        raise InvalidValue("Give the date: /symposium schedule essay:<n> date:YYYY-MM-DD")
    when = values.publication(cmd.date, "date", sym.timezone, sym.publish_time)
    if when <= uow.now:
        raise InvalidValue("That moment has passed; to announce now use /symposium publish.")
    if cmd.url is not None:
        essay.live_url = values.link(cmd.url, "url")
    await _arrange(uow, sym, essay, intent, when)
    if cmd.url is not None:
        await previews.changed(uow, sym, essay)  # the preview shows the link
    uow.audit(cmd.actor, "schedule", f"essay:{essay.id}", at=when.isoformat())
    b = MessageBuilder(f"Essay {essay.number} scheduled", tag="reply").line(
        "Publication: ", Time(when, sym.timezone), ". Its author is asked to confirm the date."
    )
    if not sym.publish_from <= when <= sym.publish_to + timedelta(days=1):
        b.line("Note: that is outside the publication window.")
    b.line(_how_it_goes_live(essay, intent))
    return b.build()


def _how_it_goes_live(essay: Essay, intent: Intent) -> str:
    if essay.live_url:
        return "It goes live by itself then, once its link answers."
    if intent.route == "crosspost":
        return "It is announced when it appears on its author's site, or when they give the live link."
    return "You'll be reminded that morning to publish it."


async def schedule_auto(uow: UnitOfWork, sym: Symposium) -> Message:
    """Approved, unscheduled essays, in approval order, one per free weekday of the window, earliest first."""
    rows = (
        await uow.session.execute(
            select(Essay, Intent)
            .join(Intent, Essay.intent_id == Intent.id)
            .where(
                Essay.symposium_id == sym.id,
                Essay.status == "approved",
                Essay.published_at.is_(None),
                Essay.scheduled_for.is_(None),
                Intent.status == "active",
            )
            .order_by(Essay.approved_at, Essay.number)
        )
    ).all()
    taken = await queries.taken_days(uow.session, sym)
    free = [d for d in queries.window_weekdays(sym, values.local_day(uow.now, sym.timezone)) if d not in taken]
    b = MessageBuilder("Automatic schedule", tag="reply")
    for essay, intent in rows:
        while free and values.publication(free[0].isoformat(), "date", sym.timezone, sym.publish_time) <= uow.now:
            free.pop(0)
        if not free:
            b.item(f"essay {essay.number} does not fit in the publication window")
            continue
        day = free.pop(0)
        await _arrange(
            uow, sym, essay, intent, values.publication(day.isoformat(), "date", sym.timezone, sym.publish_time)
        )
        assert essay.scheduled_for is not None
        b.item(f"essay {essay.number}: ", Time(essay.scheduled_for, sym.timezone, relative=False))
    if not b.lines:
        b.line("Nothing to schedule: every approved essay already has a date.")
    else:
        b.line("Each author is asked to confirm their date.")
    return b.build()


# ----- the author's side


async def _authors_essay(
    uow: UnitOfWork, actor: Actor, slug: str | None, number: str | None
) -> tuple[Symposium, Essay, Intent]:
    sym = await queries.writers_symposium(uow.session, actor.community, actor.user_id, slug)
    essay, intent = await queries.essay_by_number(uow.session, sym, values.integer(number or "", "essay"))
    if intent.user_id != actor.user_id:
        raise Refused(f"Essay {essay.number} is not yours: only its author confirms or proposes its date.")
    if essay.published_at is not None:
        raise Refused(f"Essay {essay.number} is already published.")
    if essay.scheduled_for is None or essay.status != "approved" or intent.status != "active":
        raise Refused(
            f"Essay {essay.number} has no publication date yet; the editors will arrange one and ask you to confirm it."
        )
    return sym, essay, intent


async def confirm(cmd: ConfirmDate, uow: UnitOfWork) -> Message:
    sym, essay, intent = await _authors_essay(uow, cmd.actor, cmd.symposium, cmd.essay)
    assert essay.scheduled_for is not None
    b = MessageBuilder(f"Essay {essay.number}: date confirmed", tag="reply")
    if essay.date_confirmed_at is not None and essay.proposed_for is None:
        return b.line("You had confirmed it already: ", Time(essay.scheduled_for, sym.timezone), ".").build()
    withdrawn_proposal = essay.proposed_for is not None
    essay.date_confirmed_at, essay.proposed_for = uow.now, None
    await refresh_card(uow, sym, essay, intent)
    await previews.changed(uow, sym, essay, announcement=False)
    uow.audit(cmd.actor, "confirm_date", f"essay:{essay.id}", at=essay.scheduled_for.isoformat())
    b.line("Thank you. Essay ", str(essay.number), " is published ", Time(essay.scheduled_for, sym.timezone), ".")
    if withdrawn_proposal:
        b.line("The day you had proposed is withdrawn.")
    b.line(*compose.next_step(sym, essay, intent))
    return b.build()


async def propose(cmd: ProposeDate, uow: UnitOfWork) -> Message:
    sym, essay, intent = await _authors_essay(uow, cmd.actor, cmd.symposium, cmd.essay)
    assert essay.scheduled_for is not None
    when = values.publication(cmd.date or "", "date", sym.timezone, sym.publish_time)
    day = values.local_day(when, sym.timezone)
    first, last = values.local_day(sym.publish_from, sym.timezone), values.local_day(sym.publish_to, sym.timezone)
    if not first <= day <= last:
        raise InvalidValue(f"Propose a day inside the publication window, {first:%a %d %b} to {last:%a %d %b}.")
    if when <= uow.now + timedelta(hours=12):
        raise InvalidValue("That day is too close to arrange; propose a later one.")
    if day == values.local_day(essay.scheduled_for, sym.timezone):
        raise InvalidValue(f"That is your date already: /symposium confirm essay:{essay.number} to confirm it.")
    essay.proposed_for = when
    uow.post(sym, sym.review_channel, compose.proposal(sym, essay, intent))
    await refresh_card(uow, sym, essay, intent)
    await previews.changed(uow, sym, essay, announcement=False)
    uow.audit(cmd.actor, "propose_date", f"essay:{essay.id}", at=when.isoformat())
    return (
        MessageBuilder(f"Essay {essay.number}: another day proposed", tag="reply")
        .line("The editors are asked to accept ", Time(when, sym.timezone, relative=False), ".")
        .line("Until they do, your date stays ", Time(essay.scheduled_for, sym.timezone), ".")
        .build()
    )


# ----- the editors' side


async def accept(cmd: AcceptDate, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium accept")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium)
    essay, intent = await queries.essay_by_number(uow.session, sym, values.integer(cmd.essay or "", "essay"))
    approved(essay)
    proposed = essay.proposed_for
    if proposed is None:
        raise Refused(f"No other day is proposed for essay {essay.number}: its author has nothing waiting.")
    if cmd.date is not None:
        asked = values.local_day(values.publication(cmd.date, "date", sym.timezone, sym.publish_time), sym.timezone)
        if asked != values.local_day(proposed, sym.timezone):
            raise Refused(
                f"Its author now proposes {values.local_day(proposed, sym.timezone):%a %d %b}; accept that with "
                f"/symposium accept essay:{essay.number}."
            )
    if proposed <= uow.now:
        raise Refused("The day proposed has passed; arrange another with /symposium schedule.")
    await set_date(uow, sym, essay, intent, proposed, confirmed=True)
    uow.dm(
        sym,
        intent.user_id,
        MessageBuilder(f"“{intent.title}”: your day is accepted", tag="schedule")
        .line(
            f"The editors accepted the day you proposed: essay {essay.number} is published ",
            Time(proposed, sym.timezone),
            ".",
        )
        .line(*compose.next_step(sym, essay, intent))
        .build(),
    )
    uow.audit(cmd.actor, "accept_date", f"essay:{essay.id}", at=proposed.isoformat())
    return (
        MessageBuilder(f"Essay {essay.number}: day accepted", tag="reply")
        .line("It is published ", Time(proposed, sym.timezone), "; its author is told.")
        .build()
    )


async def hold(cmd: HoldEssay, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium hold")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium)
    essay, intent = await queries.essay_by_number(uow.session, sym, values.integer(cmd.essay or "", "essay"))
    approved(essay)
    reason = values.optional_text(cmd.reason, "reason", maximum=values.REASON_MAX, one_line=False)
    was = essay.scheduled_for
    if was is None:
        return (
            MessageBuilder(f"Essay {essay.number} has no date", tag="reply")
            .line("Nothing to hold: it is announced only when you give it a date or publish it.")
            .build()
        )
    await set_date(uow, sym, essay, intent, None, held_by=cmd.actor.name)
    uow.dm(sym, intent.user_id, compose.date_moved(sym, essay, intent, was, reason))
    uow.audit(cmd.actor, "hold", f"essay:{essay.id}", was=was.isoformat(), reason=bool(reason))
    return (
        MessageBuilder(f"Essay {essay.number} held", tag="reply")
        .line("It will not be announced ", Time(was, sym.timezone, relative=False), "; its author is told.")
        .line(f"To give it a new date: /symposium schedule essay:{essay.number} date:YYYY-MM-DD.")
        .line("The review channel's preview says it is held: ", ChannelRef(sym.review_channel), ".")
        .build()
    )
