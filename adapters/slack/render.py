"""Neutral messages as Block Kit: a plain_text header and one rich_text block, plus an escaped fallback text.

User text only ever lands in `plain_text` and in rich-text `text` elements, which Slack shows literally: no
mention, channel link, date or formatting can come out of them. The fallback `text` (notifications, and clients
that cannot draw blocks) is mrkdwn, so every character of it is escaped for `&`, `<` and `>`; it never holds a
`<@…>`, `<!…>` or `<#…>` form. Consecutive plain lines share one rich_text_section, separated by newlines, and
runs of bullet lines become one rich_text_list, so a message is at most two blocks whatever its length; its
buttons (`Message.actions`) make a third, an `actions` block, whose presses the listeners route back to the core
(adapters/slack/listeners.py). The fallback text needs no buttons: the lines name the command each one stands for.
"""

import re
from datetime import datetime
from typing import Any

from bot.messages import Action, ChannelRef, Line, Link, Mention, Message, Part, Strong, Text, Time

Block = dict[str, Any]
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]+$")

HEADER_MAX = 150  # Slack's limit for a header's plain_text
FALLBACK_MAX = 3000  # the fallback is for notifications; the blocks carry the message
ACTION_PREFIX = "symposium:"  # every button's action_id starts with it: the listener matches it
ACTIONS_BLOCK = "symposium_actions"
ACTIONS_MAX, BUTTON_TEXT_MAX = 25, 75  # Slack's limits: elements in an actions block, a button's text


def escape(text: str) -> str:
    """Slack's three control characters, as its formatting reference asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(message: Message, now: datetime) -> tuple[list[Block], str]:
    """The message's blocks and its fallback text; `now` gives relative times ("in 2 days")."""
    blocks: list[Block] = []
    long_title = message.title if message.title and len(message.title) > HEADER_MAX else None
    if message.title and long_title is None:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": message.title, "emoji": False}})
    lines = list(message.lines)
    if long_title is not None:
        lines.insert(0, Line((Strong(long_title),)))
    if lines:
        blocks.append({"type": "rich_text", "elements": _body(lines, now)})
    if message.actions:
        buttons = [_button(n, action) for n, action in enumerate(message.actions[:ACTIONS_MAX])]
        blocks.append({"type": "actions", "block_id": ACTIONS_BLOCK, "elements": buttons})
    return blocks, fallback_text(message, now)


def _button(n: int, action: Action) -> Block:
    """A button whose action_id is unique in its block and whose value is the core's (bot/buttons.py)."""
    label = action.label if len(action.label) <= BUTTON_TEXT_MAX else action.label[: BUTTON_TEXT_MAX - 1] + "…"
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label, "emoji": False},
        "action_id": f"{ACTION_PREFIX}{n}",
        "value": action.value,
    }
    return button | ({"style": action.style} if action.style in ("primary", "danger") else {})


def _body(lines: list[Line], now: datetime) -> list[Block]:
    body: list[Block] = []
    plain: list[Block] = []
    items: list[Block] = []

    def flush() -> None:
        if plain:
            body.append({"type": "rich_text_section", "elements": plain.copy()})
            plain.clear()
        if items:
            body.append({"type": "rich_text_list", "style": "bullet", "elements": items.copy()})
            items.clear()

    for line in lines:
        elements = _elements(line, now) or [{"type": "text", "text": " "}]
        if line.bullet:
            if plain:
                flush()
            items.append({"type": "rich_text_section", "elements": elements})
        else:
            if items:
                flush()
            if plain:
                plain.append({"type": "text", "text": "\n"})
            plain.extend(elements)
    flush()
    return body


def _elements(line: Line, now: datetime) -> list[Block]:
    out: list[Block] = []
    for part in line.parts:
        match part:
            case Text(text):
                out.append({"type": "text", "text": text})
            case Strong(text):
                out.append({"type": "text", "text": text, "style": {"bold": True}})
            case Mention(user_id, name) if not _SLACK_USER.match(user_id):  # not a Slack account: the name only
                out.append({"type": "text", "text": "@" + name})
            case Mention(user_id, _):
                out.append({"type": "user", "user_id": user_id})
            case ChannelRef(channel):
                out.append({"type": "channel", "channel_id": channel})
            case Link(url, label):
                out.append({"type": "link", "url": url} | ({} if label == url else {"text": label}))
            case Time():
                out.extend(_time(part, now))
    return [element for element in out if element.get("text") != ""]  # Slack refuses empty text elements


def _time(part: Time, now: datetime) -> list[Block]:
    """A `date` element (each reader's own time) followed by the time in the symposium's zone."""
    date_only = part.whole_day()
    zoned = part.zoned()
    shown = zoned + (f", {part.relative_to(now)}" if part.relative else "")
    return [
        {
            "type": "date",
            "timestamp": int(part.at.timestamp()),
            "format": "{date_long_pretty}" if date_only else "{date_long_pretty} at {time}",
            "fallback": zoned,
        },
        {"type": "text", "text": f" ({shown})"},
    ]


def fallback_text(message: Message, now: datetime) -> str:
    """The whole message as escaped plain text, cut to FALLBACK_MAX characters."""
    lines = [message.title] if message.title else []
    lines += [("• " if line.bullet else "") + "".join(_plain(p, now) for p in line.parts) for line in message.lines]
    text = "\n".join(lines)
    if len(text) > FALLBACK_MAX:
        text = text[: FALLBACK_MAX - 1] + "…"
    return escape(text)


def _plain(part: Part, now: datetime) -> str:
    match part:
        case Text(text) | Strong(text):
            return text
        case Mention(_, name):
            return f"@{name}"
        case ChannelRef(channel):
            return f"#{channel}"
        case Link(url, label):
            return url if label == url else f"{label} ({url})"
        case Time():
            return part.zoned() + (f" ({part.relative_to(now)})" if part.relative else "")
    raise TypeError(part)
