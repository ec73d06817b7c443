"""Editors' decisions: reactions on review cards (the latest editor reaction still present decides) and
`/symposium decide`, both through `apply_decision`."""

from sqlalchemy import select

from bot import compose, queries, values
from bot.commands import Decide, ReactOnCard
from bot.db.models import CardReaction, Essay, Intent, PostedMessage, Submission, Symposium
from bot.errors import Refused
from bot.messages import Message, MessageBuilder
from bot.permissions import is_editor, require_editor
from bot.services import reminders
from bot.uow import UnitOfWork

DECISIONS = {
    "✅": "approved",
    "white_check_mark": "approved",
    "heavy_check_mark": "approved",
    "❌": "declined",
    "x": "declined",
    "✏️": "changes_requested",
    "✏": "changes_requested",
    "pencil2": "changes_requested",
    "pencil": "changes_requested",
}
COMMAND_DECISIONS = {"approve": "approved", "decline": "declined", "changes": "changes_requested"}


def decision_of(emoji: str) -> str | None:
    return DECISIONS.get(emoji.strip().strip(":"))


async def card_submission(uow: UnitOfWork, channel: str, ref: str) -> Submission | None:
    key = await uow.session.scalar(
        select(PostedMessage.key).where(PostedMessage.channel == channel, PostedMessage.ref == ref)
    )
    if key is None or not key.startswith("card:"):
        return None
    return await uow.session.get(Submission, int(key.removeprefix("card:")))


async def card_context(uow: UnitOfWork, sub: Submission) -> tuple[Symposium, Essay, Intent]:
    essay = await uow.session.get(Essay, sub.essay_id)
    assert essay is not None
    intent = await uow.session.get(Intent, essay.intent_id)
    sym = await uow.session.get(Symposium, essay.symposium_id)
    assert intent is not None
    assert sym is not None
    return sym, essay, intent


async def react(cmd: ReactOnCard, uow: UnitOfWork) -> Message | None:
    """A reaction added or removed on any message; None when it is not a decision to act on."""
    decision = decision_of(cmd.emoji)
    if decision is None:
        return None
    sub = await card_submission(uow, cmd.channel, cmd.message_ref)
    if sub is None or sub.superseded or not await is_editor(uow, cmd.actor):
        return None
    sym, essay, intent = await card_context(uow, sub)
    if essay.published_at is not None or essay.status == "withdrawn":
        why = "it is already published" if essay.published_at else "its author withdrew it"
        return (
            MessageBuilder("Nothing changed", tag="reply")
            .line(f"Essay {essay.number} cannot be decided any more: {why}.")
            .build()
        )
    existing = await uow.session.scalar(
        select(CardReaction).where(
            CardReaction.submission_id == sub.id,
            CardReaction.user_id == cmd.actor.user_id,
            CardReaction.decision == decision,
        )
    )
    if cmd.added:
        if existing is None:
            uow.add(
                CardReaction(
                    submission_id=sub.id,
                    user_id=cmd.actor.user_id,
                    user_name=cmd.actor.name,
                    decision=decision,
                    at=uow.now,
                )
            )
        else:
            existing.at = uow.now
    elif existing is not None:
        await uow.session.delete(existing)
    await uow.flush()
    latest = await uow.session.scalar(
        select(CardReaction)
        .where(CardReaction.submission_id == sub.id)
        .order_by(CardReaction.at.desc(), CardReaction.id.desc())
        .limit(1)
    )
    if latest is None:
        await apply_decision(uow, sym, essay, intent, sub, "pending", None, None)
    else:
        await apply_decision(uow, sym, essay, intent, sub, latest.decision, latest.user_name, None)
    uow.audit(cmd.actor, "react" if cmd.added else "unreact", f"submission:{sub.id}", emoji=cmd.emoji)
    return None


async def decide(cmd: Decide, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium decide")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium)
    essay, intent = await queries.essay_by_number(uow.session, sym, values.integer(cmd.essay or "", "essay"))
    status = COMMAND_DECISIONS[(cmd.decision or "").lower()]
    reason = values.optional_text(cmd.reason, "reason", maximum=values.REASON_MAX, one_line=False)
    if essay.published_at is not None:
        raise Refused(f"Essay {essay.number} is already published; its decision cannot change.")
    if essay.status == "withdrawn":
        raise Refused(f"Essay {essay.number} was withdrawn by its author.")
    sub = await queries.latest_submission(uow.session, essay.id)
    assert sub is not None
    await apply_decision(uow, sym, essay, intent, sub, status, cmd.actor.name, reason, force=True)
    uow.audit(cmd.actor, "decide", f"submission:{sub.id}", decision=status)
    return (
        MessageBuilder(f"Essay {essay.number}: {compose.STATUS_WORDS[status]}", tag="reply")
        .line("The author is told" + (" with your reason." if reason else "."))
        .build()
    )


async def apply_decision(
    uow: UnitOfWork,
    sym: Symposium,
    essay: Essay,
    intent: Intent,
    sub: Submission,
    status: str,
    by_name: str | None,
    reason: str | None,
    *,
    force: bool = False,
) -> None:
    """Record the essay's new review state, edit its card, tell the author; cancel a date it loses."""
    if essay.status == status and not force:
        return
    had_date = essay.scheduled_for is not None
    essay.status = status
    sub.decided_by_name, sub.decided_at, sub.reason = by_name, uow.now if by_name else None, reason
    if status == "approved" and essay.approved_at is None:
        essay.approved_at = uow.now
    uow.edit(f"card:{sub.id}", compose.review_card(sym, essay, intent, sub), symposium_id=sym.id)
    uow.dm(intent.user_id, compose.decision_dm(sym, essay, intent, reason), symposium_id=sym.id)
    if status != "approved" and had_date:
        await cancel_date(uow, sym, essay, intent, f"the essay is now {compose.STATUS_WORDS[status]}")


async def cancel_date(uow: UnitOfWork, sym: Symposium, essay: Essay, intent: Intent, why: str) -> None:
    essay.scheduled_for = None
    message = compose.date_cancelled(sym, essay, intent, why)
    uow.dm(intent.user_id, message, symposium_id=sym.id)
    uow.post(sym.review_channel, message, symposium_id=sym.id)
    await reminders.recompute(uow, sym, intent.user_id)
    await uow.refresh_index(sym.id)


async def withdraw_essay(uow: UnitOfWork, sym: Symposium, essay: Essay, intent: Intent) -> None:
    sub = await queries.latest_submission(uow.session, essay.id)
    had_date = essay.scheduled_for is not None
    essay.status, essay.scheduled_for = "withdrawn", None
    if sub is not None:
        uow.edit(f"card:{sub.id}", compose.review_card(sym, essay, intent, sub), symposium_id=sym.id)
    note = MessageBuilder(f"Essay {essay.number} withdrawn", tag="notice").line(
        f"The author withdrew essay {essay.number} (“",
        intent.title,
        "”)" + (" and its arranged date." if had_date else "."),
    )
    uow.post(sym.review_channel, note.build(), symposium_id=sym.id)
    await uow.refresh_index(sym.id)
