"""Fetch a user-given URL safely: is an essay live, what is in an author's feed, where is a site's feed.

One aiohttp session for the bot's life, with no cookies (`DummyCookieJar`), no credentials (none configured,
none from the environment or .netrc, user:password stripped from URLs), a plain User-Agent, a total time limit
per fetch, bodies read in chunks and cut at `FETCH_MAX_BYTES`, and redirects followed by hand so that every hop's
scheme and address pass the guard before anything is sent there.

No method raises for a bad URL, a refused address, a timeout or garbage: each answers with a reason.
"""

import asyncio
import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from aiohappyeyeballs import AddrInfoType, SocketFactoryType
from aiohttp.abc import AbstractResolver
from multidict import CIMultiDictProxy
from yarl import URL

from adapters.fetch.guard import AddressGuard, GuardedResolver, Refused
from adapters.fetch.parse import (
    HTML_TYPES,
    NotAFeed,
    looks_like_feed,
    origin_feed,
    parse_feed,
    scan_page,
    substack_feed,
)
from adapters.fetch.settings import FetchSettings
from bot.matching import FeedCheck, PageCheck

log = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024

_ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
_ACCEPT_FEED = "application/rss+xml,application/atom+xml;q=0.9,application/xml;q=0.8,text/xml;q=0.8,*/*;q=0.1"
_ACCEPT_ANY = "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml;q=0.9,*/*;q=0.1"


