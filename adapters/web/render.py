"""Neutral message parts as HTML: every user-typed character is escaped, and only http(s) links become links."""

from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from bot.messages import ChannelRef, Line, Link, Mention, Message, Part, Strong, Text, Time

EXTERNAL_REL = "nofollow ugc noopener"
PROSE_REL = "nofollow noopener"  # the host's own prose: not user-generated, still no ranking passed on
PROSE_TAGS = {"p", "br", "em", "strong", "a", "ul", "ol", "li", "blockquote", "code", "pre"}


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
    return Time(at, zone).zoned()


# The page of a large symposium holds thousands of these, so they are built as plain strings, every piece of text
# through `escape` (markupsafe's C escaper), and marked safe once; `Markup.format` costs several times more.


def _escape(text: str) -> str:
    return str(escape(text))


def _time(at: datetime, zone: str) -> str:
    return f'<time datetime="{iso_utc(at)}">{_escape(zone_text(at, zone))}</time>'


def _text(text: str) -> str:
    return "<br>\n".join(_escape(piece) for piece in text.split("\n"))


def _link(url: str, label: str) -> str:
    href = safe_href(url)
    if href is None:
        return _text(label if label == url else f"{label} <{url}>")
    return f'<a href="{_escape(href)}" rel="{EXTERNAL_REL}">{_escape(label)}</a>'


def _part(part: Part) -> str:
    match part:
        case Text(text):
            return _text(text)
        case Strong(text):
            return f"<strong>{_text(text)}</strong>"
        case Mention(_, name):
            return f'<span class="mention">@{_escape(name)}</span>'
        case ChannelRef(channel):
            return _escape(f"#{channel}")
        case Link(url, label):
            return _link(url, label)
        case Time(at, zone):
            return _time(at, zone)
    raise TypeError(part)


def _line(line: Line) -> str:
    return "".join(_part(p) for p in line.parts)


def time_html(at: datetime, zone: str) -> Markup:
    """A `<time>` the page's script rewrites into the reader's own zone; without script it reads in `zone`."""
    return Markup(_time(at, zone))


def text_html(text: str) -> Markup:
    return Markup(_text(text))


def link_html(url: str, label: str) -> Markup:
    return Markup(_link(url, label))


def part_html(part: Part) -> Markup:
    return Markup(_part(part))


def line_html(line: Line) -> Markup:
    return Markup(_line(line))


def lines_html(lines: Iterable[Line]) -> Markup:
    """Plain lines as paragraphs; runs of bulleted lines as one list."""
    out: list[str] = []
    items: list[str] = []
    for line in lines:
        if line.bullet:
            items.append(f"<li>{_line(line)}</li>")
            continue
        if items:
            out.append(f"<ul>{''.join(items)}</ul>")
            items = []
        out.append(f"<p>{_line(line)}</p>")
    if items:
        out.append(f"<ul>{''.join(items)}</ul>")
    return Markup("\n".join(out))


def message_html(message: Message) -> Markup:
    """A message's lines (its title is the page's business: a heading, an entry title)."""
    return lines_html(message.lines)


def prose_href(url: str) -> bool:
    """Links the host's prose may carry: http(s) with a host, or mailto; nothing relative, nothing scripted."""
    return safe_href(url) is not None or (
        url.lower().startswith("mailto:") and "@" in url and not any(c.isspace() or ord(c) < 32 for c in url)
    )


def _markdown() -> MarkdownIt:
    """CommonMark with raw HTML off and no linkify; no images (the page loads nothing from elsewhere), and no
    headings or rules (the call sits under the page's own headings). A line break in the text is a line break."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True})
    md.disable(["image", "heading", "lheading", "hr", "html_block", "html_inline"])
    md.validateLink = prose_href  # type: ignore[method-assign]  # a refused link stays literal text
    return md


_MARKDOWN = _markdown()


def _prose_attribute(tag: str, attribute: str, value: str) -> str | None:
    return value if tag != "a" or attribute != "href" or prose_href(value) else None


def markdown_html(text: str) -> Markup:
    """The host's prose (the call: up to 4,000 characters of Markdown) as HTML: paragraphs, line breaks, emphasis,
    lists, quotes, code and links. markdown-it-py escapes any HTML typed; nh3 (ammonia) then keeps only PROSE_TAGS,
    `href` on links (http, https, mailto) and sets their `rel`, so nothing the text holds can run or load."""
    clean = nh3.clean(
        _MARKDOWN.render(text),
        tags=PROSE_TAGS,
        attributes={"a": {"href"}, "ol": {"start"}, "*": set()},  # ammonia keeps lang and title everywhere unless told
        attribute_filter=_prose_attribute,
        url_schemes={"http", "https", "mailto"},
        link_rel=PROSE_REL,
    )
    return Markup(clean.strip())
