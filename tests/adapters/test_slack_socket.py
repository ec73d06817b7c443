"""Socket Mode through the fake's WebSocket, and the reconciliation of review cards on start and reconnect."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.run_slack import reconcile_cards
from adapters.slack.app import serve_socket_mode
from tests.adapters.test_slack import (
    ALICE,
    BOB,
    EDITOR,
    GENERAL,
    OPEN_ARGS,
    OTHER,
    REVIEW,
    SlackRig,
    fake,
    fake_slack,
    rig,
)
from tests.conftest import snapshot
from tests.fakes.slack_api import (
    BOT_USER_ID,
    TEAM_ID,
    FakeSlack,
    event_callback_payload,
    slash_command_payload,
)

__all__ = ["fake", "fake_slack", "rig"]  # fixtures, used by name


async def reconcile(rig: SlackRig) -> int:
    return await reconcile_cards(rig.bot, rig.platform, TEAM_ID, BOT_USER_ID)


@pytest.fixture
async def connections(rig: SlackRig, fake: FakeSlack) -> AsyncIterator[asyncio.Queue[int]]:
    """Serve the rig's app in Socket Mode; each (re)connection's reconciliation puts its card count here."""
    reconciled: asyncio.Queue[int] = asyncio.Queue()

    async def on_connected() -> None:
        reconciled.put_nowait(await reconcile(rig))

    serving = asyncio.create_task(serve_socket_mode(rig.app, "xapp-test", on_connected))
    try:
        async with asyncio.timeout(5):
            await reconciled.get()
        yield reconciled
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving


async def socket_command(rig: SlackRig, fake: FakeSlack, user: str, line: str) -> str:
    name, _, text = line.partition(" ")
    token = "s" + rig.next_id()
    payload = slash_command_payload(
        name, text, user_id=user, channel_id=GENERAL, response_url=fake.response_url(token), trigger_id=token
    )
    ack = await fake.socket_send("slash_commands", payload)
    assert set(ack) == {"envelope_id"}
    return await rig.reply(token)


async def test_socket_mode_takes_commands_and_reactions_and_reconciles_after_a_reconnect(
    rig: SlackRig, fake: FakeSlack, connections: asyncio.Queue[int]
) -> None:
    assert "Opened" in await socket_command(rig, fake, EDITOR, f"/symposium open {OPEN_ARGS}")
    for user, n in ((ALICE, 1), (BOB, 2)):
        await socket_command(rig, fake, user, f"/intent title:Essay {n}")
        assert f"Essay {n} submitted" in await socket_command(rig, fake, user, f"/submit https://{n}.example/e")
    await rig.bot.tick()
    first, second = [ts for ts, m in fake.channels[REVIEW].messages.items() if m.text.startswith("Essay")]
    event = {
        "type": "reaction_added",
        "user": EDITOR,
        "reaction": "white_check_mark",
        "item": {"type": "message", "channel": REVIEW, "ts": first},
        "event_ts": "1700000000.000500",
    }

    ack = await fake.socket_send("events_api", event_callback_payload(event, event_id="EvSocket1"))
    assert set(ack) == {"envelope_id"}
    await rig.handled()
    fake.add_reaction(REVIEW, second, "x", EDITOR)  # while the connection is down
    await fake.disconnect()
    await fake.wait_connected(2)
    async with asyncio.timeout(5):
        assert await connections.get() == 1  # only the second card was still pending
    await rig.bot.tick()

    assert "approved" in fake.channels[REVIEW].messages[first].text
    assert "declined" in fake.channels[REVIEW].messages[second].text
    assert len(fake.calls_to("apps.connections.open")) == 2


async def test_reconciling_on_start_applies_clear_decisions_once_and_reports_conflicts(
    rig: SlackRig, fake: FakeSlack, engine: AsyncEngine
) -> None:
    await rig.open_symposium()
    clear = await rig.submitted_card(ALICE, "https://alice.example/e", "Clear")
    conflicting = await rig.submitted_card(BOB, "https://bob.example/e", "Conflicting")
    outsider = await rig.submitted_card(OTHER, "https://other.example/e", "Outsider")
    fake.add_reaction(REVIEW, clear, "white_check_mark", EDITOR)
    fake.add_reaction(REVIEW, conflicting, "white_check_mark", EDITOR)
    fake.add_reaction(REVIEW, conflicting, "pencil2", EDITOR)
    fake.add_reaction(REVIEW, outsider, "white_check_mark", OTHER)

    assert await reconcile(rig) == 3
    await rig.bot.tick()
    settled = await snapshot(engine)
    assert await reconcile(rig) == 2  # the two cards still pending are read again, and nothing changes
    await rig.bot.tick()

    assert await snapshot(engine) == settled
    review = fake.channels[REVIEW].messages
    assert "approved" in review[clear].text
    assert "waiting for review" in review[conflicting].text
    assert "waiting for review" in review[outsider].text
    notes = [m.text for m in review.values() if "conflicting reactions" in m.text]
    assert len(notes) == 1
    assert notes[0].startswith("Essay 2: conflicting reactions")
