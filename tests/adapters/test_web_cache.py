"""The public page's cache: every change that bumps a symposium's `public_version` reaches the page at the next
refresh, one symposium's bytes never answer for another's, and gzip goes only to clients that ask for it.
Nothing here sleeps: the tests refresh the site themselves, or hand the refresher a sleep they control."""

import asyncio
import gzip
import logging
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from adapters.web.app import SITE, Site, accepts_gzip, build_web_app
from adapters.web.settings import WebSettings
from bot.settings import CoreSettings
from tests.conftest import BuiltStates, Harness

Client = TestClient[web.Request, web.Application]
BASE = "https://symposium.example"
A, B = "/s/alpha-2023", "/s/beta-2023"

SETUP = """
erin: /symposium open title:Alpha symposium prompt:Is the orchestrator dead or alive? intent_deadline:2023-03-03 \
due:2023-03-10 publish_from:2023-03-13 publish_to:2023-04-28 review_channel:#review slug:alpha-2023
erin: /symposium open title:Beta symposium prompt:Who orchestrates the orchestrator? intent_deadline:2023-03-03 \
due:2023-03-10 publish_from:2023-03-13 publish_to:2023-04-28 review_channel:#review slug:beta-2023
alice: /intent symposium:alpha-2023 title:Alive and well
bob: /intent symposium:alpha-2023 title:Dead as a doornail
alice: /submit symposium:alpha-2023 url:https://alice.example/alive
erin: react ✅ last
bob: /submit symposium:alpha-2023 url:https://bob.example/dead
erin: react ✅ last
erin: /symposium schedule symposium:alpha-2023 essay:2 date:2023-03-20
clock: 2023-03-13T09:30+00:00
erin: /symposium publish symposium:alpha-2023 essay:1 url:https://alice.example/alive commentary:Alice opens.
"""


async def held(seconds: float) -> None:
    await asyncio.Event().wait()


async def build(harness: Harness) -> None:
    await harness.start_from(SETUP)


@pytest.fixture
async def client(harness: Harness, built_states: BuiltStates) -> AsyncIterator[Client]:
    await built_states.enter(harness, "web_cache", build)
    settings = CoreSettings(database_url=str(harness.engine.url), public_base_url=BASE)
    app = build_web_app(harness.engine, settings, harness.clock, sleep=held)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


def site_of(client: Client) -> Site:
    assert client.app is not None
    return client.app[SITE]


async def fetch(client: Client, path: str, **headers: str) -> tuple[int, str, str]:
    response = await client.get(path, headers=headers)
    return response.status, response.headers.get("ETag", ""), await response.text()


CHANGES = [
    (
        "publish",
        "erin: /symposium publish symposium:alpha-2023 essay:2 url:https://bob.example/dead",
        "Dead as a doornail",
    ),
    ("comment", "erin: /symposium comment symposium:alpha-2023 essay:1 text:A later thought.", "A later thought."),
    ("edit", "erin: /symposium edit symposium:alpha-2023 title:Alpha, renamed", "Alpha, renamed"),
    ("schedule", "erin: /symposium schedule symposium:alpha-2023 essay:2 date:2023-03-24", "2023-03-24"),
    ("close", "erin: /symposium close symposium:alpha-2023", "Writing symposium · closed"),
]


@pytest.mark.parametrize(("kind", "line", "shows"), CHANGES, ids=[c[0] for c in CHANGES])
async def test_every_public_change_reaches_the_page_at_the_next_refresh(
    harness: Harness, client: Client, kind: str, line: str, shows: str
) -> None:
    status, etag, before = await fetch(client, A)
    assert status == 200
    assert shows not in before
    _, other_etag, _ = await fetch(client, B)
    _, list_etag, _ = await fetch(client, "/")
    out = await harness.run(line)
    assert "error" not in out.lower(), out

    assert await fetch(client, A) == (200, etag, before)  # served from the cache until the refresher looks
    await site_of(client).refresh()
    status, new_etag, after = await fetch(client, A)
    assert new_etag != etag
    assert shows in after
    assert (await client.get(A, headers={"If-None-Match": etag})).status == 200
    assert (await fetch(client, B))[1] == other_etag  # the other symposium's page is untouched
    if kind in ("edit", "close"):
        assert (await fetch(client, "/"))[1] != list_etag


async def test_one_symposiums_bytes_never_answer_for_another(harness: Harness, client: Client) -> None:
    pages = {}
    for path, title, other in ((A, "Alpha symposium", "Beta symposium"), (B, "Beta symposium", "Alpha symposium")):
        for encoding in ("gzip", "identity"):
            response = await client.get(path, headers={"Accept-Encoding": encoding}, auto_decompress=False)
            body = await response.read()
            html = (gzip.decompress(body) if encoding == "gzip" else body).decode()
            assert f"<h1>{title}</h1>" in html
            assert other not in html
            pages[path, encoding] = response.headers["ETag"]
    assert len(set(pages.values())) == 4
    for encoding in ("gzip", "identity"):
        # the other page's entity tag is no match: a cache holding A never gets a 304 for B
        assert (await client.get(B, headers={"If-None-Match": pages[A, encoding]})).status == 200
        assert (await client.get(A, headers={"If-None-Match": pages[B, encoding]})).status == 200
    for feed in ("/feed.atom", ".json", "/calendar.ics"):
        a, b = await fetch(client, A + feed), await fetch(client, B + feed)
        assert "Alpha symposium" in a[2]
        assert "Beta symposium" in b[2]
        assert "Beta symposium" not in a[2]
        assert a[1] != b[1]


