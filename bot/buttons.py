"""Buttons: what the core offers under a message, and what a pressed one stands for.

A button is a command with its options filled in, run as whoever presses it: the same checks, the same effects
and the same answer as when it is typed. Its value names the essay by its id (`propose:12:2027-01-14`), so it is
short, fits every platform's limit with room for the adapter's own prefix, and stays right when another
symposium opens; when pressed, the core turns it back into the command it was made from.
"""

from datetime import date
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from bot import commands as c
from bot import grammar
from bot.db.models import Essay, Symposium
from bot.errors import UserError
from bot.messages import Action

VERBS = {
    "confirm": "symposium confirm",
    "propose": "symposium propose",
    "accept": "symposium accept",
    "hold": "symposium hold",
}
VALUE_MAX = 60  # adapters add their prefix and the community (Discord's custom ids hold 100 characters)


def _action(
    label: str,
    verb: str,
    sym: Symposium,
    essay: Essay,
    day: date | None = None,
    style: Literal["primary", "danger", "plain"] = "plain",
) -> Action:
    value = ":".join([verb, str(essay.id), *([day.isoformat()] if day else [])])
    assert len(value) <= VALUE_MAX, value
    typed = f"/{VERBS[verb]} essay:{essay.number}" + (f" date:{day.isoformat()}" if day else "")
    return Action(label, value, f"{typed} symposium:{sym.slug}", style)


def confirm(sym: Symposium, essay: Essay, day: date) -> Action:
    return _action(f"Confirm {day:%a %d %b}", "confirm", sym, essay, style="primary")


def propose(sym: Symposium, essay: Essay, day: date) -> Action:
    return _action(f"Propose {day:%a %d %b}", "propose", sym, essay, day)


def accept(sym: Symposium, essay: Essay, day: date) -> Action:
    return _action(f"Accept {day:%a %d %b}", "accept", sym, essay, day, style="primary")


def hold(sym: Symposium, essay: Essay) -> Action:
    return _action("Hold it", "hold", sym, essay, style="danger")


async def command_for(session: AsyncSession, press: c.Press) -> c.Command:
    """The command a pressed button stands for, in the presser's community; refused when the button is not one
    of ours or its essay is gone."""
    verb, _, rest = press.value.partition(":")
    essay_id, _, day = rest.partition(":")
    path = VERBS.get(verb)
    if path is None or not essay_id.isdigit():
        raise UserError("I don't know that button. /symposium help lists what you can do.")
    essay = await session.get(Essay, int(essay_id))
    sym = await session.get(Symposium, essay.symposium_id) if essay is not None else None
    if essay is None or sym is None or sym.community != press.actor.community:
        raise UserError("That button's essay is no longer here.")
    values = {"essay": str(essay.number), "symposium": sym.slug} | ({"date": day} if day else {})
    return grammar.build(grammar.BY_PATH[path], values, press.actor, press.origin)
