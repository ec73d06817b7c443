"""Opening, editing, checking and closing a symposium; managing editors."""

from dataclasses import fields
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import compose, queries, values
from bot.commands import (
    CheckChannels,
    CloseSymposium,
    EditSymposium,
    ManageEditors,
    OpenSymposium,
    ReopenSymposium,
)
from bot.db.models import Editor, Intent, OutboxRow, Symposium
from bot.errors import InvalidValue, Refused
from bot.index import public_essays, roundup
from bot.messages import ChannelRef, Message, MessageBuilder, Strong, Time
from bot.permissions import require_admin, require_editor
from bot.ports import ChannelCheck, Platform
from bot.services import reminders
from bot.uow import Checks, UnitOfWork

DATE_FIELDS = ("intent_deadline", "due_at", "publish_from", "publish_to")


def _channel(value: str) -> str:
    cleaned = value.strip().lstrip("#")
    if not cleaned or " " in cleaned:
        raise InvalidValue(f"“{value[:40]}” is not a channel: name one like #essays.")
    return cleaned


DATE_LABELS = {
    "intent_deadline": "intent deadline",
    "due_at": "due date",
    "publish_from": "first publication day",
    "publish_to": "last publication day",
}


def _apply(sym: Symposium, cmd: OpenSymposium, now: datetime) -> list[str]:
    """Copy the given options onto the symposium, validated; returns the names of the dates that changed. A date
    given must lie ahead: a call saying "Intent to Submit by … (4 years ago)" helps nobody."""
    if cmd.timezone is not None:
        sym.timezone = values.zone(cmd.timezone)
    if cmd.publish_time is not None:
        sym.publish_time = values.time_of_day(cmd.publish_time)
    if cmd.title is not None:
        sym.title = values.text(cmd.title, "title", maximum=values.TITLE_MAX)
    if cmd.prompt is not None:
        sym.prompt = values.text(cmd.prompt, "prompt", maximum=values.PROMPT_MAX)
    if cmd.alt_prompts is not None:
        alts = [
            values.text(p, "alternative prompt", maximum=values.PROMPT_MAX)
            for p in cmd.alt_prompts.split("|")
            if p.strip()
        ]
        sym.alt_prompts = alts
    if cmd.call is not None:
        sym.call_text = values.optional_text(cmd.call, "call", maximum=values.CALL_MAX, one_line=False)
    if cmd.allow_late_intents is not None:
        sym.allow_late_intents = values.yes_no(cmd.allow_late_intents, "allow_late_intents")
    if cmd.remind_intent is not None:
        sym.remind_intent = values.reminder_days(cmd.remind_intent, "remind_intent")
    if cmd.remind_due is not None:
        sym.remind_due = values.reminder_days(cmd.remind_due, "remind_due")
    if cmd.remind_at is not None:
        sym.remind_at = values.time_of_day(cmd.remind_at)
    if cmd.review_channel is not None:
        sym.review_channel = _channel(cmd.review_channel)
    if cmd.announce_channel is not None:
        sym.announce_channel = _channel(cmd.announce_channel)
    changed = []
    given = {"intent_deadline": cmd.intent_deadline, "due_at": cmd.due}
    for name, raw in given.items():
        if raw is not None:
            new = values.deadline(raw, DATE_LABELS[name], sym.timezone)
            changed += _set_date(sym, name, new, now)
    for name, raw in {"publish_from": cmd.publish_from, "publish_to": cmd.publish_to}.items():
        if raw is not None:
            new = values.publication(raw, DATE_LABELS[name], sym.timezone, sym.publish_time)
            changed += _set_date(sym, name, new, now)
    if not sym.intent_deadline <= sym.due_at <= sym.publish_from <= sym.publish_to:
        raise InvalidValue("The dates must be in order: intent_deadline ≤ due ≤ publish_from ≤ publish_to.")
    if sym.review_channel == sym.announce_channel:
        raise InvalidValue(
            "The review channel must differ from the announcement channel: review cards name real authors."
        )
    return changed


def _set_date(sym: Symposium, name: str, new: datetime, now: datetime) -> list[str]:
    if new <= now:
        raise InvalidValue(
            f"The {DATE_LABELS[name]} {values.local_text(new, sym.timezone)} has already passed "
            f"(it is {values.local_text(now, sym.timezone)}); choose a later date."
        )
    changed = [name] if getattr(sym, name, None) != new else []
    setattr(sym, name, new)
    return changed


async def _unique_slug(uow: UnitOfWork, base: str) -> str:
    taken = set(await uow.session.scalars(select(Symposium.slug).where(Symposium.slug.like(f"{base}%"))))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


async def look_before_open(cmd: OpenSymposium, reads: async_sessionmaker[AsyncSession], platform: Platform) -> Checks:
    """What the platform says about the channels `open` names, asked before its transaction opens."""
    channels = [_channel(cmd.announce_channel) if cmd.announce_channel else cmd.origin.channel]
    channels += [_channel(cmd.review_channel)] if cmd.review_channel else []
    return Checks(channels={ch: await platform.check_channel(cmd.actor.community, ch) for ch in channels})


