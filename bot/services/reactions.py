"""Reactions on the bot's messages: ✅ ❌ ✏️ on a review card decide (bot/services/reviews.py); ⏸ on a preview
or its note holds the essay, as `/symposium hold` does."""

from bot import commands as c
from bot.db.models import Essay, Symposium
from bot.messages import Message
from bot.permissions import is_editor
from bot.services import dates, previews, reviews
from bot.uow import UnitOfWork

NOT_AN_EDITOR = "Only the symposium's editors can hold an essay, so your reaction changes nothing."


def heeded(emoji: str) -> bool:
    """Whether a reaction with this emoji can do anything: adapters record only those."""
    return reviews.decision_of(emoji) is not None or _holds(emoji)


def _holds(emoji: str) -> bool:
    return emoji.strip().strip(":") in previews.HOLD_EMOJI


async def react(cmd: c.ReactOnCard, uow: UnitOfWork) -> Message | None:
    if not _holds(cmd.emoji):
        return await reviews.react(cmd, uow)
    key = await reviews.posted_key(uow, cmd.channel, cmd.message_ref) or ""
    kind, _, essay_id = key.partition(":")
    if kind not in (previews.PREVIEW, previews.NOTE) or not cmd.added or not essay_id.isdigit():
        return None  # taking the reaction away does not undo a hold: the essay needs a new date
    essay = await uow.session.get(Essay, int(essay_id))
    sym = await uow.session.get(Symposium, essay.symposium_id) if essay is not None else None
    if essay is None or sym is None:
        return None
    if not await is_editor(uow, cmd.actor):
        return await reviews.once(uow, cmd, key, "not_an_editor", NOT_AN_EDITOR)
    if essay.published_at is not None or essay.scheduled_for is None:
        return None
    hold = c.HoldEssay(
        actor=cmd.actor, origin=c.Origin(channel=cmd.channel), symposium=sym.slug, essay=str(essay.number)
    )
    return await dates.hold(hold, uow)
