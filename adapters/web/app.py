"""The public page as an aiohttp application: read-only, cache-friendly, locked down with security headers.

Freshness. A request never reads the database: it looks up the view and the rendered bytes that the last
refresh left, so a 200 costs two dictionary lookups and a write, like a static file served from memory. A
background task refreshes every `WEB_REFRESH_SECONDS` (default 1 s): one short read-only transaction reads the
symposia's rows, re-reads the full view of each symposium whose row changed (the core bumps `public_version`
with every change the public sees) or whose publication began by the clock, and renders its page (and gzips it)
off the event loop, then lets requests see it. The bound: a change committed at time t is served at the latest
from t + WEB_REFRESH_SECONDS + the length of one refresh (one small query; plus reading, rendering and compressing what changed, about 0.3 s for a
symposium of 500 essays and 5,000 comments), and never earlier than its commit. The first refresh runs before
the server takes its first request (starting fails if it fails); a later refresh that fails is logged and tried
again at the next interval, serving the last good bytes meanwhile. Tests call `Site.refresh()`, or
hand `build_web_app` a `sleep` they control.

Health. `/healthz` is the one path that reads the database on each request (for a process supervisor, see
`healthz`); it is never cached.

Links. The HTML pages link with relative URLs only, so no request header ever ends up in them. The Atom feed,
the calendar and the JSON need absolute links: they are served only when `PUBLIC_BASE_URL` is set, and answer
503 with a one-line explanation until then (a warning says so when the app is built). 503 rather than 404:
the feed exists and is served once the operator sets the address, and feed readers and calendar apps take a
503 as "try again later" where a 404 may end the subscription; the pages do not link them meanwhile.
"""

import asyncio
import contextlib
import gzip
import hashlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache
from importlib import resources

from aiohttp import web
from jinja2 import Environment
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.web import data, feeds, pages
from adapters.web.settings import WebSettings
from bot.clock import Clock
from bot.db.engine import make_sessions
from bot.health import beats, this_process
from bot.settings import CoreSettings

log = logging.getLogger(__name__)

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
HEALTH_TIMEOUT_SECONDS = 3.0
NO_FEEDS = "This server has no PUBLIC_BASE_URL for its links: set PUBLIC_BASE_URL to serve feeds.\n"

Sleep = Callable[[float], Awaitable[object]]


@lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str) -> bool:
    """RFC 9110 §12.5.3: gzip (or x-gzip) listed with a weight above 0, or `*` above 0 when gzip is not listed.
    No header, `identity`, and `gzip;q=0` all mean the plain body. Cached: clients send a handful of spellings."""
    weights: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        coding, *params = (piece.strip() for piece in item.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0
        if coding:
            weights[coding] = max(weight, weights.get(coding, 0.0))
    for coding in ("gzip", "x-gzip"):
        if coding in weights:
            return weights[coding] > 0
    return weights.get("*", 0.0) > 0


@dataclass(frozen=True)
class Version:
    """One rendered representation: its body (and gzipped body, compressed once), its entity tags, when this
    server first rendered it, and the response headers of each answer, built once."""

    body: bytes
    etag: str
    modified: datetime
    content_type: str
    gzipped: bytes | None = None
    _headers: dict[tuple[bool, bool], Mapping[str, str]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for zipped in (False, True):
            common = {
                "ETag": self.gzip_etag if zipped else self.etag,
                "Last-Modified": format_datetime(self.modified, usegmt=True),
                "Cache-Control": CACHE_CONTROL,
                "Vary": "Accept-Encoding",
            }
            self._headers[zipped, True] = common
            body = {**common, "Content-Type": self.content_type}
            self._headers[zipped, False] = {**body, "Content-Encoding": "gzip"} if zipped else body

    @property
    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gzip"'

    def headers(self, *, zipped: bool, not_modified: bool) -> Mapping[str, str]:
        return self._headers[zipped, not_modified]


def encode(body: bytes) -> tuple[bytes, str, bytes | None]:
    """A body, its entity tag and its gzipped form: the costly part of a version, safe to run in a thread."""
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    return body, etag, gzip.compress(body, mtime=0) if len(body) >= GZIP_FROM else None


class Versions:
    """The latest version of each path, so unchanged data is neither rendered again nor dated anew. Paths
    that exist are bounded by the symposia; the cap only guards against surprises.

    Last-Modified is the moment this process first rendered a version: the data has no single change time
    (an edited date leaves no trace in a timestamp). It only moves forward, a second at least per change,
    so `If-Modified-Since` never hides a change made within the same second.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._latest: OrderedDict[str, tuple[str, Version]] = OrderedDict()

    def current(self, key: str, fingerprint: str) -> Version | None:
        known = self._latest.get(key)
        if known is None or known[0] != fingerprint:
            return None
        self._latest.move_to_end(key)
        return known[1]

    def put(self, key: str, fingerprint: str, content_type: str, encoded: tuple[bytes, str, bytes | None]) -> Version:
        body, etag, gzipped = encoded
        known = self._latest.get(key)
        modified = self.clock.now().replace(microsecond=0)
        if known is not None and known[1].etag == etag:
            modified = known[1].modified
        elif known is not None and modified <= known[1].modified:
            modified = known[1].modified + timedelta(seconds=1)
        version = Version(body, etag, modified, content_type, gzipped)
        self._latest[key] = (fingerprint, version)
        self._latest.move_to_end(key)
        while len(self._latest) > REMEMBERED:
            self._latest.popitem(last=False)
        return version

    def get(self, key: str, fingerprint: str, content_type: str, render: Callable[[], bytes]) -> Version:
        """The current version, rendered here and now when there is none."""
        return self.current(key, fingerprint) or self.put(key, fingerprint, content_type, encode(render()))

    async def prepare(self, key: str, fingerprint: str, content_type: str, render: Callable[[], bytes]) -> None:
        """Render and compress a version in a thread, so requests go on being answered meanwhile."""
        if self.current(key, fingerprint) is None:
            encoded = await asyncio.to_thread(lambda: encode(render()))
            self.put(key, fingerprint, content_type, encoded)

    def forget(self, prefix: str) -> None:
        for key in [k for k in self._latest if k == prefix or k.startswith(prefix + "/") or k == prefix + ".json"]:
            del self._latest[key]


@dataclass
class Site:
    public: data.PublicData
    env: Environment
    versions: Versions
    static: dict[str, bytes]
    base: str | None
    """PUBLIC_BASE_URL without its trailing slash; None serves no feeds."""
    refresh_seconds: float
    sleep: Sleep = asyncio.sleep
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def refresh(self) -> None:
        """Read what changed, render the pages it touches (the list and each changed symposium's page), then let
        requests see it. One at a time: a caller arriving during a refresh waits for it, then refreshes again."""
        async with self._lock:
            snapshot, views, changed = await self.public.read()
            env = self.env
            await self.versions.prepare(
                "/", snapshot.fingerprint, HTML, lambda: pages.list_page(env, snapshot).encode()
            )
            for slug in sorted(changed):
                if view := views.get(slug):
                    await self.versions.prepare(f"/s/{slug}", view.fingerprint, HTML, _page_renderer(env, view))
            self.public.publish(snapshot, views)
            for slug in changed - views.keys():
                self.versions.forget(f"/s/{slug}")

    async def keep_fresh(self) -> None:
        """Refresh every `refresh_seconds` until cancelled; a failure is logged once per run of failures."""
        failing = False
        while True:
            await self.sleep(self.refresh_seconds)
            try:
                await self.refresh()
            except Exception:
                if not failing:
                    log.exception("public page: refreshing failed; serving the last pages read until it works")
                failing = True
            else:
                if failing:
                    log.warning("public page: refreshing works again")
                failing = False


SITE = web.AppKey("site", Site)


def _page_renderer(env: Environment, view: data.SymposiumView) -> Callable[[], bytes]:
    return lambda: pages.symposium_page(env, view).encode()


def _not_modified(request: web.Request, version: Version) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; If-Modified-Since only without it."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or version.etag in tags or version.gzip_etag in tags
    since = request.if_modified_since
    return since is not None and version.modified <= since


def _respond(request: web.Request, version: Version) -> web.Response:
    """The version, gzipped when the client accepts it (a page of 500 essays shrinks about tenfold)."""
    zipped = version.gzipped is not None and accepts_gzip(request.headers.get("Accept-Encoding", ""))
    if _not_modified(request, version):
        return web.Response(status=304, headers=version.headers(zipped=zipped, not_modified=True))
    body = version.gzipped if zipped else version.body
    return web.Response(body=body, headers=version.headers(zipped=zipped, not_modified=False))


async def list_symposia(request: web.Request) -> web.Response:
    site = request.app[SITE]
    snapshot = site.public.snapshot
    version = site.versions.get("/", snapshot.fingerprint, HTML, lambda: pages.list_page(site.env, snapshot).encode())
    return _respond(request, version)


def _view(request: web.Request) -> tuple[Site, data.SymposiumView]:
    site = request.app[SITE]
    view = site.public.views.get(request.match_info["slug"])
    if view is None:
        raise web.HTTPNotFound()
    return site, view


async def symposium_page(request: web.Request) -> web.Response:
    site, view = _view(request)
    version = site.versions.get(f"/s/{view.sym.slug}", view.fingerprint, HTML, _page_renderer(site.env, view))
    return _respond(request, version)


def _feed(site: Site, view: data.SymposiumView, base: str) -> bytes:
    return feeds.atom(site.env, view, base).encode()


def _calendar(site: Site, view: data.SymposiumView, base: str) -> bytes:
    return feeds.calendar(view, base)


def _data(site: Site, view: data.SymposiumView, base: str) -> bytes:
    return feeds.as_data(view, base).encode()


def _feed_route(
    suffix: str, content_type: str, render: Callable[[Site, data.SymposiumView, str], bytes]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A handler serving one absolute-linked representation of a symposium: its feed, calendar or data. Rendered
    on first request per version; refused while no PUBLIC_BASE_URL says what the links are."""

    async def handler(request: web.Request) -> web.Response:
        site, view = _view(request)
        base = site.base
        if base is None:
            return web.Response(status=503, text=NO_FEEDS, headers={"Cache-Control": "no-store"})
        key = f"/s/{view.sym.slug}{suffix}"
        version = site.versions.get(key, view.fingerprint, content_type, lambda: render(site, view, base))
        return _respond(request, version)

    return handler


async def static_file(request: web.Request) -> web.Response:
    site = request.app[SITE]
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    content = site.static[name]
    version = site.versions.get(request.path, hashlib.sha256(content).hexdigest(), STATIC[name], lambda: content)
    return _respond(request, version)


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


@dataclass(frozen=True)
class Health:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    process: str
    timeout: float = HEALTH_TIMEOUT_SECONDS


HEALTH = web.AppKey("health", Health)


async def healthz(request: web.Request) -> web.Response:
    """For a process supervisor: the database (one read of the heartbeats, within HEALTH_TIMEOUT_SECONDS) and each
    chat process's platform connection as its last heartbeat says (bot/health.py). 503 when the database does
    not answer, or when this very process holds a platform connection that is down; other processes' states
    are reported, not judged (each has its own /healthz when it serves the page)."""
    health = request.app[HEALTH]
    try:
        async with asyncio.timeout(health.timeout), health.sessions() as session:
            found = await beats(session)
    except Exception as exc:  # any failure to read is the database's health
        log.warning("/healthz: the database did not answer: %s", exc)
        return _health_response({"database": "error", "platforms": []}, 503)
    now = health.clock.now()
    platforms = [
        {
            "process": b.process, "platform": b.platform, "state": b.state, "detail": b.detail,
            "seen_at": b.seen_at.isoformat(), "stale": b.stale(now), "this_process": b.process == health.process,
        }
        for b in found
    ]  # fmt: skip
    down = any(p["this_process"] and p["state"] == "disconnected" for p in platforms)
    return _health_response({"database": "ok", "platforms": platforms}, 503 if down else 200)


def _health_response(body: dict[str, object], status: int) -> web.Response:
    return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)


async def _refreshing(app: web.Application) -> AsyncIterator[None]:
    """The first refresh before the first request is taken, then one every `refresh_seconds` in the background."""
    site = app[SITE]
    await site.refresh()
    task = asyncio.create_task(site.keep_fresh())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def build_web_app(
    engine: AsyncEngine,
    settings: CoreSettings,
    clock: Clock,
    web_settings: WebSettings | None = None,
    *,
    sleep: Sleep = asyncio.sleep,
) -> web.Application:
    """The public page (SPEC §6). It only reads, in short read-only transactions of a background refresher
    (see the module's docstring); `web_settings` defaults to the environment's, `sleep` paces the refresher."""
    web_settings = web_settings or WebSettings()
    base = settings.public_base_url.rstrip("/") if settings.public_base_url else None
    if base is None:
        log.warning(
            "PUBLIC_BASE_URL is not set: the public pages link relatively, and the Atom feed, calendar and JSON "
            "answer 503 until it is set"
        )
    static = {name: resources.files("adapters.web").joinpath("static", name).read_bytes() for name in STATIC}
    app = web.Application(middlewares=[not_found_page])
    public = data.PublicData(make_sessions(engine, read_only=True), clock)
    env = pages.environment(feeds=base is not None)
    app[SITE] = Site(public, env, Versions(clock), static, base, web_settings.web_refresh_seconds, sleep)
    slug = "{slug:[a-z0-9-]+}"
    app.router.add_get("/", list_symposia)
    app.router.add_get(f"/s/{slug}", symposium_page)
    app.router.add_get(f"/s/{slug}/feed.atom", _feed_route("/feed.atom", "application/atom+xml; charset=utf-8", _feed))
    app.router.add_get(
        f"/s/{slug}/calendar.ics", _feed_route("/calendar.ics", "text/calendar; charset=utf-8", _calendar)
    )
    app.router.add_get(f"/s/{slug}.json", _feed_route(".json", "application/json; charset=utf-8", _data))
    app.router.add_get("/static/{name}", static_file)
    app.router.add_get("/favicon.ico", no_favicon)
    app.router.add_get("/healthz", healthz)
    app[HEALTH] = Health(make_sessions(engine, read_only=True), clock, this_process())
    app.on_response_prepare.append(_security_headers)
    app.cleanup_ctx.append(_refreshing)
    return app


async def serve_web(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start serving `app`; stop it with `await runner.cleanup()`."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
