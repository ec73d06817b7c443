"""A writer's own site on 127.0.0.1, for the demo and the tests: a home page that names its feed, the feed (RSS,
answering conditional requests with 304), and the essays published on it.

It is what the bot meets on publication day when an author cross-posts: their essay appears in their feed, and
the bot, polling it, finds the essay and announces it. `answer` makes the feed misbehave (a status, or garbage)
to show what the bot does then; `fetches` counts the requests per path.
"""

import hashlib
import socket
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.clock import Clock

FEED = "/feed.xml"


@dataclass
class Site:
    name: str = "A writer's site"
    entries: list[tuple[str, str, datetime]] = field(default_factory=list)
    """(title, path, published), newest last."""
    answer: int | bytes | None = None
    """What the feed answers instead of itself: a status (404, 410, 500) or a body that is not a feed."""
    pages: dict[str, str] = field(default_factory=dict)
    """Pages that are not in the feed (a draft shared for review), by path: their title."""
    moved: dict[str, str] = field(default_factory=dict)
    """Paths that redirect (301) to another path."""
    fetches: Counter[str] = field(default_factory=Counter)
    base: str = ""
    """The address it is reached at (set by `serve`)."""
    clock: Clock | None = None
    """With a clock, an essay appears at its publication time (the demo's simulated day); else at once."""
    port: int = 0

    def publish(self, title: str, path: str, at: datetime) -> str:
        """Put an essay on the site and in its feed (from `at`, with a clock); returns its address."""
        self.entries.append((title, path, at))
        return self.base + path

    def _published(self) -> list[tuple[str, str, datetime]]:
        return [entry for entry in self.entries if self.clock is None or entry[2] <= self.clock.now()]

    def _feed(self) -> bytes:
        items = "".join(
            f"<item><title>{escape(title)}</title><link>{escape(self.base + path)}</link>"
            f"<guid>{escape(self.base + path)}</guid><pubDate>{format_datetime(at)}</pubDate></item>"
            for title, path, at in reversed(self._published())
        )
        return (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(self.name)}</title>'
            f"<link>{escape(self.base)}/</link>{items}</channel></rss>"
        ).encode()

    @staticmethod
    def _page(title: str) -> web.Response:
        """An HTML page that names the site's feed in its head, as blogs do on every page."""
        head = f'<title>{escape(title)}</title><link rel="alternate" type="application/rss+xml" href="{FEED}">'
        body = f"<!doctype html><html><head>{head}</head><body><h1>{escape(title)}</h1></body></html>"
        return web.Response(text=body, content_type="text/html")

    async def _handle(self, request: web.Request) -> web.Response:
        self.fetches[request.path] += 1
        if request.path in self.moved:
            raise web.HTTPMovedPermanently(self.moved[request.path])
        if request.path == "/":
            return self._page(self.name)
        if request.path in self.pages:
            return self._page(self.pages[request.path])
        if request.path == FEED:
            if isinstance(self.answer, int):
                return web.Response(status=self.answer, text="no feed here")
            body = self.answer if isinstance(self.answer, bytes) else self._feed()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            return web.Response(body=body, content_type="application/rss+xml", headers={"ETag": etag})
        for title, path, _ in self._published():
            if request.path == path:
                return self._page(title)
        return web.Response(status=404, text="not found")

    async def serve(self, host: str = "127.0.0.1", base: str | None = None) -> web.AppRunner:
        """Listen on a free port of `host`; `base` is the address pages and the feed name (default: that port)."""
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        port = runner.addresses[0][1]
        self.base = base or f"http://{host}:{port}"
        self.port = port
        return runner


class LocalNames(AbstractResolver):
    """The demo's own little internet: its sites' names resolve to their servers on 127.0.0.1 (port included),
    and no other name resolves, so the demo never reaches beyond this machine."""

    def __init__(self, sites: dict[str, Site]) -> None:
        self.sites = sites

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        site = self.sites.get(host)
        if site is None:
            raise OSError(f"{host} is not one of the demo's sites")
        return [
            {"hostname": host, "host": "127.0.0.1", "port": site.port, "family": socket.AF_INET, "proto": 0, "flags": 0}
        ]

    async def close(self) -> None:
        return None
