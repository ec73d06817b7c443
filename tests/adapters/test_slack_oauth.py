"""Installed by many workspaces (OAuth distribution): installs through slack-bolt's OAuth flow against the fake
Slack, tokens encrypted at rest, one sender per workspace, and uninstalling pausing only that workspace.

The bot runs as `symposium-bot run` composes it without SLACK_BOT_TOKEN (adapters/run_slack.py
`distributed_process`), served by aiohttp's TestServer; the test steps its clock and delivers with `tick()`.
"""

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet, InvalidToken
from pydantic import ValidationError
from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import select, text

from adapters.cli import explain, settings_problems
from adapters.run_slack import Distributed, distributed_process, run_slack
from adapters.runtime import migrated_engine
from adapters.slack.after_ack import WORKERS
from adapters.slack.app import BOT_SCOPES, REDIRECT_PATH, slack_routes
from adapters.slack.oauth import SlackInstallations, TokenKeyError
from adapters.slack.pacing import SLACK_TIERS, Pacer
from adapters.slack.settings import SlackSettings
from adapters.web.app import build_web_app
from adapters.web.settings import WebSettings
from bot.clock import SimulatedClock
from bot.db.engine import make_engine
from bot.db.models import DmChannel, OutboxRow, SlackInstallation, Symposium
from bot.messages import MessageBuilder
from bot.outbox import Status
from bot.settings import CoreSettings
from tests.adapters.test_cli import env, invoke, one_error
from tests.adapters.test_slack_main import free_port
from tests.fakes import slack_api
from tests.fakes.slack_api import (
    DEFAULT_SCOPES,
    FakeSlack,
    bot_user_id_for,
    event_callback_body,
    signed_headers,
    slash_command_body,
)

fake_slack = slack_api.fake_slack
__all__ = ["env", "fake_slack"]  # fixtures, used by name
# slack-sdk's oauth_v2_access authenticates with aiohttp.BasicAuth, deprecated since aiohttp 3.12.
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")

SECRET = "test-signing-secret"
CLIENT_ID, CLIENT_SECRET = "1111.2222", "client-secret"
KEY, OLD_KEY, WRONG_KEY = (Fernet.generate_key().decode() for _ in range(3))
A, B = "T00000AAA", "T00000BBB"


class Team:
    """One workspace's people and channels; ids differ between workspaces, so a leak shows."""

    def __init__(self, team: str) -> None:
        tag = team[-1]
        self.id = team
        self.editor, self.writer = f"UEDITOR{tag}1", f"UWRITER{tag}1"
        self.general, self.review = f"CGENERAL{tag}", f"CREVIEW{tag}1"

    @property
    def open_args(self) -> str:
        return (
            f"title:Symposium {self.id} prompt:What is {self.id}? intent_deadline:2023-03-03 due:2023-03-10 "
            f"publish_from:2023-03-13 publish_to:2023-04-28 review_channel:<#{self.review}|review>"
        )


TEAMS = {A: Team(A), B: Team(B)}


def oauth_settings(fake: FakeSlack, keys: str = KEY) -> SlackSettings:
    """OAuth mode (no SLACK_BOT_TOKEN) against the fake, unpaced."""
    return SlackSettings.model_validate(
        {
            "slack_client_id": CLIENT_ID,
            "slack_client_secret": CLIENT_SECRET,
            "token_encryption_key": keys,
            "slack_signing_secret": SECRET,
            "slack_api_base_url": fake.api_url,
            "slack_authorize_url": fake.authorize_url,
            "slack_post_interval_seconds": 0,
            "slack_pace_methods": False,
        }
    )


