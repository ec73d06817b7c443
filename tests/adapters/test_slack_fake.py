"""The Slack fake, driven by the real slack-sdk and slack-bolt clients, so bot tests can trust what it says."""

import asyncio
import json
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.oauth.installation_store import FileInstallationStore
from slack_sdk.oauth.state_store import FileOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes import slack_api
from tests.fakes.slack_api import (
    BOT_USER_ID,
    DEFAULT_SCOPES,
    TEAM_ID,
    FakeSlack,
    Message,
    block_actions_body,
    block_actions_payload,
    bot_user_id_for,
    event_callback_body,
    event_callback_payload,
    signed_headers,
    slash_command_body,
    slash_command_payload,
    view_submission_payload,
)

SECRET = "signing-secret"
CLIENT_ID, CLIENT_SECRET = "1111.2222", "client-secret"
REDIRECT = "http://127.0.0.1:9/slack/oauth_redirect"  # never fetched: the tests read the 302's Location
OTHER = "T0000TWO"
# slack-sdk's oauth_v2_access authenticates with aiohttp.BasicAuth, deprecated since aiohttp 3.12.
basic_auth_deprecated = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
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


# ----- message metadata and conversations.history


async def test_history_answers_top_level_messages_newest_first_with_metadata_on_request(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    outbox = {"event_type": "symposium_outbox", "event_payload": {"row": 42}}
    first = await client.chat_postMessage(channel="C1", text="one", metadata=outbox)
    await client.chat_postMessage(channel="C1", text="a reply", thread_ts=first["ts"])
    form = {"channel": "C1", "text": "two", "metadata": json.dumps(outbox | {"event_payload": {"row": 43}})}
    second = await client.api_call("chat.postMessage", data=form)  # a form body carries metadata as JSON text

    plain = await client.conversations_history(channel="C1")
    full = await client.conversations_history(channel="C1", include_all_metadata=True)

    assert [m["text"] for m in plain["messages"]] == ["two", "one"]
    assert all("metadata" not in m for m in plain["messages"])
    assert [m["metadata"]["event_payload"]["row"] for m in full["messages"]] == [43, 42]
    assert (full["has_more"], full["response_metadata"]["next_cursor"]) == (False, "")
    assert slack.channels["C1"].messages[first["ts"]].metadata == outbox
    assert first["message"]["metadata"] == outbox
    assert slack.channels["C1"].messages[second["ts"]].metadata is not None
    with pytest.raises(SlackApiError, match="invalid_metadata_format"):
        await client.chat_postMessage(channel="C1", text="x", metadata={"event_payload": {}})


async def test_history_pages_with_a_cursor_and_honours_oldest_latest_and_inclusive(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    ts = [(await client.chat_postMessage(channel="C1", text=str(n)))["ts"] for n in range(5)]

    first = await client.conversations_history(channel="C1", limit=2)
    second = await client.conversations_history(channel="C1", limit=2, cursor=first["response_metadata"]["next_cursor"])
    third = await client.conversations_history(channel="C1", limit=2, cursor=second["response_metadata"]["next_cursor"])
    between = await client.conversations_history(channel="C1", oldest=ts[1], latest=ts[3])
    inclusive = await client.conversations_history(channel="C1", oldest=ts[1], latest=ts[3], inclusive=True)

    def texts(page: AsyncSlackResponse) -> list[str]:
        return [m["text"] for m in page["messages"]]

    assert [texts(first), texts(second), texts(third)] == [["4", "3"], ["2", "1"], ["0"]]
    assert [first["has_more"], second["has_more"], third["has_more"]] == [True, True, False]
    assert third["response_metadata"]["next_cursor"] == ""
    assert (texts(between), texts(inclusive)) == (["2"], ["3", "2", "1"])
    with pytest.raises(SlackApiError, match="invalid_cursor"):
        await client.conversations_history(channel="C1", cursor="not-a-cursor")
    slack.add_channel("COUT", is_member=False)
    with pytest.raises(SlackApiError, match="not_in_channel"):
        await client.conversations_history(channel="COUT")


async def test_history_limit_defaults_to_100_and_is_clamped_to_1000(slack: FakeSlack, client: AsyncWebClient) -> None:
    channel = slack.add_channel("CBIG")
    for n in range(1005):
        ts = f"1600000000.{n:06d}"
        channel.messages[ts] = Message(ts, str(n), [])

    default = await client.conversations_history(channel="CBIG")
    clamped = await client.conversations_history(channel="CBIG", limit=5000)

    assert (len(default["messages"]), len(clamped["messages"]), clamped["has_more"]) == (100, 1000, True)
    assert clamped["messages"][0]["text"] == "1004"


# ----- held answers


async def test_a_held_post_is_recorded_on_arrival_and_takes_effect_when_released(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    hold = slack.hold("chat.postMessage")
    posting = asyncio.create_task(client.chat_postMessage(channel="C1", text="held"))

    (arrived,) = await hold.arrived()
    (seen,) = await slack.wait_for("chat.postMessage")
    assert (arrived.pending, seen.pending, arrived.payload["text"]) == (True, True, "held")
    assert "C1" not in slack.channels or not slack.channels["C1"].messages
    assert not posting.done()

    hold.release()
    posted = await posting

    assert slack.channels["C1"].messages[posted["ts"]].text == "held"
    (call,) = slack.calls_to("chat.postMessage")
    assert (call.pending, call.status, call.response["ts"]) == (False, 200, posted["ts"])
    await client.chat_postMessage(channel="C1", text="not held any more")


async def test_release_after_the_client_went_away_still_posts_and_raises_nothing(
    slack: FakeSlack, client: AsyncWebClient, caplog: pytest.LogCaptureFixture
) -> None:
    hold = slack.hold("chat.postMessage")
    posting = asyncio.create_task(client.chat_postMessage(channel="C1", text="crash"))
    await hold.arrived()
    posting.cancel()  # the bot crashed while waiting: its connection closes
    with pytest.raises(asyncio.CancelledError):
        await posting

    with caplog.at_level(logging.DEBUG, logger="aiohttp"):
        hold.release()
        (call,) = await slack.wait_for("chat.postMessage", lambda c: not c.pending)
        await client.auth_test()  # a round trip, so the dropped answer has been written (or not) by now

    assert [m.text for m in slack.channels["C1"].messages.values()] == ["crash"]
    assert call.status == 200
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_holds_on_response_url_and_several_methods_are_released_together(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    replies, updates = slack.hold("response_url"), slack.hold("chat.update")
    posted = await client.chat_postMessage(channel="C1", text="v1")
    replying = asyncio.create_task(AsyncWebhookClient(slack.response_url("r1")).send(text="hi"))
    updating = asyncio.create_task(client.chat_update(channel="C1", ts=posted["ts"], text="v2"))
    await replies.arrived()
    await updates.arrived()
    slack.fail("chat.update", error="edit_window_closed")  # judged at release, so this failure applies

    slack.release_all()

    assert (await replying).status_code == 200
    with pytest.raises(SlackApiError, match="edit_window_closed"):
        await updating
    assert slack.channels["C1"].messages[posted["ts"]].text == "v1"
    assert slack.calls_to("response_url")[0].status == 200


# ----- Slack's rate limits


class ManualClock:
    """A monotonic clock the test moves, so windows slide without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def timed() -> AsyncIterator[tuple[FakeSlack, ManualClock, AsyncWebClient]]:
    clock = ManualClock()
    async with FakeSlack(now=clock) as slack:
        yield slack, clock, AsyncWebClient(base_url=slack.api_url, token="xoxb-test")


async def limited(call: Awaitable[object]) -> tuple[int, str]:
    """The HTTP status and Retry-After of a call the fake rate-limits."""
    with pytest.raises(SlackApiError) as raised:
        await call
    assert raised.value.response["error"] == "ratelimited"
    return raised.value.response.status_code, raised.value.response.headers["Retry-After"]


async def test_a_full_tier_passes_in_a_burst_and_the_next_call_waits_for_the_window(
    timed: tuple[FakeSlack, ManualClock, AsyncWebClient],
) -> None:
    slack, clock, client = timed
    slack.rate_limits(enabled=True)

    for _ in range(50):  # Tier 3
        await client.conversations_info(channel="C1")
    clock.now += 45
    assert await limited(client.conversations_info(channel="C1")) == (429, "15")
    assert await limited(client.conversations_info(channel="C1")) == (429, "15")  # a 429 does not count
    clock.now += 15
    await client.conversations_info(channel="C1")

    assert slack.rate_limited == Counter({"conversations.info": 2})
    assert [c.status for c in slack.calls_to("conversations.info")][-3:] == [429, 429, 200]


async def test_the_window_slides_rather_than_resetting_each_minute(
    timed: tuple[FakeSlack, ManualClock, AsyncWebClient],
) -> None:
    slack, clock, client = timed
    slack.rate_limits(enabled=True, per_minute={"users.info": 3})

    for _ in range(3):
        await client.users_info(user="U1")
        clock.now += 10
    assert await limited(client.users_info(user="U1")) == (429, "30")  # t=30: the first call leaves at t=60
    clock.now = 1060
    await client.users_info(user="U1")
    clock.now = 1061.5
    assert await limited(client.users_info(user="U1")) == (429, "9")  # the second call leaves at t=70
    clock.now = 1070
    await client.users_info(user="U1")


async def test_posts_are_one_a_second_per_channel_with_no_workspace_ceiling(
    timed: tuple[FakeSlack, ManualClock, AsyncWebClient],
) -> None:
    slack, clock, client = timed
    slack.rate_limits(enabled=True, burst=5)  # burst: accepted and ignored

    await client.chat_postMessage(channel="C1", text="a")
    clock.now += 0.5
    assert await limited(client.chat_postMessage(channel="C1", text="b")) == (429, "1")
    await client.chat_postEphemeral(channel="C1", user="U1", text="counted apart from posts")
    for n in range(120):  # more than any tier, to as many channels, at one instant
        await client.chat_postMessage(channel=f"CMANY{n}", text="hi")
    clock.now += 0.5
    await client.chat_postMessage(channel="C1", text="c")

    assert slack.rate_limited == Counter({"chat.postMessage": 1})
    assert [m.text for m in slack.channels["C1"].messages.values()] == ["a", "c"]


async def test_window_seconds_scales_the_minute_and_the_channel_second(
    timed: tuple[FakeSlack, ManualClock, AsyncWebClient],
) -> None:
    slack, clock, client = timed
    slack.rate_limits(enabled=True, per_minute={"users.info": 2}, window_seconds=7.5)  # a channel's second: 0.125

    await client.users_info(user="U1")
    await client.users_info(user="U1")
    await client.chat_postMessage(channel="C1", text="a")
    clock.now += 0.0625
    assert await limited(client.users_info(user="U1")) == (429, "8")
    assert await limited(client.chat_postMessage(channel="C1", text="b")) == (429, "1")
    clock.now += 0.0625
    await client.chat_postMessage(channel="C1", text="b")

    assert slack.rate_floor_seconds("users.info", 5) == 15
    assert slack.rate_floor_per_channel_seconds(9) == 1


@basic_auth_deprecated
async def test_rate_windows_are_per_workspace_and_limits_switch_off(
    timed: tuple[FakeSlack, ManualClock, AsyncWebClient],
) -> None:
    slack, _, client = timed
    slack.configure_oauth(CLIENT_ID, CLIENT_SECRET)
    other = AsyncWebClient(base_url=slack.api_url, token=(await install(slack, OTHER))["access_token"])
    slack.rate_limits(enabled=True, per_minute={"users.info": 1})

    await client.users_info(user="U1")
    await other.users_info(user="U1")
    assert await limited(client.users_info(user="U1")) == (429, "60")
    slack.rate_limits(enabled=False)
    await client.users_info(user="U1")


def test_rate_floors_follow_the_model(slack: FakeSlack) -> None:
    assert slack.rate_floor_seconds("conversations.open", 50) == 0  # off: no floor
    slack.rate_limits(enabled=True)

    assert slack.rate_floor_seconds("conversations.open", 50) == 0  # one burst
    assert slack.rate_floor_seconds("conversations.open", 51) == 60
    assert slack.rate_floor_seconds("conversations.open", 101) == 120
    assert slack.rate_floor_seconds("pins.add", 21) == 60  # Tier 2
    assert slack.rate_floor_seconds("apps.connections.open", 2) == 60  # Tier 1
    assert slack.rate_floor_seconds("chat.postMessage", 1000) == 0  # no workspace-wide ceiling
    assert slack.rate_floor_per_channel_seconds(61) == 60
    assert slack.rate_floor_per_channel_seconds(1) == 0


# ----- workspaces and OAuth


async def install(
    slack: FakeSlack, team_id: str = TEAM_ID, *, user_scope: str = "", **query: str
) -> AsyncSlackResponse:
    """Install the app as a user would: the authorize page, then the code exchanged by oauth.v2.access."""
    params = {"client_id": CLIENT_ID, "scope": "chat:write,commands", "user_scope": user_scope}
    params |= {"redirect_uri": REDIRECT, "state": "st1", "team": team_id, **query}
    async with aiohttp.ClientSession() as browser:
        page = await browser.get(slack.authorize_url, params=params, allow_redirects=False)
    assert page.status == 302
    back = parse_qs(urlsplit(page.headers["Location"]).query)
    assert back["state"] == ["st1"]
    return await AsyncWebClient(base_url=slack.api_url).oauth_v2_access(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=back["code"][0], redirect_uri=REDIRECT
    )


@basic_auth_deprecated
async def test_install_into_a_chosen_workspace_gives_tokens_that_act_there(slack: FakeSlack) -> None:
    slack.configure_oauth(CLIENT_ID, CLIENT_SECRET)
    slack.add_workspace(OTHER, name="Second Space")
    slack.add_channel("C1", name="elsewhere", team_id=OTHER)

    done = await install(slack, OTHER, user_scope="reactions:read", user="UOWNER2")
    bot = AsyncWebClient(base_url=slack.api_url, token=done["access_token"])
    posted = await bot.chat_postMessage(channel="C1", text="hello, second space")
    who = await bot.auth_test()

    assert done["access_token"].startswith("xoxb-")
    assert (done["token_type"], done["scope"], done["app_id"]) == ("bot", "chat:write,commands", "A0000APP1")
    assert done["team"] == {"id": OTHER, "name": "Second Space"}
    assert (done["bot_user_id"], done["enterprise"], done["is_enterprise_install"]) == ("UT0000TWOBOT", None, False)
    assert done["authed_user"]["id"] == "UOWNER2"
    assert done["authed_user"]["access_token"].startswith("xoxp-")
    assert (done["authed_user"]["scope"], done["authed_user"]["token_type"]) == ("reactions:read", "user")
    assert "refresh_token" not in done
    assert (who["team_id"], who["user_id"], who["bot_id"]) == (OTHER, bot_user_id_for(OTHER), "BT0000TWOBOT")
    assert slack.workspace(OTHER).channels["C1"].messages[posted["ts"]].text == "hello, second space"
    assert "C1" not in slack.channels  # the default workspace is untouched
    assert [c.method for c in slack.calls_in(OTHER)] == [
        "authorize",
        "oauth.v2.access",
        "chat.postMessage",
        "auth.test",
    ]
    assert slack.calls_in(OTHER, "auth.test")[0].team == OTHER
    assert who.headers["X-OAuth-Scopes"] == "chat:write,commands"


@basic_auth_deprecated
async def test_oauth_refuses_wrong_clients_codes_and_redirects(slack: FakeSlack) -> None:
    clock = ManualClock()
    slack.now = clock
    slack.configure_oauth(CLIENT_ID, CLIENT_SECRET)
    oauth = AsyncWebClient(base_url=slack.api_url)

    async def error_of(**args: Any) -> str:
        fields = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uri": REDIRECT} | args
        with pytest.raises(SlackApiError) as raised:
            await oauth.oauth_v2_access(**fields)
        return str(raised.value.response["error"])

    async def code() -> str:
        params = {"client_id": CLIENT_ID, "scope": "chat:write", "redirect_uri": REDIRECT, "state": "s"}
        async with aiohttp.ClientSession() as browser:
            page = await browser.get(slack.authorize_url, params=params, allow_redirects=False)
        return parse_qs(urlsplit(page.headers["Location"]).query)["code"][0]

    used = await code()
    await oauth.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=used, redirect_uri=REDIRECT)
    stale = await code()
    clock.now += 601
    fresh = await code()

    assert await error_of(code=used) == "invalid_code"
    assert await error_of(code=stale) == "invalid_code"
    assert await error_of(code="nonsense") == "invalid_code"
    assert await error_of(code=fresh, client_id="9999.9999") == "invalid_client_id"
    assert await error_of(code=fresh, client_secret="wrong") == "bad_client_secret"
    assert await error_of(code=fresh, redirect_uri="http://127.0.0.1:9/elsewhere") == "bad_redirect_uri"
    form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": fresh, "redirect_uri": REDIRECT}
    assert (await oauth.api_call("oauth.v2.access", data=form))["team"]["id"] == TEAM_ID  # credentials in the form
    async with aiohttp.ClientSession() as browser:
        denied = await browser.get(
            slack.authorize_url,
            params={"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "state": "s", "deny": "1"},
            allow_redirects=False,
        )
        stranger = await browser.get(slack.authorize_url, params={"client_id": "nobody"}, allow_redirects=False)
    assert parse_qs(urlsplit(denied.headers["Location"]).query) == {"error": ["access_denied"], "state": ["s"]}
    assert stranger.status == 400


@basic_auth_deprecated
async def test_token_rotation_renews_tokens_and_old_ones_expire(slack: FakeSlack) -> None:
    slack.configure_oauth(CLIENT_ID, CLIENT_SECRET, token_rotation=True, expires_in=3600)
    oauth = AsyncWebClient(base_url=slack.api_url)
    done = await install(slack, OTHER)

    renewed = await oauth.oauth_v2_access(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        grant_type="refresh_token",
        refresh_token=done["refresh_token"],
    )
    old = AsyncWebClient(base_url=slack.api_url, token=done["access_token"])
    new = AsyncWebClient(base_url=slack.api_url, token=renewed["access_token"])

    assert (done["refresh_token"][:7], done["expires_in"]) == ("xoxe-1-", 3600)
    assert renewed["access_token"] != done["access_token"]
    assert renewed["refresh_token"] != done["refresh_token"]
    assert (renewed["token_type"], renewed["team"]["id"], renewed["expires_in"]) == ("bot", OTHER, 3600)
    assert (await old.auth_test())["team_id"] == OTHER  # the old access token lives until it expires
    with pytest.raises(SlackApiError, match="invalid_refresh_token"):
        await oauth.oauth_v2_access(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            grant_type="refresh_token",
            refresh_token=done["refresh_token"],
        )
    slack.expire_token(done["access_token"])
    with pytest.raises(SlackApiError, match="token_expired"):
        await old.auth_test()
    assert (await new.auth_test())["team_id"] == OTHER


@basic_auth_deprecated
async def test_revoked_and_uninstalled_tokens_answer_token_revoked(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.configure_oauth(CLIENT_ID, CLIENT_SECRET)
    first = AsyncWebClient(base_url=slack.api_url, token=(await install(slack, OTHER))["access_token"])
    second = AsyncWebClient(
        base_url=slack.api_url, token=(await install(slack, OTHER, user_scope="x:y"))["access_token"]
    )

    assert (await first.auth_revoke())["revoked"] is True
    with pytest.raises(SlackApiError, match="token_revoked"):
        await first.auth_test()
    assert (await second.auth_test())["ok"] is True
    uninstalled, revoked = slack.uninstall(OTHER)
    with pytest.raises(SlackApiError, match="token_revoked"):
        await second.auth_test()
    assert (await client.auth_test())["team_id"] == TEAM_ID  # another workspace's install is untouched

    app_event, tokens_event = json.loads(uninstalled), json.loads(revoked)
    assert (app_event["team_id"], app_event["event"]["type"]) == (OTHER, "app_uninstalled")
    assert tokens_event["event"]["tokens"] == {"oauth": ["UINSTALL1"], "bot": [bot_user_id_for(OTHER)]}
    assert app_event["event_id"] != tokens_event["event_id"]
    slack.uninstall(TEAM_ID)
    with pytest.raises(SlackApiError, match="token_revoked"):
        await AsyncWebClient(base_url=slack.api_url, token="xoxb-never-seen").auth_test()


async def test_the_default_token_carries_the_manifest_scopes(slack: FakeSlack, client: AsyncWebClient) -> None:
    manifest = (Path(__file__).parents[2] / "adapters/slack/manifest.yml").read_text()
    bot_block = manifest.split("    bot:\n", 1)[1].split("settings:", 1)[0]
    scopes = re.findall(r"^\s+- ([a-z:.]+)", bot_block, re.MULTILINE)

    who = await client.auth_test()

    assert tuple(scopes) == DEFAULT_SCOPES
    assert who.headers["X-OAuth-Scopes"] == ",".join(scopes)
    assert (who["team_id"], who["user_id"], who["bot_id"]) == (TEAM_ID, BOT_USER_ID, "B0000BOT1")
    assert slack.calls[0].team == TEAM_ID


@basic_auth_deprecated
async def test_bolt_installs_over_oauth_and_a_button_in_a_dm_acts_in_that_workspace(
    slack: FakeSlack, tmp_path: Path
) -> None:
    slack.add_workspace(OTHER, name="Second Space")
    settings = AsyncOAuthSettings(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes=["chat:write", "commands"],
        authorization_url=slack.authorize_url,
        install_page_rendering_enabled=False,
        installation_store=FileInstallationStore(base_dir=str(tmp_path / "installations")),
        state_store=FileOAuthStateStore(expiration_seconds=600, base_dir=str(tmp_path / "states")),
    )
    app = AsyncApp(client=AsyncWebClient(base_url=slack.api_url), signing_secret=SECRET, oauth_settings=settings)
    clicked: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @app.action("approve")
    async def approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.chat_postMessage(channel=body["channel"]["id"], text=f"approved {body['actions'][0]['value']}")
        clicked.put_nowait(body)

    async with TestClient(TestServer(app.web_app(path="/slack/events"))) as http:
        slack.configure_oauth(CLIENT_ID, CLIENT_SECRET, redirect_uri=str(http.make_url("/slack/oauth_redirect")))
        start = await http.get("/slack/install", allow_redirects=False)
        async with aiohttp.ClientSession() as browser:
            page = await browser.get(f"{start.headers['Location']}&team={OTHER}", allow_redirects=False)
        back = urlsplit(page.headers["Location"])
        cookie = start.headers["Set-Cookie"].split(";")[0]  # a Secure cookie: the jar keeps it from http://
        finished = await http.get(f"{back.path}?{back.query}", headers={"Cookie": cookie})
        dm = slack.dm_channel_id("UAUTHOR", team_id=OTHER)
        card = await AsyncWebClient(base_url=slack.api_url, token="xoxb-test").auth_test()  # the default install
        body = block_actions_body(
            "approve", "essay-7", user_id="UAUTHOR", team_id=OTHER, channel_id=dm, message_ts="1700000000.000100"
        )
        pressed = await http.post("/slack/events", data=body, headers=signed_headers(SECRET, body, int(time.time())))
        async with asyncio.timeout(5):
            received = await clicked.get()

    assert (start.status, page.status, finished.status, pressed.status) == (302, 302, 200, 200)
    assert card["team_id"] == TEAM_ID
    assert (received["team"]["id"], received["user"]["id"], received["container"]["channel_id"]) == (
        OTHER,
        "UAUTHOR",
        dm,
    )
    (post,) = slack.calls_in(OTHER, "chat.postMessage")
    assert [m.text for m in slack.workspace(OTHER).channels[dm].messages.values()] == ["approved essay-7"]
    assert post.token != "xoxb-test"


async def test_block_actions_reach_a_socket_mode_listener(slack: FakeSlack, socket_app: AsyncApp) -> None:
    values: list[str] = []

    @socket_app.action("withdraw")
    async def withdraw(ack: AsyncAck, action: dict[str, str]) -> None:
        values.append(action["value"])
        await ack()

    dm = slack.dm_channel_id("UAUTHOR")
    payload = block_actions_payload("withdraw", "intent-3", user_id="UAUTHOR", channel_id=dm, message_ts="1.000001")
    await slack.socket_send("interactive", payload)

    assert values == ["intent-3"]
    assert payload["message"]["ts"] == "1.000001"
    assert payload["actions"][0]["type"] == "button"
    assert block_actions_payload("a", "v", user_id="U1")["container"]["type"] == "view"
    assert slash_command_payload("/submit", team_id=OTHER)["team_id"] == OTHER
    assert event_callback_payload({"type": "x"}, team_id=OTHER)["authorizations"][0]["user_id"] == "UT0000TWOBOT"
