"""The composition root of `symposium-bot run` on Discord: the process (adapters/runtime.py) with the Discord
platform and client, started and stopped in order."""

import asyncio

import click

from adapters.discord.client import SymposiumClient, make_client
from adapters.discord.pacing import Pacer
from adapters.discord.sender import DiscordPlatform
from adapters.discord.settings import DiscordSettings, discord_endpoints
from adapters.heartbeat import Heartbeat
from adapters.runtime import essay_fetcher, symposium_process
from adapters.web.settings import WebSettings
from bot.clock import Clock
from bot.core import SymposiumBot
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
    client = make_client(discord_settings)
    platform = DiscordPlatform(client, pacer, discord_settings.discord_editor_role)
    with discord_endpoints(discord_settings):
        # The client closes last: deliveries under way finish while it is open, before the database goes.
        async with (
            client,
            essay_fetcher() as fetcher,
            symposium_process(core_settings, platform, clock, web=web, fetcher=fetcher) as bot,
        ):
            state = (lambda: "delivering") if deliver_only else client.connection_state
            detail = "deliver-only" if deliver_only else discord_settings.shards_text()
            async with Heartbeat(bot.engine, clock, "discord", detail, state).running() as heartbeat:
                client.on_connection_change = heartbeat.changed
                await serve(client, bot, discord_settings, deliver_only)


async def serve(
    client: SymposiumClient, bot: SymposiumBot, discord_settings: DiscordSettings, deliver_only: bool
) -> None:
    """Log in and hold the gateway connection until cancelled (a delivery-only process logs in for REST only)."""
    if not deliver_only:
        client.attach(bot)
    await client.login(discord_settings.discord_token)
    if deliver_only:
        await asyncio.Event().wait()
    click.echo(f"Invite Symposium Bot to a server with: {client.invite_url()}")
    await client.connect()
