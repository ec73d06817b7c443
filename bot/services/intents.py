"""Intents to Submit: declare or update, withdraw, and a participant's reminder preference."""

from sqlalchemy import select

from bot import compose, queries, values
from bot.commands import DeclareIntent, SetReminders, Withdraw
from bot.db.models import Essay, Intent, ParticipantPref, Symposium
from bot.errors import DeadlinePassed, InvalidValue, Refused
from bot.messages import Message, MessageBuilder, Strong, Time
from bot.services import previews, reminders, reviews
from bot.uow import UnitOfWork

PUBLIC_FIELDS = {"title": "title", "prompt_no": "prompt", "route": "route", "pen_name": "pen name", "bio": "bio"}


async def declare_intent(cmd: DeclareIntent, uow: UnitOfWork) -> Message:
    sym = await queries.writers_symposium(uow.session, cmd.actor.community, cmd.actor.user_id, cmd.symposium)
    intent = await queries.intent_of(uow.session, sym.id, cmd.actor.user_id)
    changes = {
        "title": values.text(cmd.title, "title", maximum=values.TITLE_MAX) if cmd.title is not None else None,
        "prompt_no": values.prompt_number(cmd.prompt, len(sym.alt_prompts)) if cmd.prompt is not None else None,
        "route": values.route(cmd.route) if cmd.route is not None else None,
        "pen_name": values.clearable(cmd.pen_name, "pen name", maximum=values.PEN_NAME_MAX),
        "bio": values.clearable(cmd.bio, "bio", maximum=values.BIO_MAX, one_line=False),
        "affiliation": values.clearable(cmd.affiliation, "affiliation", maximum=values.AFFILIATION_MAX),
        "feed_url": _feed(cmd.feed),
    }
    given: dict[str, object] = {name: value for name, value in changes.items() if value is not None}
    is_new = intent is None or intent.status != "active"
    if is_new and uow.now > sym.intent_deadline and not sym.allow_late_intents:
        raise DeadlinePassed(
            f"Intents for {sym.title} closed on {values.local_text(sym.intent_deadline, sym.timezone)}. "
            "Ask an editor if you would still like to write."
        )
    essay = await queries.essay_of(uow.session, intent.id) if intent is not None else None
    if intent is not None and essay is not None and essay.published_at is not None:
        _keep_public_fields(intent, essay, given)
    if isinstance(pen_name := given.get("pen_name"), str) and pen_name:
        await pen_name_is_free(uow, sym, cmd.actor.user_id, pen_name)
    if intent is None:
        if "title" not in given:
            raise InvalidValue("Give your essay a working title: /intent title:<working title>")
        intent = Intent(
            symposium_id=sym.id,
            user_id=cmd.actor.user_id,
            title=str(given["title"]),
            prompt_no=0,
            route="direct",
            status="active",
            created_at=uow.now,
        )
        uow.add(intent)
    intent.status, intent.updated_at, intent.user_name = "active", uow.now, cmd.actor.name
    for name, value in given.items():
        setattr(intent, name, value if value != values.CLEAR else None)
    await uow.flush()
    if essay is not None and essay.published_at is None:
        if given.keys() & {"title", "prompt_no", "route", "pen_name", "affiliation"}:
            await reviews.refresh_card(uow, sym, essay, intent)
        if given.keys() & {"title", "pen_name", "bio"}:
            await previews.changed(uow, sym, essay)  # the preview of its announcement
        elif given.keys() & {"route", "feed_url"}:
            await previews.changed(uow, sym, essay, announcement=False)  # the note says where its link stands
    await reminders.recompute(uow, sym, cmd.actor.user_id)
    uow.audit(cmd.actor, "intent" if is_new else "intent_update", f"intent:{intent.id}", fields=sorted(given))
    b = MessageBuilder("Intent to Submit recorded" if is_new else "Intent to Submit updated", tag="reply")
    b.line(Strong("Title: "), intent.title)
    b.line(Strong("Prompt: "), compose.prompt_text(sym, intent.prompt_no))
    b.line(Strong("Route: "), compose.ROUTE_WORDS[intent.route])
    if intent.pen_name:
        b.line(Strong("Pen name: "), intent.pen_name, " (your account is never shown publicly)")
    elif given.get("pen_name") == values.CLEAR:
        b.line(Strong("Pen name: "), "none; your essay will be published under your own name")
    if intent.feed_url and "feed_url" in given:
        b.line(Strong("Your site: "), values.shown_link(intent.feed_url), " (I look for your essay there on its day)")
    b.line(
        Strong("Next: "),
        *(
            ("submit by ", Time(intent.due_override or sym.due_at, sym.timezone), " with /submit url:<link>")
            if essay is None
            else ("your essay is ", compose.STATUS_WORDS[essay.status])
        ),
    )
    return b.build()


