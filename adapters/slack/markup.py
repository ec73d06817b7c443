"""Slack's markup in what people type, turned back into what they meant (the inverse of render.py)."""

import re

from bot.grammar import OptionSpec

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]*)(?:\|[^>]*)?>")
_SPECIAL = re.compile(r"<!([a-z]+)(?:\^[^|>]*)?(?:\|([^>]*))?>")


def normalize(option: OptionSpec, value: str) -> str:
    """Slack's escaped text to what the user meant: ids for user, channel and link options, literal text else.

    Slack sends `<@U1|ann>`, `<#C1|essays>`, `<https://x|x>` and `<!here>` for what was typed as `@ann`,
    `#essays`, a link and `@here`, and `&amp;`, `&lt;`, `&gt;` for `&`, `<`, `>`.
    """
    pattern = {"user": _USER, "channel": _CHANNEL, "link": _LINK}.get(option.kind)
    if pattern is not None and (match := pattern.search(value)):
        return _unescape(match[1])
    literal = _USER.sub(lambda m: "@" + (m[2] or m[1]), value)
    literal = _CHANNEL.sub(lambda m: "#" + (m[2] or m[1]), literal)
    literal = _LINK.sub(lambda m: m[1], literal)
    literal = _SPECIAL.sub(lambda m: m[2] if m[2] is not None else "@" + m[1], literal)
    return _unescape(literal)


def _unescape(text: str) -> str:
    """Slack escapes only these three (`&amp;` last, so `&amp;lt;` stays the literal `&lt;`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
