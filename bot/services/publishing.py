"""Arranging publication dates, announcing essays, and running commentary."""

from datetime import date, timedelta

from sqlalchemy import select

from bot import compose, queries, values
from bot.commands import CommentEssay, PublishEssay, ScheduleEssay, system_actor
from bot.db.models import Commentary, Essay, Intent, Symposium
from bot.errors import InvalidValue, Refused
from bot.messages import Message, MessageBuilder, Time
from bot.permissions import require_editor
from bot.services import reminders
from bot.uow import UnitOfWork


def _approved(essay: Essay) -> None:
    if essay.published_at is not None:
        raise Refused(f"Essay {essay.number} is already published.")
    if essay.status != "approved":
        raise Refused(
            f"Essay {essay.number} is {compose.STATUS_WORDS[essay.status]}; only approved essays can be "
            "scheduled or published."
        )


async def schedule(cmd: ScheduleEssay, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium schedule")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium)
    if (cmd.essay or "").strip().lower() == "auto":
        reply = await schedule_auto(uow, sym)
        uow.audit(cmd.actor, "schedule_auto", f"symposium:{sym.id}")
        return reply
    essay, intent = await queries.essay_by_number(uow.session, sym, values.integer(cmd.essay or "", "essay"))
    _approved(essay)
    if cmd.date is None:
        raise InvalidValue("Give the date: /symposium schedule essay:<n> date:YYYY-MM-DD")
    when = values.publication(cmd.date, "date", sym.timezone, sym.publish_time)
    if when <= uow.now:
        raise InvalidValue("That moment has passed; to announce now use /symposium publish.")
    essay.scheduled_for = when
    if cmd.url is not None:
        essay.live_url = values.link(cmd.url, "url")
    await _arranged(uow, sym, essay, intent)
    uow.audit(cmd.actor, "schedule", f"essay:{essay.id}", at=when.isoformat())
    b = MessageBuilder(f"Essay {essay.number} scheduled", tag="reply").line(
        "Publication: ", Time(when, sym.timezone), "."
    )
    if not sym.publish_from <= when <= sym.publish_to + timedelta(days=1):
        b.line("Note: that is outside the publication window.")
    b.line("It goes live by itself then." if essay.live_url else "You'll be reminded that morning to publish it.")
    return b.build()


async def _arranged(uow: UnitOfWork, sym: Symposium, essay: Essay, intent: Intent) -> None:
    uow.dm(intent.user_id, compose.scheduled_dm(sym, essay, intent), symposium_id=sym.id)
    await reminders.recompute(uow, sym, intent.user_id)
    await uow.refresh_index(sym.id)


def _weekdays(start: date, end: date) -> list[date]:
    return [
        start + timedelta(days=n) for n in range((end - start).days + 1) if (start + timedelta(days=n)).weekday() < 5
    ]


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
                Intent.status == "active",
            )
            .order_by(Essay.approved_at, Essay.number)
        )
    ).all()
    taken = {
        values.local_day(e.scheduled_for or e.published_at, sym.timezone)  # type: ignore[arg-type]
        for e in await uow.session.scalars(select(Essay).where(Essay.symposium_id == sym.id))
        if (e.scheduled_for or e.published_at) and e.status == "approved"
    }
    first = max(values.local_day(sym.publish_from, sym.timezone), values.local_day(uow.now, sym.timezone))
    free = [d for d in _weekdays(first, values.local_day(sym.publish_to, sym.timezone)) if d not in taken]
    b = MessageBuilder("Automatic schedule", tag="reply")
    for essay, intent in rows:
        if essay.scheduled_for is not None:
            continue
        while free and values.publication(free[0].isoformat(), "date", sym.timezone, sym.publish_time) <= uow.now:
            free.pop(0)
        if not free:
            b.item(f"essay {essay.number} does not fit in the publication window")
            continue
        day = free.pop(0)
        essay.scheduled_for = values.publication(day.isoformat(), "date", sym.timezone, sym.publish_time)
        await _arranged(uow, sym, essay, intent)
        b.item(f"essay {essay.number}: ", Time(essay.scheduled_for, sym.timezone, relative=False))
    if not b.lines:
        b.line("Nothing to schedule: every approved essay already has a date.")
    return b.build()


async def publish(cmd: PublishEssay, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium publish")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium)
    essay, intent = await queries.essay_by_number(uow.session, sym, values.integer(cmd.essay or "", "essay"))
    _approved(essay)
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
    await announce(uow, sym, essay, intent)
    uow.audit(cmd.actor, "publish", f"essay:{essay.id}")
    return (
        MessageBuilder(f"Essay {essay.number} announced", tag="reply")
        .line("The announcement and the Essay Index are on their way.")
        .build()
    )


async def announce(uow: UnitOfWork, sym: Symposium, essay: Essay, intent: Intent) -> None:
    essay.published_at = uow.now
    uow.post(
        sym.announce_channel,
        compose.announcement(sym, compose.public_view(essay, intent), uow.settings.public_base_url),
        symposium_id=sym.id,
        key=f"announcement:{essay.id}",
    )
    uow.dm(
        intent.user_id,
        MessageBuilder(f"“{intent.title}” is live", tag="decision")
        .line("Your essay has been announced. Thank you for writing!")
        .build(),
        symposium_id=sym.id,
    )
    await reminders.recompute(uow, sym, intent.user_id)
    await uow.refresh_index(sym.id)


async def publish_due(uow: UnitOfWork) -> int:
    """Announce every essay whose arranged time has come and that has a live link. Returns how many."""
    rows = (
        await uow.session.execute(
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
        )
    ).all()
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
        f"announcement:{essay.id}",
        compose.running_commentary(compose.public_view(essay, intent), text),
        symposium_id=sym.id,
    )
    await uow.refresh_index(sym.id)
    uow.audit(cmd.actor, "commentary", f"essay:{essay.id}")
    return (
        MessageBuilder(f"Commentary added to essay {essay.number}", tag="reply")
        .line("Posted under its announcement; the Essay Index follows.")
        .build()
    )
