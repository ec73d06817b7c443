"""What surprised people trying the bot as writers and editors (issue "No surprises"), each fixed at its cause."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.models import OutboxRow, Submission
from tests.conftest import OPEN, Harness, blocks, snapshot

SUBMITTED = f"""
{OPEN}
alice: /intent title:Good data engineers are lazy pen_name:Harry Flow affiliation:Acme
alice: /submit https://example.com/lazy
"""
PUBLISHED = (
    SUBMITTED
    + """
erin: react ✅ last
erin: /symposium publish essay:1 url:https://example.com/lazy-live
"""
)


async def test_a_published_essays_public_details_stay_fixed(harness: Harness, engine: AsyncEngine) -> None:
    await harness.start_from(PUBLISHED)
    before = await snapshot(engine)
    for line in ("alice: /intent title:A new title", "alice: /intent pen_name:none", "alice: /intent route:crosspost"):
        out = await harness.run(line)
        assert "Essay 1 is published, so its" in out
        assert "/symposium rename essay:1" in out
    assert await snapshot(engine) == before
    assert "Intent to Submit updated" in await harness.run("alice: /intent affiliation:Acme Corp")  # private


async def test_extend_is_refused_for_an_essay_already_published(harness: Harness) -> None:
    await harness.start_from(PUBLISHED)
    out = await harness.run("erin: /symposium extend user:@alice due:2023-03-20")
    assert "essay 1 is already published: there is nothing left to be due" in out


async def test_an_identical_resubmission_changes_nothing(harness: Harness, engine: AsyncEngine) -> None:
    await harness.start_from(SUBMITTED)
    before = await snapshot(engine)
    out = await harness.run("alice: /submit https://example.com/lazy")
    assert "Essay 1: nothing changed" in out
    assert "already revision 1 of essay 1" in out
    assert "[#review]" not in out
    assert await snapshot(engine) == before
    assert "Essay 1 submitted (revision 2)" in await harness.run("alice: /submit https://example.com/lazy note:v2")


async def test_pen_name_none_drops_the_pen_name(harness: Harness) -> None:
    await harness.start_from(SUBMITTED)
    out = await harness.run("alice: /intent pen_name:none")
    assert "Pen name: none; your essay will be published under your own name" in out
    assert "writing as" not in out.split("[#review]")[-1]  # the card follows the intent


async def test_deciding_again_sends_nothing_and_a_reason_added_reads_as_one(
    harness: Harness, engine: AsyncEngine
) -> None:
    await harness.start_from(SUBMITTED)
    first = await harness.run("erin: /symposium decide essay:1 decision:decline")
    assert "[DM alice] “Good data engineers are lazy”: declined" in first
    assert "A revision is welcome" in first
    assert "This time" not in first
    again = await harness.run("erin: /symposium decide essay:1 decision:decline")
    assert "was already declined; nothing was sent" in again
    assert "[DM alice]" not in again
    reason = await harness.run("erin: /symposium decide essay:1 decision:decline reason:Off topic for this call.")
    assert "The decision stands; the author is told the reason you added." in reason
    assert "[DM alice] “Good data engineers are lazy”: a reason from the editors" in reason
    assert "declined" not in next(b for b in blocks(reason) if b.startswith("[DM alice]")).split("\n")[0]


async def test_status_lists_every_symposium_a_writer_is_in_and_commands_find_theirs(harness: Harness) -> None:
    await harness.start_from(PUBLISHED)
    await harness.run(
        "erin: /symposium open title:Second call prompt:P intent_deadline:2023-05-03 due:2023-05-10 "
        "publish_from:2023-05-13 publish_to:2023-06-28 review_channel:#review2 announce_channel:#second"
    )
    status = await harness.run("alice: /symposium status")
    assert "Is the orchestrator dead or alive?" in status
    assert "Essay 1: revision 1, published" in status
    assert "Second call" in status
    assert "You have no active Intent to Submit" not in status.split("Second call")[0]
    assert "Several calls are open here" in await harness.run("bob: /intent title:Both open, bob in neither")
    assert "Intent to Submit recorded" in await harness.run("bob: /intent title:Second symposium:second-call-2023")
    assert "Your intent for Second call is withdrawn" in await harness.run("bob: /withdraw")  # the call he is in


async def test_with_two_calls_open_a_writer_in_neither_is_asked_which(harness: Harness) -> None:
    await harness.start_from(OPEN)
    await harness.run(
        "erin: /symposium open title:Second call prompt:P intent_deadline:2023-05-03 due:2023-05-10 "
        "publish_from:2023-05-13 publish_to:2023-06-28 review_channel:#review2 announce_channel:#second"
    )
    out = await harness.run("carol: /intent title:Which one?")
    assert "Several calls are open here" in out
    assert "symposium:second-call-2023" in out
    assert "Intent to Submit recorded" in await harness.run("carol: /intent title:This one symposium:second-call-2023")
    assert "Essay 1 submitted" in await harness.run("carol: /submit https://example.com/c")  # the call she is in


async def test_an_editor_does_not_decide_their_own_essay(harness: Harness, engine: AsyncEngine) -> None:
    harness.platform.editors.add("ed")
    submitted = await harness.run(OPEN + "\nerin: /intent title:My own essay\nerin: /submit https://example.com/mine")
    card = next(b for b in blocks(submitted) if "[#review] Essay 1: My own essay" in b)
    assert "The author is an editor: another editor decides on this essay." in card
    out = await harness.run("erin: react ✅ last")
    assert "You wrote essay 1, so another editor decides on it" in out
    assert "approved" not in out
    refused = await harness.run("erin: /symposium decide essay:1 decision:approve")
    assert "You wrote essay 1, so another editor decides on it." in refused
    assert "Status: approved by ed" in await harness.run("ed: react ✅ last")


async def test_a_card_cautions_when_the_deciding_editor_shares_the_authors_affiliation(harness: Harness) -> None:
    await harness.run(SUBMITTED + "erin: /intent title:Editors write too affiliation:ACME")
    out = await harness.run("erin: react ✅ last")
    assert "Note: erin shares the author's affiliation (Acme): another editor may want to look." in out


async def test_history_shows_who_did_what_and_when(harness: Harness) -> None:
    await harness.run(SUBMITTED + "erin: react ✅ last")
    out = await harness.run("erin: /symposium history")
    assert "History of Is the orchestrator dead or alive?" in out
    assert "@erin opened the symposium" in out
    assert "@alice submitted (essay 1, revision 1)" in out
    assert "@erin reacted (emoji ✅)" in out
    one = await harness.run("erin: /symposium history essay:1")
    assert "opened the symposium" not in one
    assert "@alice declared an intent" in one


async def test_a_closed_symposium_is_named_and_can_be_reopened(harness: Harness, engine: AsyncEngine) -> None:
    await harness.run(SUBMITTED + "erin: /symposium close")
    out = await harness.run("erin: /symposium edit due:2023-03-12")
    assert "No call is open here: “Is the orchestrator dead or alive?”" in out
    reopened = await harness.run("erin: /symposium reopen")
    assert "Reopened “Is the orchestrator dead or alive?”" in reopened
    assert "[#general] Is the orchestrator dead or alive? is open again" in reopened
    assert "Updated" in await harness.run("erin: /symposium edit due:2023-03-12")
    async with engine.connect() as conn:
        reminders = (
            await conn.execute(select(func.count()).where(OutboxRow.status == "pending", OutboxRow.scope.is_not(None)))
        ).scalar_one()
    assert reminders > 0


async def test_the_decision_note_is_kept_with_the_submission(harness: Harness, engine: AsyncEngine) -> None:
    await harness.run(SUBMITTED + "erin: /intent title:Mine affiliation:acme\nerin: react ✅ last")
    async with engine.connect() as conn:
        note = (await conn.execute(select(Submission.decision_note))).scalar_one()
    assert note == "erin shares the author's affiliation (Acme): another editor may want to look."


async def test_the_dashboard_groups_essays_by_number_and_keeps_a_missed_date_off_the_index(harness: Harness) -> None:
    await harness.run(
        PUBLISHED
        + """
bob: /intent title:Busy
bob: /submit https://example.com/busy
erin: react ✅ last
erin: /symposium schedule essay:2 date:2023-02-20
carol: /intent title:Waiting
carol: /submit https://example.com/waiting
clock: 2023-02-21T09:00+00:00
"""
    )
    out = await harness.run("erin: /symposium status")
    assert (
        "Essays: 1 essay overdue (their date passed unannounced); 1 essay waiting for review; 1 essay published" in out
    )
    assert "Essay 2 “Busy” was due Mon 2023-02-20 09:00 UTC (1 day ago) (no live link yet)" in out
    assert "Essay 3 “Waiting” waiting for review since" in out
    assert "Essay 1 “Good data engineers are lazy” published Wed 2023-02-01" in out
    index = await harness.run("bob: /essays")
    assert "Coming up" not in index  # the missed date is the editors' to sort out, not the public's
