"""The Slack adapter end to end: the real slack-bolt app in HTTP mode on 127.0.0.1, signed requests in, and the
fake Slack (tests/fakes/slack_api.py) recording every Web API call out. The bot's time is a SimulatedClock;
delivery runs when a test calls `tick()`. Other test_slack_*.py files import the rig from here."""

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.runtime import symposium_process
from adapters.slack.after_ack import AfterAck
from adapters.slack.app import build_app, make_client, slack_routes
from adapters.slack.pacing import Pacer
from adapters.slack.people import People
from adapters.slack.sender import SlackPlatform
from adapters.slack.settings import SlackSettings
from bot.clock import SimulatedClock
from bot.settings import CoreSettings
from tests.fakes import slack_api
from tests.fakes.slack_api import (
    BOT_USER_ID,
    Channel,
    FakeSlack,
    event_callback_body,
    signed_headers,
    slash_command_body,
)

fake_slack = slack_api.fake_slack  # the fake's fixture, found by pytest as a module attribute

SECRET = "test-signing-secret"
EDITOR, ALICE, BOB, OTHER = "UEDITOR01", "UALICE001", "UBOB00001", "UOTHER001"
GENERAL, REVIEW = "CGENERAL1", "CREVIEW01"
OPEN_ARGS = (
    "title:Is the orchestrator dead or alive? prompt:Is the orchestrator dead or alive? "
    "intent_deadline:2023-03-03 due:2023-03-10 publish_from:2023-03-13 publish_to:2023-04-28 "
    f"review_channel:<#{REVIEW}|review> alt_prompts:What comes after? | Is it a scheduler?"
)


async def _no_wait(_: float) -> None:
    pass


def simulated_pacer(clock: SimulatedClock) -> Pacer:
    """No pacing, but a 429's Retry-After held on the simulated clock: the outbox retries the row once the test
    moved the clock past it, and nothing waits in real time."""

    async def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    return Pacer({}, 0, lambda: clock.now().timestamp(), sleep)


