"""Reactions on review cards into the core: live raw events, and the lists read back after a (re)connection.

Raw events arrive for every message, cached or not. Only ✅ ❌ ✏️ can decide anything (the core's rule), so the
member behind any other reaction is never looked up. A remove event carries no member: who removed it is fetched
over REST, which needs no privileged intent.
"""

import asyncio
import logging
import uuid
from collections.abc import Callable

import discord

from adapters.discord.people import facts_of, fetch_actor
from bot.commands import Actor, ReconcileCard
from bot.core import SymposiumBot
from bot.inbox import Arrival, Kind

log = logging.getLogger(__name__)


def emoji_text(emoji: discord.PartialEmoji | discord.Emoji | str) -> str:
    """A unicode emoji as itself, a custom one by its name (the core maps names such as `white_check_mark`)."""
    return emoji if isinstance(emoji, str) else emoji.name or ""


class Reactions:
    """Editors' reactions into the core, live and after every (re)connection."""

    def __init__(self, client: discord.Client, bot: SymposiumBot, editor_role: str) -> None:
        self.client, self.bot, self.editor_role = client, bot, editor_role
        self._reconciling = asyncio.Lock()

    async def on_raw(self, payload: discord.RawReactionActionEvent) -> None:
        """A reaction added or removed on any message; then the client dispatches `reaction_handled`."""
        try:
            await self._decide(payload)
        finally:
            self.client.dispatch("reaction_handled", payload)

    async def _decide(self, payload: discord.RawReactionActionEvent) -> None:
        """The bot's own reactions, those in DMs and those that cannot decide are never recorded. A reaction has
        no private answer on Discord: a note for the reactor goes by DM."""
        own = self.client.user is not None and payload.user_id == self.client.user.id
        emoji = emoji_text(payload.emoji)
        if own or payload.guild_id is None or not self.bot.heeds(emoji):
            return
        facts = facts_of(payload.member, self.editor_role) if payload.member is not None else {}
        ticket = await self.bot.receive(
            Arrival(
                key=f"discord:reaction:{uuid.uuid4().hex}",  # gateway events carry no id; a RESUME replays none twice
                community=str(payload.guild_id),
                user_id=str(payload.user_id),
                kind=Kind.REACTION,
                body={
                    "channel": str(payload.channel_id),
                    "ref": str(payload.message_id),
                    "emoji": emoji,
                    "added": payload.event_type == "REACTION_ADD",
                },
                facts=facts,
            )
        )
        await self.bot.handle(ticket)

    async def reconcile(self, receives: Callable[[str], bool] | None = None) -> None:
        """Read the reactions on every review card still pending in the servers this connection `receives` (all
        by default), so decisions made while away are kept.

        Rounds never overlap (a resume can follow a ready closely), so each reaction is applied once.
        """
        async with self._reconciling:
            actors: dict[tuple[int, int], Actor | None] = {}
            for channel, ref in await self.bot.pending_cards(receives):
                try:
                    reactions = await self._card_reactions(int(channel), int(ref), actors)
                except discord.NotFound:
                    continue  # the card was deleted: there is nothing to read
                except discord.HTTPException as exc:  # read again on the next (re)connection
                    log.warning("could not read the reactions on card %s in %s: %s", ref, channel, exc)
                    continue
                await self.bot.reconcile(ReconcileCard(channel=channel, message_ref=ref, reactions=reactions))

    async def _card_reactions(
        self, channel_id: int, message_id: int, actors: dict[tuple[int, int], Actor | None]
    ) -> tuple[tuple[Actor, str], ...]:
        channel = self.client.get_channel(channel_id) or await self.client.fetch_channel(channel_id)
        if not isinstance(channel, discord.TextChannel):
            return ()
        message = await channel.fetch_message(message_id)
        found = []
        for reaction in message.reactions:
            emoji = emoji_text(reaction.emoji)
            if not self.bot.decides(emoji):
                continue
            async for user in reaction.users():
                if self.client.user is not None and user.id == self.client.user.id:
                    continue
                key = (channel.guild.id, user.id)
                if key not in actors:
                    actors[key] = await fetch_actor(self.client, channel.guild.id, user.id, self.editor_role)
                if (actor := actors[key]) is not None:
                    found.append((actor, emoji))
        return tuple(found)