async def look_before_edit(cmd: EditSymposium, reads: async_sessionmaker[AsyncSession], platform: Platform) -> Checks:
    """`edit` checks both channels when it moves either (nothing when it moves neither)."""
    if cmd.announce_channel is None and cmd.review_channel is None:
        return Checks()
    async with reads() as session:
        sym = await queries.symposium(session, cmd.actor.community, cmd.symposium)
    announce = _channel(cmd.announce_channel) if cmd.announce_channel else sym.announce_channel
    review = _channel(cmd.review_channel) if cmd.review_channel else sym.review_channel
    return Checks(channels={ch: await platform.check_channel(cmd.actor.community, ch) for ch in (announce, review)})


async def look_before_check(cmd: CheckChannels, reads: async_sessionmaker[AsyncSession], platform: Platform) -> Checks:
    async with reads() as session:
        sym = await queries.symposium(session, cmd.actor.community, cmd.symposium, open_only=False)
    community = cmd.actor.community
    checks = {ch: await platform.check_channel(community, ch) for ch in (sym.announce_channel, sym.review_channel)}
    return Checks(channels=checks, direct_message=await platform.check_direct_message(community, cmd.actor.user_id))


def _check(uow: UnitOfWork, channel: str) -> ChannelCheck:
    return uow.checks.channels.get(channel) or ChannelCheck(channel, missing={"post": "it was not checked"})


async def _check_channels(uow: UnitOfWork, sym: Symposium) -> list[str]:
    """Refuse when the bot cannot post in a channel; return warnings (a public review channel)."""
    warnings = []
    for label, channel in (("announcement", sym.announce_channel), ("review", sym.review_channel)):
        check = _check(uow, channel)
        if not check.can_post:
            missing = "; ".join(f"{k}: {v}" for k, v in check.missing.items())
            raise Refused(
                f"I can't post in the {label} channel ",
                ChannelRef(channel),
                f" ({missing or 'no access'}). Grant that, then try again; /symposium check shows what works.",
            )
        if label == "review" and check.readable_by_everyone:
            warnings.append(
                f"Warning: #{channel} is readable by everyone, and review cards name real authors. "
                "Consider making it staff-only."
            )
    return warnings