class OAuthRig:
    """The bot for many workspaces behind a test server, with helpers that act as Slack and as a browser."""

    def __init__(
        self, fake: FakeSlack, database_url: str, clock: SimulatedClock, *, keys: str = KEY, workers: int = 1
    ) -> None:
        self.fake, self.clock = fake, clock
        self.settings = oauth_settings(fake, keys)
        self.core = CoreSettings(database_url=database_url)
        self._process = distributed_process(
            self.core, self.settings, clock, ticking=False, deliver_in_background=False, workers=workers
        )
        self._ids = itertools.count(1)

    async def __aenter__(self) -> "OAuthRig":
        self.running: Distributed = await self._process.__aenter__()
        self.bot = self.running.bot
        web_app = web.Application()
        web_app.add_routes(slack_routes(self.running.app))
        self.http = TestClient(TestServer(web_app, host="127.0.0.1"))
        await self.http.start_server()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.http.close()
        await self._process.__aexit__(None, None, None)

    def oauth(self, **options: Any) -> None:
        """Make the app installable at the fake, redirecting back to this bot."""
        self.fake.configure_oauth(
            CLIENT_ID, CLIENT_SECRET, redirect_uri=str(self.http.make_url(REDIRECT_PATH)), **options
        )

    async def start_install(self, team: str) -> tuple[str, str]:
        """/slack/install, then Slack's authorize page: the redirect back (path and query) and the state cookie."""
        start = await self.http.get("/slack/install", allow_redirects=False)
        assert start.status == 302, await start.text()
        async with aiohttp.ClientSession() as browser:
            page = await browser.get(f"{start.headers['Location']}&team={team}", allow_redirects=False)
        assert page.status == 302
        back = urlsplit(page.headers["Location"])
        return f"{back.path}?{back.query}", start.headers["Set-Cookie"].split(";")[0]

    async def install(self, team: str) -> ClientResponse:
        back, cookie = await self.start_install(team)
        return await self.http.get(back, headers={"Cookie": cookie})

    async def post(self, body: str) -> ClientResponse:
        return await self.http.post("/slack/events", data=body, headers=signed_headers(SECRET, body, int(time.time())))

    async def command(self, team: str, user: str, line: str, channel: str | None = None) -> str:
        """Run a slash command in a workspace; return its private reply."""
        name, _, words = line.partition(" ")
        token = f"r{next(self._ids)}"
        body = slash_command_body(
            name,
            words,
            team_id=team,
            user_id=user,
            channel_id=channel or TEAMS[team].general,
            response_url=self.fake.response_url(token),
            trigger_id=f"{token}.trigger",
        )
        answer = await self.post(body)
        assert answer.status == 200, await answer.text()
        (call,) = await self.fake.wait_for("response_url", lambda c: c.token == token)
        return str(call.payload["text"])

    async def react(self, team: str, user: str, channel: str, ts: str, name: str) -> None:
        event = {
            "type": "reaction_added",
            "user": user,
            "reaction": name,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "item_user": bot_user_id_for(team),
            "event_ts": f"{int(time.time())}.000100",
        }
        answer = await self.post(event_callback_body(event, f"Ev{next(self._ids)}", team))
        assert answer.status == 200
        await self.running.after_ack.drain()

    async def token(self, team: str) -> str:
        found = await self.running.workspaces.get(team)
        assert found is not None
        return found.bot.bot_token

    async def advance(self, delta: timedelta) -> None:
        """Move the simulated clock, delivering everything that falls due on the way, in order."""
        target = self.clock.now() + delta
        await self.bot.tick()
        while self.clock.now() < target:
            due = await self.bot.next_due()
            self.clock.set(min(due, target) if due is not None and due > self.clock.now() else target)
            await self.bot.tick()

    async def uninstall(self, team: str) -> None:
        """Slack uninstalls the app and sends its two events, as it does."""
        for body in self.fake.uninstall(team):
            assert (await self.post(body)).status == 200

    async def run_symposium(self, team: str) -> str:
        """Open a symposium, take a submission, approve and publish it; return the review card's ts."""
        t = TEAMS[team]
        assert "Opened" in await self.command(team, t.editor, f"/symposium open {t.open_args}")
        await self.command(team, t.writer, f"/intent title:Essay from {team}")
        await self.command(team, t.writer, f"/submit <https://{team.lower()}.example/essay>")
        await self.bot.tick()
        (card,) = [ts for ts, m in self.fake.workspace(team).channels[t.review].messages.items() if "waiting" in m.text]
        await self.react(team, t.editor, t.review, card, "white_check_mark")
        await self.bot.tick()
        published = await self.command(team, t.editor, f"/symposium publish essay:1 url:https://{team.lower()}.ex/live")
        assert "announced" in published
        await self.bot.tick()
        return card


@pytest.fixture
def fake(fake_slack: FakeSlack) -> FakeSlack:
    for team in TEAMS.values():
        fake_slack.add_workspace(team.id, name=f"Space {team.id}")
        fake_slack.add_user(team.editor, name=f"Editor {team.id}", is_admin=True, team_id=team.id)
        fake_slack.add_user(team.writer, name=f"Writer {team.id}", team_id=team.id)
        fake_slack.add_channel(team.general, name="general", team_id=team.id)
        fake_slack.add_channel(team.review, name="review", is_private=True, team_id=team.id)
    return fake_slack


