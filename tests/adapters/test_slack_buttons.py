"""Buttons on Slack: the author's request to confirm a date and the editors' Accept as Block Kit `actions`, pressed
through the real slack-bolt app (signed `block_actions` requests) and run by the core as the commands they stand
for."""

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from adapters.slack.render import ACTIONS_BLOCK, render
from bot.db.models import Essay
from bot.messages import Action, Message
from tests.adapters.test_slack import (
    ALICE,
    BOB,
    EDITOR,
    REVIEW,
    SlackRig,
    fake,
    fake_slack,
    headers_in,
    rig,
)
from tests.conftest import snapshot
from tests.fakes.slack_api import FakeSlack, block_actions_body

__all__ = ["fake", "fake_slack", "rig"]  # fixtures, used by name

Button = dict[str, Any]


async def scheduled(rig: SlackRig, fake: FakeSlack) -> tuple[str, str, list[Button]]:
    """Essay 1, by Alice, approved and scheduled for Mon 20 March: (her DM channel, the request's ts, its
    buttons)."""
    await rig.open_symposium()
    card = await rig.submitted_card(ALICE, "https://alice.example/essay")
    await rig.react(EDITOR, REVIEW, card, "white_check_mark")
    await rig.command(EDITOR, "/symposium schedule essay:1 date:2023-03-20")
    await rig.bot.tick()
    dm = fake.dm_channel_id(ALICE)
    [(ts, _)] = [(ts, h) for ts, h in headers_in(fake.channels[dm]) if h.endswith("has a publication date")]
    return dm, ts, buttons(fake, dm, ts)


def buttons(fake: FakeSlack, channel: str, ts: str) -> list[Button]:
    [block] = [b for b in fake.channels[channel].messages[ts].blocks if b["type"] == "actions"]
    assert block["block_id"] == ACTIONS_BLOCK
    return list(block["elements"])


def labelled(found: list[Button], prefix: str) -> Button:
    return next(b for b in found if b["text"]["text"].startswith(prefix))


async def press(rig: SlackRig, user: str, channel: str, ts: str, button: Button, action_ts: str | None = None) -> str:
    """Click a button of a message as `user`; return the private answer's text."""
    body, token = press_body(rig, user, channel, ts, button, action_ts)
    response = await rig.post(body)
    assert response.status == 200, await response.text()
    return await rig.reply(token)


def press_body(
    rig: SlackRig, user: str, channel: str, ts: str, button: Button, action_ts: str | None = None
) -> tuple[str, str]:
    token = "r" + rig.next_id()
    body = block_actions_body(
        button["action_id"],
        button["value"],
        user_id=user,
        response_url=rig.fake.response_url(token),
        channel_id=channel,
        message_ts=ts,
        block_id=ACTIONS_BLOCK,
        action_ts=action_ts or f"1700000000.{rig.next_id():0>6}",
    )
    return body, token


async def essay_one(engine: AsyncEngine) -> Essay:
    async with AsyncSession(engine) as session:
        essay = await session.scalar(select(Essay).where(Essay.number == 1))
        assert essay is not None
        return essay


def local_day(at: datetime | None) -> date:
    """The day of a stored time (the symposium is in UTC; SQLite gives it back without its zone)."""
    assert at is not None
    return at.astimezone(UTC).date() if at.tzinfo else at.date()


async def test_the_authors_request_has_buttons_and_confirm_confirms_the_date(
    rig: SlackRig, fake: FakeSlack, engine: AsyncEngine
) -> None:
    dm, ts, found = await scheduled(rig, fake)

    assert [b["action_id"] for b in found] == [f"symposium:{n}" for n in range(len(found))]
    confirm = labelled(found, "Confirm")
    assert (confirm["value"], confirm["style"], confirm["text"]["text"]) == (
        f"confirm:{(await essay_one(engine)).id}",
        "primary",
        "Confirm Mon 20 Mar",
    )
    assert all(b["value"].startswith("propose:") and "style" not in b for b in found if b is not confirm)
    assert "/symposium propose essay:1" in fake.channels[dm].messages[ts].text  # the fallback names the command
    assert (await essay_one(engine)).date_confirmed_at is None

    answer = await press(rig, ALICE, dm, ts, confirm)

    assert answer.startswith("Essay 1: date confirmed")
    assert (await essay_one(engine)).date_confirmed_at is not None
    [call] = [c for c in fake.calls_to("response_url") if "date confirmed" in c.payload["text"]]
    assert (call.payload["response_type"], call.payload["replace_original"]) == ("ephemeral", False)


