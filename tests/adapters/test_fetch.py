"""The SSRF-safe fetcher against local servers on 127.0.0.1.

No test opens a connection outside 127.0.0.0/8: literal addresses are refused by the guard before any request,
names are resolved by `NameTable` (never DNS), and every socket the client opens is made by `Tripwire`, which
refuses and records any address outside loopback; the `fetchers` fixture fails the test if it recorded one.
No test sleeps: a server that hangs awaits an event that only the fixture's teardown sets.
"""

import asyncio
import ipaddress
import socket
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.fetch import AddressGuard, Fetcher, FetchSettings, Refused, address_problem
from adapters.fetch.settings import DEFAULT_USER_AGENT
from bot.matching import EssayFetcher
from tests.net import NameTable, Tripwire

NAMES = {
    "writer.substack.com": ["127.0.0.1"],
    "essays.example": ["127.0.0.1"],
    "intranet.example": ["10.0.0.5"],
    "mixed.example": ["93.184.216.34", "192.168.0.10"],
    "metadata.example": ["169.254.169.254"],
    "v6private.example": ["fd00::7"],
}


# ---- the local server ------------------------------------------------------------------------------------------

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Essays</title><link>https://essays.example/</link>
<item><title>Orchestrators Are Forever!</title><link>/p/orchestrators</link>
<pubDate>Wed, 01 Feb 2023 10:30:00 +0100</pubDate></item>
<item><title>Older essay</title><link>https://essays.example/p/older?utm_source=rss</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Essays</title><id>urn:x</id><updated>2023-02-01T09:00:00Z</updated>
<entry><title>On time</title><link href="https://essays.example/on-time"/><id>urn:1</id>
<updated>2023-02-01T09:00:00Z</updated></entry></feed>"""

ETAG, LAST_MODIFIED = '"v1"', "Wed, 01 Feb 2023 09:00:00 GMT"


@dataclass
class Local:
    server: TestServer
    hang: asyncio.Event
    seen: list[dict[str, str]] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.server.port}{path}"

    def headers(self, path: str) -> list[dict[str, str]]:
        return [h for h in self.seen if h["path"] == path]


def html(body: str, **headers: str) -> web.Response:
    return web.Response(text=f"<!doctype html><html>{body}</html>", content_type="text/html", headers=headers)


@pytest.fixture
async def local() -> AsyncIterator[Local]:
    hang = asyncio.Event()
    routes = web.RouteTableDef()
    app = web.Application()
    state = Local(server=TestServer(app, host="127.0.0.1"), hang=hang)

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        state.seen.append({"path": request.path, **{k.lower(): v for k, v in request.headers.items()}})
        return await handler(request)

    app.middlewares.append(record)

    @routes.get("/essay")
    async def essay(request: web.Request) -> web.Response:
        return html("<head><title>Orchestrators are forever</title></head><body>...</body>")

    @routes.get("/xhtml")
    async def xhtml(request: web.Request) -> web.Response:
        return web.Response(body=b"<html/>", content_type="application/xhtml+xml")

    @routes.get("/pdf")
    async def pdf(request: web.Request) -> web.Response:
        return web.Response(body=b"%PDF-1.7", content_type="application/pdf")

    @routes.get("/status/{code}")
    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="no")

    @routes.get("/redirect/{n}")
    async def redirect(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        raise web.HTTPFound(f"/redirect/{n - 1}" if n > 1 else "/essay")

    @routes.get("/to")
    async def to(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(request.query["where"])

    @routes.get("/hang")
    async def hanging(request: web.Request) -> web.Response:
        await hang.wait()
        return html("too late")

    @routes.get("/big")
    async def big(request: web.Request) -> web.StreamResponse:
        kind = request.query.get("type", "application/rss+xml")
        response = web.StreamResponse(headers={"Content-Type": kind})
        await response.prepare(request)
        chunk = b"x" * 65536
        try:
            await response.write(b"<rss><channel><title>")
            for _ in range(5_000_000 // len(chunk) + 1):
                await response.write(chunk)
        except ConnectionError:
            pass
        return response

    @routes.get("/big-page")
    async def big_page(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        try:
            await response.write(b'<html><head><link rel="alternate" type="application/atom+xml" href="/atom"></head>')
            for _ in range(80):
                await response.write(b"<p>" + b"y" * 65536 + b"</p>")
        except ConnectionError:
            pass
        return response

    @routes.get("/feed")
    async def feed(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == ETAG or request.headers.get("If-Modified-Since") == LAST_MODIFIED:
            return web.Response(status=304, headers={"ETag": ETAG})
        return web.Response(
            body=RSS, content_type="application/rss+xml", headers={"ETag": ETAG, "Last-Modified": LAST_MODIFIED}
        )

    @routes.get("/atom")
    async def atom(request: web.Request) -> web.Response:
        return web.Response(body=ATOM, content_type="application/atom+xml")

    @routes.get("/feed-as-text")
    async def feed_as_text(request: web.Request) -> web.Response:
        return web.Response(body=RSS, content_type="text/plain")

    @routes.get("/malformed")
    async def malformed(request: web.Request) -> web.Response:
        return web.Response(body=b"<?xml version='1.0'?>\n<rss version='2.0'><chan", content_type="application/rss+xml")

    @routes.get("/garbage")
    async def garbage(request: web.Request) -> web.Response:
        return web.Response(body=bytes(range(256)) * 8, content_type="application/rss+xml")

    @routes.get("/site")
    async def site(request: web.Request) -> web.Response:
        return html(
            '<head><link rel="alternate" hreflang="fr" href="/fr/">'
            '<link rel="stylesheet" type="text/css" href="/s.css">'
            '<link rel="Alternate" type="application/rss+xml; charset=utf-8" title="RSS" href="../feed">'
            '<link rel="alternate" type="application/atom+xml" href="/atom"></head><body>hi</body>'
        )

    @routes.get("/based/page")
    async def based(request: web.Request) -> web.Response:
        return html(
            '<head><base href="/blog/"><link rel="alternate" type="application/atom+xml" href="atom.xml"></head>'
        )

    @routes.get("/substack-custom")
    async def substack_custom(request: web.Request) -> web.Response:
        return html('<head><link rel="preconnect" href="https://substackcdn.com"></head><body>hi</body>')

    @routes.get("/")
    async def root(request: web.Request) -> web.Response:
        return html("<head><title>A writer</title></head><body>no feed link here</body>")

    @routes.get("/cookie")
    async def cookie(request: web.Request) -> web.Response:
        response = web.HTTPFound("/echo")
        response.set_cookie("session", "secret", path="/")
        raise response

    @routes.get("/echo")
    async def echo(request: web.Request) -> web.Response:
        response = html("<body>echo</body>")
        response.set_cookie("again", "secret", path="/")
        return response

    app.add_routes(routes)
    await state.server.start_server()
    try:
        yield state
    finally:
        hang.set()
        await state.server.close()


FetcherFactory = Callable[..., Fetcher]


@dataclass
class Clients:
    tripwire: Tripwire
    names: NameTable
    make: FetcherFactory


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    tripwire, names, made = Tripwire(), NameTable(NAMES), []

    def make(allow: str = "127.0.0.1", **settings: object) -> Fetcher:
        fetcher = Fetcher(
            FetchSettings(_env_file=None, fetch_allow_hosts=allow, **settings),  # type: ignore[arg-type]
            resolver=names,
            socket_factory=tripwire,
        )
        made.append(fetcher)
        return fetcher

    yield Clients(tripwire, names, make)
    for fetcher in made:
        await fetcher.close()
    assert tripwire.outside == [], f"the client tried to connect outside loopback: {tripwire.outside}"


# ---- the address rule ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("172.31.255.254", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("0.0.0.0", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "a non-public address"),
        ("::1", "a loopback address"),
        ("::", "an unspecified address"),
        ("fe80::1", "a link-local address"),
        ("fd00::1", "a unique-local address"),
        ("fec0::1", "a site-local address"),
        ("ff02::1", "a multicast address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("64:ff9b::a9fe:a9fe", "a link-local address"),  # NAT64 of 169.254.169.254
        ("2002:a00:1::1", "a private address"),  # 6to4 of 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "a private address"),  # Teredo of 10.0.0.1
        ("2001:db8::1", "a private address"),  # documentation
    ],
)
def test_forbidden_addresses(address: str, kind: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.216.34"])
def test_public_addresses(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


def test_allow_list_takes_names_addresses_and_networks() -> None:
    guard = AddressGuard(["127.0.0.1", "localhost.", "[::1]", "10.9.0.0/16", ""])
    guard.check_host("127.0.0.1")
    guard.check_host("LOCALHOST")
    guard.check_host("::1")
    guard.check_host("10.9.8.7")
    with pytest.raises(Refused, match=r"^points to a loopback address \(127\.0\.0\.2\)$"):
        guard.check_host("127.0.0.2")
    with pytest.raises(Refused, match="private"):
        guard.check_host("10.8.0.1")
    guard.check_resolved("localhost", ["127.0.0.5"])  # an allowed name may resolve anywhere...
    guard.check_connect("127.0.0.5")  # ...and the socket backstop lets exactly that address through
    with pytest.raises(Refused):
        guard.check_connect("127.0.0.6")


def test_a_name_is_refused_when_any_address_is_forbidden() -> None:
    guard = AddressGuard()
    guard.check_resolved("example.com", ["93.184.216.34", "2606:2800:220:1::1"])
    with pytest.raises(Refused, match=r"points to a private address \(192\.168\.0\.10\)"):
        guard.check_resolved("mixed.example", ["93.184.216.34", "192.168.0.10"])
    with pytest.raises(Refused, match="no address"):
        guard.check_resolved("empty.example", [])


def test_the_socket_backstop_refuses_before_connecting() -> None:
    fetcher = Fetcher(FetchSettings(_env_file=None))
    with pytest.raises(Refused, match="private"):
        fetcher._open_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", 80)))


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FETCH_ALLOW_HOSTS", " 127.0.0.1, localhost ,")
    monkeypatch.setenv("FETCH_TIMEOUT_SECONDS", "2.5")
    settings = FetchSettings(_env_file=None)
    assert settings.allow_hosts == ("127.0.0.1", "localhost")
    assert settings.fetch_timeout_seconds == 2.5
    monkeypatch.delenv("FETCH_ALLOW_HOSTS")
    defaults = FetchSettings(_env_file=None)
    assert defaults.allow_hosts == ()
    assert (defaults.fetch_max_bytes, defaults.fetch_max_redirects) == (1_000_000, 5)
    assert defaults.fetch_user_agent.startswith("SymposiumBot/")


# ---- refusals: nothing is sent ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.1.2.3/essay", "points to a private address (10.1.2.3)"),
        ("http://172.16.0.1/", "points to a private address (172.16.0.1)"),
        ("https://192.168.1.1/", "points to a private address (192.168.1.1)"),
        ("http://169.254.169.254/latest/meta-data/", "points to a link-local address (169.254.169.254)"),
        ("http://[fe80::1]/", "points to a link-local address (fe80::1)"),
        ("http://[fe80::1%25eth0]/", "points to a link-local address (fe80::1%eth0)"),
        ("http://[fd00::1]/", "points to a unique-local address (fd00::1)"),
        ("http://[::1]:8080/", "points to a loopback address (::1)"),
        ("http://0.0.0.0/", "points to an unspecified address (0.0.0.0)"),
        ("http://224.0.0.1/", "points to a multicast address (224.0.0.1)"),
        ("http://240.0.0.1/", "points to a reserved address (240.0.0.1)"),
        ("http://[::ffff:10.0.0.1]/", "points to a private address (::ffff:a00:1)"),
        ("http://127.1/", "is not a valid address (127.1)"),
        ("http://2130706433/", "is not a valid address (2130706433)"),
        ("http://0x7f000001/", "is not a valid address (0x7f000001)"),
        ("http://intranet.example/essay", "points to a private address (10.0.0.5)"),
        ("http://metadata.example/", "points to a link-local address (169.254.169.254)"),
        ("http://v6private.example/", "points to a unique-local address (fd00::7)"),
        ("http://mixed.example/", "points to a private address (192.168.0.10)"),
        ("http://nowhere.example/", "names a site that could not be found"),
        ("ftp://93.184.216.34/essay", "is not a web address (http:// or https://)"),
        ("file:///etc/passwd", "is not a web address (http:// or https://)"),
        ("javascript:alert(1)", "is not a web address (http:// or https://)"),
        ("not a url at all", "is not a web address (http:// or https://)"),
        ("", "is not a web address (http:// or https://)"),
        ("http://", "is not a web address (http:// or https://)"),
        ("http://[::1", "is not a valid web address"),
    ],
)
async def test_refused_urls(clients: Clients, url: str, reason: str) -> None:
    fetcher = clients.make()
    check = await fetcher.page(url)
    assert (check.ok, check.status, check.reason) == (False, None, reason)
    polled = await fetcher.feed(url, etag='"e"', modified="m")
    assert (polled.status, polled.reason, polled.etag, polled.modified) == ("failed", reason, '"e"', "m")
    assert await fetcher.discover(url) is None
    assert clients.tripwire.connected == []


async def test_literal_addresses_are_refused_without_resolving(clients: Clients) -> None:
    fetcher = clients.make()
    for url in ("http://10.1.2.3/", "http://[fd00::1]/", "http://0.0.0.0/"):
        assert not (await fetcher.page(url)).ok
    assert clients.names.asked == []
    assert clients.tripwire.connected == []


async def test_loopback_is_refused_unless_allowed(clients: Clients, local: Local) -> None:
    refused = await clients.make(allow="").page(local.url("/essay"))
    assert refused == type(refused)(
        ok=False, final_url=local.url("/essay"), reason="points to a loopback address (127.0.0.1)"
    )
    assert local.seen == []
    assert (await clients.make(allow="127.0.0.1").page(local.url("/essay"))).ok
    assert (await clients.make(allow="127.0.0.0/8").page(local.url("/essay"))).ok


async def test_a_name_connects_to_exactly_the_address_it_resolved_to(clients: Clients, local: Local) -> None:
    check = await clients.make().page(local.url("/essay", host="essays.example"))
    assert check.ok
    assert clients.names.asked == ["essays.example"]
    assert clients.tripwire.connected == ["127.0.0.1"]
    assert local.seen[0]["host"] == f"essays.example:{local.server.port}"


# ---- pages -----------------------------------------------------------------------------------------------------


async def test_a_live_html_page(clients: Clients, local: Local) -> None:
    fetcher = clients.make()
    check = await fetcher.page(local.url("/essay"))
    assert check.ok
    assert check.status == 200
    assert check.final_url == local.url("/essay")
    assert check.reason == ""
    assert (await fetcher.page(local.url("/xhtml"))).ok
    assert isinstance(fetcher, EssayFetcher)


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/status/404", 404, "answered 404"),
        ("/status/410", 410, "answered 410"),
        ("/status/500", 500, "answered 500"),
        ("/status/204", 204, "answered 204"),
        ("/pdf", 200, "is not an HTML page (application/pdf)"),
        ("/feed", 200, "is not an HTML page (application/rss+xml)"),
    ],
)
async def test_a_page_that_is_not_live(clients: Clients, local: Local, path: str, status: int, reason: str) -> None:
    check = await clients.make().page(local.url(path))
    assert (check.ok, check.status, check.reason, check.final_url) == (False, status, reason, local.url(path))


async def test_redirects_are_followed_up_to_five(clients: Clients, local: Local) -> None:
    fetcher = clients.make()
    check = await fetcher.page(local.url("/redirect/5"))
    assert check.ok
    assert check.final_url == local.url("/essay")
    too_many = await fetcher.page(local.url("/redirect/6"))
    assert (too_many.ok, too_many.reason) == (False, "redirected more than 5 times")
    assert not any(h["path"] == "/essay" for h in local.seen[6:])  # the 7th hop was never requested


async def test_max_redirects_is_a_setting(clients: Clients, local: Local) -> None:
    check = await clients.make(fetch_max_redirects=0).page(local.url("/redirect/1"))
    assert check.reason == "redirected more than 0 times"


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("http://10.0.0.1/", "redirected to http://10.0.0.1/, which points to a private address (10.0.0.1)"),
        (
            "http://intranet.example/x",
            "redirected to http://intranet.example/x, which points to a private address (10.0.0.5)",
        ),
        ("http://[::1]/", "redirected to http://[::1]/, which points to a loopback address (::1)"),
        ("ftp://example.com/", "redirected to ftp://example.com/, which is not a web address (http:// or https://)"),
        ("file:///etc/passwd", "redirected to file:///etc/passwd, which is not a web address (http:// or https://)"),
    ],
)
async def test_a_redirect_to_a_forbidden_place_is_refused(
    clients: Clients, local: Local, where: str, reason: str
) -> None:
    check = await clients.make().page(local.url("/to") + "?where=" + where.replace("&", "%26"))
    assert (check.ok, check.reason, check.final_url) == (False, reason, where)
    assert clients.tripwire.connected == ["127.0.0.1"]  # only the local server's


async def test_a_redirect_to_an_allowed_name(clients: Clients, local: Local) -> None:
    target = local.url("/essay", host="essays.example")
    check = await clients.make().page(local.url("/to") + "?where=" + target)
    assert check.ok
    assert check.final_url == target


async def test_no_cookies_no_credentials_and_a_clear_user_agent(clients: Clients, local: Local) -> None:
    fetcher = clients.make()
    # A name, not an address: a cookie jar would keep no cookies for an IP address anyway.
    assert (await fetcher.page(local.url("/cookie", host="essays.example"))).ok
    assert (await fetcher.page(local.url("/echo", host="writer:secret@essays.example"))).ok
    assert (await fetcher.feed(local.url("/echo", host="essays.example"))).status == "failed"
    assert (await fetcher.discover(local.url("/echo", host="essays.example"))) is None
    assert len(local.seen) == 5
    for request in local.seen:
        assert "cookie" not in request
        assert "authorization" not in request
        assert request["user-agent"] == DEFAULT_USER_AGENT
    assert DEFAULT_USER_AGENT.startswith("SymposiumBot/0.1.0 (")


# ---- limits ----------------------------------------------------------------------------------------------------


async def test_a_hanging_server_is_cut_off_without_stalling_other_fetches(clients: Clients, local: Local) -> None:
    fetcher = clients.make(fetch_timeout_seconds=0.5)
    slow_page = asyncio.create_task(fetcher.page(local.url("/hang")))
    slow_feed = asyncio.create_task(fetcher.feed(local.url("/hang"), etag='"e"'))
    fast = await fetcher.page(local.url("/essay"))
    assert fast.ok
    assert not slow_page.done()
    assert not slow_feed.done()
    page, feed = await slow_page, await slow_feed
    assert (page.ok, page.reason) == (False, "took longer than 0.5 s")
    assert (feed.status, feed.reason, feed.etag) == ("failed", "took longer than 0.5 s", '"e"')
    assert not local.hang.is_set()


async def test_a_hang_after_redirects_counts_against_one_total(clients: Clients, local: Local) -> None:
    fetcher = clients.make(fetch_timeout_seconds=0.5)
    check = await fetcher.page(local.url("/to") + "?where=/hang")
    assert check.reason == "took longer than 0.5 s"


@pytest.fixture
def memory() -> Iterator[Callable[[], int]]:
    tracemalloc.start()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_a_5_mb_feed_is_cut_at_the_cap(clients: Clients, local: Local, memory: Callable[[], int]) -> None:
    fetcher = clients.make()
    other = asyncio.create_task(fetcher.page(local.url("/essay")))
    polled = await fetcher.feed(local.url("/big"), etag='"e"')
    assert (polled.status, polled.reason, polled.entries, polled.etag) == ("failed", "is larger than 1 MB", (), '"e"')
    assert (await other).ok
    assert memory() < 3_000_000  # the 1 MB kept plus chunks in flight, not 5 MB


async def test_a_5_mb_page_is_checked_without_downloading_it(clients: Clients, local: Local) -> None:
    check = await clients.make().page(local.url("/big?type=text/html"))
    assert check.ok


async def test_discovery_reads_a_huge_page_only_as_far_as_the_cap(clients: Clients, local: Local) -> None:
    assert await clients.make().discover(local.url("/big-page")) == local.url("/atom")


async def test_the_cap_is_a_setting(clients: Clients, local: Local) -> None:
    polled = await clients.make(fetch_max_bytes=200).feed(local.url("/feed"))
    assert (polled.status, polled.reason) == ("failed", "is larger than 200 bytes")


# ---- feeds -----------------------------------------------------------------------------------------------------


async def test_a_feed_is_polled_with_a_conditional_get(clients: Clients, local: Local) -> None:
    fetcher = clients.make()
    first = await fetcher.feed(local.url("/feed"))
    assert first.status == "new"
    assert first.reason == ""
    assert (first.etag, first.modified) == (ETAG, LAST_MODIFIED)
    assert [(e.title, e.link, e.published) for e in first.entries] == [
        ("Orchestrators Are Forever!", local.url("/p/orchestrators"), datetime(2023, 2, 1, 9, 30, tzinfo=UTC)),
        ("Older essay", "https://essays.example/p/older?utm_source=rss", None),
    ]
    second = await fetcher.feed(local.url("/feed"), etag=first.etag, modified=first.modified)
    assert (second.status, second.entries, second.etag, second.modified) == ("unchanged", (), ETAG, LAST_MODIFIED)
    first_request, second_request = local.headers("/feed")
    assert "if-none-match" not in first_request
    assert "if-modified-since" not in first_request
    assert (second_request["if-none-match"], second_request["if-modified-since"]) == (ETAG, LAST_MODIFIED)
    assert second_request["accept"].startswith("application/rss+xml")


async def test_only_last_modified_is_enough(clients: Clients, local: Local) -> None:
    polled = await clients.make().feed(local.url("/feed"), modified=LAST_MODIFIED)
    assert (polled.status, polled.etag, polled.modified) == ("unchanged", ETAG, LAST_MODIFIED)


async def test_an_atom_feed_and_a_feed_behind_a_redirect(clients: Clients, local: Local) -> None:
    polled = await clients.make().feed(local.url("/to?where=/atom"))
    assert polled.status == "new"
    assert polled.final_url == local.url("/atom")
    assert polled.entries[0].title == "On time"
    assert polled.entries[0].published == datetime(2023, 2, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/status/404", "gone", "answered 404"),
        ("/status/410", "gone", "answered 410"),
        ("/status/500", "failed", "answered 500"),
        ("/status/403", "failed", "answered 403"),
        ("/malformed", "failed", "is not a valid feed"),
        ("/garbage", "failed", "is not a feed"),
        ("/essay", "failed", "is not a feed"),
    ],
)
async def test_a_feed_that_changes_nothing(clients: Clients, local: Local, path: str, status: str, reason: str) -> None:
    polled = await clients.make().feed(local.url(path), etag=ETAG, modified=LAST_MODIFIED)
    assert (polled.status, polled.reason, polled.entries) == (status, reason, ())
    assert (polled.etag, polled.modified) == (ETAG, LAST_MODIFIED)


# ---- discovery -------------------------------------------------------------------------------------------------


async def test_discovery(clients: Clients, local: Local) -> None:
    fetcher = clients.make()
    # The first rel=alternate of a feed type, its relative href resolved; hreflang and stylesheets skipped.
    assert await fetcher.discover(local.url("/site")) == local.url("/feed")
    assert await fetcher.discover(local.url("/based/page")) == local.url("/blog/atom.xml")
    # A feed given directly is itself, whatever its content type says; after a redirect, its final URL.
    assert await fetcher.discover(local.url("/feed")) == local.url("/feed")
    assert await fetcher.discover(local.url("/feed-as-text")) == local.url("/feed-as-text")
    assert await fetcher.discover(local.url("/to?where=/atom")) == local.url("/atom")
    # A Substack: by its host, or on its own domain by what the page loads.
    substack = local.url("/", host="writer.substack.com")
    assert await fetcher.discover(substack) == local.url("/feed", host="writer.substack.com")
    assert await fetcher.discover(local.url("/substack-custom")) == local.url("/feed")
    # Nothing to find, or nothing there.
    assert await fetcher.discover(local.url("/")) is None
    assert await fetcher.discover(local.url("/status/404")) is None
    assert await fetcher.discover(local.url("/garbage")) is None


async def test_a_substack_that_cannot_be_read_still_has_its_feed(clients: Clients, local: Local) -> None:
    url = local.url("/status/503", host="writer.substack.com")
    assert await clients.make().discover(url) == local.url("/feed", host="writer.substack.com")


async def test_the_fetcher_closes_and_reopens(clients: Clients, local: Local) -> None:
    fetcher = clients.make()
    assert (await fetcher.page(local.url("/essay"))).ok
    await fetcher.close()
    await fetcher.close()
    assert (await fetcher.page(local.url("/essay"))).ok
