"""Intents to Submit: declare or update, withdraw, and a participant's reminder preference."""

from sqlalchemy import select

from bot import compose, queries, values
from bot.commands import DeclareIntent, SetReminders, Withdraw
from bot.db.models import Intent, ParticipantPref, Symposium
from bot.errors import DeadlinePassed, InvalidValue
from bot.messages import Message, MessageBuilder, Strong, Time
from bot.services import reminders, reviews
from bot.uow import UnitOfWork


async def declare_intent(cmd: DeclareIntent, uow: UnitOfWork) -> Message:
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium)
    intent = await queries.intent_of(uow.session, sym.id, cmd.actor.user_id)
    title = values.text(cmd.title, "title", maximum=values.TITLE_MAX) if cmd.title is not None else None
    prompt = values.prompt_number(cmd.prompt, len(sym.alt_prompts)) if cmd.prompt is not None else None
    route = values.route(cmd.route) if cmd.route is not None else None
    pen_name = values.optional_text(cmd.pen_name, "pen name", maximum=values.PEN_NAME_MAX)
    bio = values.optional_text(cmd.bio, "bio", maximum=values.BIO_MAX, one_line=False)
    affiliation = values.optional_text(cmd.affiliation, "affiliation", maximum=values.AFFILIATION_MAX)
    is_new = intent is None or intent.status != "active"
    if is_new and uow.now > sym.intent_deadline and not sym.allow_late_intents:
        raise DeadlinePassed(
            f"Intents for {sym.title} closed on {values.local_text(sym.intent_deadline, sym.timezone)}. "
            "Ask an editor if you would still like to write."
        )
    if intent is None:
        if title is None:
            raise InvalidValue("Give your essay a working title: /intent title:<working title>")
        intent = Intent(
            symposium_id=sym.id,
            user_id=cmd.actor.user_id,
            title=title,
            prompt_no=0,
            route="direct",
            status="active",
            created_at=uow.now,
        )
        uow.add(intent)
    intent.status, intent.updated_at, intent.user_name = "active", uow.now, cmd.actor.name
    for name, value in (
        ("title", title),
        ("prompt_no", prompt),
        ("route", route),
        ("pen_name", pen_name),
        ("bio", bio),
        ("affiliation", affiliation),
    ):
        if value is not None:
            setattr(intent, name, value)
    await uow.flush()
    await reminders.recompute(uow, sym, cmd.actor.user_id)
    uow.audit(cmd.actor, "intent" if is_new else "intent_update", f"intent:{intent.id}")
    b = MessageBuilder("Intent to Submit recorded" if is_new else "Intent to Submit updated", tag="reply")
    b.line(Strong("Title: "), intent.title)
    b.line(Strong("Prompt: "), compose.prompt_text(sym, intent.prompt_no))
    b.line(Strong("Route: "), compose.ROUTE_WORDS[intent.route])
    if intent.pen_name:
        b.line(Strong("Pen name: "), intent.pen_name, " (your account is never shown publicly)")
    essay = await queries.essay_of(uow.session, intent.id)
    if essay is not None and essay.published_at is not None:
        await uow.refresh_index(sym.id)
    b.line(
        Strong("Next: "),
        *(
            ("submit by ", Time(intent.due_override or sym.due_at, sym.timezone), " with /submit url:<link>")
            if essay is None
            else ("your essay is ", compose.STATUS_WORDS[essay.status])
        ),
    )
    return b.build()


async def withdraw(cmd: Withdraw, uow: UnitOfWork) -> Message:
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium)
    intent = await queries.active_intent(uow.session, sym, cmd.actor.user_id)
    intent.status, intent.updated_at = "withdrawn", uow.now
    essay = await queries.essay_of(uow.session, intent.id)
    b = MessageBuilder("Intent withdrawn", tag="reply").line("Your intent for ", sym.title, " is withdrawn.")
    if essay is not None and essay.published_at is None:
        await reviews.withdraw_essay(uow, sym, essay, intent)
    elif essay is not None:
        b.line("Your essay was already published, so it stays in the Essay Index.")
    await reminders.recompute(uow, sym, cmd.actor.user_id)
    uow.audit(cmd.actor, "withdraw", f"intent:{intent.id}")
    b.line("Changed your mind? /intent brings it back while intents are open.")
    return b.build()


async def set_reminders(cmd: SetReminders, uow: UnitOfWork) -> Message:
    on = values.yes_no(cmd.state or "", "state")
    pref = await uow.session.scalar(
        select(ParticipantPref).where(
            ParticipantPref.community == cmd.actor.community, ParticipantPref.user_id == cmd.actor.user_id
        )
    )
    if pref is None:
        uow.add(ParticipantPref(community=cmd.actor.community, user_id=cmd.actor.user_id, reminders_on=on))
    else:
        pref.reminders_on = on
    await uow.flush()
    for sym in await uow.session.scalars(
        select(Symposium).where(Symposium.community == cmd.actor.community, Symposium.status == "open")
    ):
        await reminders.recompute(uow, sym, cmd.actor.user_id)
    uow.audit(cmd.actor, "reminders", f"user:{cmd.actor.user_id}", on=on)
    return (
        MessageBuilder("Reminders " + ("on" if on else "off"), tag="reply")
        .line(
            "You will get private reminders before your deadlines."
            if on
            else "You will get no private reminders. Channel announcements still happen."
        )
        .build()
    )
