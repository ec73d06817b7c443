"""The /intent form: a Discord modal made from the grammar's /intent options.

Discord allows five inputs in a modal, and /intent has six options: the form asks for title, prompt, route,
pen name and bio; the affiliation (seen by editors only) is given with `/intent affiliation:…`. Every field is
optional here, as in the typed command, and the core says what is missing.
"""

from collections.abc import Awaitable, Callable

import discord

from bot import values
from bot.grammar import BY_PATH

INTENT = BY_PATH["intent"]
FIELDS = ("title", "prompt", "route", "pen_name", "bio")
MAX_LENGTH = {"title": values.TITLE_MAX, "pen_name": values.PEN_NAME_MAX, "bio": values.BIO_MAX, "prompt": 3}
TIMEOUT_SECONDS = 15 * 60  # an abandoned form is forgotten (Discord never says it was closed)

Submit = Callable[[discord.Interaction, dict[str, str]], Awaitable[None]]
Fail = Callable[[discord.Interaction, Exception], Awaitable[None]]


class IntentForm(discord.ui.Modal):
    """One form per opening (its custom_id is unique), so that two people filling it in never share state."""

    def __init__(self, custom_id: str, submit: Submit, fail: Fail) -> None:
        super().__init__(title="Intent to Submit", custom_id=custom_id, timeout=TIMEOUT_SECONDS)
        self._submit, self._fail = submit, fail
        self.inputs: dict[str, discord.ui.TextInput[IntentForm]] = {}
        for option in (o for o in INTENT.options if o.name in FIELDS):
            hint = option.help if not option.choices else " or ".join(option.choices)
            field: discord.ui.TextInput[IntentForm] = discord.ui.TextInput(
                label=option.name.replace("_", " ").capitalize(),
                custom_id=option.name,
                placeholder=hint[:100],
                required=False,
                max_length=MAX_LENGTH.get(option.name, max(map(len, option.choices), default=100)),
                style=discord.TextStyle.paragraph if option.name == "bio" else discord.TextStyle.short,
            )
            self.inputs[option.name] = field
            self.add_item(field)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self._submit(interaction, {name: field.value for name, field in self.inputs.items() if field.value})

    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:  # type: ignore[override]
        await self._fail(interaction, error)
