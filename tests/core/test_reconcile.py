"""Reactions made while the bot was away are found on start and decided once; conflicting ones are reported."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.commands import ReconcileCard
from bot.db.models import Essay
from tests.conftest import OPEN, Harness, snapshot

SUBMITTED = f"""
{OPEN}
alice: /intent title:Good data engineers are lazy
alice: /submit https://example.com/lazy
"""


async def test_one_deciding_kind_is_applied_once(harness: Harness, engine: AsyncEngine) -> None:
    await harness.start_from(SUBMITTED)
    cards = await harness.bot.pending_cards()
    assert cards == [("review", "3")]
    erin, mallory = harness.platform.person("erin"), harness.platform.person("mallory")
    listed = ReconcileCard(channel="review", message_ref="3", reactions=((erin, "✅"), (mallory, "❌")))
    await harness.bot.reconcile(listed)
    async with engine.connect() as conn:
        assert (await conn.execute(select(Essay.status))).scalar_one() == "approved"
    assert await harness.bot.pending_cards() == []
    before = await snapshot(engine)
    await harness.bot.reconcile(listed)
    assert await snapshot(engine) == before


async def test_conflicting_kinds_leave_the_card_pending_and_tell_the_review_channel(
    harness: Harness, engine: AsyncEngine
) -> None:
    harness.platform.editors.add("ed")
    await harness.start_from(SUBMITTED)
    listed = ReconcileCard(
        channel="review",
        message_ref="3",
        reactions=((harness.platform.person("erin"), "✅"), (harness.platform.person("ed"), "x")),
    )
    await harness.bot.reconcile(listed)
    await harness.bot.reconcile(listed)
    await harness.bot.tick()
    notices = [line for line in harness.transcript if "conflicting reactions" in line]
    assert len(notices) == 1
    assert notices[0].startswith("#4 [#review]")
    async with engine.connect() as conn:
        assert (await conn.execute(select(Essay.status))).scalar_one() == "pending"
