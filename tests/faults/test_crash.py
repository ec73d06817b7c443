"""Nothing acknowledged is lost: the bot killed (SIGKILL) right after Slack had its acknowledgement of a
`/symposium publish`, a `/submit` and a ✅ reaction; restarted on the same database, each takes effect exactly
once and its answer reaches the person who asked (the author of the essay decided on, for the reaction).

The kill lands in the window deterministically: the fake Slack holds its answers to users.info, which the bot asks
(people are not remembered, SLACK_PEOPLE_TTL_SECONDS=0) only after it has recorded and acknowledged a request.
"""

import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from tests.fakes import slack_api
from tests.fakes.slack_api import FakeSlack, event_callback_body, signed_headers, slash_command_body
from tests.faults.process import SECRET, BotProcess, slack_env

fake_slack = slack_api.fake_slack

EDITOR, ALICE, BOB, CARA = "UEDITOR01", "UALICE001", "UBOB00001", "UCARA0001"
GENERAL, REVIEW = "CGENERAL1", "CREVIEW01"


def days_ahead(days: int) -> str:
    """A date on the real clock, which the bot process runs on."""
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


OPEN = (
    f"/symposium open title:Is the orchestrator dead or alive? prompt:Is it? intent_deadline:{days_ahead(30)} "
    f"due:{days_ahead(40)} publish_from:{days_ahead(45)} publish_to:{days_ahead(90)} review_channel:<#{REVIEW}|review>"
)
_ids = itertools.count(1)


class Slack:
    """Slack's side of the conversation with a bot process: signed requests in, answers read off the fake."""

    def __init__(self, fake: FakeSlack, http: aiohttp.ClientSession) -> None:
        self.fake, self.http = fake, http

    async def send(self, bot: BotProcess, body: str) -> None:
        async with self.http.post(bot.url, data=body, headers=signed_headers(SECRET, body, int(time.time()))) as r:
            assert r.status == 200, await r.text()

    async def command(self, bot: BotProcess, user: str, line: str) -> str:
        """Send a slash command; return its response_url token (the answer arrives there)."""
        name, _, text = line.partition(" ")
        token = f"r{next(_ids)}"
        body = slash_command_body(
            name,
            text,
            user_id=user,
            channel_id=GENERAL,
            response_url=self.fake.response_url(token),
            trigger_id=f"{token}.trigger",
        )
        await self.send(bot, body)
        return token

    async def answer(self, token: str) -> str:
        (call,) = await self.fake.wait_for("response_url", lambda c: c.token == token, timeout=20)
        return str(call.payload["text"])

    async def react(self, bot: BotProcess, user: str, ts: str, name: str) -> None:
        self.fake.add_reaction(REVIEW, ts, name, user)  # what Slack shows on the card, as the event says
        event = {
            "type": "reaction_added",
            "user": user,
            "reaction": name,
            "item": {"type": "message", "channel": REVIEW, "ts": ts},
            "event_ts": f"{time.time():.6f}",
        }
        await self.send(bot, event_callback_body(event, event_id=f"Ev{next(_ids)}"))


def posts_in(fake: FakeSlack, channel: str, starting: str) -> list[str]:
    return [m.ts for m in fake.channels[channel].messages.values() if m.text.startswith(starting)]


@pytest.fixture
def fake(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.add_user(EDITOR, name="Erin Editor", is_admin=True)
    for user, name in ((ALICE, "Alice"), (BOB, "Bob"), (CARA, "Cara")):
        fake_slack.add_user(user, name=name)
    fake_slack.add_channel(GENERAL, name="general")
    fake_slack.add_channel(REVIEW, name="review", is_private=True)
    return fake_slack


async def test_requests_acknowledged_just_before_a_crash_take_effect_once_after_the_restart(
    fake: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    env = slack_env(fake, database_url, SLACK_PEOPLE_TTL_SECONDS="0")
    async with aiohttp.ClientSession() as http:
        slack = Slack(fake, http)
        async with BotProcess(tmp_path / "first", env) as first:
            for user, line in [
                (EDITOR, OPEN),
                (ALICE, "/intent title:Alive and well"),
                (ALICE, "/submit https://alice.example/alive"),
                (BOB, "/intent title:Dead as a doornail"),
                (BOB, "/submit https://bob.example/dead"),
                (CARA, "/intent title:Neither"),
                (EDITOR, "/symposium decide essay:1 decision:approve"),
            ]:
                assert "That didn't work" not in await slack.answer(await slack.command(first, user, line))
            await fake.wait_for("chat.postMessage", lambda c: "Essay 2:" in c.payload.get("text", ""), timeout=20)
            [bob_card] = posts_in(fake, REVIEW, "Essay 2:")

            held = fake.hold("users.info")  # the bot asks who acts only after recording and acknowledging
            publish = await slack.command(first, EDITOR, "/symposium publish essay:1 url:https://alice.example/live")
            submit = await slack.command(first, CARA, "/submit https://cara.example/neither")
            await slack.react(first, EDITOR, bob_card, "white_check_mark")
            await held.arrived(count=2)  # the editor's reaction waits its turn behind the editor's publish
            await first.kill()
        held.release()

        assert posts_in(fake, GENERAL, "New essay") == []
        assert posts_in(fake, REVIEW, "Essay 3:") == []
        assert "approved" not in fake.channels[REVIEW].messages[bob_card].text

        async with BotProcess(tmp_path / "second", env):
            assert "Essay 1 announced" in await slack.answer(publish)
            assert "Essay 3 submitted" in await slack.answer(submit)
            await fake.wait_for("chat.update", lambda c: c.payload.get("ts") == bob_card and "approved" in c.payload.get("text", ""), timeout=20)  # fmt: skip
            await fake.wait_for("chat.postMessage", lambda c: c.payload.get("text", "").startswith("New essay"), timeout=20)  # fmt: skip
            await fake.wait_for("chat.postMessage", lambda c: "Essay 3:" in c.payload.get("text", ""), timeout=20)
            bob_dms = fake.channels[fake.dm_channel_id(BOB)]
            await fake.wait_for("chat.postMessage", lambda c: c.payload.get("channel") == bob_dms.id, timeout=20)

    assert len(posts_in(fake, GENERAL, "New essay")) == 1
    assert len(posts_in(fake, REVIEW, "Essay 3:")) == 1
    assert len([m for m in bob_dms.messages.values() if "approved" in m.text]) == 1
    assert len([c for c in fake.calls_to("response_url") if c.token == publish]) == 1
    assert len([c for c in fake.calls_to("response_url") if c.token == submit]) == 1
    assert json.dumps(fake.channels[REVIEW].messages[bob_card].text).count("approved") == 1
