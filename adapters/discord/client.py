"""The discord.py client: gateway intents, mention safety, rate-limit handover, command sync and reconciliation.

Intents: `guilds` (the server, its roles and channels, so permissions can be computed) and `guild_reactions`
(editors' decisions on review cards). No privileged intent: members are fetched over REST when needed, and
commands arrive as interactions, which need no message intent.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

from adapters.discord.buttons import ActionButton, Presser
from adapters.discord.commands import register
from adapters.discord.reactions import Reactions
from adapters.discord.settings import DiscordSettings
from bot.core import SymposiumBot

log = logging.getLogger(__name__)

# discord.py refuses anything lower; a 429 asking for a longer wait raises RateLimited, which the sender turns
# into RetryLater for the outbox, instead of sleeping inside discord.py.
MAX_RATELIMIT_TIMEOUT = 30.0
# What the bot needs in its channels (SPEC §3 `check`); docs/discord.md explains each one.
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    add_reactions=True,
    read_message_history=True,
    pin_messages=True,
)
SCOPES = ("bot", "applications.commands")
IDENTIFY_SPACING = 5.0  # seconds: Discord allows one IDENTIFY per 5 s in each of `max_concurrency` buckets

Sleep = Callable[[float], Awaitable[object]]


def intents() -> discord.Intents:
    chosen = discord.Intents.none()
    chosen.guilds = chosen.guild_reactions = True
    return chosen


class SymposiumClient(discord.Client):
    """Build it, give it to a DiscordPlatform, then `attach` the core built on that platform before starting.

    Args:
        guild_ready_timeout: how long discord.py waits for servers after READY (tests use a small one).
    """

    def __init__(
        self,
        settings: DiscordSettings,
        *,
        guild_ready_timeout: float = 2.0,
        sleep: Sleep = asyncio.sleep,
        **shards: Any,
    ) -> None:
        super().__init__(
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            max_ratelimit_timeout=MAX_RATELIMIT_TIMEOUT,
            guild_ready_timeout=guild_ready_timeout,
            **shards,
        )
        self.settings = settings
        self.sleep = sleep  # waits for Discord's session start limit (tests record them instead)
        self.max_concurrency = 1
        self.on_connection_change: Callable[[], object] | None = None  # the heartbeat (adapters/heartbeat.py)
        # Installed to servers only (not to a user's account): the commands act on a server's symposium.
        self.tree = app_commands.CommandTree(
            self, allowed_installs=app_commands.AppInstallationType(guild=True, user=False)
        )
        self.reactions: Reactions | None = None
        self.presser: Presser | None = None  # what takes button presses (adapters/discord/buttons.py)
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self, bot: SymposiumBot) -> None:
        """Route commands, button presses and reactions to the core."""
        self.presser = register(self.tree, bot, self.settings.discord_editor_role)
        self.add_dynamic_items(ActionButton)  # every button the bot ever sent, without a view stored per message
        self.reactions = Reactions(self, bot, self.settings.discord_editor_role)

    def invite_url(self) -> str:
        assert self.application_id is not None, "known once logged in"
        return discord.utils.oauth_url(self.application_id, permissions=PERMISSIONS, scopes=SCOPES)

    async def setup_hook(self) -> None:
        """Sync the commands on start: to DISCORD_GUILD_ID at once when set, else globally.

        A client with no core attached (`--deliver-only`) has no commands, and syncing none would erase them.
        """
        if self.reactions is None:
            return
        if self.settings.discord_guild_id is None:
            synced = await self.tree.sync()
        else:
            guild = discord.Object(self.settings.discord_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        log.info("synced %d commands (server: %s)", len(synced), self.settings.discord_guild_id or "all, globally")

    async def connect(self, *, reconnect: bool = True) -> None:
        await self.mind_start_limit()
        await super().connect(reconnect=reconnect)

    def sessions_to_start(self) -> int:
        return 1

    async def mind_start_limit(self) -> None:
        """Log GET /gateway/bot's session start limit and keep to it (discord.py reads it, but never waits for it):
        with fewer IDENTIFYs left than this process needs, wait until the limit resets, since going over makes
        Discord reset the bot's token."""
        _, _, limit = await self.http.get_bot_gateway()
        self.max_concurrency = max(1, int(limit.get("max_concurrency", 1)))
        remaining, reset_after = int(limit["remaining"]), float(limit["reset_after"]) / 1000
        log.info(
            "Discord session starts: %d of %d left, reset in %.0f s; %d IDENTIFY at once (%s)",
            remaining, limit["total"], reset_after, self.max_concurrency, self.settings.shards_text(),
        )  # fmt: skip
        if remaining < self.sessions_to_start():
            log.warning("Discord allows no more session starts now: waiting %.0f s for the limit to reset", reset_after)
            await self.sleep(reset_after)

    def connection_state(self) -> str:
        """Connected while the gateway connection is open and ready; connecting until it first is; else
        disconnected."""
        if self._connected():
            return "connected"
        return "disconnected" if self.is_ready() else "connecting"

    def _connected(self) -> bool:
        ws = self.ws
        return self.is_ready() and ws is not None and ws.open

    def _changed(self) -> None:
        if self.on_connection_change is not None:
            self.on_connection_change()

    async def on_disconnect(self) -> None:
        self._changed()

    async def on_ready(self) -> None:
        self._changed()
        self._catch_up(None)

    async def on_resumed(self) -> None:
        self._changed()
        self._catch_up(None)

    def _catch_up(self, shard: int | None) -> None:
        """Reconcile review cards after every (re)connection, in the background so events keep flowing: those of
        the servers on `shard`, or of every server this process receives (None)."""
        task = asyncio.create_task(self._reconcile(shard))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _receives(self, shard: int | None) -> Callable[[str], bool]:
        settings = self.settings
        if shard is None:
            return lambda community: community.isdigit() and settings.owns(community)
        return lambda community: community.isdigit() and settings.shard_of(community) == shard

    async def _reconcile(self, shard: int | None) -> None:
        """Decisions made on cards while away, then requests acknowledged but left unhandled by a stopped bot."""
        if self.reactions is None:
            return
        try:
            await self.reactions.reconcile(self._receives(shard))
            await self.reactions.bot.recover()
        except Exception:  # the cards stay pending; the next (re)connection reads them again
            log.exception("catching up after connecting failed")
        self.dispatch("cards_reconciled")  # `await client.wait_for("cards_reconciled")` to follow it

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if self.reactions is not None:
            await self.reactions.on_raw(payload)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        if self.reactions is not None:
            await self.reactions.on_raw(payload)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await super().close()


