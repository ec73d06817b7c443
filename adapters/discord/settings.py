"""Discord settings, read from the environment (and `.env`), and the seams that point discord.py elsewhere."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import discord
import yarl
from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
    # Sharding (docs/discord.md "Sharding"): the bot's shard count, and which of them this process runs ("0-3",
    # "0,2"; default: all). Unset: one connection, no sharding.
    discord_shard_count: int | None = Field(default=None, ge=1)
    discord_shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = None

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _shard_ids(cls, value: object, info: ValidationInfo) -> object:
        """ "0-3" and "0,2" (and "0-3,8") into (0, 1, 2, 3) and (0, 2); each must be below the shard count."""
        if not isinstance(value, str):
            return value
        count = info.data.get("discord_shard_count")
        if count is None:
            raise ValueError("set DISCORD_SHARD_COUNT too: shard ids count from 0 to DISCORD_SHARD_COUNT - 1")
        ids: set[int] = set()
        for part in value.replace(" ", "").split(","):
            if not (found := re.fullmatch(r"(\d+)(?:-(\d+))?", part)):
                raise ValueError(f"{part!r} is not a shard id or a range such as 0-3")
            first, last = int(found[1]), int(found[2] or found[1])
            if last < first:
                raise ValueError(f"the range {part} runs backwards")
            if last >= count:
                raise ValueError(f"shard {max(first, count)} is not below DISCORD_SHARD_COUNT ({count})")
            ids.update(range(first, last + 1))
        return tuple(sorted(ids))

    @property
    def sharded(self) -> bool:
        return self.discord_shard_count is not None

    def shard_of(self, guild_id: int | str) -> int:
        """The shard a server's events go to (Discord's rule); 0 unsharded."""
        return (int(guild_id) >> 22) % (self.discord_shard_count or 1)

    def owns(self, guild_id: int | str) -> bool:
        """Whether this process's shards receive the server's events (every server, unsharded)."""
        ids = self.discord_shard_ids
        return ids is None or self.shard_of(guild_id) in ids

    def shards_text(self) -> str:
        """E.g. "shards 0-1 of 4", for logs and the heartbeat."""
        if self.discord_shard_count is None:
            return "unsharded"
        ids = self.discord_shard_ids or tuple(range(self.discord_shard_count))
        runs = ",".join(f"{a}-{b}" if a != b else str(a) for a, b in _runs(ids))
        return f"shards {runs} of {self.discord_shard_count}"


def _runs(ids: tuple[int, ...]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in ids:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


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
