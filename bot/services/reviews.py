"""Editors' decisions: reactions on review cards (the latest editor reaction still present decides) and
`/symposium decide`, both through `apply_decision`."""

from dataclasses import dataclass

from sqlalchemy import select

from bot import compose, queries, values
from bot.commands import Decide, ReactOnCard
from bot.db.models import (
    AuditEntry,
    CardReaction,
    Essay,
    Intent,
    OutboxRow,
    PostedMessage,
    Submission,
    Symposium,
)
from bot.errors import NotYet, Refused
from bot.messages import Message, MessageBuilder, Strong
from bot.outbox import Op, Status
from bot.permissions import is_editor, require_editor
from bot.services import previews, reminders
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


async def posted_key(uow: UnitOfWork, channel: str, ref: str) -> str | None:
    """The key the bot knows a posted message by (`card:12`, `preview:3`), or None when it is not the bot's."""
    return await uow.session.scalar(
        select(PostedMessage.key).where(PostedMessage.channel == channel, PostedMessage.ref == ref)
    )


async def card_submission(uow: UnitOfWork, channel: str, ref: str) -> Submission | None:
    key = await posted_key(uow, channel, ref)
    if key is None or not key.startswith("card:"):
        return None
    return await uow.session.get(Submission, int(key.removeprefix("card:")))


async def _card_on_its_way(uow: UnitOfWork, channel: str) -> bool:
    """A review card posted to `channel` whose outcome is not recorded yet (a reaction can outrun it, and a card
    in doubt after a crash waits for its claim to run out): the reaction may be on it."""
    waiting = await uow.session.scalar(
        select(OutboxRow.id)
        .where(
            OutboxRow.op == Op.POST,
            OutboxRow.channel == channel,
            OutboxRow.key.like("card:%"),
            OutboxRow.status == Status.PENDING,
        )
        .limit(1)
    )
    return waiting is not None


async def card_context(uow: UnitOfWork, sub: Submission) -> tuple[Symposium, Essay, Intent]:
    essay = await uow.session.get(Essay, sub.essay_id)
    assert essay is not None
    intent = await uow.session.get(Intent, essay.intent_id)
    sym = await uow.session.get(Symposium, essay.symposium_id)
    assert intent is not None
    assert sym is not None
    return sym, essay, intent


async def react(cmd: ReactOnCard, uow: UnitOfWork) -> Message | None:
    """A reaction added or removed on a message; a private note when the reactor should know why it did nothing."""
    decision = decision_of(cmd.emoji)
    if decision is None:
        return None
    sub = await card_submission(uow, cmd.channel, cmd.message_ref)
    if sub is None and await _card_on_its_way(uow, cmd.channel):
        raise NotYet("the card's post is still being recorded", after_seconds=5)
    if sub is None or sub.superseded:
        return None
    sym, essay, intent = await card_context(uow, sub)
    if not await is_editor(uow, cmd.actor):
        return await once(uow, cmd, f"submission:{sub.id}", "not_an_editor", NOT_AN_EDITOR)
    if cmd.actor.user_id == intent.user_id:
        return await once(uow, cmd, f"submission:{sub.id}", "own_essay", OWN_ESSAY.format(number=essay.number))
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
        by = Decider(latest.user_id, latest.user_name)
        await apply_decision(uow, sym, essay, intent, sub, latest.decision, by, None)
    uow.audit(cmd.actor, "react" if cmd.added else "unreact", f"submission:{sub.id}", emoji=cmd.emoji)
    return None


NOT_AN_EDITOR = "Only the symposium's editors decide on review cards, so your reaction changes nothing."
OWN_ESSAY = "You wrote essay {number}, so another editor decides on it; your reaction changes nothing."


async def once(uow: UnitOfWork, cmd: ReactOnCard, subject: str, why: str, text: str) -> Message | None:
    """Say why a reaction did nothing, once per person and message (the audit remembers it was said)."""
    said = await uow.session.scalar(
        select(AuditEntry.id)
        .where(AuditEntry.actor_id == cmd.actor.user_id, AuditEntry.action == why, AuditEntry.subject == subject)
        .limit(1)
    )
    if said is not None:
        return None
    uow.audit(cmd.actor, why, subject, emoji=cmd.emoji)
    return MessageBuilder("Nothing changed", tag="reply").line(text).build()