class ShardedSymposiumClient(SymposiumClient, discord.AutoShardedClient):
    """The client with DISCORD_SHARD_COUNT set: the shards of DISCORD_SHARD_IDS (default: all) in this process.

    Each shard reconciles its own servers' cards when it is ready or resumed (discord.py dispatches `ready` only
    once every shard of the process is). A process whose first shard is not 0 waits its turn before its first
    IDENTIFY, as if the processes started together in shard order (IDENTIFY_SPACING per `max_concurrency`
    shards before it); discord.py spaces the IDENTIFYs after it.
    """

    def __init__(
        self, settings: DiscordSettings, *, guild_ready_timeout: float = 2.0, sleep: Sleep = asyncio.sleep
    ) -> None:
        ids = list(settings.discord_shard_ids) if settings.discord_shard_ids is not None else None
        super().__init__(
            settings,
            guild_ready_timeout=guild_ready_timeout,
            sleep=sleep,
            shard_count=settings.discord_shard_count,
            shard_ids=ids,
        )

    def sessions_to_start(self) -> int:
        return len(self.shard_ids) if self.shard_ids is not None else self.shard_count or 1

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        if initial:
            if turn := shard_id and shard_id // self.max_concurrency:
                await self.sleep(IDENTIFY_SPACING * turn)
            return
        await super().before_identify_hook(shard_id, initial=initial)

    def _connected(self) -> bool:
        """Every shard of this process open, all ready once."""
        shards = self.shards
        up = self.is_ready() and len(shards) == self.sessions_to_start()
        return up and not any(s.is_closed() for s in shards.values())

    async def on_ready(self) -> None:
        self._changed()  # each shard caught up on its own (on_shard_ready)

    async def on_resumed(self) -> None:
        return None

    async def on_shard_ready(self, shard_id: int) -> None:
        self._changed()
        self._catch_up(shard_id)

    async def on_shard_resumed(self, shard_id: int) -> None:
        self._changed()
        self._catch_up(shard_id)


def make_client(settings: DiscordSettings, **options: Any) -> SymposiumClient:
    """The plain client, or the sharded one when DISCORD_SHARD_COUNT is set."""
    if settings.sharded:
        return ShardedSymposiumClient(settings, **options)
    return SymposiumClient(settings, **options)