PLAIN = [None, "identity", "gzip;q=0", "deflate, gzip;q=0", "br", "*;q=0", "gzip;q=0.000, identity", "gzip;q=bad"]
ZIPPED = ["gzip", "GZIP", "x-gzip", "gzip;q=0.5", "deflate, gzip", "*", "br, *;q=0.1", "gzip ; q=1.0"]


@pytest.mark.parametrize("accept", PLAIN + ZIPPED)
async def test_gzip_goes_only_to_clients_that_ask_for_it(client: Client, accept: str | None) -> None:
    zipped = accept in ZIPPED
    assert accepts_gzip(accept or "") == zipped
    headers = {"Accept-Encoding": accept} if accept is not None else {}
    for path in (A, "/", f"{A}/feed.atom"):
        response = await client.get(path, headers=headers, skip_auto_headers=["Accept-Encoding"], auto_decompress=False)
        body = await response.read()
        assert response.status == 200
        assert response.headers["Vary"] == "Accept-Encoding"
        if zipped:
            assert response.headers["Content-Encoding"] == "gzip"
            assert response.headers["ETag"].endswith('-gzip"')
            assert gzip.decompress(body).startswith(b"<")
        else:
            assert "Content-Encoding" not in response.headers
            assert not response.headers["ETag"].endswith('-gzip"')
            assert body.startswith(b"<")


async def test_the_refresher_rereads_at_its_interval(harness: Harness) -> None:
    """The background task, paced by a sleep the test controls: each turn it is let go is one refresh."""
    await harness.start_from(SETUP)
    asked: asyncio.Queue[float] = asyncio.Queue()
    turns: asyncio.Queue[None] = asyncio.Queue()

    async def sleep(seconds: float) -> None:
        asked.put_nowait(seconds)
        await turns.get()

    settings = CoreSettings(database_url=str(harness.engine.url), public_base_url=BASE)
    app = build_web_app(harness.engine, settings, harness.clock, WebSettings(web_refresh_seconds=0.25), sleep=sleep)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert await asyncio.wait_for(asked.get(), 5) == 0.25  # the first refresh ran at start; now it waits
        await harness.run("erin: /symposium comment symposium:alpha-2023 essay:1 text:Picked up by the loop.")
        assert "Picked up by the loop." not in (await fetch(client, A))[2]
        turns.put_nowait(None)
        assert await asyncio.wait_for(asked.get(), 5) == 0.25  # one refresh done, waiting again
        assert "Picked up by the loop." in (await fetch(client, A))[2]


async def test_a_failing_refresh_keeps_the_last_pages_and_says_so_once(
    harness: Harness, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    site = site_of(client)
    _, etag, _ = await fetch(client, A)
    asked: asyncio.Queue[float] = asyncio.Queue()
    turns: asyncio.Queue[None] = asyncio.Queue()

    async def sleep(seconds: float) -> None:
        asked.put_nowait(seconds)
        await turns.get()

    site.sleep = sleep
    loop = asyncio.create_task(site.keep_fresh())
    try:
        await asyncio.wait_for(asked.get(), 5)
        async with harness.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE symposia RENAME TO symposia_away"))
        with caplog.at_level(logging.WARNING, logger="adapters.web.app"):
            for _ in range(3):
                turns.put_nowait(None)
                await asyncio.wait_for(asked.get(), 5)
                assert (await fetch(client, A))[:2] == (200, etag)
            async with harness.engine.begin() as conn:
                await conn.execute(text("ALTER TABLE symposia_away RENAME TO symposia"))
            turns.put_nowait(None)
            await asyncio.wait_for(asked.get(), 5)
        messages = [r.getMessage() for r in caplog.records if r.name == "adapters.web.app"]
        assert [m for m in messages if "refreshing failed" in m] == [messages[0]]
        assert messages[-1] == "public page: refreshing works again"
        await harness.run("erin: /symposium comment symposium:alpha-2023 essay:1 text:Back again.")
        turns.put_nowait(None)
        await asyncio.wait_for(asked.get(), 5)
        assert "Back again." in (await fetch(client, A))[2]
    finally:
        loop.cancel()


async def test_publication_begins_by_the_clock_too(harness: Harness) -> None:
    """With nothing published yet, the page turns to the reader's layout when `publish_from` passes."""
    await harness.run(SETUP.split("clock:")[0])
    settings = CoreSettings(database_url=str(harness.engine.url), public_base_url=BASE)
    app = build_web_app(harness.engine, settings, harness.clock, sleep=held)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        _, etag, html = await fetch(client, A)
        assert html.index(">The call</h2>") < html.index(">Essay Index</h2>")
        assert "<details open>" in html
        harness.clock.set(datetime.fromisoformat("2023-03-13T08:00+00:00"))  # 09:00 UTC is publish_from
        await site_of(client).refresh()
        assert (await fetch(client, A))[1] == etag
        harness.clock.set(datetime.fromisoformat("2023-03-13T09:00+00:00"))
        await site_of(client).refresh()
        _, new_etag, html = await fetch(client, A)
        assert new_etag != etag
        assert html.index(">Essay Index</h2>") < html.index(">The call</h2>")
        assert "<details>" in html
        assert "<details open>" not in html
