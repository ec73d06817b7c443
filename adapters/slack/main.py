"""Run the bot on Slack: the core with background delivery, the ticking scheduler, and the app in Socket Mode
(SLACK_APP_TOKEN set) or HTTP mode; review cards are reconciled on start and after every reconnection."""

import asyncio
import logging

from slack_sdk.errors import SlackApiError

from adapters.runtime import running_core
from adapters.slack.after_ack import AfterAck
from adapters.slack.app import build_app, make_client, serve_http, serve_socket_mode
from adapters.slack.pacing import SLACK_TIERS, Pacer
from adapters.slack.people import People
from adapters.slack.sender import SlackPlatform
from adapters.slack.settings import SlackSettings
from adapters.web.settings import WebSettings
from bot.clock import Clock
from bot.commands import ReconcileCard
from bot.core import SymposiumBot
from bot.ports import DeliveryError
from bot.scheduling import start_ticking, stop_ticking
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
    client = make_client(slack_settings)
    me = await client.auth_test()
    pacer = Pacer(SLACK_TIERS if slack_settings.slack_pace_methods else {}, slack_settings.slack_post_interval_seconds)
    platform = SlackPlatform(client, clock, pacer, bot_name=str(me["user"]))
    async with running_core(core_settings, platform, clock, deliver_in_background=True, web=web) as bot:
        scheduler, after_ack = start_ticking(bot, core_settings.delivery_interval_seconds), AfterAck()
        try:
            if deliver_only:
                await asyncio.Event().wait()
            people = People(client)
            app = build_app(bot, slack_settings, after_ack=after_ack, client=client, people=people)

            async def reconcile() -> None:
                try:
                    await reconcile_cards(bot, platform, people, str(me["team_id"]), str(me["user_id"]))
                except Exception:  # the next reconnection (or restart) tries again
                    log.exception("reconciling review cards failed")

            if slack_settings.slack_app_token:
                await serve_socket_mode(app, slack_settings.slack_app_token, reconcile, ready=ready)
            else:
                await reconcile()
                await serve_http(app, slack_settings.slack_port, ready=ready)
        finally:
            await after_ack.drain()  # commands under way finish, then their messages go out, before the engine goes
            await stop_ticking(scheduler, bot)
            await bot.close()  # running_core skips this when cancelled


async def reconcile_cards(
    bot: SymposiumBot, platform: SlackPlatform, people: People, community: str, bot_user_id: str
) -> int:
    """Re-read the reactions on review cards still pending, so decisions made while away are kept.

    Returns how many cards were read; a card Slack cannot show now is left for the next reconnection.
    """
    read = 0
    for channel, ref in await bot.pending_cards():
        try:
            listed = await platform.card_reactions(channel, ref)
            reactions = [(await people.actor(community, user), name) for user, name in listed if user != bot_user_id]
        except (DeliveryError, SlackApiError):
            log.warning("could not read the reactions on card %s in %s", ref, channel, exc_info=True)
            continue
        await bot.reconcile(ReconcileCard(channel=channel, message_ref=ref, reactions=tuple(reactions)))
        read += 1
    return read
