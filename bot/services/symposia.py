"""Opening, editing, checking and closing a symposium; managing editors."""

from dataclasses import fields

from sqlalchemy import delete, select

from bot import compose, queries, values
from bot.commands import CheckChannels, CloseSymposium, EditSymposium, ManageEditors, OpenSymposium
from bot.db.models import Editor, Intent, OutboxRow, Symposium
from bot.errors import InvalidValue, Refused
from bot.index import public_essays, roundup
from bot.messages import ChannelRef, Message, MessageBuilder, Strong, Time
from bot.permissions import require_admin, require_editor
from bot.ports import ChannelCheck
from bot.services import reminders
from bot.uow import UnitOfWork

DATE_FIELDS = ("intent_deadline", "due_at", "publish_from", "publish_to")


def _channel(value: str) -> str:
    cleaned = value.strip().lstrip("#")
    if not cleaned or " " in cleaned:
        raise InvalidValue(f"“{value[:40]}” is not a channel: name one like #essays.")
    return cleaned


def _apply(sym: Symposium, cmd: OpenSymposium) -> list[str]:
    """Copy the given options onto the symposium, validated; returns the names of the dates that changed."""
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
    if cmd.review_channel is not None:
        sym.review_channel = _channel(cmd.review_channel)
    if cmd.announce_channel is not None:
        sym.announce_channel = _channel(cmd.announce_channel)
    changed = []
    given = {"intent_deadline": cmd.intent_deadline, "due_at": cmd.due}
    for name, raw in given.items():
        if raw is not None:
            new = values.deadline(raw, name.removesuffix("_at").replace("_", " "), sym.timezone)
            if getattr(sym, name, None) != new:
                changed.append(name)
            setattr(sym, name, new)
    for name, raw in {"publish_from": cmd.publish_from, "publish_to": cmd.publish_to}.items():
        if raw is not None:
            new = values.publication(raw, name.replace("_", " "), sym.timezone, sym.publish_time)
            if getattr(sym, name, None) != new:
                changed.append(name)
            setattr(sym, name, new)
    if not sym.intent_deadline <= sym.due_at <= sym.publish_from <= sym.publish_to:
        raise InvalidValue("The dates must be in order: intent_deadline ≤ due ≤ publish_from ≤ publish_to.")
    if sym.review_channel == sym.announce_channel:
        raise InvalidValue(
            "The review channel must differ from the announcement channel: review cards name real authors."
        )
    return changed


async def _unique_slug(uow: UnitOfWork, base: str) -> str:
    taken = set(await uow.session.scalars(select(Symposium.slug).where(Symposium.slug.like(f"{base}%"))))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


async def _check_channels(uow: UnitOfWork, sym: Symposium) -> list[str]:
    """Refuse when the bot cannot post in a channel; return warnings (a public review channel)."""
    warnings = []
    for label, channel in (("announcement", sym.announce_channel), ("review", sym.review_channel)):
        check = await uow.platform.check_channel(channel)
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
        announce_channel=cmd.origin.channel,
        status="open",
        opened_by=cmd.actor.user_id,
        opened_at=uow.now,
    )
    _apply(sym, cmd)
    year = values.local_day(sym.publish_from, sym.timezone).year
    sym.slug = await _unique_slug(uow, values.slug(cmd.slug) if cmd.slug else values.slugify(sym.title, year))
    if cmd.slug and sym.slug != values.slug(cmd.slug):
        raise InvalidValue(f"The slug “{cmd.slug}” is taken; choose another.")
    warnings = await _check_channels(uow, sym)
    uow.add(sym)
    await uow.flush()
    uow.post(
        sym.announce_channel,
        compose.call_announcement(sym, uow.settings.public_base_url),
        symposium_id=sym.id,
        key=f"call:{sym.id}",
    )
    await uow.refresh_index(sym.id)
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
    changed = _apply(sym, cmd)
    if cmd.announce_channel is not None or cmd.review_channel is not None:
        await _check_channels(uow, sym)
    await reminders.recompute(uow, sym)
    await uow.refresh_index(sym.id)
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
        await uow.dm_each(list(active), note.build(), symposium_id=sym.id)
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
    _check_lines(b, "Announcements", await uow.platform.check_channel(sym.announce_channel))
    _check_lines(b, "Review", await uow.platform.check_channel(sym.review_channel))
    missing_dm = await uow.platform.check_direct_message(cmd.actor.user_id)
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
    uow.post(sym.announce_channel, roundup(sym, published, uow.settings.public_base_url), symposium_id=sym.id)
    await uow.refresh_index(sym.id)
    uow.audit(cmd.actor, "close", f"symposium:{sym.id}")
    return (
        MessageBuilder(f"Closed “{sym.title}”", tag="reply")
        .line(
            f"Reminders cancelled; the roundup of {len(published)} published essays goes to ",
            ChannelRef(sym.announce_channel),
            "; the Essay Index stays.",
        )
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
