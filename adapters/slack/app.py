"""The slack-bolt app and its two runners: HTTP (aiohttp, at /slack/events) and Socket Mode. Installed by many
workspaces (OAuth), the app also serves /slack/install and /slack/oauth_redirect, and hears uninstalls."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from typing import Any, cast

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.after_ack import AfterAck
from adapters.slack.listeners import register
from adapters.slack.oauth import InstallStates, SlackInstallations, workspace_of
from adapters.slack.sender import CALL_TIMEOUT_SECONDS, SlackPlatform
from adapters.slack.settings import SlackSettings
from adapters.slack.workspaces import WorkspaceAuthorize, WorkspacePlatform, Workspaces
from bot.core import SymposiumBot

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
INSTALL_PATH, REDIRECT_PATH = "/slack/install", "/slack/oauth_redirect"
# The workspace of the request being handled, for AfterAck's workers per workspace (many workspaces).
REQUEST_WORKSPACE: ContextVar[str] = ContextVar("slack_request_workspace", default="")
# The bot scopes an install asks for: manifest.yml's oauth_config.scopes.bot.
BOT_SCOPES = (
    "commands",
    "chat:write",
    "pins:write",
    "reactions:read",
    "reactions:write",
    "im:write",
    "users:read",
    "channels:read",
    "groups:read",
    "files:write",
)


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


def build_distributed_app(
    bot: SymposiumBot,
    settings: SlackSettings,
    platform: WorkspacePlatform,
    store: SlackInstallations,
    states: InstallStates,
    *,
    after_ack: AfterAck,
) -> AsyncApp:
    """The bolt app for many workspaces: installs through slack-bolt's OAuth flow into `store` (each state used
    once, from `states`), each request runs with its own workspace's token, and an uninstall pauses the
    workspace's community."""
    assert settings.slack_client_id
    assert settings.slack_client_secret
    oauth = AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        install_page_rendering_enabled=False,
        authorization_url=settings.slack_authorize_url,
        installation_store=store,
        installation_store_bot_only=True,
        state_store=states,
    )
    app = AsyncApp(
        client=AsyncWebClient(base_url=settings.slack_api_base_url, timeout=CALL_TIMEOUT_SECONDS),
        signing_secret=settings.slack_signing_secret,
        request_verification_enabled=True,
        process_before_response=True,
        oauth_settings=oauth,
        authorize=WorkspaceAuthorize(platform.workspaces),  # type: ignore[arg-type]  # bolt takes an AsyncAuthorize
        installation_store_bot_only=True,
    )

    async def remember_workspace(context: AsyncBoltContext, next: Callable[[], Awaitable[Any]]) -> Any:
        """Name the request's workspace for the work its listener starts after the ack (AfterAck's `per`)."""
        REQUEST_WORKSPACE.set(context.team_id or "")
        return await next()

    app.use(remember_workspace)
    # The listeners only answer through `platform.reply`, which WorkspacePlatform routes by workspace.
    register(app, bot, cast(SlackPlatform, platform), after_ack)
    register_uninstalls(app, bot, store, platform.workspaces)
    return app


def register_uninstalls(app: AsyncApp, bot: SymposiumBot, store: SlackInstallations, workspaces: Workspaces) -> None:
    """app_uninstalled and tokens_revoked: forget the tokens, and pause the workspace's community (its symposia
    stay; nothing is sent there until the app is installed again)."""

    def community(context: AsyncBoltContext) -> str:
        return workspace_of(context.enterprise_id, context.team_id, context.is_enterprise_install)

    async def uninstalled(context: AsyncBoltContext) -> None:
        team = community(context)
        await store.async_delete_all(enterprise_id=context.enterprise_id, team_id=context.team_id)
        workspaces.forget(team)
        await bot.pause_community(team, "the app was uninstalled from this Slack workspace")
        log.info("Slack workspace %s uninstalled the app: its symposia are paused", team)

    async def revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
        tokens = event.get("tokens") or {}
        for user in tokens.get("oauth") or []:
            await store.async_delete_installation(
                enterprise_id=context.enterprise_id, team_id=context.team_id, user_id=str(user)
            )
        if tokens.get("bot"):
            team = community(context)
            await store.async_delete_bot(enterprise_id=context.enterprise_id, team_id=context.team_id)
            workspaces.forget(team)
            await bot.pause_community(team, "the bot's tokens were revoked in this Slack workspace")

    app.event("app_uninstalled")(uninstalled)
    app.event("tokens_revoked")(revoked)


def slack_routes(app: AsyncApp, path: str = EVENTS_PATH) -> list[web.RouteDef]:
    """The HTTP endpoint for commands, events and interactions, to mount on any aiohttp application; with an
    OAuth flow, also the install page and Slack's redirect back to it."""

    async def events(request: web.Request) -> web.Response:
        # slack-sdk's signature check does int() on the timestamp, so a malformed one would end in a 500 and a
        # traceback for any unsigned request: refuse it here as what it is, an unauthenticated request.
        if not request.headers.get("X-Slack-Request-Timestamp", "0").isdigit():
            return web.json_response({"error": "invalid request"}, status=401)
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    routes = [web.post(path, events)]
    if (flow := app.oauth_flow) is not None:

        async def install(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))

        async def redirected(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

        routes += [web.get(flow.install_path, install), web.get(flow.redirect_uri_path, redirected)]
    return routes


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
