"""`symposium-bot run` on Discord: the core, its delivery clock and the client, started and stopped in order."""

import asyncio

import click

from adapters.discord.client import SymposiumClient
from adapters.discord.pacing import Pacer
from adapters.discord.sender import DiscordPlatform
from adapters.discord.settings import DiscordSettings, discord_endpoints
from adapters.runtime import running_core
from adapters.web.settings import WebSettings
from bot.clock import Clock
from bot.core import SymposiumBot
from bot.scheduling import start_ticking, stop_ticking
from bot.settings import CoreSettings


async def run_discord(
    core_settings: CoreSettings,
    discord_settings: DiscordSettings,
    clock: Clock,
    *,
    deliver_only: bool = False,
    web: WebSettings | None = None,
) -> None:
    """Serve until cancelled, with the public page when `web` is given. With `deliver_only`, log in for REST
    only and deliver the outbox (no gateway connection: Discord sends every event to every session, so one
    process owns the connection)."""
    pacer = Pacer(discord_settings.discord_calls_per_second, discord_settings.discord_post_interval_seconds)
    client = SymposiumClient(discord_settings)
    platform = DiscordPlatform(client, pacer)
    with discord_endpoints(discord_settings):
        async with running_core(core_settings, platform, clock, deliver_in_background=True, web=web) as bot, client:
            try:
                await serve(client, bot, discord_settings, core_settings, deliver_only)
            finally:
                await bot.close()  # deliveries under way finish while the client is open, before the database goes


async def serve(
    client: SymposiumClient,
    bot: SymposiumBot,
    discord_settings: DiscordSettings,
    core_settings: CoreSettings,
    deliver_only: bool,
) -> None:
    """Log in, deliver on the clock, and hold the gateway connection until cancelled."""
    if not deliver_only:
        client.attach(bot)
    await client.login(discord_settings.discord_token)
    if not deliver_only:
        click.echo(f"Invite Symposium Bot to a server with: {client.invite_url()}")
    scheduler = start_ticking(bot, core_settings.delivery_interval_seconds)
    try:
        if deliver_only:
            await asyncio.Event().wait()
        else:
            await client.connect()
    finally:
        await stop_ticking(scheduler, bot)
