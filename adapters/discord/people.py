"""Discord members as the core's Actor facts; bot/permissions.py decides what those facts allow."""

import logging
from typing import Any

import discord

from bot.commands import Actor

log = logging.getLogger(__name__)


def facts_of(member: discord.Member, editor_role: str) -> dict[str, Any]:
    """The facts the core decides on: Manage Server (admin) and holding the role named `editor_role` (any case),
    as recorded with an arrival (Discord sends the member along with every interaction)."""
    return {
        "name": member.display_name,
        "is_admin": member.guild_permissions.manage_guild,
        "holds_editor_role": any(role.name.casefold() == editor_role.casefold() for role in member.roles),
    }


def actor_of(member: discord.Member, editor_role: str) -> Actor:
    return actor_from(str(member.guild.id), str(member.id), facts_of(member, editor_role))


def actor_from(community: str, user_id: str, facts: dict[str, Any]) -> Actor:
    return Actor(
        community=community,
        user_id=user_id,
        name=str(facts["name"]),
        is_admin=bool(facts["is_admin"]),
        holds_editor_role=bool(facts["holds_editor_role"]),
    )


async def fetch_actor(client: discord.Client, guild_id: int, user_id: int, editor_role: str) -> Actor | None:
    """The member over REST (no privileged intent needed); None when they are not in the server (any more).

    Raises:
        discord.HTTPException: Discord failed to answer; the caller decides what a missing answer means.
    """
    guild = client.get_guild(guild_id)
    if guild is None:
        log.warning("guild %s is not available; cannot tell who %s is", guild_id, user_id)
        return None
    try:
        member = await guild.fetch_member(user_id)
    except discord.NotFound:
        return None
    return actor_of(member, editor_role)