@pytest.fixture
async def rig(fake: FakeSlack, database_url: str, clock: SimulatedClock) -> AsyncIterator[OAuthRig]:
    async with OAuthRig(fake, database_url, clock) as rig:
        rig.oauth()
        yield rig


def header(message: Any) -> str:
    """A posted message's header block, else its text."""
    return next((b["text"]["text"] for b in message.blocks if b["type"] == "header"), message.text)


def issued_tokens(fake: FakeSlack) -> list[str]:
    """Every token (access and refresh) the fake handed out through oauth.v2.access."""
    out = []
    for call in fake.calls_to("oauth.v2.access"):
        answer = call.response
        out += [answer.get(k) for k in ("access_token", "refresh_token")]
        out += [(answer.get("authed_user") or {}).get(k) for k in ("access_token", "refresh_token")]
    return [token for token in out if token]


# ----- installing


async def test_two_workspaces_install_through_the_oauth_flow_and_each_gets_its_own_token(
    rig: OAuthRig, fake: FakeSlack
) -> None:
    first, second = await rig.install(A), await rig.install(B)

    assert (first.status, second.status) == (200, 200)
    assert await rig.running.store.workspaces() == [A, B]
    exchanges = fake.calls_to("oauth.v2.access")
    assert [c.team for c in exchanges] == [A, B]
    assert all(c.response["ok"] for c in exchanges)
    assert [c.payload["scope"] for c in fake.calls_to("authorize")] == [",".join(BOT_SCOPES)] * 2
    found_a, found_b = await rig.running.workspaces.get(A), await rig.running.workspaces.get(B)
    assert found_a is not None
    assert found_b is not None
    assert found_a.bot.bot_token == exchanges[0].response["access_token"]
    assert found_b.bot.bot_token == exchanges[1].response["access_token"]
    assert (found_a.bot.bot_user_id, found_b.bot.bot_user_id) == (bot_user_id_for(A), bot_user_id_for(B))


def test_an_install_asks_for_the_manifest_scopes() -> None:
    assert BOT_SCOPES == DEFAULT_SCOPES  # the fake's default token holds the manifest's scopes (test_slack_fake)


async def test_a_replayed_or_forged_state_is_refused_and_installs_nothing(rig: OAuthRig, fake: FakeSlack) -> None:
    back, cookie = await rig.start_install(A)
    assert (await rig.http.get(back, headers={"Cookie": cookie})).status == 200
    replayed = await rig.http.get(back, headers={"Cookie": cookie})

    back_b, _ = await rig.start_install(B)
    query = parse_qs(urlsplit(back_b).query)
    forged_state = "forged-state-never-issued"
    forged = await rig.http.get(
        f"{REDIRECT_PATH}?code={query['code'][0]}&state={forged_state}",
        headers={"Cookie": f"slack-app-oauth-state={forged_state}"},
    )
    no_cookie = await rig.http.get(back_b)
    other_cookie = await rig.http.get(back_b, headers={"Cookie": cookie})

    # slack-bolt: a state not issued here, or used already, is 401; a browser without its state's cookie, 400.
    assert [replayed.status, forged.status, no_cookie.status, other_cookie.status] == [401, 401, 400, 400]
    assert await rig.running.store.workspaces() == [A]
    assert [c.team for c in fake.calls_to("oauth.v2.access")] == [A]  # no code was exchanged for a bad state


async def test_a_state_expires(rig: OAuthRig, fake: FakeSlack) -> None:
    back, cookie = await rig.start_install(A)
    rig.clock.advance(timedelta(minutes=11))

    assert (await rig.http.get(back, headers={"Cookie": cookie})).status == 401
    assert await rig.running.store.workspaces() == []


# ----- two workspaces at once


