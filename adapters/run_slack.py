"""The composition root of `symposium-bot run` on Slack: the process (adapters/runtime.py) with the Slack
platform, and the app in Socket Mode (SLACK_APP_TOKEN set) or HTTP mode. After every (re)connection, review cards
are reconciled and requests left pending by a stopped process are handled.

Without SLACK_BOT_TOKEN (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET instead) the app is distributed: it serves HTTP
mode with /slack/install, keeps each install's tokens encrypted in the bot's database, and sends through one
sender per workspace (adapters/slack/workspaces.py)."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from adapters.heartbeat import Heartbeat
from adapters.runtime import essay_fetcher, migrated_engine, symposium_process
from adapters.slack.after_ack import AfterAck
from adapters.slack.app import (
    REQUEST_WORKSPACE,
    build_app,
    build_distributed_app,
    make_client,
    serve_http,
    serve_socket_mode,
)
from adapters.slack.oauth import InstallStates, SlackInstallations
from adapters.slack.pacing import pacer_for
from adapters.slack.people import People
from adapters.slack.sender import SlackPlatform
from adapters.slack.settings import SlackSettings
from adapters.slack.workspaces import WorkspacePlatform, Workspaces
from adapters.web.settings import WebSettings
from bot.clock import Clock
from bot.commands import ReconcileCard
from bot.core import SymposiumBot
from bot.ports import DeliveryError
from bot.settings import CoreSettings

log = logging.getLogger(__name__)


async def run_slack(
    core_settings: CoreSettings,
    slack_settings: SlackSettings,
    clock: Clock,
    *,
    deliver_only: bool = False,
    web: WebSettings | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve until cancelled, with the public page when `web` is given.

    Args:
        deliver_only: only deliver the outbox (extra workers on PostgreSQL); no Slack connection is opened,
            since Slack hands each event to one connection owner.
        ready: set once Slack can reach the bot (the HTTP port is open, or the socket connected).
    """
    if slack_settings.oauth_mode:
        await run_distributed(core_settings, slack_settings, clock, deliver_only=deliver_only, web=web, ready=ready)
        return
    client = make_client(slack_settings)
    me = await client.auth_test()
    pacer = pacer_for(slack_settings)
    people = People(client, ttl_seconds=slack_settings.slack_people_ttl_seconds)
    platform = SlackPlatform(client, clock, pacer, bot_name=str(me["user"]), people=people)
    async with (
        essay_fetcher() as fetcher,
        symposium_process(core_settings, platform, clock, web=web, fetcher=fetcher) as bot,
    ):
        after_ack = AfterAck()
        mode = "socket mode" if slack_settings.slack_app_token else f"http :{slack_settings.slack_port}"
        try:
            async with heartbeat(bot, clock, mode, deliver_only=deliver_only, ready=ready) as up:
                await serve_one(bot, slack_settings, platform, me, after_ack, deliver_only=deliver_only, ready=up)
        finally:
            await after_ack.drain()  # requests under way finish before the process's core and database close


async def serve_one(
    bot: SymposiumBot,
    slack_settings: SlackSettings,
    platform: SlackPlatform,
    me: Any,
    after_ack: AfterAck,
    *,
    deliver_only: bool,
    ready: asyncio.Event,
) -> None:
    """Hold the one workspace's connection (Socket Mode) or serve its requests (HTTP) until cancelled."""
    if deliver_only:
        log.info("delivering the outbox only: no Slack connection is opened")
        await asyncio.Event().wait()
    app = build_app(bot, slack_settings, platform, after_ack=after_ack)

    async def catch_up() -> None:
        """After every (re)connection: decisions made on cards while away, then requests left pending."""
        try:
            await reconcile_cards(bot, platform, str(me["team_id"]), str(me["user_id"]))
            await bot.recover()
        except Exception:  # the next reconnection (or restart) tries again
            log.exception("catching up after connecting failed")

    if slack_settings.slack_app_token:
        await serve_socket_mode(app, slack_settings.slack_app_token, catch_up, ready=ready)
    else:
        after_ack.start(catch_up(), now=True)
        await serve_http(app, slack_settings.slack_port, ready=ready)


@asynccontextmanager
async def heartbeat(
    bot: SymposiumBot, clock: Clock, detail: str, *, deliver_only: bool, ready: asyncio.Event | None
) -> AsyncIterator[asyncio.Event]:
    """This process's Slack state for /healthz (adapters/heartbeat.py): connecting until Slack can reach it (the
    port open, the socket connected; set the event yielded), then connected; a deliver-only worker delivers.
    `ready`, when given, is set at the same moment."""
    up = asyncio.Event()

    def state() -> str:
        return "delivering" if deliver_only else "connected" if up.is_set() else "connecting"

    async with Heartbeat(
        bot.engine, clock, "slack", "deliver-only" if deliver_only else detail, state
    ).running() as beat:

        async def said() -> None:
            await up.wait()
            await beat.beat()
            if ready is not None:
                ready.set()

        telling = asyncio.create_task(said())
        try:
            yield up
        finally:
            telling.cancel()


