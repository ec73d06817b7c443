"""The Slack fake, driven by the real slack-sdk and slack-bolt clients, so bot tests can trust what it says."""

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable

import pytest
from aiohttp.test_utils import TestClient, TestServer
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes import slack_api
from tests.fakes.slack_api import (
    BOT_USER_ID,
    FakeSlack,
    event_callback_body,
    event_callback_payload,
    signed_headers,
    slash_command_body,
    slash_command_payload,
    view_submission_payload,
)

SECRET = "signing-secret"
fake_slack = slack_api.fake_slack  # a module attribute is how pytest finds a fixture defined elsewhere


@pytest.fixture
def slack(fake_slack: FakeSlack) -> FakeSlack:
    """The shared fixture under a shorter name."""
    return fake_slack


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(base_url=slack.api_url, token="xoxb-test")


@pytest.fixture
async def socket_app(slack: FakeSlack) -> AsyncIterator[AsyncApp]:
    """A bolt app connected to the fake in Socket Mode, closed before the fake stops."""
    app = AsyncApp(client=AsyncWebClient(base_url=slack.api_url, token="xoxb-test"))
    handler = AsyncSocketModeHandler(app, app_token="xapp-test")
    await handler.connect_async()
    try:
        yield app
    finally:
        await handler.close_async()


async def test_post_then_update_keeps_one_message_updated_in_place(slack: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C1", text="Index v1", blocks=[{"type": "divider"}])
    await client.chat_update(channel="C1", ts=posted["ts"], text="Index v2")
    await client.pins_add(channel="C1", timestamp=posted["ts"])
    second = await client.chat_postMessage(channel="C1", text="another")

    assert re.fullmatch(r"\d{10}\.\d{6}", posted["ts"])
    assert float(second["ts"]) > float(posted["ts"])
    assert posted["message"]["text"] == "Index v1"
    index = slack.channels["C1"].messages[posted["ts"]]
    assert (index.text, index.blocks, index.edits) == ("Index v2", [{"type": "divider"}], 1)
    assert slack.channels["C1"].pins == [posted["ts"]]
    assert [c.method for c in slack.calls] == ["chat.postMessage", "chat.update", "pins.add", "chat.postMessage"]
    assert slack.calls[0].token == "xoxb-test"


async def test_form_bodies_with_the_token_as_a_field_are_understood(slack: FakeSlack) -> None:
    tokenless = AsyncWebClient(base_url=slack.api_url)
    form = {"token": "xoxb-form", "channel": "C1", "blocks": json.dumps([{"type": "divider"}])}

    posted = await tokenless.api_call("chat.postMessage", data=form)

    assert slack.channels["C1"].messages[posted["ts"]].blocks == [{"type": "divider"}]
    assert slack.calls[0].token == "xoxb-form"
    with pytest.raises(SlackApiError, match="not_authed"):
        await tokenless.api_call("chat.postMessage", data={"channel": "C1", "text": "x"})


async def test_429_with_retry_after_is_retried_by_the_sdk_handler(slack: FakeSlack) -> None:
    retrying = AsyncWebClient(
        base_url=slack.api_url, token="xoxb-test", retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)]
    )
    slack.fail("chat.postMessage", status=429, retry_after=1, times=1)

    await retrying.chat_postMessage(channel="C1", text="hello")

    first, second = slack.calls_to("chat.postMessage")
    assert (first.status, first.response["error"], second.status) == (429, "ratelimited", 200)
    assert second.at_monotonic - first.at_monotonic >= 1
    assert len(slack.channels["C1"].messages) == 1


