"""Application commands generated from the core's catalogue (bot/grammar.py), so that Discord's typed options
and the Slack and console text grammar accept the same things through one path: `grammar.build()`.

Each catalogue option becomes a typed Discord option (choices, channels, members, integers, autocomplete), and
whatever Discord sends back becomes the raw string `build()` takes; the core validates it with its own words.
Every answer is private: a command is deferred (ephemeral) before any database work, so Discord's three-second
deadline holds however busy the database is, and the reply then replaces the "thinking…" message. A pressed
button (adapters/discord/buttons.py) goes the same way, as the command it stands for.
"""

import asyncio
import inspect
import logging
from datetime import timedelta
from typing import Any

import discord
from discord import app_commands

from adapters.discord.forms import INTENT, IntentForm
from adapters.discord.people import actor_of, facts_of
from adapters.discord.render import pages
from adapters.discord.sender import NO_MENTIONS
from bot.core import SymposiumBot, error_reply
from bot.grammar import CATALOGUE, CommandSpec, OptionSpec
from bot.inbox import Arrival, Kind
from bot.messages import Message

log = logging.getLogger(__name__)

# `/symposium editors` is for Slack and the console (SPEC §2): on Discord, editors hold the role or Manage Server.
SUGGESTED = frozenset({"prompt", "essay", "symposium"})
IN_SERVERS = app_commands.AppCommandContext(guild=True)
CHANNEL_TYPES = [discord.ChannelType.text, discord.ChannelType.news]
OPTION_TYPES = {
    "int": discord.AppCommandOptionType.integer,
    "channel": discord.AppCommandOptionType.channel,
    "user": discord.AppCommandOptionType.user,
}
SERVERS_ONLY = "Symposium Bot's commands work in a server's channels, not in direct messages."
TOKEN_LIVES = timedelta(minutes=15)  # Discord: an interaction token answers for 15 minutes
# Commands in the core at once. More only queue for database connections (SQLAlchemy's pool; SQLite's one writer)
# while slowing the event loop that acknowledges new interactions; the rest wait here, already deferred, in order.
COMMANDS_AT_ONCE = 4
BROKE = "Something went wrong on my side. /symposium status shows where things stand; please try again."


class Option(app_commands.Transformer):
    """A catalogue option as a Discord option; the value becomes the raw string the core expects (ids for
    channels and members)."""

    def __init__(self, spec: OptionSpec) -> None:
        super().__init__()
        self.spec = spec

    @property
    def type(self) -> discord.AppCommandOptionType:
        return OPTION_TYPES.get(self.spec.kind, discord.AppCommandOptionType.string)

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return CHANNEL_TYPES if self.spec.kind == "channel" else []

    @property
    def min_value(self) -> int | None:
        return 0 if self.spec.kind == "int" else None

    @property
    def choices(self) -> list[app_commands.Choice[str | int | float]] | None:
        choices: list[app_commands.Choice[str | int | float]] = [
            app_commands.Choice(name=c, value=c) for c in self.spec.choices
        ]
        return choices or None

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> str:
        return str(value.id) if self.spec.kind in ("channel", "user") else str(value)


class SuggestedOption(Option):
    """An option with autocomplete from the core (`SymposiumBot.suggest`)."""

    def __init__(self, spec: OptionSpec, runner: "Runner") -> None:
        super().__init__(spec)
        self.runner = runner

    async def autocomplete(
        self, interaction: discord.Interaction, value: int | float | str, /
    ) -> list[app_commands.Choice[str | int | float]]:
        return await self.runner.suggest(interaction, self.spec, str(value))