async def test_two_workspaces_run_their_symposia_at_once_and_nothing_of_one_reaches_the_other(
    rig: OAuthRig, fake: FakeSlack, database_url: str
) -> None:
    await rig.install(A)
    await rig.install(B)

    cards = await asyncio.gather(rig.run_symposium(A), rig.run_symposium(B))
    await rig.advance(timedelta(minutes=2))  # the Essay Index's refresh

    tokens = {team: await rig.token(team) for team in TEAMS}
    for team, other in ((A, B), (B, A)):
        t, o = TEAMS[team], TEAMS[other]
        space = fake.workspace(team)
        mine = {t.general, t.review, fake.dm_channel_id(t.writer, team_id=team)}
        assert set(space.channels) <= mine | {fake.dm_channel_id(t.editor, team_id=team)}, "a channel of the other"
        calls = [c for c in fake.calls if c.token == tokens[team]]
        assert calls, team
        assert all(c.team == team for c in calls)
        said = " ".join(str(c.payload) for c in calls)
        for theirs in (o.general, o.review, o.writer, o.editor, other):
            assert theirs not in said, f"{theirs} reached {team}"
        general = space.channels[t.general]
        index = [m for m in general.messages.values() if header(m).startswith("Essay Index")]
        assert len(index) == 1
        assert f"Essay from {team}" in index[0].text
        assert f"Essay from {other}" not in index[0].text
        assert general.pins == [index[0].ts]
        announced = [header(m) for m in general.messages.values() if header(m).startswith("New essay")]
        assert announced == [f"New essay: Essay from {team}"]
        card = space.channels[t.review].messages[cards[0 if team == A else 1]]
        assert "approved" in card.text
        assert sorted(card.reactions) == ["pencil2", "white_check_mark", "x"]
        dms = space.channels[fake.dm_channel_id(t.writer, team_id=team)].messages.values()
        assert any("approved" in m.text for m in dms)

    # The public page lists both, each page with its own essays only.
    engine = make_engine(database_url)
    try:
        site = build_web_app(engine, rig.core, rig.clock, WebSettings())
        async with TestClient(TestServer(site, host="127.0.0.1")) as browser:
            listing = await (await browser.get("/")).text()
            pages = {}
            for team in TEAMS:
                slug = f"symposium-{team.lower()}-2023"
                assert f"/s/{slug}" in listing
                pages[team] = await (await browser.get(f"/s/{slug}")).text()
    finally:
        await engine.dispose()
    assert "Essay from T00000AAA" in pages[A]
    assert "Essay from T00000BBB" not in pages[A]
    assert "Essay from T00000BBB" in pages[B]
    assert "Essay from T00000AAA" not in pages[B]


async def test_one_workspace_held_by_slack_does_not_slow_another(rig: OAuthRig, fake: FakeSlack) -> None:
    """A's pacer is told to wait an hour (a 429 with Retry-After 3600); B's delivery goes out meanwhile."""
    await rig.install(A)
    await rig.install(B)
    found_a, found_b = await rig.running.workspaces.get(A), await rig.running.workspaces.get(B)
    assert found_a is not None
    assert found_b is not None
    assert found_a.platform.pacer is not found_b.platform.pacer
    assert found_a.platform.people is not found_b.platform.people
    found_a.platform.pacer = Pacer({"chat.postMessage": 60}, 0)  # paced as in production, then told to wait
    found_a.platform.pacer.hold("chat.postMessage", 3600)

    async with asyncio.timeout(10):
        opened = await rig.command(B, TEAMS[B].editor, f"/symposium open {TEAMS[B].open_args}")
        await rig.bot.tick()

    assert "Opened" in opened
    assert fake.workspace(B).channels[TEAMS[B].general].messages  # B's announcement and index went out


async def test_a_workspace_slack_makes_wait_never_holds_every_delivery_worker(
    fake: FakeSlack, database_url: str, clock: SimulatedClock
) -> None:
    """Two workers; A's pacer waits an hour and A has three messages due before B's one: B's still goes out."""
    async with OAuthRig(fake, database_url, clock, workers=2) as rig:
        rig.oauth()
        await rig.install(A)
        await rig.install(B)
        for team in TEAMS:
            await rig.command(team, TEAMS[team].editor, f"/symposium open {TEAMS[team].open_args}")
        await rig.bot.tick()
        found_a = await rig.running.workspaces.get(A)
        assert found_a is not None
        found_a.platform.pacer = held = Pacer(SLACK_TIERS, 0)
        for method in SLACK_TIERS:
            held.hold(method, 3600)
        for team, users in ((A, ["UA1", "UA2", "UA3"]), (B, ["UB1"])):
            async with rig.bot.unit_of_work(team) as uow:
                sym = await uow.session.scalar(select(Symposium).where(Symposium.community == team))
                assert sym is not None
                for user in users:
                    uow.dm(sym, user, MessageBuilder("A word", tag="notice").line("from the editors").build())
                await uow.commit()

        delivering = asyncio.create_task(rig.bot.tick())
        try:
            (sent,) = await fake.wait_for("chat.postMessage", lambda c: c.team == B and c.payload["channel"][0] == "D")
        finally:
            delivering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await delivering

    assert sent.payload["channel"] == fake.dm_channel_id("UB1", team_id=B)
    assert [c for c in fake.calls_in(A, "conversations.open")] == []  # A's first still waits for its pace