@dataclass
class Distributed:
    """The bot installed by many workspaces: the core, the bolt app (served by the caller), the installs and the
    per-workspace senders."""

    bot: SymposiumBot
    app: AsyncApp
    store: SlackInstallations
    workspaces: Workspaces
    after_ack: AfterAck

    async def catch_up(self) -> None:
        """At start: decisions made on each workspace's cards while away, then requests left pending."""
        try:
            for team in await self.store.workspaces():
                if (found := await self.workspaces.get(team)) is not None:
                    await reconcile_cards(self.bot, found.platform, team, found.bot.bot_user_id, only=True)
            await self.bot.recover()
        except Exception:  # the next start tries again
            log.exception("catching up after starting failed")


@asynccontextmanager
async def distributed_process(
    core_settings: CoreSettings, slack_settings: SlackSettings, clock: Clock, **process: Any
) -> AsyncIterator[Distributed]:
    """The process for many workspaces (OAuth), for as long as the block runs; `process` goes to
    `symposium_process`. A TOKEN_ENCRYPTION_KEY that cannot read the stored tokens stops it before anything else
    (TokenKeyError). On the way out, work after acks finishes before the core closes.

    Unless DELIVERY_WORKERS_PER_COMMUNITY says otherwise, one workspace's deliveries take at most half the
    delivery workers, so a workspace Slack makes wait (its pace, a long Retry-After) never holds them all."""
    if core_settings.delivery_workers_per_community is None:
        half = max(1, (process.get("workers") or core_settings.delivery_workers) // 2)
        core_settings = core_settings.model_copy(update={"delivery_workers_per_community": half})
    async with migrated_engine(core_settings) as engine:
        store = SlackInstallations(engine, slack_settings.token_keys())
        if rotated := await store.check_key():
            log.info("re-encrypted the tokens of %s Slack workspaces under the first TOKEN_ENCRYPTION_KEY", rotated)
        workspaces = Workspaces(store, slack_settings, clock)
        platform = WorkspacePlatform(workspaces)
        async with symposium_process(core_settings, platform, clock, engine=engine, **process) as bot:

            async def installed(team: str) -> None:
                """Installed (again): its new token from now on, and what waited for it goes out."""
                workspaces.forget(team)
                await bot.resume_community(team)

            store.on_saved = installed
            after_ack = AfterAck(per=REQUEST_WORKSPACE)  # each workspace's commands handled apart
            states = InstallStates(engine, clock)
            app = build_distributed_app(bot, slack_settings, platform, store, states, after_ack=after_ack)
            try:
                yield Distributed(bot, app, store, workspaces, after_ack)
            finally:
                await after_ack.drain()


async def run_distributed(
    core_settings: CoreSettings,
    slack_settings: SlackSettings,
    clock: Clock,
    *,
    deliver_only: bool = False,
    web: WebSettings | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """`run_slack` for many workspaces (OAuth): HTTP mode, with /slack/install."""
    async with (
        essay_fetcher() as fetcher,
        distributed_process(core_settings, slack_settings, clock, web=web, fetcher=fetcher) as running,
    ):
        detail = f"http :{slack_settings.slack_port}, many workspaces"
        async with heartbeat(running.bot, clock, detail, deliver_only=deliver_only, ready=ready) as up:
            if deliver_only:
                log.info("delivering the outbox only: Slack's requests are served elsewhere")
                await asyncio.Event().wait()
            running.after_ack.start(running.catch_up(), now=True)
            await serve_http(running.app, slack_settings.slack_port, ready=up)


async def reconcile_cards(
    bot: SymposiumBot, platform: SlackPlatform, community: str, bot_user_id: str, *, only: bool = False
) -> int:
    """Re-read the reactions on review cards still pending, so decisions made while away are kept (`only`: the
    cards of this community, when the bot serves many).

    Returns how many cards were read; a card Slack cannot show now is left for the next reconnection.
    """
    read = 0
    for channel, ref in await bot.pending_cards(community.__eq__ if only else None):
        try:
            listed = await platform.card_reactions(channel, ref)
            reactions = [
                (await platform.people.actor(community, user), name) for user, name in listed if user != bot_user_id
            ]
        except (DeliveryError, SlackApiError):
            log.warning("could not read the reactions on card %s in %s", ref, channel, exc_info=True)
            continue
        await bot.reconcile(ReconcileCard(channel=channel, message_ref=ref, reactions=tuple(reactions)))
        read += 1
    return read
