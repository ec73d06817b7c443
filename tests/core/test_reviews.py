"""Decisions by reaction: editors only, the latest editor reaction decides, removal falls back, nothing after
publication; a new revision gets a new card and the old one stops counting."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.models import Essay, Submission
from tests.conftest import OPEN, Harness, snapshot

SUBMITTED = f"""
{OPEN}
alice: /intent title:Good data engineers are lazy
alice: /submit https://example.com/lazy
"""


async def essay_status(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        return str((await conn.execute(select(Essay.status))).scalar_one())


async def test_a_non_editor_reaction_changes_nothing(harness: Harness, engine: AsyncEngine) -> None:
    await harness.run(SUBMITTED)
    before = await snapshot(engine)
    assert await harness.run("mallory: react ✅ last") == ""
    assert await snapshot(engine) == before


async def test_latest_editor_reaction_decides_and_removal_falls_back(harness: Harness, engine: AsyncEngine) -> None:
    harness.session.editors.add("ed")
    await harness.run(SUBMITTED)
    out = await harness.run("erin: react ✅ last")
    assert "Status: approved by erin" in out
    assert "[DM alice] “Good data engineers are lazy”: approved" in out
    assert "Action needed:" in out
    out = await harness.run("clock: +1m\ned: react ✏️ last")
    assert "Status: changes requested by ed" in out
    assert await essay_status(engine) == "changes_requested"
    out = await harness.run("ed: unreact ✏️ last")
    assert "Status: approved by erin" in out
    out = await harness.run("erin: unreact white_check_mark last")
    assert "Status: waiting for review" in out
    assert "is back to waiting for review" in out
    assert await essay_status(engine) == "pending"


async def test_decision_after_publication_is_refused_with_a_note(harness: Harness, engine: AsyncEngine) -> None:
    await harness.run(SUBMITTED + "erin: react ✅ last\nerin: /symposium publish essay:1 url:https://host.example/lazy")
    before = await snapshot(engine)
    out = await harness.run("erin: react ❌ last")
    assert "[private to erin] Nothing changed" in out
    assert "already published" in out
    assert await snapshot(engine) == before
    out = await harness.run("erin: /symposium decide essay:1 decision:decline")
    assert "already published" in out


async def test_decline_with_a_reason_cancels_the_date_and_tells_everyone(harness: Harness, engine: AsyncEngine) -> None:
    await harness.run(SUBMITTED + "erin: react ✅ last\nerin: /symposium schedule essay:1 date:2023-03-14")
    out = await harness.run("erin: /symposium decide essay:1 decision:decline reason:Off topic, sadly.")
    assert "[DM alice] “Good data engineers are lazy”: declined" in out
    assert "Reason: Off topic, sadly." in out
    assert "[DM alice] Publication date cancelled: essay 1" in out
    assert "[#review] Publication date cancelled: essay 1" in out
    async with engine.connect() as conn:
        assert (await conn.execute(select(Essay.scheduled_for))).scalar_one() is None


async def test_a_new_revision_gets_a_new_card_and_the_old_one_is_superseded(
    harness: Harness, engine: AsyncEngine
) -> None:
    await harness.run(SUBMITTED + "erin: react ✏️ last")
    out = await harness.run("alice: /submit https://example.com/lazy-v2 note:tightened")
    assert "#3 (edited) [#review] Essay 1: Good data engineers are lazy" in out
    assert "Superseded by a newer revision" in out
    assert "#4 [#review] Essay 1: Good data engineers are lazy" in out
    assert "Revision: 2" in out
    before = await essay_status(engine)
    assert before == "pending"
    await harness.run("erin: react ✅ #3")
    assert await essay_status(engine) == "pending"
    await harness.run("erin: react ✅ #4")
    assert await essay_status(engine) == "approved"
    async with engine.connect() as conn:
        revisions = (await conn.execute(select(Submission.revision, Submission.superseded))).all()
    assert sorted(revisions) == [(1, True), (2, False)]


async def test_the_same_reaction_event_twice_is_applied_once(harness: Harness, engine: AsyncEngine) -> None:
    from bot.commands import ReactOnCard

    await harness.run(SUBMITTED)
    card = str(harness.platform.newest_card())
    reaction = ReactOnCard(
        actor=harness.session.actor("erin"),
        channel="review",
        message_ref=card,
        emoji="✅",
        added=True,
        event_id="Ev123",
    )
    await harness.bot.react(reaction)
    after_first = await snapshot(engine)
    await harness.bot.react(reaction)
    assert await snapshot(engine) == after_first