class SlackRig:
    """The bot on Slack, served by aiohttp's TestServer, with helpers that speak to it as Slack would. The core
    is built by the bot's own composition root; the test steps its clock and waits for handled requests by
    draining the work the listeners started after their acks."""

    def __init__(
        self,
        fake: FakeSlack,
        engine: AsyncEngine,
        clock: SimulatedClock,
        *,
        pacer: Pacer | None = None,
        background: bool = False,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        """Args:
        pacer: Slack's pacing (none by default: the fake's limits are off unless a test turns them on).
        background: deliver as a running bot does, in the background with all its workers; by default the test
            delivers, one row at a time, by stepping the clock.
        sleep: how the adapter waits before asking users.info again (by default it does not: tests do not sleep).
        """
        self.fake, self.engine, self.clock = fake, engine, clock
        self.settings = SlackSettings(
            slack_bot_token="xoxb-test",
            slack_signing_secret=SECRET,
            slack_api_base_url=fake.api_url,
            slack_post_interval_seconds=0,
            slack_pace_methods=False,
        )
        self.client = make_client(self.settings)
        self.platform = SlackPlatform(
            self.client, clock, pacer or simulated_pacer(clock), people=People(self.client, sleep=sleep or _no_wait)
        )
        self.after_ack = AfterAck()
        self._process = symposium_process(
            CoreSettings(database_url=engine.url.render_as_string(hide_password=False)),
            self.platform,
            clock,
            ticking=False,
            deliver_in_background=background,
            workers=None if background else 1,
        )
        self._ids = itertools.count(1)

    async def __aenter__(self) -> "SlackRig":
        self.bot = await self._process.__aenter__()
        self.app = build_app(self.bot, self.settings, self.platform, after_ack=self.after_ack)
        web_app = web.Application()
        web_app.add_routes(slack_routes(self.app))
        self.http = TestClient(TestServer(web_app, host="127.0.0.1"))
        await self.http.start_server()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.http.close()
        await self.after_ack.drain()
        await self._process.__aexit__(None, None, None)

    def next_id(self) -> str:
        return str(next(self._ids))

    async def post(
        self, body: str, *, secret: str = SECRET, age_seconds: int = 0, headers: dict[str, str] | None = None
    ) -> ClientResponse:
        """POST a body to /slack/events, signed as Slack signs it (with `secret`, `age_seconds` ago)."""
        signed = signed_headers(secret, body, int(time.time()) - age_seconds)
        return await self.http.post("/slack/events", data=body, headers=signed | (headers or {}))

    def command_body(self, user: str, line: str, channel: str = GENERAL) -> tuple[str, str]:
        """A slash command's form body, and the response_url token its reply will carry."""
        name, _, text = line.partition(" ")
        token = "r" + self.next_id()
        body = slash_command_body(
            name,
            text,
            user_id=user,
            user_name=user.lower(),
            channel_id=channel,
            response_url=self.fake.response_url(token),
            trigger_id=f"{token}.trigger",
        )
        return body, token

    async def command(self, user: str, line: str, channel: str = GENERAL) -> str:
        """Run `/command text` as `user`; return the private reply's fallback text."""
        body, token = self.command_body(user, line, channel)
        response = await self.post(body)
        assert response.status == 200, await response.text()
        return await self.reply(token)

    async def reply(self, token: str) -> str:
        (call,) = await self.fake.wait_for("response_url", lambda c: c.token == token)
        assert call.payload.get("response_type") == "ephemeral"
        return str(call.payload["text"])

    def reaction_body(self, user: str, channel: str, ts: str, name: str, *, added: bool = True) -> tuple[str, str]:
        event_id = "Ev" + self.next_id()
        event = {
            "type": "reaction_added" if added else "reaction_removed",
            "user": user,
            "reaction": name,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "item_user": BOT_USER_ID,
            "event_ts": f"{int(time.time())}.000100",
        }
        return event_callback_body(event, event_id=event_id), event_id

    async def react(self, user: str, channel: str, ts: str, name: str, *, added: bool = True) -> str | None:
        """Deliver a reaction event; return once the core handled it, with its private note's text, if any."""
        body, _ = self.reaction_body(user, channel, ts, name, added=added)
        response = await self.post(body)
        assert response.status == 200
        return await self.handled()

    async def handled(self) -> str | None:
        """Wait until what the listeners started after their acks is done; the ephemeral note it left, if any."""
        before = len(self.fake.calls_to("chat.postEphemeral"))
        async with asyncio.timeout(5):
            await self.after_ack.drain()
        notes = self.fake.calls_to("chat.postEphemeral")[before:]
        return str(notes[-1].payload["text"]) if notes else None

    async def advance(self, delta: timedelta) -> None:
        """Move the simulated clock, delivering everything that falls due on the way, in order."""
        target = self.clock.now() + delta
        await self.bot.tick()
        while self.clock.now() < target:
            due = await self.bot.next_due()
            self.clock.set(min(due, target) if due is not None and due > self.clock.now() else target)
            await self.bot.tick()

    async def open_symposium(self) -> str:
        reply = await self.command(EDITOR, f"/symposium open {OPEN_ARGS}")
        await self.bot.tick()
        return reply

    async def submitted_card(self, user: str, url: str, title: str = "Orchestrators forever") -> str:
        """Declare an intent and submit; return the ts of the review card that was posted."""
        await self.command(user, f"/intent title:{title}")
        await self.command(user, f"/submit <{url}>")
        await self.bot.tick()
        return cards(self.fake)[-1]


def headers_in(channel: Channel) -> list[tuple[str, str]]:
    """(ts, header text) of each message in a channel, in posting order."""
    out = []
    for ts, message in channel.messages.items():
        header = next((b["text"]["text"] for b in message.blocks if b["type"] == "header"), message.text)
        out.append((ts, header))
    return out


def cards(fake: FakeSlack) -> list[str]:
    return [ts for ts, header in headers_in(fake.channels[REVIEW]) if header.startswith("Essay ")]


def elements(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every rich-text leaf element of the blocks, depth first."""
    out: list[dict[str, Any]] = []
    for node in blocks:
        children = node.get("elements")
        if isinstance(children, list):
            out += elements(children)
        elif node.get("type") not in ("header", "rich_text", "rich_text_section", "rich_text_list"):
            out.append(node)
    return out


@pytest.fixture
def fake(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.add_user(EDITOR, name="Erin Editor", is_admin=True)
    fake_slack.add_user(ALICE, name="Alice Author")
    fake_slack.add_user(BOB, name="Bob Writer")
    fake_slack.add_channel(GENERAL, name="general")
    fake_slack.add_channel(REVIEW, name="review", is_private=True)
    return fake_slack


@pytest.fixture
async def rig(fake: FakeSlack, engine: AsyncEngine, clock: SimulatedClock) -> AsyncIterator[SlackRig]:
    async with SlackRig(fake, engine, clock) as rig:
        yield rig


async def test_a_whole_symposium_makes_the_right_calls_and_keeps_one_index_updated_in_place(
    rig: SlackRig, fake: FakeSlack
) -> None:
    assert "Opened" in await rig.open_symposium()
    general, review = fake.channels[GENERAL], fake.channels[REVIEW]
    (index_ts,) = [ts for ts, header in headers_in(general) if header.startswith("Essay Index")]
    assert general.pins == [index_ts]

    alice_card = await rig.submitted_card(ALICE, "https://alice.example/orchestrators")
    await rig.command(BOB, "/intent title:The conductor's baton route:crosspost pen_name:B. Anonymous")
    await rig.command(BOB, "/submit url:<https://bob.example/draft|bob.example/draft> note:First draft")
    await rig.bot.tick()
    bob_card = cards(fake)[-1]
    assert sorted(review.messages[alice_card].reactions) == ["pencil2", "white_check_mark", "x"]

    assert await rig.react(EDITOR, REVIEW, alice_card, "white_check_mark") is None
    assert await rig.react(EDITOR, REVIEW, bob_card, "white_check_mark") is None
    await rig.bot.tick()
    assert "approved" in review.messages[alice_card].text
    assert "Erin Editor" in review.messages[alice_card].text

    scheduled = await rig.command(EDITOR, "/symposium schedule essay:1 date:2023-03-13 url:https://alice.example/live")
    assert "Essay 1" in scheduled
    published = await rig.command(
        EDITOR, "/symposium publish essay:2 url:<https://bob.example/live> commentary:A baton passes hands."
    )
    assert "Essay 2 announced" in published
    await rig.advance(timedelta(minutes=2))
    comment = await rig.command(EDITOR, "/symposium comment essay:2 text:Readers write in: more batons, please.")
    assert "omment" in comment
    await rig.advance(datetime.fromisoformat("2023-03-13T09:05+00:00") - rig.clock.now())
    await rig.command(EDITOR, "/symposium close")
    await rig.advance(timedelta(minutes=2))

    announcements = [(ts, h) for ts, h in headers_in(general) if h.startswith("New essay")]
    assert [h for _, h in announcements] == ["New essay: The conductor's baton", "New essay: Orchestrators forever"]
    bob_announcement = general.messages[announcements[0][0]]
    assert "B. Anonymous" in bob_announcement.text
    assert "Bob Writer" not in bob_announcement.text
    assert BOB not in str(bob_announcement.blocks)
    (thread,) = [m for m in general.messages.values() if m.thread_ts]
    assert thread.thread_ts == announcements[0][0]
    assert "more batons" in thread.text
    assert any(h.endswith("is closed: thank you!") for _, h in headers_in(general))

    index_posts = [c for c in fake.calls_to("chat.postMessage") if c.payload.get("text", "").startswith("Essay Index")]
    assert len(index_posts) == 1
    index = general.messages[index_ts]
    assert index.edits >= 2
    assert general.pins == [index_ts]
    assert "Orchestrators forever" in index.text
    assert "The conductor" in index.text
    assert all(c.payload["ts"] == index_ts for c in fake.calls_to("chat.update") if c.payload["channel"] == GENERAL)

    posted = [c.payload for c in fake.calls_to("chat.postMessage") if c.payload.get("text", "").startswith("New essay")]
    (preview,) = [p for p in posted if p["channel"] == REVIEW]  # essay 2 was published at once, unpreviewed
    (announced,) = [p for p in posted if p["channel"] == GENERAL and "Orchestrators forever" in p["text"]]
    assert (preview["blocks"], preview["text"]) == (announced["blocks"], announced["text"])
    kinds = ("Essay ", "New essay: Orchestrators forever", "Preview of essay 1")
    assert all(h.startswith(kinds) or "publication" in h.lower() for _, h in headers_in(review))
    dm_channels = {c.payload["channel"] for c in fake.calls_to("chat.postMessage") if c.payload["channel"][0] == "D"}
    assert dm_channels == {fake.dm_channel_id(ALICE), fake.dm_channel_id(BOB)}
    alice_dms = [m.text for m in fake.channels[fake.dm_channel_id(ALICE)].messages.values()]
    assert any("approved" in text and "Action needed" in text for text in alice_dms)
    assert any("has a publication date" in text for text in alice_dms)
    assert {c.payload["channel"] for c in fake.calls_to("reactions.add")} == {REVIEW}
    assert {c.token for c in fake.calls if c.method not in ("response_url", "upload_url")} == {"xoxb-test"}
