"""HTTP mode's guarantees: signatures, redelivered events, editors only, escaping, the ack under a locked
database, and the /intent form."""

import json
import sqlite3
import time
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.adapters.test_slack import (
    ALICE,
    EDITOR,
    GENERAL,
    OTHER,
    REVIEW,
    SlackRig,
    cards,
    elements,
    fake,
    fake_slack,
    rig,
)
from tests.conftest import snapshot
from tests.fakes.slack_api import FakeSlack, view_submission_body

__all__ = ["fake", "fake_slack", "rig"]  # fixtures, used by name


async def test_a_bad_signature_or_a_stale_timestamp_is_refused_and_changes_nothing(
    rig: SlackRig, fake: FakeSlack, engine: AsyncEngine
) -> None:
    await rig.open_symposium()
    before, calls = await snapshot(engine), len(fake.calls)
    body, _ = rig.command_body(ALICE, "/intent title:Sneaky")
    reaction, _ = rig.reaction_body(EDITOR, REVIEW, "1700000000.000100", "white_check_mark")

    forged = await rig.post(body, secret="not-the-secret")
    stale = await rig.post(body, age_seconds=6 * 60)
    stale_event = await rig.post(reaction, age_seconds=6 * 60)
    unsigned = await rig.http.post("/slack/events", data=body)

    assert [forged.status, stale.status, stale_event.status, unsigned.status] == [401, 401, 401, 401]
    assert await snapshot(engine) == before
    assert fake.calls[calls:] == []