async def decide(cmd: Decide, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium decide")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium)
    essay, intent = await queries.essay_by_number(uow.session, sym, values.integer(cmd.essay or "", "essay"))
    status = COMMAND_DECISIONS[(cmd.decision or "").lower()]
    reason = values.optional_text(cmd.reason, "reason", maximum=values.REASON_MAX, one_line=False)
    if cmd.actor.user_id == intent.user_id:
        raise Refused(OWN_ESSAY.format(number=essay.number).replace("; your reaction changes nothing", ""))
    if essay.published_at is not None:
        raise Refused(f"Essay {essay.number} is already published; its decision cannot change.")
    if essay.status == "withdrawn":
        raise Refused(f"Essay {essay.number} was withdrawn by its author.")
    sub = await queries.latest_submission(uow.session, essay.id)
    assert sub is not None
    before = (essay.status, sub.reason)
    await apply_decision(uow, sym, essay, intent, sub, status, Decider(cmd.actor.user_id, cmd.actor.name), reason)
    uow.audit(cmd.actor, "decide", f"submission:{sub.id}", decision=status, reason=bool(reason))
    b = MessageBuilder(f"Essay {essay.number}: {compose.STATUS_WORDS[status]}", tag="reply")
    if before == (status, sub.reason if reason is None else reason):
        b.line(f"Essay {essay.number} was already {compose.STATUS_WORDS[status]}; nothing was sent.")
    elif before[0] == status:
        b.line("The decision stands; the author is told the reason you added.")
    else:
        b.line("The author is told" + (" with your reason." if reason else "."))
    return b.build()


@dataclass(frozen=True)
class Decider:
    user_id: str
    name: str


async def apply_decision(
    uow: UnitOfWork,
    sym: Symposium,
    essay: Essay,
    intent: Intent,
    sub: Submission,
    status: str,
    by: Decider | None,
    reason: str | None,
) -> None:
    """Record the essay's review state, edit its card, tell the author; cancel a date it loses. The author hears
    each decision once: deciding the same again sends nothing, and a reason added to it is sent as that."""
    if essay.status == status and (reason is None or reason == sub.reason):
        return
    if essay.status == status:  # the same decision, with a reason added or changed
        sub.reason = reason
        uow.edit(sym, f"card:{sub.id}", compose.review_card(sym, essay, intent, sub))
        uow.dm(sym, intent.user_id, compose.reason_added_dm(sym, essay, intent, reason or ""))
        return
    had_date = essay.scheduled_for is not None
    essay.status = status
    sub.decided_by_name, sub.decided_at, sub.reason = (by.name if by else None), uow.now if by else None, reason
    sub.decision_note = await _caution(uow, sym, intent, by) if by else None
    if status == "approved" and essay.approved_at is None:
        essay.approved_at = uow.now
    uow.edit(sym, f"card:{sub.id}", compose.review_card(sym, essay, intent, sub))
    uow.dm(sym, intent.user_id, compose.decision_dm(sym, essay, intent, reason))
    if status != "approved" and had_date:
        await cancel_date(uow, sym, essay, intent, f"the essay is now {compose.STATUS_WORDS[status]}")


async def _caution(uow: UnitOfWork, sym: Symposium, intent: Intent, by: Decider) -> str | None:
    """A line for the card when the deciding editor shares the author's affiliation (as the editor's own intent
    in this symposium gives it): another editor may want to look."""
    if not intent.affiliation:
        return None
    theirs = await uow.session.scalar(
        select(Intent.affiliation).where(Intent.symposium_id == sym.id, Intent.user_id == by.user_id)
    )
    if theirs and theirs.strip().casefold() == intent.affiliation.strip().casefold():
        return f"{by.name} shares the author's affiliation ({intent.affiliation}): another editor may want to look."
    return None


async def refresh_card(uow: UnitOfWork, sym: Symposium, essay: Essay, intent: Intent) -> None:
    """Edit the current review card to show what the intent says now."""
    sub = await queries.latest_submission(uow.session, essay.id)
    if sub is not None:
        uow.edit(sym, f"card:{sub.id}", compose.review_card(sym, essay, intent, sub))


async def cancel_date(uow: UnitOfWork, sym: Symposium, essay: Essay, intent: Intent, why: str) -> None:
    _no_date(essay)
    await previews.plan(uow, sym, essay)
    message = compose.date_cancelled(sym, essay, intent, why)
    uow.dm(sym, intent.user_id, message)
    uow.post(sym, sym.review_channel, message)
    await reminders.recompute(uow, sym, intent.user_id)
    await uow.refresh_index(sym)


async def withdraw_essay(uow: UnitOfWork, sym: Symposium, essay: Essay, intent: Intent, reason: str | None) -> None:
    """The author withdrew: the card says so (by them, with their reason), and the review channel is told."""
    sub = await queries.latest_submission(uow.session, essay.id)
    had_date = essay.scheduled_for is not None
    essay.status = "withdrawn"
    _no_date(essay)
    if sub is not None:
        sub.decided_by_name, sub.decided_at, sub.reason = f"{intent.user_name}, its author", uow.now, reason
        sub.decision_note = None
        uow.edit(sym, f"card:{sub.id}", compose.review_card(sym, essay, intent, sub))
    note = MessageBuilder(f"Essay {essay.number} withdrawn", tag="notice").line(
        f"The author withdrew essay {essay.number} (“",
        intent.title,
        "”)" + (" and its arranged date." if had_date else "."),
    )
    if reason:
        note.line(Strong("Reason: "), reason)
    uow.post(sym, sym.review_channel, note.build())
    await previews.plan(uow, sym, essay)
    await uow.refresh_index(sym)


def _no_date(essay: Essay) -> None:
    essay.scheduled_for = essay.date_confirmed_at = essay.proposed_for = None
