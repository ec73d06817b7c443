"""The /intent form: a modal made from the grammar's /intent options, and what a submission of it holds.

The modal is opened before any database work (a trigger_id lives 3 seconds), so it starts empty; every field is
optional here and the core says what is missing, as it does for the typed command.
"""

import json
import re
from typing import Any

from bot.grammar import BY_PATH, OptionSpec

CALLBACK_ID = "intent"
INTENT = BY_PATH["intent"]
MULTILINE = frozenset({"bio"})
ERROR_MAX = 150


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": False}


def intent_modal(channel: str, response_url: str) -> dict[str, Any]:
    """The form; `private_metadata` keeps where /intent was typed and its response_url, for the reply."""
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": _plain("Intent to Submit"),
        "submit": _plain("Save"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"channel": channel, "response_url": response_url}),
        "blocks": [_input(option) for option in INTENT.options],
    }


def _input(option: OptionSpec) -> dict[str, Any]:
    element: dict[str, Any]
    if option.choices:
        choices = [{"text": _plain(choice), "value": choice} for choice in option.choices]
        element = {"type": "static_select", "options": choices}
    elif option.kind == "int":
        element = {"type": "number_input", "is_decimal_allowed": False, "min_value": "0"}
    else:
        element = {"type": "plain_text_input", "multiline": option.name in MULTILINE}
    return {
        "type": "input",
        "block_id": option.name,
        "optional": True,
        "label": _plain(option.name.replace("_", " ").capitalize()),
        "hint": _plain(option.help),
        "element": element | {"action_id": option.name},
    }


def submitted(view: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The filled-in fields by option name, and the form's metadata (channel, response_url)."""
    values: dict[str, str] = {}
    for block_id, actions in view.get("state", {}).get("values", {}).items():
        for action in actions.values():
            value = action.get("value") or (action.get("selected_option") or {}).get("value")
            if value:
                values[block_id] = str(value)
    metadata = json.loads(view.get("private_metadata") or "{}")
    return values, {key: str(value) for key, value in metadata.items()}


def field_errors(text: str) -> dict[str, str]:
    """A core error as Slack's `response_action: errors`, under the field it names (the title when unclear)."""
    lowered = text.lower()
    named = [o.name for o in INTENT.options if re.search(rf"\b{o.name.replace('_', ' ')}\b", lowered)]
    message = text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"
    return {named[0] if named else "title": message}
