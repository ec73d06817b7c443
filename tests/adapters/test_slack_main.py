"""`run_slack` as `symposium-bot run` starts it: migrations, background delivery, and either runner."""

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from adapters.run_slack import run_slack
from adapters.slack.listeners import COMMANDS
from adapters.slack.sender import ABILITY_SCOPES
from adapters.slack.settings import SlackSettings
from bot import health
from bot.clock import SimulatedClock
from bot.db.engine import make_engine, make_sessions
from bot.settings import CoreSettings
from tests.adapters.test_slack import EDITOR, GENERAL, OPEN_ARGS, REVIEW, SECRET, fake, fake_slack
from tests.fakes.slack_api import FakeSlack, signed_headers, slash_command_body, slash_command_payload

__all__ = ["fake", "fake_slack"]  # fixtures, used by name


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def running(
    fake: FakeSlack, database_url: str, clock: SimulatedClock
) -> Callable[[SlackSettings], contextlib.AbstractAsyncContextManager[None]]:
    """Run the bot with these Slack settings for the length of a `with` block, from when Slack can reach it."""

    @contextlib.asynccontextmanager
    async def run(settings: SlackSettings) -> AsyncIterator[None]:
        core = CoreSettings(database_url=database_url, delivery_interval_seconds=3600)
        ready = asyncio.Event()
        task = asyncio.create_task(run_slack(core, settings, clock, ready=ready))
        try:
            async with asyncio.timeout(10):
                await ready.wait()
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return run


def settings(fake: FakeSlack, **overrides: object) -> SlackSettings:
    return SlackSettings.model_validate(
        {
            "slack_bot_token": "xoxb-test",
            "slack_signing_secret": SECRET,
            "slack_api_base_url": fake.api_url,
            "slack_post_interval_seconds": 0,
            "slack_pace_methods": False,
        }
        | overrides
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_http_mode_serves_slack_port_and_delivers_in_the_background(
    fake: FakeSlack, running: Callable[[SlackSettings], contextlib.AbstractAsyncContextManager[None]]
) -> None:
    port = free_port()
    body = slash_command_body(
        "/symposium", f"open {OPEN_ARGS}", user_id=EDITOR, channel_id=GENERAL, response_url=fake.response_url("o")
    )

    async with running(settings(fake, slack_port=port)), aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{port}/slack/events"
        async with http.post(url, data=body, headers=signed_headers(SECRET, body, int(time.time()))) as sent:
            assert sent.status == 200
        (reply,) = await fake.wait_for("response_url")
        await fake.wait_for("pins.add")

    assert "Opened" in reply.payload["text"]
    assert [c.payload["channel"] for c in fake.calls_to("chat.postMessage")] == [GENERAL, GENERAL]
    assert REVIEW not in fake.channels or not fake.channels[REVIEW].messages


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_socket_mode_connects_with_the_app_token_and_answers_commands(
    fake: FakeSlack, running: Callable[[SlackSettings], contextlib.AbstractAsyncContextManager[None]]
) -> None:
    async with running(settings(fake, slack_app_token="xapp-test", slack_signing_secret="")):
        payload = slash_command_payload(
            "/symposium", f"open {OPEN_ARGS}", user_id=EDITOR, channel_id=GENERAL, response_url=fake.response_url("s")
        )
        await fake.socket_send("slash_commands", payload)
        (reply,) = await fake.wait_for("response_url")
        await fake.wait_for("pins.add")

    assert "Opened" in reply.payload["text"]
    assert fake.calls_to("apps.connections.open")[0].token == "xapp-test"


def test_the_manifest_declares_every_command_event_and_scope_the_adapter_uses() -> None:
    manifest = (Path(__file__).parents[2] / "adapters" / "slack" / "manifest.yml").read_text(encoding="utf-8")

    for command in COMMANDS:
        assert f"- command: {command}\n" in manifest
    assert manifest.count("should_escape: true") == len(COMMANDS)
    for scope in {*ABILITY_SCOPES.values(), "commands", "reactions:read", "im:write", "users:read", "files:write"}:
        assert f"- {scope} " in manifest
    for event in ("reaction_added", "reaction_removed"):
        assert f"- {event}\n" in manifest
    assert "socket_mode_enabled: true" in manifest


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_slack_process_keeps_a_heartbeat_for_healthz(
    fake: FakeSlack,
    database_url: str,
    running: Callable[[SlackSettings], contextlib.AbstractAsyncContextManager[None]],
) -> None:
    port = free_port()

    async def mine() -> health.Beat:
        engine = make_engine(database_url)
        try:
            async with make_sessions(engine)() as session:
                [beat] = [b for b in await health.beats(session) if b.process == health.this_process()]
        finally:
            await engine.dispose()
        return beat

    async with running(settings(fake, slack_port=port)):
        beat = await mine()  # written when Slack could reach the bot
        assert (beat.platform, beat.state, beat.detail) == ("slack", "connected", f"http :{port}")
    assert (await mine()).state == "stopped"