async def test_slack_errors_surface_as_slack_api_error(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.add_channel("C2", is_member=False)
    slack.delete_channel("C3")
    slack.fail("chat.postEphemeral", error="user_not_in_channel")
    slack.fail("users.info", status=500)

    async def error_of(call: Awaitable[object]) -> str:
        with pytest.raises(SlackApiError) as raised:
            await call
        return str(raised.value.response["error"])

    assert await error_of(client.chat_postMessage(channel="C2", text="hi")) == "not_in_channel"
    assert await error_of(client.chat_postMessage(channel="C3", text="hi")) == "channel_not_found"
    assert await error_of(client.chat_update(channel="C1", ts="1.000000", text="x")) == "message_not_found"
    assert await error_of(client.pins_add(channel="C1", timestamp="1.000000")) == "message_not_found"
    assert await error_of(client.reactions_add(channel="C1", timestamp="1.000000", name="x")) == "message_not_found"
    assert await error_of(client.chat_postEphemeral(channel="C1", user="U1", text="x")) == "user_not_in_channel"
    assert await error_of(client.users_info(user="U1")) == "internal_error"
    assert await error_of(client.api_call("symposium.nothing")) == "unknown_method"
    assert await error_of(client.apps_connections_open(app_token="xoxb-test")) == "not_allowed_token_type"
    assert (await client.conversations_info(channel="C2"))["channel"]["is_member"] is False
    assert slack.calls_to("symposium.nothing")[0].response == {"ok": False, "error": "unknown_method"}


async def test_reactions_users_and_dms(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.add_user("UEDITOR", is_admin=True)
    card = await client.chat_postMessage(channel="CREVIEW", text="card")
    await client.reactions_add(channel="CREVIEW", timestamp=card["ts"], name="white_check_mark")
    slack.add_reaction("CREVIEW", card["ts"], "white_check_mark", "UEDITOR")
    slack.add_reaction("CREVIEW", card["ts"], "x", "UOTHER")
    slack.remove_reaction("CREVIEW", card["ts"], "x", "UOTHER")

    got = await client.reactions_get(channel="CREVIEW", timestamp=card["ts"])
    dm = await client.conversations_open(users="UEDITOR")
    again = await client.conversations_open(users="UEDITOR")

    assert got["message"]["reactions"] == [{"name": "white_check_mark", "users": [BOT_USER_ID, "UEDITOR"], "count": 2}]
    assert (await client.users_info(user="UEDITOR"))["user"]["is_admin"] is True
    assert (await client.users_info(user="UPLAIN"))["user"]["is_admin"] is False
    assert dm["channel"]["id"].startswith("D")
    assert again["channel"]["id"] == dm["channel"]["id"]
    assert again["already_open"] is True
    assert (await client.conversations_info(channel=dm["channel"]["id"]))["channel"]["is_im"] is True
    with pytest.raises(SlackApiError, match="cannot_dm_bot"):
        await client.conversations_open(users=BOT_USER_ID)


async def test_files_upload_v2_reaches_the_dm(slack: FakeSlack, client: AsyncWebClient) -> None:
    dm = slack.dm_channel_id("UEDITOR")

    done = await client.files_upload_v2(
        channel=dm, content="essay,author\n1,Ada\n", filename="export.csv", title="Export", initial_comment="Here"
    )

    uploaded = slack.files[done["file"]["id"]]
    assert uploaded["content"] == b"essay,author\n1,Ada\n"
    assert (uploaded["channel"], uploaded["title"], uploaded["initial_comment"]) == (dm, "Export", "Here")
    methods = [c.method for c in slack.calls]
    assert methods == ["files.getUploadURLExternal", "upload_url", "files.completeUploadExternal"]


async def test_views_open_and_update(slack: FakeSlack, client: AsyncWebClient) -> None:
    modal = {"type": "modal", "callback_id": "intent", "title": {"type": "plain_text", "text": "Intent"}, "blocks": []}
    opened = await client.views_open(trigger_id="1.2.3", view=modal)
    updated = await client.views_update(view_id=opened["view"]["id"], view=modal | {"private_metadata": "s1"})

    assert updated["view"]["id"] == opened["view"]["id"]
    assert slack.views[opened["view"]["id"]]["private_metadata"] == "s1"


async def test_rate_limits_answer_429_past_the_configured_rate(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.rate_limits(enabled=True, per_minute={"chat.postMessage": 60})
    await client.chat_postMessage(channel="C1", text="first")

    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1", text="second")

    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "1"
    assert slack.rate_floor_seconds("chat.postMessage", 61) == 60
    assert slack.rate_floor_seconds("pins.add", 21) == 60  # Tier 2 by default
    slack.rate_limits(enabled=False)
    await client.chat_postMessage(channel="C1", text="third")


async def test_wait_for_wakes_on_the_call_and_times_out_without_one(slack: FakeSlack, client: AsyncWebClient) -> None:
    waiter = asyncio.create_task(slack.wait_for("chat.postMessage", lambda c: c.payload["text"] == "b"))
    await client.chat_postMessage(channel="C1", text="a")
    await client.chat_postMessage(channel="C1", text="b")

    assert [c.payload["text"] for c in await waiter] == ["b"]
    with pytest.raises(TimeoutError):
        await slack.wait_for("chat.delete", timeout=0.05)


async def test_socket_mode_slash_command_reaches_the_listener_and_is_acked(
    slack: FakeSlack, socket_app: AsyncApp
) -> None:
    received: list[dict[str, str]] = []

    @socket_app.command("/submit")
    async def submit(ack: AsyncAck, command: dict[str, str]) -> None:
        received.append(command)
        await ack()

    ack = await slack.socket_send("slash_commands", slash_command_payload("/submit", "essay 3", user_id="UAUTHOR"))

    assert [(c["command"], c["text"], c["user_id"]) for c in received] == [("/submit", "essay 3", "UAUTHOR")]
    assert set(ack) == {"envelope_id"}
    assert slack.calls_to("apps.connections.open")[0].token == "xapp-test"


async def test_socket_mode_modal_errors_come_back_in_the_ack(slack: FakeSlack, socket_app: AsyncApp) -> None:
    @socket_app.view("intent")
    async def intent(ack: AsyncAck) -> None:
        await ack(response_action="errors", errors={"title": "A title is needed"})

    ack = await slack.socket_send("interactive", view_submission_payload("intent", {"title": {}}))

    assert ack["payload"] == {"response_action": "errors", "errors": {"title": "A title is needed"}}


async def test_socket_mode_client_reconnects_after_a_drop_and_a_refresh(slack: FakeSlack, socket_app: AsyncApp) -> None:
    reactions: asyncio.Queue[str] = asyncio.Queue()

    @socket_app.event("reaction_added")
    async def reacted(event: dict[str, str]) -> None:
        reactions.put_nowait(event["reaction"])

    await slack.disconnect()
    await slack.wait_connected(2)
    await slack.socket_send("events_api", event_callback_payload({"type": "reaction_added", "reaction": "x"}))
    await slack.disconnect(reason="refresh_requested")
    await slack.wait_connected(3)
    await slack.socket_send("events_api", event_callback_payload({"type": "reaction_added", "reaction": "y"}))

    async with asyncio.timeout(5):
        assert [await reactions.get(), await reactions.get()] == ["x", "y"]
    assert len(slack.calls_to("apps.connections.open")) == 3


async def test_http_mode_signed_requests_reach_bolt_and_respond_posts_to_the_response_url(
    slack: FakeSlack,
) -> None:
    app = AsyncApp(client=AsyncWebClient(base_url=slack.api_url, token="xoxb-test"), signing_secret=SECRET)
    reactions: asyncio.Queue[str] = asyncio.Queue()

    @app.command("/symposium")
    async def symposium(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        await respond("Only you can see this")

    @app.event("reaction_added")
    async def reacted(event: dict[str, str]) -> None:
        reactions.put_nowait(event["reaction"])

    command = slash_command_body("/symposium", "status", response_url=slack.response_url("r1"))
    event = event_callback_body({"type": "reaction_added", "reaction": "x", "event_ts": "1700000000.000100"})
    now = int(time.time())
    async with TestClient(TestServer(app.web_app(path="/slack/events"))) as http:
        ok = await http.post("/slack/events", data=command, headers=signed_headers(SECRET, command, now))
        forged = await http.post("/slack/events", data=command, headers=signed_headers("wrong", command, now))
        await http.post("/slack/events", data=event, headers=signed_headers(SECRET, event, now))
        (reply,) = await slack.wait_for("response_url")
        async with asyncio.timeout(5):
            assert await reactions.get() == "x"

    assert (ok.status, forged.status) == (200, 401)
    assert (reply.token, reply.payload["text"]) == ("r1", "Only you can see this")
    assert reply.payload.get("response_type", "ephemeral") == "ephemeral"
