"""Neutral messages as Discord embeds, with the title as the content fallback (notifications show content only).

User text is literal: markdown escaped (discord.utils.escape_markdown, plus ordered-list markers), `@everyone`,
`@here` and id mentions broken by escape_mentions, and every `<` escaped, so no `<@…>`, `<#…>`, `<t:…>` or
custom emoji form can come out of it. Only Mention, ChannelRef and Time parts produce those forms, and the client's
AllowedMentions.none() keeps even a Mention from pinging. Timestamps render only in content, embed descriptions
and field values, so every Time part lands in a description.
"""

import re
from dataclasses import dataclass
from urllib.parse import quote

import discord

from bot.messages import ChannelRef, Line, Link, Mention, Message, Part, Strong, Text, Time

TITLE_MAX, DESCRIPTION_MAX, TOTAL_MAX, CONTENT_MAX, EMBEDS_MAX = 256, 4096, 6000, 2000, 10
CUT = "… (cut here: too long for one Discord message)"
_ORDERED_LIST = re.compile(r"^(\s*\d+)\.(?=\s)", re.MULTILINE)
_SNOWFLAKE = re.compile(r"^\d{15,21}$")
_URL_SAFE = ":/?#@!$&'*+,;=%~-._"  # everything else (spaces, brackets, parentheses, quotes) is percent-encoded


@dataclass(frozen=True)
class Rendered:
    """One Discord message: content (the fallback) and its embeds."""

    content: str
    embeds: list[discord.Embed]


def escape(text: str) -> str:
    """User text, shown literally."""
    text = _ORDERED_LIST.sub(r"\1\\.", discord.utils.escape_markdown(text))
    return discord.utils.escape_mentions(text).replace("<", "\\<")


def render(message: Message) -> Rendered:
    """The message as one Discord message; what does not fit Discord's limits is cut, and says so."""
    first, *rest = pages(message)
    if rest:
        last = first.embeds[-1]
        last.description = f"{last.description}\n{CUT}"
    return first


def pages(message: Message) -> list[Rendered]:
    """The message as one or more Discord messages (replies and DMs may run long), each within the limits.

    Each page keeps room for the CUT line, so that `render` can always add it.
    """
    title = _cut(escape(message.title), TITLE_MAX) if message.title else None
    content = _cut(escape(message.title), CONTENT_MAX) if message.title else ""
    description_max, total_max = DESCRIPTION_MAX - len(CUT) - 1, TOTAL_MAX - len(CUT) - 1
    groups: list[list[str]] = [[]]
    used = len(title or "")
    for piece in _pieces([render_line(line) for line in message.lines], description_max):
        group = groups[-1]
        if group and len(group[-1]) + 1 + len(piece) <= description_max and used + 1 + len(piece) <= total_max:
            group[-1] += "\n" + piece
            used += 1 + len(piece)
        elif not group or (len(group) < EMBEDS_MAX and used + len(piece) <= total_max):
            group.append(piece)
            used += len(piece)
        else:
            groups.append([piece])
            used = len(piece)
    out = []
    for n, group in enumerate(groups):
        embeds = [discord.Embed(description=text or None) for text in group] or [discord.Embed()]
        if n == 0:
            embeds[0].title = title
        if not embeds[0].title and not embeds[0].description:
            embeds[0].description = "\u200b"  # Discord refuses an empty embed
        out.append(Rendered(content if n == 0 else "", embeds))
    return out


def render_line(line: Line) -> str:
    return ("• " if line.bullet else "") + "".join(render_part(part) for part in line.parts)


def render_part(part: Part) -> str:
    match part:
        case Text(text):
            return escape(text)
        case Strong(text):
            return _strong(text)
        case Mention(user_id, name):
            return f"<@{user_id}>" if _SNOWFLAKE.match(user_id) else escape("@" + name)
        case ChannelRef(channel):
            return f"<#{channel}>" if _SNOWFLAKE.match(channel) else escape("#" + channel)
        case Link(url, label):
            safe = quote(url, safe=_URL_SAFE)
            return safe if label == url else f"[{_escape_label(label)}]({safe})"
        case Time():
            return render_time(part)
    raise TypeError(part)


def render_time(part: Time) -> str:
    """Each reader's own time (`<t:…:F>`, relative `<t:…:R>`), with the time in the symposium's zone named."""
    stamp, zoned = int(part.at.timestamp()), escape(part.zoned())
    if part.whole_day():
        return f"<t:{stamp}:D> ({zoned})"
    return f"<t:{stamp}:F> ({zoned}, <t:{stamp}:R>)" if part.relative else f"<t:{stamp}:F> ({zoned})"


def _strong(text: str) -> str:
    """Bold, with surrounding spaces kept outside the markers (`**Due:** `), where Discord expects them."""
    inner = text.strip()
    if not inner:
        return text
    start = text.index(inner)
    return f"{text[:start]}**{escape(inner)}**{text[start + len(inner) :]}"


def _escape_label(label: str) -> str:
    return escape(label).replace("[", "\\[").replace("]", "\\]")


def _pieces(lines: list[str], size: int) -> list[str]:
    """Lines, with any line longer than `size` split into pieces of that size."""
    out = []
    for line in lines:
        while len(line) > size:
            out.append(line[:size])
            line = line[size:]
        out.append(line)
    return out


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
