"""Buttons on Discord: the core's `Message.actions` as message components, and their presses back into the core.

A button's custom id is `sym:<server id>:<value>`: the value is the core's (bot/buttons.py), and the server says
whose symposium it is when the button is pressed in a DM, where Discord names no server. Presses are matched by
one DynamicItem class registered on the client (`client.add_dynamic_items`), not by views stored per message, so a
button works after a restart and a message sent costs no memory: a view holding only dynamic items is not kept.
"""

import logging
from typing import Any, Protocol

import discord

from bot.messages import Message

log = logging.getLogger(__name__)

TEMPLATE = r"sym:(?P<guild>\d+):(?P<value>.+)"
CUSTOM_ID_MAX, LABEL_MAX, PER_ROW, ROWS = 100, 80, 5, 5  # Discord's limits
STYLES = {
    "primary": discord.ButtonStyle.primary,
    "danger": discord.ButtonStyle.danger,
    "plain": discord.ButtonStyle.secondary,
}


class Presser(Protocol):
    """What handles a press (adapters/discord/commands.py `Runner`), found on the client as `presser`."""

    async def press(self, interaction: discord.Interaction, community: str, value: str) -> None: ...


class ActionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=TEMPLATE):
    def __init__(
        self,
        community: str,
        value: str,
        label: str = "…",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
        row: int | None = None,
    ) -> None:
        custom_id = f"sym:{community}:{value}"
        super().__init__(discord.ui.Button(label=label[:LABEL_MAX], style=style, custom_id=custom_id), row=row)
        self.community, self.value = community, value

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> "ActionButton":
        label = item.label if isinstance(item, discord.ui.Button) else None
        style = item.style if isinstance(item, discord.ui.Button) else discord.ButtonStyle.secondary
        return cls(match["guild"], match["value"], label or "…", style)

    async def callback(self, interaction: discord.Interaction) -> None:
        presser: Presser | None = getattr(interaction.client, "presser", None)
        if presser is None:  # a client with no core attached (--deliver-only) takes no presses
            log.warning("button %s pressed on a client with no core attached", self.custom_id)
            return
        await presser.press(interaction, self.community, self.value)


def view_of(community: str, message: Message) -> discord.ui.View | None:
    """The message's buttons, five to a row; None when it has none (an edit then clears any it had)."""
    if not message.actions or not community.isdigit():
        return None
    view = discord.ui.View(timeout=None)
    for action in message.actions[: PER_ROW * ROWS]:
        if len(f"sym:{community}:{action.value}") > CUSTOM_ID_MAX:
            log.error("button value %r is too long for a custom id: left out", action.value)
            continue
        row = len(view.children) // PER_ROW
        view.add_item(ActionButton(community, action.value, action.label, STYLES[action.style], row=row))
    return view if view.children else None


def components_of(view: discord.ui.View | None) -> list[dict[str, Any]]:
    """A view as the `components` of a raw request body (the interaction webhook routes)."""
    return view.to_components() if view is not None else []