class _Failed(Exception):
    """A fetch that ends without an answer to judge; `reason` is for the author and editors."""

    def __init__(self, reason: str, url: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.url, self.status = reason, url, status


@dataclass(frozen=True)
class _Answer:
    url: str  # after redirects
    status: int
    content_type: str
    charset: str | None
    headers: CIMultiDictProxy[str]
    body: bytes = b""
    truncated: bool = False


def _size_text(n: int) -> str:
    for unit, size in (("MB", 1_000_000), ("kB", 1_000)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


def _find_refusal(exc: BaseException) -> Refused | None:
    """The guard's refusal behind an aiohttp error, however aiohttp wrapped it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, Refused):
            return current
        seen.add(id(current))
        inner = getattr(current, "os_error", None)
        if isinstance(inner, Refused):
            return inner
        current = current.__cause__ or current.__context__
    return None


class Fetcher:
    """The bot's HTTP client for user-given URLs (implements bot.matching.EssayFetcher).

    `resolver` replaces aiohttp's DNS resolver under the guard (tests: a table of names). `socket_factory` makes
    every socket the connector opens, before the guard's last check of its address (tests: a tripwire that
    records any address outside 127.0.0.0/8, so it sees an attempt even the backstop would have stopped)."""

    def __init__(
        self,
        settings: FetchSettings | None = None,
        *,
        resolver: AbstractResolver | None = None,
        socket_factory: SocketFactoryType | None = None,
    ) -> None:
        self.settings = settings or FetchSettings()
        self.guard = AddressGuard(self.settings.allow_hosts)
        self._resolver = GuardedResolver(self.guard, resolver)
        self._socket_factory = socket_factory
        self._session: aiohttp.ClientSession | None = None

    # ---- the session -------------------------------------------------------------------------------------------

    def _open_socket(self, addr_info: AddrInfoType) -> socket.socket:
        family, type_, proto, _, address = addr_info
        if self._socket_factory is not None:
            sock = self._socket_factory(addr_info)
        else:
            sock = socket.socket(family=family, type=type_, proto=proto)
        try:
            self.guard.check_connect(str(address[0]))
        except Refused:
            sock.close()
            raise
        return sock

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=self._resolver,
                socket_factory=self._open_socket,
                limit=20,
                limit_per_host=4,
                ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": self.settings.fetch_user_agent},
                timeout=aiohttp.ClientTimeout(total=self.settings.fetch_timeout_seconds),
                trust_env=False,  # no proxies or .netrc credentials from the environment
                raise_for_status=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self._resolver.close()

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- one fetch, redirects followed by hand -----------------------------------------------------------------

    def _target(self, text: str, *, redirected_from: str | None) -> URL:
        """The URL to request, checked: http(s), a host, and not a forbidden literal address."""
        prefix = f"redirected to {text}, which " if redirected_from else ""
        try:
            url = URL(text.strip())
        except (ValueError, TypeError):
            raise _Failed(f"{prefix}is not a valid web address", text) from None
        if url.scheme not in ("http", "https") or not url.raw_host:
            raise _Failed(f"{prefix}is not a web address (http:// or https://)", text)
        try:
            self.guard.check_host(url.raw_host)
        except Refused as exc:
            raise _Failed(f"{prefix}{exc.reason}", text) from None
        return url.with_user(None).with_fragment(None)

    def _reason(self, exc: BaseException) -> str:
        refusal = _find_refusal(exc)
        if refusal is not None:
            return refusal.reason
        if isinstance(exc, TimeoutError):
            return f"took longer than {self.settings.fetch_timeout_seconds:g} s"
        if isinstance(exc, aiohttp.ClientConnectorDNSError):
            return "names a site that could not be found"
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            return "has an invalid security certificate"
        if isinstance(exc, aiohttp.ClientSSLError):
            return "failed the secure connection"
        if isinstance(exc, aiohttp.ClientConnectorError):
            return "could not be reached"
        if isinstance(exc, aiohttp.TooManyRedirects):
            return f"redirected more than {self.settings.fetch_max_redirects} times"
        if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
            return "broke off its answer"
        if isinstance(exc, aiohttp.ClientResponseError):
            return "gave an answer that is not valid HTTP"
        if isinstance(exc, aiohttp.InvalidURL | ValueError):
            return "is not a valid web address"
        return "could not be fetched"

    async def _read(self, response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
        """Up to `limit` bytes of the body, in chunks, and whether there was more."""
        buffer = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            room = limit - len(buffer)
            if len(chunk) > room:
                buffer += chunk[:room]
                return bytes(buffer), True
            buffer += chunk
        return bytes(buffer), False

    async def _fetch(self, url: str, headers: Mapping[str, str], *, read_body: bool) -> _Answer:
        session = self._get_session()
        current, previous = url, None
        for _ in range(self.settings.fetch_max_redirects + 1):
            target = self._target(current, redirected_from=previous)
            try:
                async with session.get(target, headers=headers, allow_redirects=False) as response:
                    location = response.headers.get("Location")
                    if response.status in _REDIRECTS and location:
                        try:
                            next_url = str(response.url.join(URL(location)))
                        except (ValueError, TypeError):
                            raise _Failed("redirected to an invalid address", str(target), response.status) from None
                        previous, current = current, next_url
                        continue
                    body, truncated = b"", False
                    if read_body:
                        body, truncated = await self._read(response, self.settings.fetch_max_bytes)
                    if truncated or not read_body:
                        response.close()  # stop downloading the rest
                    return _Answer(
                        url=str(response.url),
                        status=response.status,
                        content_type=response.content_type.lower(),
                        charset=response.charset,
                        headers=response.headers,
                        body=body,
                        truncated=truncated,
                    )
            except _Failed:
                raise
            except TimeoutError:
                raise
            except Exception as exc:
                reason = self._reason(exc)
                if previous is not None:
                    reason = f"redirected to {current}, which {reason}"
                raise _Failed(reason, current) from exc
        raise _Failed(f"redirected more than {self.settings.fetch_max_redirects} times", current)

    async def _guarded(self, url: str, headers: Mapping[str, str], *, read_body: bool) -> _Answer:
        """`_fetch` within the total time limit; every failure is a `_Failed`."""
        try:
            async with asyncio.timeout(self.settings.fetch_timeout_seconds):
                return await self._fetch(url, headers, read_body=read_body)
        except _Failed:
            raise
        except TimeoutError:
            raise _Failed(f"took longer than {self.settings.fetch_timeout_seconds:g} s", url) from None
        except Exception as exc:  # never raise for what a URL or a server did
            log.warning("fetching %s failed unexpectedly", url, exc_info=True)
            raise _Failed(self._reason(exc), url) from exc

    # ---- what the core asks ------------------------------------------------------------------------------------

    async def page(self, url: str) -> PageCheck:
        """Live: it answers 200 with an HTML page (after at most FETCH_MAX_REDIRECTS redirects, whose final URL
        is the one to announce). The body is not downloaded."""
        try:
            answer = await self._guarded(url, {"Accept": _ACCEPT_HTML}, read_body=False)
        except _Failed as failed:
            return PageCheck(ok=False, final_url=failed.url, status=failed.status, reason=failed.reason)
        if answer.status != 200:
            return PageCheck(ok=False, final_url=answer.url, status=answer.status, reason=f"answered {answer.status}")
        if answer.content_type not in HTML_TYPES:
            kind = answer.content_type if "Content-Type" in answer.headers else "no content type"
            return PageCheck(ok=False, final_url=answer.url, status=200, reason=f"is not an HTML page ({kind})")
        return PageCheck(ok=True, final_url=answer.url, status=200)

    async def feed(self, url: str, *, etag: str | None = None, modified: str | None = None) -> FeedCheck:
        """Poll a feed with a conditional GET. 304: unchanged; 404/410: gone; malformed, too large, refused or
        timed out: failed. Either way `etag`/`modified` are what to send next time."""
        headers = {"Accept": _ACCEPT_FEED}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        try:
            answer = await self._guarded(url, headers, read_body=True)
        except _Failed as failed:
            return FeedCheck("failed", etag=etag, modified=modified, reason=failed.reason, final_url=failed.url)
        new_etag = answer.headers.get("ETag") or etag
        new_modified = answer.headers.get("Last-Modified") or modified
        if answer.status == 304:
            return FeedCheck("unchanged", etag=new_etag, modified=new_modified, final_url=answer.url)
        if answer.status in (404, 410):
            reason = f"answered {answer.status}"
            return FeedCheck("gone", etag=etag, modified=modified, reason=reason, final_url=answer.url)
        if answer.status != 200:
            reason = f"answered {answer.status}"
            return FeedCheck("failed", etag=etag, modified=modified, reason=reason, final_url=answer.url)
        if answer.truncated:
            reason = f"is larger than {_size_text(self.settings.fetch_max_bytes)}"
            return FeedCheck("failed", etag=etag, modified=modified, reason=reason, final_url=answer.url)
        try:
            entries = await asyncio.to_thread(parse_feed, answer.body, answer.url, answer.content_type)
        except NotAFeed as exc:
            return FeedCheck("failed", etag=etag, modified=modified, reason=str(exc), final_url=answer.url)
        except Exception:  # a parser bug on hostile input must not escape either
            log.warning("could not parse the feed at %s", answer.url, exc_info=True)
            reason = "is not a valid feed"
            return FeedCheck("failed", etag=etag, modified=modified, reason=reason, final_url=answer.url)
        return FeedCheck("new", entries=entries, etag=new_etag, modified=new_modified, final_url=answer.url)

    async def discover(self, url: str) -> str | None:
        """The feed to poll for a site: the URL itself when it is a feed (its final URL, after redirects); else the
        page's first `<link rel="alternate" type="application/rss+xml|application/atom+xml">`; else, for a
        Substack (a *.substack.com host, or a page that loads from substackcdn.com), `<origin>/feed`; else None.
        A page larger than FETCH_MAX_BYTES is read as far as the cap (the link is in its head)."""
        try:
            answer = await self._guarded(url, {"Accept": _ACCEPT_ANY}, read_body=True)
        except _Failed as failed:
            log.info("no feed found for %s: it %s", url, failed.reason)
            return substack_feed(url)
        if answer.status != 200:
            return substack_feed(url)
        if looks_like_feed(answer.body):
            return answer.url
        links = await asyncio.to_thread(scan_page, answer.body, answer.charset, answer.url)
        if links.feed:
            return links.feed
        if links.substack:
            return origin_feed(answer.url)
        return substack_feed(answer.url) or substack_feed(url)