class Runner:
    """Interactions into core commands, and the private answers back."""

    def __init__(self, bot: SymposiumBot, editor_role: str) -> None:
        self.bot, self.editor_role = bot, editor_role
        self._running = asyncio.Semaphore(COMMANDS_AT_ONCE)

    async def run(self, interaction: discord.Interaction, spec: CommandSpec, values: dict[str, str]) -> None:
        if spec is INTENT and not values:  # the form must be the first answer, before any database work
            await interaction.response.send_modal(IntentForm(f"intent:{interaction.id}", self.submit_form, self.fail))
            return
        await self.execute(interaction, spec, values)

    async def submit_form(self, interaction: discord.Interaction, values: dict[str, str]) -> None:
        await self.execute(interaction, INTENT, values)

    async def execute(self, interaction: discord.Interaction, spec: CommandSpec, values: dict[str, str]) -> None:
        if not isinstance(interaction.user, discord.Member):
            await reply(interaction, error_reply(SERVERS_ONLY))
            return
        body = {"command": spec.path, "values": values, "channel": str(interaction.channel_id)}
        facts = facts_of(interaction.user, self.editor_role)
        await self.answer(interaction, str(interaction.user.guild.id), Kind.FORM, body, facts)

    async def press(self, interaction: discord.Interaction, community: str, value: str) -> None:
        """A button of the server `community` pressed, there or in a DM (where Discord sends no member: the core
        then learns who presses from the server over REST)."""
        try:
            member = interaction.user if isinstance(interaction.user, discord.Member) else None
            facts = facts_of(member, self.editor_role) if member and str(member.guild.id) == community else {}
            custom_id = str(interaction.data.get("custom_id", "")) if interaction.data else ""
            body = {"action": custom_id, "value": value, "channel": str(interaction.channel_id)}
            await self.answer(interaction, community, Kind.ACTION, body, facts)
        except Exception as exc:
            await self.fail(interaction, exc)

    async def answer(
        self, interaction: discord.Interaction, community: str, kind: Kind, body: dict[str, Any], facts: dict[str, Any]
    ) -> None:
        """Record the interaction, acknowledge it ("thinking…"), then handle it: the core's reply replaces the
        "thinking…" message through the interaction's token, or arrives as a DM if the bot was down too long.
        An interaction seen before (the gateway replayed it) was acknowledged and is handled already: nothing more."""
        ticket = await self.bot.receive(
            Arrival(
                key=f"discord:{interaction.id}",
                community=community,
                user_id=str(interaction.user.id),
                kind=kind,
                body=body,
                facts=facts,
                reply={"application_id": str(interaction.application_id), "token": interaction.token},
                reply_until=self.bot.clock.now() + TOKEN_LIVES,
            )
        )
        if ticket.duplicate:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self._running:
            await self.bot.handle(ticket)

    async def suggest(
        self, interaction: discord.Interaction, option: OptionSpec, typed: str
    ) -> list[app_commands.Choice[str | int | float]]:
        if not isinstance(interaction.user, discord.Member):
            return []
        symposium = interaction.namespace.symposium if option.name != "symposium" else None
        found = await self.bot.suggest(actor_of(interaction.user, self.editor_role), option.name, typed, symposium)
        integer = option.kind == "int"
        return [
            app_commands.Choice(name=label, value=int(value) if integer else value)
            for label, value in found
            if value.isdigit() or not integer
        ]

    async def fail(self, interaction: discord.Interaction, error: Exception) -> None:
        """The one error path (CommandTree.on_error and the form's): log, then answer privately if still possible.

        (A failed autocomplete never gets here: discord.py logs it, and Discord shows no suggestions.)
        """
        log.error("interaction %s failed", interaction.id, exc_info=error)
        if interaction.response.type is discord.InteractionResponseType.modal:
            return  # the form itself was the answer; there is nothing left to edit
        try:
            await reply(interaction, error_reply(BROKE))
        except discord.HTTPException as exc:
            log.warning("could not tell the user about the failure: %s", exc)


def register(tree: app_commands.CommandTree[Any], bot: SymposiumBot, editor_role: str) -> Runner:
    """Add every catalogue command that exists on Discord to the tree: participant commands at the top level,
    the rest as subcommands of /symposium; route failures to the one error path. The runner also takes the
    presses of buttons."""
    runner = Runner(bot, editor_role)
    group = app_commands.Group(
        name="symposium",
        description="Run a writing symposium: status, reminders, help, and the editors' commands",
        allowed_contexts=IN_SERVERS,
    )
    for spec in CATALOGUE:
        if spec.platforms is not None and "discord" not in spec.platforms:
            continue
        parent, _, name = spec.path.rpartition(" ")
        if parent:
            group.add_command(make_command(spec, name, runner))
        else:
            tree.add_command(make_command(spec, name, runner))
    tree.add_command(group)
    tree.error(runner.fail)
    return runner


def make_command(spec: CommandSpec, name: str, runner: Runner) -> app_commands.Command[Any, ..., None]:
    """A command whose typed parameters are the spec's options (discord.py reads them from the signature)."""

    async def callback(interaction: discord.Interaction, **values: str | None) -> None:
        await runner.run(interaction, spec, {key: value for key, value in values.items() if value is not None})

    parameters = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for option in spec.options:
        annotation = SuggestedOption(option, runner) if option.name in SUGGESTED else Option(option)
        default = inspect.Parameter.empty if option.required else None
        parameters.append(
            inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
        )
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    app_commands.describe(**{option.name: option.help[:100] for option in spec.options})(callback)
    contexts = None if " " in spec.path else IN_SERVERS  # subcommands take their group's
    return app_commands.Command(name=name, description=spec.help[:100], callback=callback, allowed_contexts=contexts)


async def reply(interaction: discord.Interaction, message: Message) -> None:
    """Answer privately: the deferred answer becomes the first page; longer answers follow up."""
    first, *more = pages(message)
    if interaction.response.is_done():
        await interaction.edit_original_response(embeds=first.embeds, allowed_mentions=NO_MENTIONS)
    else:
        await interaction.response.send_message(embeds=first.embeds, ephemeral=True, allowed_mentions=NO_MENTIONS)
    for page in more:
        await interaction.followup.send(embeds=page.embeds, ephemeral=True, allowed_mentions=NO_MENTIONS)