async def test_a_redelivered_event_with_the_same_event_id_changes_nothing_twice(
    rig: SlackRig, fake: FakeSlack, engine: AsyncEngine
) -> None:
    await rig.open_symposium()
    card = await rig.submitted_card(ALICE, "https://alice.example/essay")
    body, _ = rig.reaction_body(EDITOR, REVIEW, card, "white_check_mark")

    assert (await rig.post(body)).status == 200
    await rig.handled()
    await rig.bot.tick()
    before, calls = await snapshot(engine), len(fake.calls)
    retried = await rig.post(body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retried.status == 200
    assert await rig.handled() is None
    await rig.bot.tick()

    assert await snapshot(engine) == before
    assert fake.calls[calls:] == []
    assert len([c for c in fake.calls_to("chat.update") if c.payload["ts"] == card]) == 1


async def test_a_retry_of_an_event_whose_first_delivery_never_arrived_is_applied(
    rig: SlackRig, fake: FakeSlack
) -> None:
    await rig.open_symposium()
    card = await rig.submitted_card(ALICE, "https://alice.example/essay")
    body, _ = rig.reaction_body(EDITOR, REVIEW, card, "x")

    retried = await rig.post(body, headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"})
    assert retried.status == 200
    await rig.handled()
    await rig.bot.tick()

    assert "declined" in fake.channels[REVIEW].messages[card].text


async def test_a_reaction_from_a_non_editor_or_the_bot_changes_nothing(
    rig: SlackRig, fake: FakeSlack, engine: AsyncEngine
) -> None:
    await rig.open_symposium()
    card = await rig.submitted_card(ALICE, "https://alice.example/essay")
    before, calls = await snapshot(engine), len(fake.calls)

    told = "Only the symposium's editors decide on review cards"
    assert told in (await rig.react(OTHER, REVIEW, card, "white_check_mark") or "")  # an ephemeral note
    assert await rig.react(OTHER, REVIEW, card, "x") is None  # once per card
    assert told in (await rig.react(ALICE, REVIEW, card, "white_check_mark") or "")
    bot_reaction, _ = rig.reaction_body(fake.users["U0000BOT1"]["id"], REVIEW, card, "x")
    assert (await rig.post(bot_reaction)).status == 200
    await rig.bot.tick()

    after = await snapshot(engine)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {k: v for k, v in before.items() if k != "audit_log"}
    assert [row[4] for row in after["audit_log"] if row not in before["audit_log"]] == ["not_an_editor"] * 2
    assert {c.method for c in fake.calls[calls:]} == {"users.info", "chat.postEphemeral"}  # who; the notes
    assert "waiting for review" in fake.channels[REVIEW].messages[card].text


async def test_a_title_with_channel_or_here_mentions_is_shown_literally_and_pings_nobody(
    rig: SlackRig, fake: FakeSlack
) -> None:
    await rig.open_symposium()
    # What Slack sends when someone types: Why <!channel> & @here <@U1> matter *now*
    title = "Why &lt;!channel&gt; &amp; <!here> &lt;@U1&gt; matter *now*"
    await rig.command(ALICE, f"/intent title:{title}")
    await rig.command(ALICE, "/submit <https://alice.example/essay>")
    await rig.bot.tick()
    card = cards(fake)[-1]
    await rig.react(EDITOR, REVIEW, card, "white_check_mark")
    await rig.command(EDITOR, "/symposium publish essay:1 url:https://alice.example/live")
    await rig.bot.tick()

    literal = "Why <!channel> & @here <@U1> matter *now*"
    posted = fake.calls_to("chat.postMessage") + fake.calls_to("chat.update")
    with_title = [c for c in posted if "matter *now*" in json.dumps(c.payload)]
    assert len(with_title) >= 4  # card, its update, the announcement, the index
    for call in with_title:
        assert "Why &lt;!channel&gt; &amp; @here &lt;@U1&gt; matter *now*" in call.payload["text"]
        assert "<!" not in call.payload["text"]
        assert "<@" not in call.payload["text"]
        leaves = elements(call.payload["blocks"])
        assert {leaf["type"] for leaf in leaves} <= {"text", "link", "date", "user", "channel"}
        shown = [leaf["text"] for leaf in leaves if leaf["type"] == "text"]
        headers = [b["text"]["text"] for b in call.payload["blocks"] if b["type"] == "header"]
        assert any(literal in s for s in shown + headers)
        assert all(b["type"] in ("header", "rich_text") for b in call.payload["blocks"])
        assert all(leaf["user_id"] == ALICE for leaf in leaves if leaf["type"] == "user")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_slash_command_is_acknowledged_within_3_seconds_while_the_database_is_locked(
    rig: SlackRig, fake: FakeSlack, engine: AsyncEngine
) -> None:
    await rig.open_symposium()
    await rig.command(ALICE, "/intent title:Orchestrators forever")
    body, token = rig.command_body(ALICE, "/submit https://alice.example/essay")
    writer = sqlite3.connect(str(engine.url.database), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        response = await rig.post(body)
        acked_after = time.monotonic() - started
        assert response.status == 200
        assert acked_after < 3
        assert fake.calls_to("response_url")[-1].token != token  # the core is still waiting for the lock
    finally:
        writer.rollback()
        writer.close()

    assert "Essay 1 submitted" in await rig.reply(token)


async def test_intent_with_no_text_opens_the_form_and_its_submission_declares_the_intent(
    rig: SlackRig, fake: FakeSlack
) -> None:
    await rig.open_symposium()
    body, token = rig.command_body(ALICE, "/intent")

    assert (await rig.post(body)).status == 200
    (opened,) = await fake.wait_for("views.open")
    view = opened.payload["view"]
    assert opened.payload["trigger_id"] == f"{token}.trigger"
    assert [b["block_id"] for b in view["blocks"]] == [
        "title",
        "prompt",
        "route",
        "pen_name",
        "bio",
        "affiliation",
        "feed",
        "symposium",
    ]
    values: dict[str, Any] = {
        "title": {"title": {"type": "plain_text_input", "value": "Orchestrators <forever>"}},
        "route": {"route": {"type": "static_select", "selected_option": {"value": "crosspost"}}},
        "prompt": {"prompt": {"type": "number_input", "value": "2"}},
        "bio": {"bio": {"type": "plain_text_input", "value": None}},
    }
    submitted = view_submission_body("intent", values, user_id=ALICE, private_metadata=view["private_metadata"])

    response = await rig.post(submitted)

    assert (response.status, await response.text()) == (200, "")
    reply = await rig.reply(token)
    assert "Intent to Submit recorded" in reply
    assert "Orchestrators &lt;forever&gt;" in reply
    assert "alternative 2: Is it a scheduler?" in reply
    assert "cross-posted" in reply


async def test_a_refused_form_shows_the_reason_under_its_field(rig: SlackRig, fake: FakeSlack) -> None:
    await rig.open_symposium()
    metadata = json.dumps({"channel": GENERAL, "response_url": fake.response_url("form")})
    no_title = view_submission_body("intent", {}, user_id=ALICE, private_metadata=metadata)
    long_bio = view_submission_body(
        "intent",
        {
            "title": {"title": {"type": "plain_text_input", "value": "A title"}},
            "bio": {"bio": {"type": "plain_text_input", "value": "x" * 501}},
        },
        user_id=ALICE,
        private_metadata=metadata,
    )

    missing = await (await rig.post(no_title)).json()
    too_long = await (await rig.post(long_bio)).json()

    assert missing["response_action"] == "errors"
    assert list(missing["errors"]) == ["title"]
    assert "working title" in missing["errors"]["title"]
    assert list(too_long["errors"]) == ["bio"]
    assert fake.calls_to("response_url") == [c for c in fake.calls_to("response_url") if c.token != "form"]


async def test_slack_s_url_verification_is_answered_with_its_challenge(rig: SlackRig) -> None:
    body = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"})

    response = await rig.post(body)

    assert response.status == 200
    assert (await response.json())["challenge"] == "c-123"


@pytest.mark.parametrize("stamp", ["abc", "", "1e9"])
async def test_a_malformed_timestamp_is_refused_as_unauthenticated_not_a_server_error(
    rig: SlackRig, stamp: str, caplog: pytest.LogCaptureFixture
) -> None:
    body, _ = rig.command_body(ALICE, "/essays")
    response = await rig.http.post(
        "/slack/events",
        data=body,
        headers={
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": "v0=00",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status == 401
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_a_validly_signed_slash_command_replayed_in_its_window_runs_once(
    rig: SlackRig, fake: FakeSlack, engine: AsyncEngine
) -> None:
    """Replayed with the same trigger_id (a captured request, re-signed in its 5 minutes), a command is handled
    once: no second answer, no second revision, whatever the command would do again."""
    await rig.open_symposium()
    await rig.command(ALICE, "/intent title:Replayed")
    body, token = rig.command_body(ALICE, "/submit https://alice.example/replayed")
    assert (await rig.post(body)).status == 200
    await rig.reply(token)
    await rig.bot.tick()
    before = await snapshot(engine)

    for _ in range(2):
        assert (await rig.post(body)).status == 200
    await rig.handled()
    await rig.bot.tick()

    assert len([c for c in fake.calls_to("response_url") if c.token == token]) == 1
    assert await snapshot(engine) == before
    assert len(cards(fake)) == 1