async def open_symposium(cmd: OpenSymposium, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium open")
    sym = Symposium(
        community=cmd.actor.community,
        timezone="UTC",
        publish_time="09:00",
        alt_prompts=[],
        call_text=None,
        allow_late_intents=False,
        remind_intent=[7, 1],
        remind_due=[7, 2, 1],
        remind_at="08:00",
        announce_channel=cmd.origin.channel,
        status="open",
        opened_by=cmd.actor.user_id,
        opened_at=uow.now,
    )
    _apply(sym, cmd, uow.now)
    year = values.local_day(sym.publish_from, sym.timezone).year
    sym.slug = await _unique_slug(uow, values.slug(cmd.slug) if cmd.slug else values.slugify(sym.title, year))
    if cmd.slug and sym.slug != values.slug(cmd.slug):
        raise InvalidValue(f"The slug “{cmd.slug}” is taken; choose another.")
    warnings = await _check_channels(uow, sym)
    uow.add(sym)
    await uow.flush()
    uow.post(
        sym,
        sym.announce_channel,
        compose.call_announcement(sym, uow.settings.public_base_url),
        key=f"call:{sym.id}",
    )
    await uow.refresh_index(sym)
    await reminders.recompute(uow, sym)
    uow.audit(cmd.actor, "open", f"symposium:{sym.id}", slug=sym.slug)
    b = MessageBuilder(f"Opened “{sym.title}” ({sym.slug})", tag="reply")
    b.line(
        "Announced in ", ChannelRef(sym.announce_channel), "; review cards go to ", ChannelRef(sym.review_channel), "."
    )
    b.line(
        "Intents until ", Time(sym.intent_deadline, sym.timezone), ", essays due ", Time(sym.due_at, sym.timezone), "."
    )
    for warning in warnings:
        b.line(warning)
    return b.build()


async def edit_symposium(cmd: EditSymposium, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium edit")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium)
    given = [
        f.name
        for f in fields(cmd)
        if f.name not in ("actor", "origin", "symposium") and getattr(cmd, f.name) is not None
    ]
    if not given:
        raise InvalidValue("Tell me what to change, for example /symposium edit due:2023-03-17.")
    if cmd.slug is not None:
        raise InvalidValue("A symposium's slug cannot change: its public page and links use it.")
    changed = _apply(sym, cmd, uow.now)
    if cmd.announce_channel is not None or cmd.review_channel is not None:
        await _check_channels(uow, sym)
    await reminders.recompute(uow, sym)
    await uow.refresh_index(sym)
    if changed:
        note = MessageBuilder(f"Dates changed: {sym.title}", tag="notice")
        note.line("The editors changed the symposium's dates:")
        labels = {
            "intent_deadline": "Intent to Submit by",
            "due_at": "Essays due",
            "publish_from": "Publication from",
            "publish_to": "Publication until",
        }
        for name in changed:
            note.item(Strong(labels[name] + " "), Time(getattr(sym, name), sym.timezone))
        active = await uow.session.scalars(
            select(Intent.user_id).where(Intent.symposium_id == sym.id, Intent.status == "active")
        )
        uow.dm_each(sym, list(active), note.build())
    uow.audit(cmd.actor, "edit", f"symposium:{sym.id}", fields=given)
    b = MessageBuilder(f"Updated “{sym.title}”", tag="reply").line("Changed: " + ", ".join(given) + ".")
    if changed:
        b.line("Reminders follow the new dates; participants with an active intent are told.")
    return b.build()


def _check_lines(b: MessageBuilder, label: str, check: ChannelCheck) -> None:
    b.line(Strong(f"{label} "), ChannelRef(check.channel))
    for what in check.works:
        b.item("✓ ", what)
    for what, grant in check.missing.items():
        b.item("✗ ", what, ": ", grant)
    if check.readable_by_everyone:
        b.item("! readable by everyone: review cards name real authors")


async def check_channels(cmd: CheckChannels, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium check")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium, open_only=False)
    b = MessageBuilder(f"What I can do for {sym.title}", tag="reply")
    _check_lines(b, "Announcements", _check(uow, sym.announce_channel))
    _check_lines(b, "Review", _check(uow, sym.review_channel))
    missing_dm = uow.checks.direct_message
    b.line(Strong("Direct messages: "), "✓ works" if missing_dm is None else f"✗ {missing_dm}")
    return b.build()


async def close_symposium(cmd: CloseSymposium, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium close")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium)
    sym.status, sym.closed_at = "closed", uow.now
    await uow.session.execute(
        delete(OutboxRow).where(
            OutboxRow.symposium_id == sym.id, OutboxRow.status == "pending", OutboxRow.scope.is_not(None)
        )
    )

    published = await public_essays(uow.session, sym)
    uow.post(sym, sym.announce_channel, roundup(sym, published, uow.settings.public_base_url))
    await uow.refresh_index(sym)
    uow.audit(cmd.actor, "close", f"symposium:{sym.id}")
    return (
        MessageBuilder(f"Closed “{sym.title}”", tag="reply")
        .line(
            f"Reminders cancelled; the roundup of {compose.count(len(published), 'published essay')} goes to ",
            ChannelRef(sym.announce_channel),
            "; the Essay Index stays. /symposium reopen brings the call back.",
        )
        .build()
    )


async def reopen_symposium(cmd: ReopenSymposium, uow: UnitOfWork) -> Message:
    """Open a closed symposium again (the newest closed one unless named): reminders resume from its dates."""
    await require_editor(uow, cmd.actor, "/symposium reopen")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium, open_only=False)
    if cmd.symposium is None and sym.status == "open":
        closed = await uow.session.scalar(
            select(Symposium)
            .where(Symposium.community == cmd.actor.community, Symposium.status == "closed")
            .order_by(Symposium.closed_at.desc())
            .limit(1)
        )
        sym = closed or sym
    if sym.status == "open":
        raise Refused(f"“{sym.title}” is open already.")
    sym.status, sym.closed_at = "open", None
    await reminders.recompute(uow, sym)
    await uow.refresh_index(sym)
    note = MessageBuilder(f"{sym.title} is open again", tag="announcement")
    note.line(
        "Intent to Submit by ",
        Time(sym.intent_deadline, sym.timezone),
        "; essays due ",
        Time(sym.due_at, sym.timezone),
        ".",
    )
    uow.post(sym, sym.announce_channel, note.build())
    uow.audit(cmd.actor, "reopen", f"symposium:{sym.id}")
    return (
        MessageBuilder(f"Reopened “{sym.title}”", tag="reply")
        .line("Reminders follow its dates again; the announcement channel is told. /symposium edit moves dates.")
        .build()
    )


async def manage_editors(cmd: ManageEditors, uow: UnitOfWork) -> Message:
    require_admin(cmd.actor)
    if bool(cmd.add) == bool(cmd.remove):
        raise InvalidValue("Say one of add:@user or remove:@user.")
    community = cmd.actor.community
    if cmd.add:
        user = cmd.add.strip().lstrip("@")
        exists = await uow.session.scalar(
            select(Editor.id).where(Editor.community == community, Editor.user_id == user)
        )
        if exists is None:
            uow.add(Editor(community=community, user_id=user, added_by=cmd.actor.user_id, added_at=uow.now))
        uow.audit(cmd.actor, "editor_add", f"user:{user}")
        return MessageBuilder("Editors", tag="reply").line(f"{user} is now an editor here.").build()
    user = (cmd.remove or "").strip().lstrip("@")
    result = await uow.session.execute(delete(Editor).where(Editor.community == community, Editor.user_id == user))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise InvalidValue(f"{user} was not added as an editor (role holders and admins are editors by their role).")
    uow.audit(cmd.actor, "editor_remove", f"user:{user}")
    return MessageBuilder("Editors", tag="reply").line(f"{user} is no longer an editor here.").build()
