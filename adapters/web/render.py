"""Neutral message parts as HTML: every user-typed character is escaped, and only http(s) links become links."""

from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from bot.messages import ChannelRef, Line, Link, Mention, Message, Part, Strong, Text, Time
from bot.values import zone_info

EXTERNAL_REL = "nofollow ugc noopener"


def safe_href(url: str | None) -> str | None:
    """The URL when it is a plain http(s) address with a host; None for anything else (`javascript:` included)."""
    if not url or any(c.isspace() or ord(c) < 32 for c in url):
        return None
    try:
        parts = urlsplit(url)
        return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None
    except ValueError:  # such as an unclosed IPv6 bracket
        return None


def iso_utc(at: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, as `<time datetime>`, Atom and JSON want it."""
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def zone_text(at: datetime, zone: str) -> str:
    """The moment in the symposium's zone, the zone named: the same form the console prints."""
    return f"{at.astimezone(zone_info(zone)):%a %Y-%m-%d %H:%M} {zone}"


def time_html(at: datetime, zone: str) -> Markup:
    """A `<time>` the page's script rewrites into the reader's own zone; without script it reads in `zone`."""
    return Markup('<time datetime="{}">{}</time>').format(iso_utc(at), zone_text(at, zone))


def text_html(text: str) -> Markup:
    return Markup("<br>\n").join(escape(piece) for piece in text.split("\n"))


def link_html(url: str, label: str) -> Markup:
    href = safe_href(url)
    if href is None:
        return text_html(label if label == url else f"{label} <{url}>")
    return Markup('<a href="{}" rel="{}">{}</a>').format(href, EXTERNAL_REL, label)


def part_html(part: Part) -> Markup:
    match part:
        case Text(text):
            return text_html(text)
        case Strong(text):
            return Markup("<strong>{}</strong>").format(text_html(text))
        case Mention(_, name):
            return Markup('<span class="mention">@{}</span>').format(name)
        case ChannelRef(channel):
            return escape(f"#{channel}")
        case Link(url, label):
            return link_html(url, label)
        case Time(at, zone):
            return time_html(at, zone)
    raise TypeError(part)


def line_html(line: Line) -> Markup:
    return Markup("").join(part_html(p) for p in line.parts)


def lines_html(lines: Iterable[Line]) -> Markup:
    """Plain lines as paragraphs; runs of bulleted lines as one list."""
    out: list[Markup] = []
    items: list[Markup] = []
    for line in lines:
        if line.bullet:
            items.append(Markup("<li>{}</li>").format(line_html(line)))
            continue
        if items:
            out.append(Markup("<ul>{}</ul>").format(Markup("").join(items)))
            items = []
        out.append(Markup("<p>{}</p>").format(line_html(line)))
    if items:
        out.append(Markup("<ul>{}</ul>").format(Markup("").join(items)))
    return Markup("\n").join(out)


def message_html(message: Message) -> Markup:
    """A message's lines (its title is the page's business: a heading, an entry title)."""
    return lines_html(message.lines)
