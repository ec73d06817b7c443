"""The discord.py client: gateway intents, mention safety, rate-limit handover, command sync and reconciliation.

Intents: `guilds` (the server, its roles and channels, so permissions can be computed) and `guild_reactions`
(editors' decisions on review cards). No privileged intent: members are fetched over REST when needed, and
commands arrive as interactions, which need no message intent.
"""

import asyncio
import logging

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


def intents() -> discord.Intents:
    chosen = discord.Intents.none()
    chosen.guilds = chosen.guild_reactions = True
    return chosen


class SymposiumClient(discord.Client):
    """Build it, give it to a DiscordPlatform, then `attach` the core built on that platform before starting.

    Args:
        guild_ready_timeout: how long discord.py waits for servers after READY (tests use a small one).
    """

    def __init__(self, settings: DiscordSettings, *, guild_ready_timeout: float = 2.0) -> None:
        super().__init__(
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            max_ratelimit_timeout=MAX_RATELIMIT_TIMEOUT,
            guild_ready_timeout=guild_ready_timeout,
        )
        self.settings = settings
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

    async def on_ready(self) -> None:
        self._catch_up()

    async def on_resumed(self) -> None:
        self._catch_up()

    def _catch_up(self) -> None:
        """Reconcile review cards after every (re)connection, in the background so events keep flowing."""
        task = asyncio.create_task(self._reconcile())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reconcile(self) -> None:
        """Decisions made on cards while away, then requests acknowledged but left unhandled by a stopped bot."""
        if self.reactions is None:
            return
        try:
            await self.reactions.reconcile()
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
