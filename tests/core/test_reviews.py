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


async def test_a_non_editor_reaction_changes_nothing_and_is_explained_once_per_card(
    harness: Harness, engine: AsyncEngine
) -> None:
    await harness.start_from(SUBMITTED)
    before = await snapshot(engine)
    out = await harness.run("mallory: react ✅ last")
    assert out == (
        "[private to mallory] Nothing changed\n"
        "    Only the symposium's editors decide on review cards, so your reaction changes nothing."
    )
    assert await harness.run("mallory: react ❌ last") == ""  # said once for this card
    after = await snapshot(engine)
    told = [row for row in after["audit_log"] if row not in before["audit_log"]]
    assert [row[4] for row in told] == ["not_an_editor"]  # the record that mallory was told; nothing else
    assert {k: v for k, v in after.items() if k != "audit_log"} == {k: v for k, v in before.items() if k != "audit_log"}


async def test_latest_editor_reaction_decides_and_removal_falls_back(harness: Harness, engine: AsyncEngine) -> None:
    harness.platform.editors.add("ed")
    await harness.start_from(SUBMITTED)
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
    from bot.inbox import Arrival, Kind

    await harness.start_from(SUBMITTED)
    card = str(harness.platform.newest_card())
    body = {"channel": "review", "ref": card, "emoji": "✅", "added": True}
    reaction = Arrival("Ev123", "console", "erin", Kind.REACTION, body)
    first = await harness.bot.receive(reaction)
    await harness.bot.handle(first)
    after_first = await snapshot(engine)
    again = await harness.bot.receive(reaction)  # the platform delivers the same event again
    assert again.duplicate
    assert await harness.bot.handle(again) is None
    assert await snapshot(engine) == after_first