def _feed(value: str | None) -> str | None:
    if value is None or value.strip().lower() == "none":
        return values.clearable(value, "feed", maximum=values.LINK_MAX)
    return values.link(value, "feed")


def _keep_public_fields(intent: Intent, essay: Essay, given: dict[str, object]) -> None:
    """Once an essay is announced, what the public read stays what they read: an editor re-announces it
    deliberately (/symposium rename), which edits the announcement too."""
    moved = [label for name, label in PUBLIC_FIELDS.items() if name in given and given[name] != _current(intent, name)]
    if moved:
        raise Refused(
            f"Essay {essay.number} is published, so its {', '.join(moved)} can no longer change here. Ask an "
            f"editor: /symposium rename essay:{essay.number} re-announces it with the new details."
        )


def _current(intent: Intent, name: str) -> object:
    value = getattr(intent, name)
    return values.CLEAR if value is None else value


async def pen_name_is_free(uow: UnitOfWork, sym: Symposium, user_id: str, pen_name: str) -> None:
    """A pen name belongs to one writer within a symposium (compared without case and spacing)."""
    wanted = _name_key(pen_name)
    others = await uow.session.scalars(
        select(Intent.pen_name).where(
            Intent.symposium_id == sym.id, Intent.user_id != user_id, Intent.pen_name.is_not(None)
        )
    )
    if any(_name_key(other) == wanted for other in others if other):
        raise Refused(f"Another writer in {sym.title} already writes as “{pen_name}”; choose another pen name.")


def _name_key(name: str) -> str:
    return "".join(name.casefold().split())


async def withdraw(cmd: Withdraw, uow: UnitOfWork) -> Message:
    sym = await queries.writers_symposium(uow.session, cmd.actor.community, cmd.actor.user_id, cmd.symposium)
    intent = await queries.active_intent(uow.session, sym, cmd.actor.user_id)
    reason = values.optional_text(cmd.reason, "reason", maximum=values.REASON_MAX, one_line=False)
    intent.status, intent.updated_at = "withdrawn", uow.now
    essay = await queries.essay_of(uow.session, intent.id)
    b = MessageBuilder("Intent withdrawn", tag="reply").line("Your intent for ", sym.title, " is withdrawn.")
    if essay is not None and essay.published_at is None:
        await reviews.withdraw_essay(uow, sym, essay, intent, reason)
    elif essay is not None:
        b.line("Your essay was already published, so it stays in the Essay Index.")
    await reminders.recompute(uow, sym, cmd.actor.user_id)
    uow.audit(cmd.actor, "withdraw", f"intent:{intent.id}")
    b.line("Changed your mind? /intent brings it back while intents are open.")
    return b.build()


REMINDER_WORDS = {
    "all": "You will get private reminders before your due date and your publication day.",
    "due-only": "You will get private reminders before your due date only (none before your publication day).",
    "off": "You will get no private reminders. Channel announcements still happen.",
}


async def set_reminders(cmd: SetReminders, uow: UnitOfWork) -> Message:
    state = (cmd.state or "").strip().lower()
    mode = "all" if state == "on" else state
    if mode not in REMINDER_WORDS:
        raise InvalidValue("Choose all, due-only or off: /symposium reminders due-only")
    pref = await uow.session.scalar(
        select(ParticipantPref).where(
            ParticipantPref.community == cmd.actor.community, ParticipantPref.user_id == cmd.actor.user_id
        )
    )
    if pref is None:
        uow.add(ParticipantPref(community=cmd.actor.community, user_id=cmd.actor.user_id, mode=mode))
    else:
        pref.mode = mode
    await uow.flush()
    for sym in await uow.session.scalars(
        select(Symposium).where(Symposium.community == cmd.actor.community, Symposium.status == "open")
    ):
        await reminders.recompute(uow, sym, cmd.actor.user_id)
    uow.audit(cmd.actor, "reminders", f"user:{cmd.actor.user_id}", mode=mode)
    return MessageBuilder(f"Reminders: {mode}", tag="reply").line(REMINDER_WORDS[mode]).build()
