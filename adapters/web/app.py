"""The public page as an aiohttp application: read-only, cache-friendly, locked down with security headers."""

import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from importlib import resources

from aiohttp import web
from jinja2 import Environment
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.web import data, feeds, pages
from adapters.web.render import safe_href
from bot.clock import Clock
from bot.db.engine import make_sessions
from bot.settings import CoreSettings

CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
CACHE_CONTROL = "public, max-age=60"
HTML = "text/html; charset=utf-8"
STATIC = {"site.css": "text/css; charset=utf-8", "local-time.js": "text/javascript; charset=utf-8"}
REMEMBERED = 512
GZIP_FROM = 1024  # bytes: smaller bodies are not worth compressing


@dataclass(frozen=True)
class Version:
    """One rendered representation: its body (and gzipped body, compressed once), its entity tags, and when
    this server first served it."""

    body: bytes
    etag: str
    modified: datetime
    gzipped: bytes | None = None

    @property
    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gzip"'


class Versions:
    """The latest version of each path, so unchanged data is neither rendered again nor dated anew. Paths
    that exist are bounded by the symposia; the cap only guards against surprises.

    Last-Modified is the moment this process first served a version: the data has no single change time
    (an edited date leaves no trace in a timestamp). It only moves forward, a second at least per change,
    so `If-Modified-Since` never hides a change made within the same second.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._latest: OrderedDict[str, tuple[str, Version]] = OrderedDict()

    def get(self, key: str, fingerprint: str, render: Callable[[], bytes]) -> Version:
        known = self._latest.get(key)
        if known is not None and known[0] == fingerprint:
            self._latest.move_to_end(key)
            return known[1]
        body = render()
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        modified = self.clock.now().replace(microsecond=0)
        if known is not None and known[1].etag == etag:
            modified = known[1].modified
        elif known is not None and modified <= known[1].modified:
            modified = known[1].modified + timedelta(seconds=1)
        gzipped = gzip.compress(body, mtime=0) if len(body) >= GZIP_FROM else None
        version = Version(body, etag, modified, gzipped)
        self._latest[key] = (fingerprint, version)
        self._latest.move_to_end(key)
        while len(self._latest) > REMEMBERED:
            self._latest.popitem(last=False)
        return version


@dataclass
class Site:
    public: data.PublicData
    settings: CoreSettings
    env: Environment
    versions: Versions
    static: dict[str, bytes]

    def base_url(self, request: web.Request) -> str:
        """PUBLIC_BASE_URL when set, else the address the request came to (refused when it is no address)."""
        if self.settings.public_base_url:
            return self.settings.public_base_url.rstrip("/")
        base = f"{request.scheme}://{request.host}"
        if safe_href(base) is None:
            raise web.HTTPBadRequest(text="The Host header is not a host name.")
        return base


SITE = web.AppKey("site", Site)


def _not_modified(request: web.Request, version: Version) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; If-Modified-Since only without it."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or version.etag in tags or version.gzip_etag in tags
    since = request.if_modified_since
    return since is not None and version.modified <= since


def _respond(request: web.Request, version: Version, content_type: str) -> web.Response:
    """The version, gzipped when the client accepts it (a page of 500 essays shrinks about tenfold)."""
    gzipped = version.gzipped if "gzip" in request.headers.get("Accept-Encoding", "") else None
    headers = {
        "ETag": version.gzip_etag if gzipped else version.etag,
        "Last-Modified": format_datetime(version.modified, usegmt=True),
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept-Encoding",
    }
    if _not_modified(request, version):
        return web.Response(status=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=gzipped or version.body, headers={**headers, "Content-Type": content_type})


async def list_symposia(request: web.Request) -> web.Response:
    site = request.app[SITE]
    snapshot = await site.public.snapshot()
    version = site.versions.get("/", snapshot.fingerprint, lambda: pages.list_page(site.env, snapshot).encode())
    return _respond(request, version, HTML)


def _page(site: Site, view: data.SymposiumView, base: str) -> str:
    return pages.symposium_page(site.env, view)


def _feed(site: Site, view: data.SymposiumView, base: str) -> str:
    return feeds.atom(site.env, view, base)


def _calendar(site: Site, view: data.SymposiumView, base: str) -> bytes:
    return feeds.calendar(view, base)


def _data(site: Site, view: data.SymposiumView, base: str) -> str:
    return feeds.as_data(view, base)


def _symposium_route(
    content_type: str, render: Callable[[Site, data.SymposiumView, str], str | bytes]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A handler serving one representation of a symposium: the page, its feed, calendar or data."""

    async def handler(request: web.Request) -> web.Response:
        site = request.app[SITE]
        view = await site.public.symposium(request.match_info["slug"])
        if view is None:
            raise web.HTTPNotFound()
        base = site.base_url(request)

        def body() -> bytes:
            out = render(site, view, base)
            return out.encode() if isinstance(out, str) else out

        version = site.versions.get(request.path, f"{view.fingerprint} {base}", body)
        return _respond(request, version, content_type)

    return handler


async def static_file(request: web.Request) -> web.Response:
    site = request.app[SITE]
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    content = site.static[name]
    version = site.versions.get(request.path, hashlib.sha256(content).hexdigest(), lambda: content)
    return _respond(request, version, STATIC[name])


async def no_favicon(request: web.Request) -> web.Response:
    """Browsers ask for one on every page; the site has none, and says so without an error."""
    return web.Response(status=204, headers={"Cache-Control": "public, max-age=86400"})


@web.middleware
async def not_found_page(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Unknown paths and unknown slugs get the site's own 404 page."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        body = pages.not_found_page(request.app[SITE].env)
        return web.Response(status=404, text=body, content_type="text/html", charset="utf-8")


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)


def build_web_app(engine: AsyncEngine, settings: CoreSettings, clock: Clock) -> web.Application:
    """The public page (SPEC §6). It only reads, in short read-only transactions that concurrent requests share."""
    static = {name: resources.files("adapters.web").joinpath("static", name).read_bytes() for name in STATIC}
    app = web.Application(middlewares=[not_found_page])
    public = data.PublicData(make_sessions(engine, read_only=True))
    app[SITE] = Site(public, settings, pages.environment(), Versions(clock), static)
    slug = "{slug:[a-z0-9-]+}"
    app.router.add_get("/", list_symposia)
    app.router.add_get(f"/s/{slug}", _symposium_route(HTML, _page))
    app.router.add_get(f"/s/{slug}/feed.atom", _symposium_route("application/atom+xml; charset=utf-8", _feed))
    app.router.add_get(f"/s/{slug}/calendar.ics", _symposium_route("text/calendar; charset=utf-8", _calendar))
    app.router.add_get(f"/s/{slug}.json", _symposium_route("application/json; charset=utf-8", _data))
    app.router.add_get("/static/{name}", static_file)
    app.router.add_get("/favicon.ico", no_favicon)
    app.on_response_prepare.append(_security_headers)
    return app


async def serve_web(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start serving `app`; stop it with `await runner.cleanup()`."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
