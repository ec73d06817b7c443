"""The slack-bolt app and its two runners: HTTP (aiohttp, at /slack/events) and Socket Mode."""

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.after_ack import AfterAck
from adapters.slack.listeners import register
from adapters.slack.sender import CALL_TIMEOUT_SECONDS, SlackPlatform
from adapters.slack.settings import SlackSettings
from bot.core import SymposiumBot

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


def make_client(settings: SlackSettings) -> AsyncWebClient:
    """A Web API client on SLACK_API_BASE_URL. It has slack-sdk's default retry handlers, which retry a dropped
    connection once; the rate-limit handler, which would sleep out a 429, is deliberately not added."""
    return AsyncWebClient(
        token=settings.slack_bot_token, base_url=settings.slack_api_base_url, timeout=CALL_TIMEOUT_SECONDS
    )


def build_app(bot: SymposiumBot, settings: SlackSettings, platform: SlackPlatform, *, after_ack: AfterAck) -> AsyncApp:
    """The bolt app, verifying Slack's request signatures, with every listener registered.

    Listeners answer Slack as soon as they return (`process_before_response`) and leave the work to
    `after_ack`, which the caller drains before the core closes.
    """
    app = AsyncApp(
        client=platform.client,
        signing_secret=settings.slack_signing_secret,
        request_verification_enabled=True,
        process_before_response=True,
    )
    register(app, bot, platform, after_ack)
    return app


def slack_routes(app: AsyncApp, path: str = EVENTS_PATH) -> list[web.RouteDef]:
    """The HTTP endpoint for commands, events and interactions, to mount on any aiohttp application."""

    async def events(request: web.Request) -> web.Response:
        # slack-sdk's signature check does int() on the timestamp, so a malformed one would end in a 500 and a
        # traceback for any unsigned request: refuse it here as what it is, an unauthenticated request.
        if not request.headers.get("X-Slack-Request-Timestamp", "0").isdigit():
            return web.json_response({"error": "invalid request"}, status=401)
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    return [web.post(path, events)]


async def serve_http(app: AsyncApp, port: int, host: str = "0.0.0.0", ready: asyncio.Event | None = None) -> None:
    """Serve HTTP mode until cancelled; `ready` is set once the port is open."""
    web_app = web.Application()
    web_app.add_routes(slack_routes(app))
    runner = web.AppRunner(web_app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("Slack HTTP mode on port %s at %s", port, EVENTS_PATH)
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def serve_socket_mode(
    app: AsyncApp,
    app_token: str,
    on_connected: Callable[[], Coroutine[Any, Any, None]],
    ready: asyncio.Event | None = None,
) -> None:
    """Serve Socket Mode until cancelled; `on_connected` runs after every (re)connection's hello, and `ready` is
    set once the first connection is up."""
    handler = AsyncSocketModeHandler(app, app_token=app_token)
    running: set[asyncio.Task[None]] = set()

    async def hello(_client: Any, message: dict[str, Any], _raw: str | None) -> None:
        if message.get("type") == "hello":
            task = asyncio.create_task(on_connected())
            running.add(task)
            task.add_done_callback(running.discard)

    handler.client.message_listeners.append(hello)
    # Ask for the first WebSocket address ourselves: slack-sdk's connect() retries a refused app token forever,
    # where this fails at once with Slack's error (the CLI turns it into one line naming SLACK_APP_TOKEN).
    opened = await handler.client.web_client.apps_connections_open(app_token=app_token)
    handler.client.wss_uri = str(opened["url"])
    await handler.connect_async()
    try:
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        await handler.close_async()
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