async def test_propose_then_the_editors_accept_moves_the_date_and_a_non_editor_cannot(
    rig: SlackRig, fake: FakeSlack, engine: AsyncEngine
) -> None:
    dm, ts, found = await scheduled(rig, fake)
    other = next(b for b in found if b["value"].startswith("propose:"))
    day = date.fromisoformat(other["value"].rsplit(":", 1)[1])

    proposed = await press(rig, ALICE, dm, ts, other)
    await rig.bot.tick()
    [(card_ts, _)] = [(t, h) for t, h in headers_in(fake.channels[REVIEW]) if h.endswith("proposes another day")]
    [accept] = buttons(fake, REVIEW, card_ts)
    before = await snapshot(engine)
    refused = await press(rig, BOB, REVIEW, card_ts, accept)
    unchanged = await snapshot(engine)
    accepted = await press(rig, EDITOR, REVIEW, card_ts, accept)
    essay = await essay_one(engine)

    assert proposed.startswith("Essay 1: another day proposed")
    assert (accept["value"], accept["style"]) == (f"accept:{essay.id}:{day.isoformat()}", "primary")
    assert "Only the symposium's editors can do /symposium accept" in refused
    assert unchanged == before
    assert accepted.startswith("Essay 1: day accepted")
    assert local_day(essay.scheduled_for) == day
    assert essay.date_confirmed_at is not None
    assert essay.proposed_for is None


async def test_a_replayed_press_runs_once(rig: SlackRig, fake: FakeSlack) -> None:
    dm, ts, found = await scheduled(rig, fake)
    body, token = press_body(rig, ALICE, dm, ts, labelled(found, "Confirm"))

    first = await rig.post(body)
    again = await rig.post(body)  # Slack delivers the same click twice
    await rig.handled()

    assert (first.status, again.status) == (200, 200)
    [answer] = [c for c in fake.calls_to("response_url") if c.token == token]
    assert answer.payload["text"].startswith("Essay 1: date confirmed")
    second = await press(rig, ALICE, dm, ts, labelled(found, "Confirm"))  # a second click of its own is answered
    assert second.startswith("Essay 1: date confirmed")
    assert "You had confirmed it already" in second


async def test_a_button_from_elsewhere_is_refused_privately(
    rig: SlackRig, fake: FakeSlack, engine: AsyncEngine
) -> None:
    dm, ts, _ = await scheduled(rig, fake)
    before = await snapshot(engine)

    answer = await press(rig, ALICE, dm, ts, {"action_id": "symposium:0", "value": "dance:1"})

    assert "I don't know that button" in answer
    assert await snapshot(engine) == before


async def test_the_previews_hold_button_holds_the_essay_and_leaves_the_note(
    rig: SlackRig, fake: FakeSlack, engine: AsyncEngine
) -> None:
    await scheduled(rig, fake)
    await rig.command(EDITOR, "/symposium preview essay:1")
    await rig.bot.tick()
    [(ts, _)] = [(t, h) for t, h in headers_in(fake.channels[REVIEW]) if h.startswith("Preview of essay 1")]
    hold = labelled(buttons(fake, REVIEW, ts), "Hold it")

    held = await press(rig, EDITOR, REVIEW, ts, hold)
    await rig.bot.tick()

    assert (hold["value"], hold["style"]) == (f"hold:{(await essay_one(engine)).id}", "danger")
    assert held.startswith("Essay 1 held")
    assert (await essay_one(engine)).scheduled_for is None
    note = fake.channels[REVIEW].messages[ts]
    assert "Held" in note.text  # edited in place, with no button left
    assert [b for b in note.blocks if b["type"] == "actions"] == []


def test_buttons_keep_to_slacks_limits() -> None:
    actions = tuple(Action("A very long label " * 6, f"hold:{n}", "/symposium hold essay:1") for n in range(30))
    blocks, text = render(Message("Title", (), actions=actions), datetime(2023, 2, 1, tzinfo=UTC))

    [block] = [b for b in blocks if b["type"] == "actions"]
    assert len(block["elements"]) == 25
    assert len({b["action_id"] for b in block["elements"]}) == 25
    assert all(len(b["text"]["text"]) <= 75 and "style" not in b for b in block["elements"])
    assert text == "Title"
