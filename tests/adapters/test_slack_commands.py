"""The participant commands, editors added by admins, and what a person is told privately."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.adapters.test_slack import (
    ALICE,
    BOB,
    EDITOR,
    REVIEW,
    SlackRig,
    cards,
    fake,
    fake_slack,
    rig,
)
from tests.conftest import snapshot
from tests.fakes.slack_api import FakeSlack

__all__ = ["fake", "fake_slack", "rig"]  # fixtures, used by name


async def test_participant_commands_answer_privately(rig: SlackRig, fake: FakeSlack) -> None:
    await rig.open_symposium()

    help_text = await rig.command(ALICE, "/symposium")
    await rig.command(ALICE, "/intent title:Orchestrators forever")
    essays = await rig.command(ALICE, "/essays")
    quiet = await rig.command(ALICE, "/symposium reminders off")
    status = await rig.command(ALICE, "/symposium status")
    withdrawn = await rig.command(ALICE, "/withdraw")
    unknown = await rig.command(ALICE, "/symposium dance")

    assert "/intent" in help_text
    assert "/symposium open" not in help_text  # editors' commands are for editors
    assert essays.startswith("Essay Index: Is the orchestrator dead or alive?")
    assert quiet.startswith("Reminders: off")
    assert "Orchestrators forever" in status
    assert withdrawn.startswith("Intent withdrawn")
    assert "I don't know /symposium dance" in unknown
    assert all(c.payload["response_type"] == "ephemeral" for c in fake.calls_to("response_url"))


async def test_an_admin_adds_an_editor_by_mention_whose_reaction_then_decides(rig: SlackRig, fake: FakeSlack) -> None:
    await rig.open_symposium()
    card = await rig.submitted_card(ALICE, "https://alice.example/essay")

    refused = await rig.command(BOB, f"/symposium editors add:<@{BOB}|bob>")
    added = await rig.command(EDITOR, f"/symposium editors add:<@{BOB}|bob>")
    await rig.react(BOB, REVIEW, card, "pencil2")
    await rig.bot.tick()

    assert "Only workspace admins" in refused
    assert f"{BOB} is now an editor" in added
    assert "changes requested by Bob Writer" in fake.channels[REVIEW].messages[card].text


async def test_a_reaction_that_cannot_decide_any_more_is_explained_privately(rig: SlackRig, fake: FakeSlack) -> None:
    await rig.open_symposium()
    card = await rig.submitted_card(ALICE, "https://alice.example/essay")
    await rig.react(EDITOR, REVIEW, card, "white_check_mark")
    await rig.command(EDITOR, "/symposium publish essay:1 url:https://alice.example/live")
    await rig.advance(timedelta(minutes=2))

    note = await rig.react(EDITOR, REVIEW, card, "x")
    (told,) = await fake.wait_for("chat.postEphemeral")

    assert note is not None
    assert (told.payload["channel"], told.payload["user"]) == (REVIEW, EDITOR)
    assert "already published" in told.payload["text"]
    assert cards(fake) == [card]


async def test_when_slack_cannot_say_who_asks_nothing_changes_and_the_person_is_told(
    rig: SlackRig, fake: FakeSlack, engine: AsyncEngine
) -> None:
    await rig.open_symposium()
    before = await snapshot(engine)
    fake.fail("users.info", status=500, times=3)  # every try the adapter makes

    reply = await rig.command(ALICE, "/intent title:Orchestrators forever")

    assert "Slack did not tell me who you are" in reply
    assert await snapshot(engine) == before


async def test_a_page_instead_of_json_from_users_info_is_told_like_any_failure(
    rig: SlackRig, fake: FakeSlack, engine: AsyncEngine
) -> None:
    """A proxy's HTML error page once crashed the listener, and the writer heard nothing."""
    await rig.open_symposium()
    before = await snapshot(engine)
    fake.fail("users.info", page="<html><body><h1>502 Bad Gateway</h1></body></html>", times=3)

    reply = await rig.command(ALICE, "/intent title:Orchestrators forever")

    assert "Slack did not tell me who you are" in reply
    assert await snapshot(engine) == before


async def test_removing_the_deciding_reaction_returns_the_card_to_waiting(rig: SlackRig, fake: FakeSlack) -> None:
    await rig.open_symposium()
    card = await rig.submitted_card(ALICE, "https://alice.example/essay")

    await rig.react(EDITOR, REVIEW, card, "white_check_mark")
    await rig.bot.tick()
    approved = fake.channels[REVIEW].messages[card].text
    await rig.react(EDITOR, REVIEW, card, "white_check_mark", added=False)
    await rig.bot.tick()

    assert "approved" in approved
    assert "waiting for review" in fake.channels[REVIEW].messages[card].text
