"""The audit trail, readable: who did what and when in a symposium (editors only), in chat and in the export."""

from collections.abc import Sequence

from sqlalchemy import or_, select

from bot import queries, values
from bot.commands import ShowHistory, system_actor
from bot.db.models import AuditEntry, Essay, Intent, Submission, Symposium
from bot.messages import Mention, Message, MessageBuilder, Time
from bot.permissions import require_editor
from bot.uow import UnitOfWork

SHOWN = 30  # entries in chat; the export has them all

WORDS = {
    "open": "opened the symposium",
    "edit": "edited the symposium",
    "close": "closed the symposium",
    "reopen": "reopened the symposium",
    "intent": "declared an intent",
    "intent_update": "updated an intent",
    "withdraw": "withdrew an intent",
    "submit": "submitted",
    "live_link": "gave the live link",
    "react": "reacted",
    "unreact": "took back a reaction",
    "reconcile": "decided by a reaction made while the bot was away",
    "decide": "decided",
    "schedule": "arranged a publication date",
    "schedule_auto": "arranged dates automatically",
    "publish": "announced",
    "publish_scheduled": "announced at its arranged time",
    "commentary": "added commentary",
    "extend": "extended a due date",
    "notify": "messaged every participant",
    "export": "exported the symposium",
    "not_an_editor": "reacted on a card (not an editor: nothing changed)",
    "own_essay": "reacted on their own essay's card (nothing changed)",
}


async def entries(uow: UnitOfWork, sym: Symposium, essay_number: int | None = None) -> Sequence[AuditEntry]:
    """The symposium's audit rows, oldest first: those about it, its intents, essays and submissions (or one
    essay's)."""
    intents = select(Intent.id).where(Intent.symposium_id == sym.id)
    essays = select(Essay.id).where(Essay.symposium_id == sym.id)
    if essay_number is not None:
        essay, _ = await queries.essay_by_number(uow.session, sym, essay_number)
        intents, essays = (
            select(Intent.id).where(Intent.id == essay.intent_id),
            select(Essay.id).where(Essay.id == essay.id),
        )
    submissions = select(Submission.id).where(Submission.essay_id.in_(essays))
    subjects = [
        *(f"intent:{n}" for n in await uow.session.scalars(intents)),
        *(f"essay:{n}" for n in await uow.session.scalars(essays)),
        *(f"submission:{n}" for n in await uow.session.scalars(submissions)),
    ]
    about = AuditEntry.subject.in_(subjects) if subjects else AuditEntry.subject == "-"
    if essay_number is None:
        about = or_(about, AuditEntry.subject == f"symposium:{sym.id}")
    rows = await uow.session.scalars(
        select(AuditEntry).where(AuditEntry.community == sym.community, about).order_by(AuditEntry.at, AuditEntry.id)
    )
    return list(rows)


def describe(entry: AuditEntry) -> str:
    words = WORDS.get(entry.action, entry.action.replace("_", " "))
    detail = entry.detail or {}
    extra = [f"{k} {v}" for k, v in detail.items() if k in ("essay", "revision", "decision", "emoji", "at", "due")]
    return words + (f" ({', '.join(extra)})" if extra else "")


async def show_history(cmd: ShowHistory, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium history")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium, open_only=False)
    number = values.integer(cmd.essay, "essay") if cmd.essay is not None else None
    rows = await entries(uow, sym, number)
    title = f"History of essay {number}" if number is not None else f"History of {sym.title}"
    b = MessageBuilder(title, tag="reply")
    if not rows:
        b.line("Nothing has happened yet.")
    if len(rows) > SHOWN:
        b.line(f"The last {SHOWN} of {len(rows)} entries; /symposium export has them all.")
    for entry in rows[-SHOWN:]:
        b.item(Time(entry.at, sym.timezone, relative=False), " ", who(entry), " ", describe(entry))
    return b.build()


def who(entry: AuditEntry) -> Mention | str:
    return "Symposium Bot" if entry.actor_id == system_actor("").user_id else Mention(entry.actor_id, entry.actor_id)