async def test_at_start_each_workspace_s_cards_are_re_read_with_its_own_token(rig: OAuthRig, fake: FakeSlack) -> None:
    """Editors decided on cards while the bot was away: catching up reads each workspace's with its token."""
    await rig.install(A)
    await rig.install(B)
    cards = {}
    for team, t in TEAMS.items():
        await rig.command(team, t.editor, f"/symposium open {t.open_args}")
        await rig.command(team, t.writer, f"/intent title:Essay from {team}")
        await rig.command(team, t.writer, f"/submit <https://{team.lower()}.example/essay>")
    await rig.bot.tick()
    for team, t in TEAMS.items():
        (cards[team],) = fake.workspace(team).channels[t.review].messages
    fake.add_reaction(TEAMS[A].review, cards[A], "white_check_mark", TEAMS[A].editor, team_id=A)
    fake.add_reaction(TEAMS[B].review, cards[B], "x", TEAMS[B].editor, team_id=B)

    await rig.running.catch_up()
    await rig.bot.tick()

    reads = fake.calls_to("reactions.get")
    assert sorted((c.team, c.payload["channel"]) for c in reads) == [(A, TEAMS[A].review), (B, TEAMS[B].review)]
    tokens = {team: await rig.token(team) for team in TEAMS}
    assert all(c.token == tokens[c.team or ""] for c in reads)
    assert "approved" in fake.workspace(A).channels[TEAMS[A].review].messages[cards[A]].text
    assert "declined" in fake.workspace(B).channels[TEAMS[B].review].messages[cards[B]].text


async def test_symposium_bot_run_serves_the_install_page_and_events_on_slack_port(
    fake: FakeSlack, database_url: str, clock: SimulatedClock
) -> None:
    port = free_port()
    settings = oauth_settings(fake).model_copy(update={"slack_port": port})
    core = CoreSettings(database_url=database_url, delivery_interval_seconds=3600)
    ready = asyncio.Event()
    task = asyncio.create_task(run_slack(core, settings, clock, ready=ready))
    try:
        async with asyncio.timeout(10):
            await ready.wait()
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{port}"
            fake.configure_oauth(CLIENT_ID, CLIENT_SECRET, redirect_uri=f"{base}{REDIRECT_PATH}")
            start = await http.get(f"{base}/slack/install", allow_redirects=False)
            page = await http.get(f"{start.headers['Location']}&team={A}", allow_redirects=False)
            back = page.headers["Location"]
            finished = await http.get(back, headers={"Cookie": start.headers["Set-Cookie"].split(";")[0]})
            t = TEAMS[A]
            body = slash_command_body(
                "/symposium",
                f"open {t.open_args}",
                team_id=A,
                user_id=t.editor,
                channel_id=t.general,
                response_url=fake.response_url("run"),
            )
            sent = await http.post(
                f"{base}/slack/events", data=body, headers=signed_headers(SECRET, body, int(time.time()))
            )
            (reply,) = await fake.wait_for("response_url", lambda c: c.token == "run")
            await fake.wait_for("pins.add", lambda c: c.team == A)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    assert (start.status, page.status, finished.status, sent.status) == (302, 302, 200, 200)
    assert "Opened" in reply.payload["text"]


async def test_a_flood_of_one_workspace_s_commands_never_keeps_another_s_waiting(
    rig: OAuthRig, fake: FakeSlack
) -> None:
    """A's channel checks wait for its pace (held until the end); A's editors send more commands than the bot
    handles at once (each editor's in turn: several editors); B's command is still answered."""
    await rig.install(A)
    await rig.install(B)
    found_a = await rig.running.workspaces.get(A)
    assert found_a is not None
    gate, moment = asyncio.Event(), [0.0]

    async def until_the_gate_opens(_: float) -> None:
        await gate.wait()
        moment[0] += 3600  # the pacer's clock: the hold is over once the gate opens

    found_a.platform.pacer = held = Pacer(SLACK_TIERS, 0, lambda: moment[0], until_the_gate_opens)
    held.hold("conversations.info", 3600)
    t = TEAMS[A]
    try:
        for n in range(WORKERS + 2):
            editor = f"UFLOOD{n}"
            fake.add_user(editor, is_admin=True, team_id=A)
            body = slash_command_body(
                "/symposium",
                f"open {t.open_args} slug:flood-{n}",
                team_id=A,
                user_id=editor,
                channel_id=t.general,
                trigger_id=f"flood{n}.trigger",
            )
            assert (await rig.post(body)).status == 200
        async with asyncio.timeout(10):
            answer = await rig.command(B, TEAMS[B].editor, f"/symposium open {TEAMS[B].open_args}")
        assert "Opened" in answer
        assert fake.calls_in(A, "conversations.info") == []  # A's still wait
    finally:
        gate.set()
    await rig.running.after_ack.drain()
    assert fake.calls_in(A, "conversations.info")  # and were handled once A's pace allowed


