"""Editors reaching writers: a later due date for one, a note to all, and the private CSV export."""

import csv
import io
import json

from sqlalchemy import select

from bot import queries, values
from bot.commands import Export, Extend, Notify
from bot.db.models import Essay, Intent, Submission
from bot.errors import InvalidValue, NoActiveIntent, Refused
from bot.messages import Attachment, Message, MessageBuilder, Time
from bot.permissions import require_editor
from bot.services import history, reminders
from bot.uow import UnitOfWork


async def extend(cmd: Extend, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium extend")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium)
    user = (cmd.user or "").strip().lstrip("@")
    intent = await queries.intent_of(uow.session, sym.id, user)
    if intent is None or intent.status != "active":
        raise NoActiveIntent(f"{user} has no active Intent to Submit in {sym.title}.")
    essay = await queries.essay_of(uow.session, intent.id)
    if essay is not None and essay.published_at is not None:
        raise Refused(
            f"{intent.user_name}'s essay {essay.number} is already published: there is nothing left to be due."
        )
    due = values.deadline(cmd.due or "", "due date", sym.timezone)
    if due <= uow.now:
        raise InvalidValue("The new due date has already passed.")
    if due <= (intent.due_override or sym.due_at):
        current = values.local_text(intent.due_override or sym.due_at, sym.timezone)
        raise InvalidValue(f"{intent.user_name} is already due {current}; give a later date.")
    intent.due_override = due
    await reminders.recompute(uow, sym, intent.user_id)
    uow.dm(
        sym,
        intent.user_id,
        MessageBuilder(f"More time for “{intent.title}”", tag="notice")
        .line("The editors moved your due date to ", Time(due, sym.timezone), ".")
        .build(),
    )
    uow.audit(cmd.actor, "extend", f"intent:{intent.id}", due=due.isoformat())
    return (
        MessageBuilder("Due date extended", tag="reply")
        .line(f"{intent.user_name} now has until ", Time(due, sym.timezone), "; they are told.")
        .build()
    )


async def notify(cmd: Notify, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium notify")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium)
    text = values.text(cmd.text or "", "message", maximum=values.NOTE_MAX * 2, one_line=False)
    message = MessageBuilder(f"From the editors of {sym.title}", tag="notice").line(text).build()
    users = list(
        await uow.session.scalars(
            select(Intent.user_id).where(Intent.symposium_id == sym.id, Intent.status == "active")
        )
    )
    uow.dm_each(sym, users, message)
    uow.audit(cmd.actor, "notify", f"symposium:{sym.id}", recipients=len(users))
    return (
        MessageBuilder("Message sent", tag="reply")
        .line(f"On its way to {len(users)} participant{'s' if len(users) != 1 else ''} with an active intent.")
        .build()
    )


EXPORT_COLUMNS = (
    "essay",
    "user_id",
    "name",
    "pen_name",
    "title",
    "prompt",
    "route",
    "affiliation",
    "bio",
    "intent_status",
    "essay_status",
    "revision",
    "url",
    "note",
    "late",
    "submitted_at",
    "scheduled_for",
    "live_url",
    "published_at",
)


async def export(cmd: Export, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium export")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium, open_only=False)
    rows = (
        await uow.session.execute(
            select(Intent, Essay, Submission)
            .outerjoin(Essay, Essay.intent_id == Intent.id)
            .outerjoin(Submission, Submission.essay_id == Essay.id)
            .where(Intent.symposium_id == sym.id)
            .order_by(Essay.number, Intent.id, Submission.revision)
        )
    ).all()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for intent, essay, sub in rows:
        writer.writerow(
            _cell(v)
            for v in [
                essay.number if essay else "",
                intent.user_id,
                intent.user_name,
                intent.pen_name or "",
                intent.title,
                intent.prompt_no,
                intent.route,
                intent.affiliation or "",
                intent.bio or "",
                intent.status,
                essay.status if essay else "",
                sub.revision if sub else "",
                sub.url if sub else "",
                sub.note if sub else "",
                "yes" if sub and sub.late else "",
                sub.submitted_at.isoformat() if sub else "",
                essay.scheduled_for.isoformat() if essay and essay.scheduled_for else "",
                essay.live_url or "" if essay else "",
                essay.published_at.isoformat() if essay and essay.published_at else "",
            ]
        )
    attachment = Attachment(f"{sym.slug}-export.csv", out.getvalue())
    uow.dm(
        sym,
        cmd.actor.user_id,
        MessageBuilder(f"Export of {sym.title}", tag="notice")
        .line(f"{len(rows)} rows of intents and submissions, with the private fields.")
        .build(attachment),
    )
    trail = io.StringIO()
    history_writer = csv.writer(trail)
    history_writer.writerow(("at", "who", "action", "what", "subject", "detail"))
    for entry in await history.entries(uow, sym):
        history_writer.writerow(
            _cell(v)
            for v in (
                entry.at.isoformat(),
                entry.actor_id,
                entry.action,
                history.describe(entry),
                entry.subject,
                json.dumps(entry.detail, ensure_ascii=False, sort_keys=True),
            )
        )
    uow.dm(
        sym,
        cmd.actor.user_id,
        MessageBuilder(f"History of {sym.title}", tag="notice")
        .line("Who did what and when, from the audit trail.")
        .build(Attachment(f"{sym.slug}-history.csv", trail.getvalue())),
    )
    uow.audit(cmd.actor, "export", f"symposium:{sym.id}")
    return (
        MessageBuilder("Export on its way", tag="reply")
        .line("I'm sending you two CSV files privately: intents and submissions, and the history.")
        .build()
    )


def _cell(value: object) -> str:
    """Text starting with = + - @ would run as a formula in a spreadsheet: OWASP's advice is a leading quote."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
