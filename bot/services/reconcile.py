"""Decisions made while the bot was away: platforms list a card's reactions without times, so one deciding
kind from editors is applied (each reaction once); conflicting kinds leave the card pending and say so."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import ReconcileCard
from bot.compose import STATUS_WORDS
from bot.db.models import CardReaction, Essay, OutboxRow, PostedMessage, Submission, Symposium
from bot.messages import MessageBuilder
from bot.permissions import is_editor
from bot.services.reviews import Decider, apply_decision, card_context, card_submission, decision_of
from bot.uow import UnitOfWork


async def pending_cards(session: AsyncSession, community: str | None = None) -> list[tuple[str, str]]:
    """(channel, ref) of every current review card whose essay still waits for a decision (in one community)."""
    query = (
        select(Submission.id)
        .join(Essay, Submission.essay_id == Essay.id)
        .where(Submission.superseded.is_(False), Essay.status == "pending", Essay.published_at.is_(None))
    )
    if community is not None:
        query = query.join(Symposium, Essay.symposium_id == Symposium.id).where(Symposium.community == community)
    waiting = await session.scalars(query)
    keys = [f"card:{sub_id}" for sub_id in waiting]
    rows = await session.execute(
        select(PostedMessage.channel, PostedMessage.ref).where(PostedMessage.key.in_(keys)).order_by(PostedMessage.id)
    )
    return [(channel, ref) for channel, ref in rows]


async def reconcile(cmd: ReconcileCard, uow: UnitOfWork) -> None:
    sub = await card_submission(uow, cmd.channel, cmd.message_ref)
    if sub is None or sub.superseded:
        return
    sym, essay, intent = await card_context(uow, sub)
    if essay.status != "pending" or essay.published_at is not None:
        return
    seen = []
    for actor, emoji in cmd.reactions:
        decision = decision_of(emoji)
        if decision and actor.user_id != intent.user_id and await is_editor(uow, actor):  # not on one's own essay
            seen.append((actor, decision))
    kinds = sorted({decision for _, decision in seen})
    if len(kinds) > 1:
        key = f"conflict:{sub.id}:{'-'.join(kinds)}"
        if await uow.session.scalar(select(OutboxRow.id).where(OutboxRow.dedupe_key == key)) is None:
            note = MessageBuilder(f"Essay {essay.number}: conflicting reactions", tag="notice").line(
                f"While I was away, editors reacted on the card of essay {essay.number} with "
                + " and ".join(STATUS_WORDS[k] for k in kinds)
                + ". It stays waiting for review: remove the reactions that no longer apply, or use /symposium decide."
            )
            uow.post(sym, sym.review_channel, note.build(), dedupe_key=key)
        return
    recorded = set(await uow.session.scalars(select(CardReaction.user_id).where(CardReaction.submission_id == sub.id)))
    new = [(actor, decision) for actor, decision in seen if actor.user_id not in recorded]
    if not new:
        return
    for actor, decision in new:
        uow.add(
            CardReaction(
                submission_id=sub.id, user_id=actor.user_id, user_name=actor.name, decision=decision, at=uow.now
            )
        )
    actor, decision = new[-1]
    await apply_decision(uow, sym, essay, intent, sub, decision, Decider(actor.user_id, actor.name), None)
    uow.audit(actor, "reconcile", f"submission:{sub.id}", decision=decision)