async def test_people_and_direct_message_channels_are_per_workspace(rig: OAuthRig, fake: FakeSlack) -> None:
    """The same user id in two workspaces (Enterprise Grid): an admin in one, a member in the other, with a DM
    channel in each."""
    shared = "USHARED01"
    fake.add_user(shared, name="Sam", is_admin=True, team_id=A)
    fake.add_user(shared, name="Sam", team_id=B)
    await rig.install(A)
    await rig.install(B)

    in_a = await rig.command(A, shared, f"/symposium open {TEAMS[A].open_args}")
    in_b = await rig.command(B, shared, f"/symposium open {TEAMS[B].open_args}")
    platform = rig.running.bot.platform
    dm_a = await platform.check_direct_message(A, shared)
    dm_b = await platform.check_direct_message(B, shared)

    assert "Opened" in in_a
    assert "Opened" not in in_b  # a member in B, whatever A says of them
    assert (dm_a, dm_b) == (None, None)
    opened = {c.team: c.response["channel"]["id"] for c in fake.calls_to("conversations.open")}
    assert opened == {A: fake.dm_channel_id(shared, team_id=A), B: fake.dm_channel_id(shared, team_id=B)}
    assert opened[A] != opened[B]
    await platform.flush()  # each workspace's DM channels are kept in the database, under its community
    async with rig.running.bot.reads() as session:
        kept = set((await session.execute(select(DmChannel.community, DmChannel.user_id, DmChannel.channel_id))).all())
    assert kept == {(A, shared, opened[A]), (B, shared, opened[B])}


# ----- uninstalling


