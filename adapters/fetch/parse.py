"""Reading what a fetch brought back: a feed's entries, whether a body is a feed, a page's feed link.

Pure and synchronous (the client runs them in a thread, so a large body does not hold up the event loop).
"""

import io
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import feedparser
from yarl import URL

from bot.matching import FeedEntry

log = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
FEED_LINK_TYPES = frozenset({"application/rss+xml", "application/atom+xml"})

# The first element of an XML document, once past a byte-order mark, the prolog, comments and a doctype.
_PROLOG = re.compile(rb"(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*", re.DOTALL | re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<([A-Za-z_][\w:.-]*)")
_FEED_ROOTS = frozenset({"rss", "feed", "rdf:rdf"})


class NotAFeed(Exception):
    """`str()` is the reason, for the author and editors."""


def _aware(value: Any) -> datetime | None:
    """feedparser's struct_time (always UTC) as an aware datetime."""
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in value[:6])
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def parse_feed(body: bytes, url: str, content_type: str = "") -> tuple[FeedEntry, ...]:
    """The entries of an RSS or Atom document, links made absolute against `url`. Raises NotAFeed when it has
    no entries and is malformed or not a feed; a feed that is a little malformed but has entries is read."""
    # A stream, never a str: given a str, feedparser would fetch it as a URL or open it as a file.
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-location": url, "content-type": content_type or "application/xml"},
    )
    if not parsed.entries and (parsed.bozo or not parsed.version):
        raise NotAFeed("is not a valid feed" if parsed.version or looks_like_feed(body) else "is not a feed")
    entries = []
    for item in parsed.entries:
        title = str(item.get("title") or "").strip()
        link = str(item.get("link") or "").strip()
        if link:
            link = urljoin(url, link)
        if not title and not link:
            continue
        published = _aware(item.get("published_parsed") or item.get("updated_parsed"))
        entries.append(FeedEntry(title=title, link=link, published=published))
    return tuple(entries)


def looks_like_feed(body: bytes) -> bool:
    """A feed by its root element, <rss>, <feed> or <rdf:RDF>: not by its content type, which servers get wrong
    both ways (feeds as text/plain or text/html, error pages as application/rss+xml)."""
    head = body[:4096].removeprefix(b"\xef\xbb\xbf")
    prolog = _PROLOG.match(head)
    match = _FIRST_ELEMENT.match(head, prolog.end() if prolog else 0)
    return match is not None and match.group(1).decode("ascii", "replace").lower() in _FEED_ROOTS


@dataclass(frozen=True)
class PageLinks:
    feed: str | None  # the first <link rel="alternate" type="application/rss+xml|atom+xml">, absolute
    substack: bool  # the page loads from substackcdn.com


class _Stop(Exception):
    pass


class _FeedLinkScanner(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.found: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: (value or "").strip() for name, value in attrs}
        if tag == "base" and values.get("href"):
            self.base = urljoin(self.base, values["href"])
        elif tag == "link":
            rels = values.get("rel", "").lower().split()
            kind = values.get("type", "").split(";")[0].strip().lower()
            href = values.get("href", "")
            if "alternate" in rels and kind in FEED_LINK_TYPES and href:
                feed = urljoin(self.base, href)
                if _scheme(feed) in ("http", "https"):
                    self.found = feed
                    raise _Stop


def _scheme(url: str) -> str:
    try:
        return URL(url).scheme
    except (ValueError, TypeError):
        return ""


def scan_page(body: bytes, charset: str | None, url: str) -> PageLinks:
    """What an HTML page says about its feed. Garbage is read as far as it goes."""
    try:
        text = body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    scanner = _FeedLinkScanner(url)
    try:
        scanner.feed(text)
        scanner.close()
    except _Stop:
        pass
    except Exception:  # html.parser is lenient, but whatever it found before giving up stands
        log.debug("could not read %s as HTML", url, exc_info=True)
    return PageLinks(feed=scanner.found, substack="substackcdn.com" in text)


def substack_feed(url: str) -> str | None:
    """`<origin>/feed` for a *.substack.com address, else None."""
    try:
        parsed = URL(url)
        host = (parsed.host or "").rstrip(".").lower()
        if parsed.scheme in ("http", "https") and host.endswith(".substack.com"):
            return str(parsed.origin()) + "/feed"
    except (ValueError, TypeError):
        pass
    return None


def origin_feed(url: str) -> str | None:
    """`<origin>/feed` for any http(s) address (a Substack on its own domain), else None."""
    try:
        parsed = URL(url)
        if parsed.scheme in ("http", "https") and parsed.host:
            return str(parsed.origin()) + "/feed"
    except (ValueError, TypeError):
        pass
    return None
