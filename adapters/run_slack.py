"""The composition root of `symposium-bot run` on Slack: the process (adapters/runtime.py) with the Slack
platform, and the app in Socket Mode (SLACK_APP_TOKEN set) or HTTP mode. After every (re)connection, review cards
are reconciled and requests left pending by a stopped process are handled."""

import asyncio
import logging

from slack_sdk.errors import SlackApiError

from adapters.runtime import essay_fetcher, symposium_process
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
    pacer = Pacer(
        SLACK_TIERS if slack_settings.slack_pace_methods else {},
        slack_settings.slack_post_interval_seconds,
        post_ceiling=slack_settings.slack_post_ceiling_per_minute,
    )
    people = People(client, ttl_seconds=slack_settings.slack_people_ttl_seconds)
    platform = SlackPlatform(client, clock, pacer, bot_name=str(me["user"]), people=people)
    async with (
        essay_fetcher() as fetcher,
        symposium_process(core_settings, platform, clock, web=web, fetcher=fetcher) as bot,
    ):
        after_ack = AfterAck()
        try:
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
        finally:
            await after_ack.drain()  # requests under way finish before the process's core and database close


async def reconcile_cards(bot: SymposiumBot, platform: SlackPlatform, community: str, bot_user_id: str) -> int:
    """Re-read the reactions on review cards still pending, so decisions made while away are kept.

    Returns how many cards were read; a card Slack cannot show now is left for the next reconnection.
    """
    read = 0
    for channel, ref in await bot.pending_cards():
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