async def test_uninstalling_one_workspace_stops_its_deliveries_and_leaves_the_other_untouched(
    rig: OAuthRig, fake: FakeSlack, database_url: str
) -> None:
    await rig.install(A)
    await rig.install(B)
    for team in TEAMS:
        await rig.command(team, TEAMS[team].editor, f"/symposium open {TEAMS[team].open_args}")
    await rig.bot.tick()

    await rig.uninstall(A)
    calls_in_a = len(fake.calls_in(A))
    posts_in_b = len(fake.calls_in(B, "chat.postMessage"))
    await rig.advance(timedelta(days=30))  # the intent deadline's reminders (7 and 1 days before) fall due in both

    assert await rig.bot.paused_communities() == {A: "the app was uninstalled from this Slack workspace"}
    assert await rig.running.store.workspaces() == [B]
    assert fake.calls_in(A)[calls_in_a:] == []  # nothing was sent to A
    assert len(fake.calls_in(B, "chat.postMessage")) >= posts_in_b + 2  # B's reminders went out
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            waiting = (
                await conn.execute(
                    select(OutboxRow.status, OutboxRow.attempts).where(
                        OutboxRow.community == A, OutboxRow.op != "reply"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    held = [row for row in waiting if row.status == Status.PENDING]
    assert held
    assert {row.attempts for row in held} == {0}  # skipped, not failed
    assert Status.FAILED not in {row.status for row in waiting}

    # Installed again: A is resumed and what waited goes out with the new token.
    assert (await rig.install(A)).status == 200
    await rig.bot.tick()
    assert await rig.bot.paused_communities() == {}
    posted_a = fake.calls_in(A, "chat.postMessage")
    assert posted_a
    assert all(c.status == 200 and c.response["ok"] for c in posted_a[-len(held) :])


async def test_revoking_a_user_token_keeps_the_workspace_revoking_the_bot_s_pauses_it(
    rig: OAuthRig, fake: FakeSlack
) -> None:
    await rig.install(A)

    def revoked(oauth: list[str], bot: list[str]) -> str:
        event = {"type": "tokens_revoked", "tokens": {"oauth": oauth, "bot": bot}, "event_ts": "1700000000.000100"}
        return event_callback_body(event, f"Ev{next(rig._ids)}", A)

    assert (await rig.post(revoked(["UINSTALL1"], []))).status == 200
    kept = await rig.running.store.workspaces()
    paused_before = await rig.bot.paused_communities()
    assert (await rig.post(revoked([], [bot_user_id_for(A)]))).status == 200

    assert (kept, paused_before) == ([A], {})
    assert await rig.running.store.workspaces() == []
    assert await rig.bot.paused_communities() == {A: "the bot's tokens were revoked in this Slack workspace"}
    assert await rig.running.workspaces.get(A) is None


async def test_a_paused_workspace_s_reply_waits_and_goes_out_when_resumed(rig: OAuthRig, fake: FakeSlack) -> None:
    """Even the answer to a request (delivered right after its handling) waits while its workspace is paused."""
    await rig.install(A)
    t = TEAMS[A]
    await rig.bot.pause_community(A, "paused by the test")
    body = slash_command_body(
        "/symposium", "help", team_id=A, user_id=t.editor, response_url=fake.response_url("paused"), trigger_id="p1"
    )

    assert (await rig.post(body)).status == 200
    await rig.running.after_ack.drain()
    await rig.bot.tick()
    waited = [c for c in fake.calls_to("response_url") if c.token == "paused"]
    await rig.bot.resume_community(A)
    rig.clock.advance(timedelta(minutes=3))  # past the claim it was written with
    await rig.bot.tick()

    assert waited == []
    (answer,) = [c for c in fake.calls_to("response_url") if c.token == "paused"]
    assert answer.payload["response_type"] == "ephemeral"


# ----- tokens at rest and their rotation


async def test_tokens_are_unreadable_in_the_database_without_the_key(
    rig: OAuthRig, fake: FakeSlack, database_url: str
) -> None:
    await rig.install(A)
    await rig.install(B)
    tokens = issued_tokens(fake)
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            dump = str((await conn.execute(text("SELECT * FROM slack_installations"))).all())
            sealed = [s for s in (await conn.execute(select(SlackInstallation.bot_token))).scalars() if s]
    finally:
        await engine.dispose()

    assert len(tokens) == 2
    for token in tokens:
        assert token not in dump
        assert token.split("-", 2)[-1][-16:] not in dump  # not even its secret part
    assert sorted(Fernet(KEY).decrypt(s.encode()).decode() for s in sealed) == sorted(tokens)
    for s in sealed:
        with pytest.raises(InvalidToken):
            Fernet(WRONG_KEY).decrypt(s.encode())


async def test_a_wrong_key_fails_at_start_with_one_clear_line(
    fake: FakeSlack, database_url: str, clock: SimulatedClock
) -> None:
    async with OAuthRig(fake, database_url, clock) as rig:
        rig.oauth()
        await rig.install(A)
    ready = asyncio.Event()

    with pytest.raises(TokenKeyError) as raised:
        await run_slack(CoreSettings(database_url=database_url), oauth_settings(fake, WRONG_KEY), clock, ready=ready)

    assert not ready.is_set()
    (line,) = explain(raised.value, {}) or []
    assert line.startswith("TOKEN_ENCRYPTION_KEY cannot decrypt the Slack tokens stored in the database")
    assert "\n" not in line


async def test_keys_rotate_the_new_one_first(fake: FakeSlack, database_url: str, clock: SimulatedClock) -> None:
    async with OAuthRig(fake, database_url, clock, keys=OLD_KEY) as rig:
        rig.oauth()
        await rig.install(A)
    (token,) = issued_tokens(fake)

    async with OAuthRig(fake, database_url, clock, keys=f"{KEY},{OLD_KEY}") as rig:
        found = await rig.running.workspaces.get(A)
    engine = make_engine(database_url)
    try:
        store = SlackInstallations(engine, [KEY])
        assert await store.check_key() == 0
        bot = await store.async_find_bot(enterprise_id=None, team_id=A)
        with pytest.raises(TokenKeyError):
            await SlackInstallations(engine, [OLD_KEY]).check_key()
    finally:
        await engine.dispose()

    assert found is not None
    assert found.bot.bot_token == token
    assert bot is not None
    assert bot.bot_token == token  # re-encrypted under the new key at the rotating start


async def test_token_rotation_renews_the_bot_token_before_it_expires(rig: OAuthRig, fake: FakeSlack) -> None:
    rig.oauth(token_rotation=True, expires_in=600)  # inside the 2 hours before expiry: renewed at first use
    await rig.install(A)
    (first, first_refresh) = issued_tokens(fake)
    rig.oauth(token_rotation=True, expires_in=43200)  # renewed tokens last 12 hours

    opened = await rig.command(A, TEAMS[A].editor, f"/symposium open {TEAMS[A].open_args}")
    await rig.bot.tick()
    fake.expire_token(first)
    await rig.command(A, TEAMS[A].writer, "/intent title:After the renewal")
    await rig.bot.tick()

    assert "Opened" in opened
    renewals = [c for c in fake.calls_to("oauth.v2.access") if c.payload.get("grant_type") == "refresh_token"]
    assert len(renewals) == 1
    assert renewals[0].payload["refresh_token"] == first_refresh
    renewed = renewals[0].response["access_token"]
    used = {(c.method, c.token) for c in fake.calls_in(A) if c.method not in ("authorize", "oauth.v2.access")}
    assert ("auth.test", first) in used  # slack-bolt's install asks for the bot id
    assert {token for method, token in used if method != "auth.test"} == {renewed}
    assert all(c.response.get("ok") for c in fake.calls_in(A) if c.method == "chat.postMessage")
    stored = await rig.running.store.async_find_bot(enterprise_id=None, team_id=A)
    assert stored is not None
    assert (stored.bot_token, stored.bot_refresh_token) == (renewed, renewals[0].response["refresh_token"])


# ----- settings


def problems(**values: str) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        SlackSettings.model_validate({"slack_signing_secret": SECRET} | values)
    return settings_problems(raised.value)


def test_oauth_mode_refuses_to_start_without_a_key_or_with_a_bad_one(env: pytest.MonkeyPatch) -> None:

    (no_key,) = problems(slack_client_id=CLIENT_ID, slack_client_secret=CLIENT_SECRET)
    (bad_key,) = problems(slack_client_id=CLIENT_ID, slack_client_secret=CLIENT_SECRET, token_encryption_key="abc")
    (nothing,) = problems()
    (socket,) = problems(
        slack_client_id=CLIENT_ID, slack_client_secret=CLIENT_SECRET, token_encryption_key=KEY, slack_app_token="xapp-1"
    )

    assert no_key.startswith("TOKEN_ENCRYPTION_KEY is not set")
    assert bad_key.startswith("TOKEN_ENCRYPTION_KEY: not a Fernet key")
    assert "abc" not in bad_key
    assert nothing.startswith("SLACK_BOT_TOKEN is not set: set it to run in one workspace, or set SLACK_CLIENT_ID")
    assert "unset SLACK_APP_TOKEN" in socket
    single = SlackSettings.model_validate({"slack_bot_token": "xoxb-1", "slack_signing_secret": SECRET})
    assert not single.oauth_mode
    both = SlackSettings.model_validate(
        {"slack_client_id": CLIENT_ID, "slack_client_secret": CLIENT_SECRET, "token_encryption_key": f"{KEY},{OLD_KEY}"}
        | {"slack_signing_secret": SECRET}
    )
    assert both.oauth_mode
    assert both.token_keys() == [KEY, OLD_KEY]
    env.setenv("SLACK_CLIENT_ID", CLIENT_ID)
    env.setenv("SLACK_CLIENT_SECRET", CLIENT_SECRET)
    env.setenv("SLACK_SIGNING_SECRET", SECRET)
    assert one_error(invoke("run")).startswith("Error: TOKEN_ENCRYPTION_KEY is not set: installs' tokens are stored")


def test_a_wrong_key_stops_symposium_bot_run_with_one_line(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"

    async def store_an_install() -> None:
        async with migrated_engine(CoreSettings(database_url=url)) as engine:
            await SlackInstallations(engine, [KEY]).async_save(
                Installation(team_id=A, bot_token="xoxb-stored", bot_id="B1", bot_user_id="U1", user_id="U2")
            )

    asyncio.run(store_an_install())
    for name, value in (("SLACK_CLIENT_ID", CLIENT_ID), ("SLACK_CLIENT_SECRET", CLIENT_SECRET)):
        env.setenv(name, value)
    env.setenv("SLACK_SIGNING_SECRET", SECRET)
    env.setenv("TOKEN_ENCRYPTION_KEY", WRONG_KEY)

    line = one_error(invoke("run"))

    assert line.startswith("Error: TOKEN_ENCRYPTION_KEY cannot decrypt the Slack tokens stored in the database")
    assert WRONG_KEY not in line
