"""Discord settings, read from the environment (and `.env`), and the seams that point discord.py elsewhere."""

from collections.abc import Iterator
from contextlib import contextmanager

import discord
import yarl
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DiscordSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    discord_token: str
    discord_editor_role: str = "Editor"
    # Set while trying the bot on one server: its commands are synced there and show at once (global: up to an hour).
    discord_guild_id: int | None = None
    # Test doubles only: discord.py's REST base (`.../api/v10`) and gateway (`ws://...`).
    discord_api_base_url: str | None = None
    discord_gateway_url: str | None = None
    # SPEC §4 pacing: one message a second per channel (each person's DMs are a channel of their own), at most
    # 25 REST calls in any one second in all (Discord's global limit is 50). 0 turns pacing off (tests).
    discord_post_interval_seconds: float = Field(default=1.0, ge=0)
    discord_calls_per_second: float = Field(default=25.0, ge=0, le=50)


@contextmanager
def discord_endpoints(settings: DiscordSettings) -> Iterator[None]:
    """Point discord.py at DISCORD_API_BASE_URL / DISCORD_GATEWAY_URL while the block runs, then restore.

    Both are class attributes of discord.py (`Route.BASE`, read for every request, interaction callbacks and
    followups included; `DiscordWebSocket.DEFAULT_GATEWAY`, which a plain Client connects to), so they are set
    only around a running client, never at import.
    """
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    if settings.discord_api_base_url:
        discord.http.Route.BASE = settings.discord_api_base_url.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway
