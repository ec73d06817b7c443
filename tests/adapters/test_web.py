"""The public page over HTTP on 127.0.0.1: a symposium run through the console, then read as HTML, Atom, ICS
and JSON. Nothing private, unannounced, withdrawn or declined is served; hostile text stays text."""

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import feedparser
import icalendar
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.web.app import CSP, SITE, Site, build_web_app
from bot.clock import SimulatedClock
from bot.db.engine import make_sessions
from bot.db.models import Essay, Intent, Symposium
from bot.settings import CoreSettings
from tests.conftest import BuiltStates, Harness, snapshot

Client = TestClient[web.Request, web.Application]
BASE = "https://symposium.example"
SLUG = "orchestrator-2023"
PAGE = f"/s/{SLUG}"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
HOSTILE_TITLE = f"Hostile {IMG} javascript:alert(1)"
HOSTILE_COMMENT = f"javascript:alert(1) {SCRIPT} {IMG}"
NEVER_PUBLIC = ("Withdrawn thoughts", "Declined draft", "Secret future essay", "Not even submitted")

SETUP = f"""
erin: /symposium open title:Is the orchestrator dead or alive? prompt:Is the orchestrator dead or alive? \
intent_deadline:2023-03-03 due:2023-03-10 publish_from:2023-03-13 publish_to:2023-04-28 review_channel:#review \
alt_prompts:What comes after? | Who orchestrates the orchestrator? timezone:Europe/Berlin slug:{SLUG} \
call:Write about 1,000 words. {SCRIPT}
alice: /intent title:Alive and well route:direct bio:Runs a platform team.
bob: /intent title:Dead as a doornail route:crosspost pen_name:Harry Flow bio:Writes about pipelines.
carol: /intent title:{HOSTILE_TITLE} pen_name:{SCRIPT}
dave: /intent title:Withdrawn thoughts
eve: /intent title:Declined draft
frank: /intent title:Secret future essay
gina: /intent title:Not even submitted
alice: /submit url:https://alice.example/alive
erin: react ✅ last
bob: /submit url:https://harry.example/dead
erin: react ✅ last
carol: /submit url:https://carol.example/x
erin: react ✅ last
dave: /submit url:https://dave.example/w
erin: react ✅ last
eve: /submit url:https://eve.example/d
erin: react ❌ last
frank: /submit url:https://frank.example/s
erin: react ✅ last
erin: /symposium schedule essay:4 date:2023-03-20
dave: /withdraw
erin: /symposium schedule essay:6 date:2023-03-22
"""


def publish(number: int, url: str, commentary: str) -> str:
    return f"erin: /symposium publish essay:{number} url:{url} commentary:{commentary}"


async def build_symposium(harness: Harness) -> None:
    await harness.run(SETUP)
    harness.clock.set(datetime.fromisoformat("2023-03-13T09:30+00:00"))
    await harness.run(publish(1, "https://alice.example/alive", "Alice opens the symposium."))
    await harness.run("erin: /symposium comment essay:1 text:Readers ask for a sequel.")
    harness.clock.advance(timedelta(hours=1))
    await harness.run(publish(2, "https://harry.example/dead-live", "Harry Flow disagrees."))
    harness.clock.advance(timedelta(hours=1))
    await harness.run(publish(3, "https://carol.example/x", HOSTILE_COMMENT))
    await harness.run(f"erin: /symposium comment essay:2 text:A second look. {SCRIPT}")


@pytest.fixture
async def symposium(harness: Harness, built_states: BuiltStates) -> Harness:
    """Three essays published an hour apart (one pen-named, one hostile), commentary on each, one coming up."""
    await built_states.enter(harness, "web", build_symposium)
    return harness


async def held(seconds: float) -> None:
    """The refresher's sleep in these tests: it never ends, so a page changes only when a test refreshes it."""
    await asyncio.Event().wait()


async def serve(harness: Harness, base_url: str | None) -> AsyncIterator[Client]:
    settings = CoreSettings(database_url=str(harness.engine.url), public_base_url=base_url)
    app = build_web_app(harness.engine, settings, harness.clock, sleep=held)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


def site_of(client: Client) -> Site:
    assert client.app is not None
    return client.app[SITE]


async def change(harness: Harness, client: Client, script: str) -> str:
    """Run the lines through the bot, then refresh the page as the refresher would at its next turn."""
    out = await harness.run(script)
    await site_of(client).refresh()
    return out


@pytest.fixture
async def client(symposium: Harness) -> AsyncIterator[Client]:
    async for client in serve(symposium, BASE):
        yield client


async def get_text(client: Client, path: str) -> str:
    response = await client.get(path)
    assert response.status == 200, path
    return await response.text()


def section(html: str, heading: str, next_heading: str | None) -> str:
    start = html.index(f">{heading}</h2>")
    return html[start : html.index(f">{next_heading}</h2>") if next_heading else None]


async def test_once_publication_began_the_page_leads_with_the_index_and_the_commentary(client: Client) -> None:
    """Changed with issue 'the page leads with what readers come for': the index, the essays with their running
    commentary and what is coming up come first; then the call, and how to take part, folded."""
    html = await get_text(client, PAGE)
    headings = ["Essay Index", "The Symposium", "Coming up", "The call", "How to take part"]
    positions = [html.index(f">{h}</h2>") for h in headings]
    assert positions == sorted(positions)
    assert html.index("<h1>Is the orchestrator dead or alive?</h1>") < positions[0]
    call = section(html, "The call", None)
    assert call.index("Is the orchestrator dead or alive?") < call.index("Alternative 1: What comes after?")
    assert call.index("Alternative 2:") < call.index("Write about 1,000 words.") < call.index("Intent to Submit by")
    assert '<time datetime="2023-03-03T22:59:59Z">Fri 2023-03-03 23:59 Europe/Berlin</time>' in call
    assert "The symposium keeps Europe/Berlin time" in call
    take_part = html[html.index('<section id="take-part"') :]
    assert '<details>\n<summary><h2 id="take-part-heading">How to take part</h2></summary>' in take_part
    assert "/intent [title:…]" in take_part
    assert "/submit [url:…]" in take_part
    assert "route:direct" in take_part
    assert "route:crosspost" in take_part
    assert "/submit live:" in take_part

    index = section(html, "Essay Index", "The Symposium")
    titles = ["Alive and well", "Dead as a doornail", "Hostile &#34;&gt;&lt;img"]
    assert [index.index(t) for t in titles] == sorted(index.index(t) for t in titles)
    assert '<time datetime="2023-03-13T09:30:00Z">Mon 2023-03-13 10:30 Europe/Berlin</time>' in index
    assert "by Harry Flow" in index
    assert "published by the author, cross-posted by the host" in index
    assert '<a href="https://alice.example/alive" rel="nofollow ugc noopener">read</a>' in index

    stream = section(html, "The Symposium", "Coming up")
    newest_first = ['id="essay-3"', 'id="essay-2"', 'id="essay-1"']
    assert [stream.index(a) for a in newest_first] == sorted(stream.index(a) for a in newest_first)
    essay_1 = stream[stream.index('id="essay-1"') :]
    assert "Alice opens the symposium." in essay_1
    assert "Runs a platform team." in essay_1
    assert "Commentary on “Alive and well”" in essay_1
    assert "Readers ask for a sequel." in essay_1
    essay_2 = stream[stream.index('id="essay-2"') : stream.index('id="essay-1"')]
    assert essay_2.index("Harry Flow disagrees.") < essay_2.index("A second look.")

    coming = section(html, "Coming up", "The call")
    assert '<time datetime="2023-03-22T08:00:00Z">' in coming
    assert "2023-03-20" not in coming  # the withdrawn essay's date went with it


async def test_the_list_of_symposia_links_each_page_and_feed(client: Client) -> None:
    html = await get_text(client, "/")
    assert f'<a href="{PAGE}">Is the orchestrator dead or alive?</a>' in html
    assert (
        f'<link rel="alternate" type="application/atom+xml" title="Is the orchestrator dead or alive?" href="{PAGE}/feed.atom">'
        in html
    )
    page = await get_text(client, PAGE)
    for kind, path in (("application/atom+xml", "/feed.atom"), ("text/calendar", "/calendar.ics")):
        assert f'<link rel="alternate" type="{kind}"' in page
        assert f'href="{PAGE}{path}"' in page
    assert f'href="{PAGE}.json"' in page


async def test_unknown_pages_get_the_404_page(client: Client) -> None:
    for path in ("/s/no-such-symposium", "/s/no-such-symposium/feed.atom", "/s/nope.json", "/nowhere", "/static/x.js"):
        response = await client.get(path)
        assert response.status == 404, path
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.headers["Content-Security-Policy"] == CSP
        assert "<h1>Not found</h1>" in await response.text()


async def test_every_response_carries_the_security_headers_and_its_type(client: Client) -> None:
    types = {
        "/": "text/html; charset=utf-8",
        PAGE: "text/html; charset=utf-8",
        f"{PAGE}/feed.atom": "application/atom+xml; charset=utf-8",
        f"{PAGE}/calendar.ics": "text/calendar; charset=utf-8",
        f"{PAGE}.json": "application/json; charset=utf-8",
        "/static/site.css": "text/css; charset=utf-8",
        "/static/local-time.js": "text/javascript; charset=utf-8",
    }
    for path, content_type in types.items():
        response = await client.get(path)
        assert response.status == 200
        assert response.headers["Content-Type"] == content_type
        assert response.headers["Content-Security-Policy"] == CSP
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "public, max-age=60"


async def test_head_answers_like_get_without_a_body(client: Client) -> None:
    get = await client.get(PAGE)
    head = await client.head(PAGE)
    assert head.status == 200
    assert await head.read() == b""
    for name in ("ETag", "Last-Modified", "Content-Type", "Content-Security-Policy"):
        assert head.headers[name] == get.headers[name]
    assert (await client.head("/s/unknown")).status == 404


async def test_pages_are_gzipped_for_clients_that_accept_it(client: Client) -> None:
    plain = await client.get(PAGE, headers={"Accept-Encoding": "identity"}, auto_decompress=False)
    zipped = await client.get(PAGE, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await zipped.read()) == await plain.read()
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    assert plain.headers["Vary"] == zipped.headers["Vary"] == "Accept-Encoding"
    for etag in (plain.headers["ETag"], zipped.headers["ETag"]):
        assert (await client.get(PAGE, headers={"If-None-Match": etag})).status == 304


async def test_conditional_requests_get_304_until_the_page_changes(symposium: Harness, client: Client) -> None:
    first = await client.get(PAGE)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('"')
    assert parsedate_to_datetime(modified) <= symposium.clock.now()
    for headers in ({"If-None-Match": etag}, {"If-None-Match": f'"other", W/{etag}'}, {"If-Modified-Since": modified}):
        again = await client.get(PAGE, headers=headers)
        assert again.status == 304, headers
        assert await again.read() == b""
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == "public, max-age=60"
        assert again.headers["Content-Security-Policy"] == CSP
    stale = await client.get(PAGE, headers={"If-None-Match": '"other"', "If-Modified-Since": modified})
    assert stale.status == 200  # If-None-Match decides when both are given

    await change(symposium, client, "erin: /symposium comment essay:3 text:One more thought.")
    changed = await client.get(PAGE, headers={"If-None-Match": etag})
    assert changed.status == 200
    assert "One more thought." in await changed.text()
    assert changed.headers["ETag"] != etag
    assert parsedate_to_datetime(changed.headers["Last-Modified"]) > parsedate_to_datetime(modified)
    assert (await client.get(PAGE, headers={"If-Modified-Since": modified})).status == 200
    feed = await client.get(f"{PAGE}/feed.atom")
    assert (await client.get(f"{PAGE}/feed.atom", headers={"If-None-Match": feed.headers["ETag"]})).status == 304


async def test_the_atom_feed_parses_with_one_entry_per_essay_and_comment(client: Client) -> None:
    feed = feedparser.parse(await get_text(client, f"{PAGE}/feed.atom"))
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.feed.title == "Is the orchestrator dead or alive?"
    assert feed.feed.id == f"{BASE}{PAGE}"
    ids = [e.id for e in feed.entries]
    assert len(ids) == len(set(ids)) == 3 + 2
    assert f"{BASE}{PAGE}#essay-1" in ids
    assert f"{BASE}{PAGE}#essay-3" in ids
    by_id = {e.id: e for e in feed.entries}
    assert by_id[f"{BASE}{PAGE}#essay-2"].author == "Harry Flow"
    assert by_id[f"{BASE}{PAGE}#essay-2"].link == "https://harry.example/dead-live"
    assert by_id[f"{BASE}{PAGE}#essay-3"].title == HOSTILE_TITLE
    assert by_id[f"{BASE}{PAGE}#essay-3"].updated == "2023-03-13T11:30:00Z"
    comments = [e for e in feed.entries if "#comment-" in e.id]
    assert {e.title for e in comments} == {"Commentary on “Alive and well”", "Commentary on “Dead as a doornail”"}
    assert feed.entries[0].updated >= feed.entries[-1].updated


async def calendar_events(client: Client) -> dict[str, icalendar.Component]:
    text = await get_text(client, f"{PAGE}/calendar.ics")
    assert all(line.endswith("Z") for line in text.splitlines() if line.startswith("DTSTART"))  # in UTC
    return {str(event["UID"]): event for event in icalendar.Calendar.from_ical(text).walk("VEVENT")}


async def test_the_calendar_matches_the_database_and_keeps_its_uids_across_edits(
    symposium: Harness, engine: AsyncEngine, client: Client
) -> None:
    async def database() -> dict[str, datetime]:
        async with make_sessions(engine)() as session:
            sym = await session.scalar(select(Symposium).where(Symposium.slug == SLUG))
            assert sym is not None
            times = {f"intent-deadline-{sym.id}@symposium.example": sym.intent_deadline}
            times[f"due-{sym.id}@symposium.example"] = sym.due_at
            for essay, intent in await session.execute(
                select(Essay, Intent).join(Intent, Essay.intent_id == Intent.id).where(Essay.symposium_id == sym.id)
            ):
                when = essay.published_at or (essay.scheduled_for if intent.status == "active" else None)
                if when is not None and essay.status == "approved":
                    times[f"essay-{sym.id}-{essay.number}@symposium.example"] = when
            return times

    events = await calendar_events(client)
    expected = await database()
    assert set(events) == set(expected)
    assert len(events) == 2 + 3 + 1
    for uid, calendar_event in events.items():
        assert calendar_event.decoded("DTSTART") == expected[uid], uid
    deadline = next(e for uid, e in events.items() if uid.startswith("intent-deadline-"))
    assert "Fri 2023-03-03 23:59 Europe/Berlin" in str(deadline["DESCRIPTION"])
    assert "Secret future essay" not in str(events[next(u for u in events if u.endswith("-6@symposium.example"))])

    await change(  # the deadlines have passed by now (and cannot move into the past); a date ahead moves
        symposium, client, "erin: /symposium schedule essay:6 date:2023-03-23"
    )
    moved = await calendar_events(client)
    assert set(moved) == set(events)
    for uid, when in (await database()).items():
        assert moved[uid].decoded("DTSTART") == when, uid
    changed = {uid for uid in events if events[uid].decoded("DTSTART") != moved[uid].decoded("DTSTART")}
    assert {u.split("-")[0] for u in changed} == {"essay"}
    assert len(changed) == 1


async def test_the_json_index_has_the_published_essays_in_order(client: Client) -> None:
    response = await client.get(f"{PAGE}.json")
    data = json.loads(await response.text())
    assert set(data) == {"symposium", "essays", "coming_up"}
    assert data["symposium"]["slug"] == SLUG
    assert data["symposium"]["timezone"] == "Europe/Berlin"
    assert data["symposium"]["url"] == f"{BASE}{PAGE}"
    assert data["symposium"]["alternative_prompts"] == ["What comes after?", "Who orchestrates the orchestrator?"]
    assert [e["number"] for e in data["essays"]] == [1, 2, 3]
    harry = data["essays"][1]
    assert harry["author"] == "Harry Flow"
    assert harry["route"] == "crosspost"
    assert harry["published_at"] == "2023-03-13T10:30:00Z"
    assert [c["text"] for c in harry["running_commentary"]] == [f"A second look. {SCRIPT}"]
    assert data["essays"][2]["title"] == HOSTILE_TITLE
    assert data["essays"][2]["commentary"] == HOSTILE_COMMENT
    assert data["coming_up"] == [{"date": "2023-03-22T08:00:00Z"}]


async def test_nothing_private_unannounced_withdrawn_or_declined_is_served(engine: AsyncEngine, client: Client) -> None:
    before = await snapshot(engine)
    paths = ["/", PAGE, f"{PAGE}/feed.atom", f"{PAGE}/calendar.ics", f"{PAGE}.json"]
    for path in paths:
        body = await get_text(client, path)
        assert ("Harry Flow" in body) == (path != "/")
        assert "bob" not in body.lower(), path  # the pen-named essay's account id and name
        for title in NEVER_PUBLIC:
            assert title not in body, (path, title)
        for private in ("#review", "review_channel", "erin"):
            assert private not in body, (path, private)
    assert await snapshot(engine) == before  # the page only reads


async def test_hostile_text_is_shown_escaped(client: Client) -> None:
    html = await get_text(client, PAGE)
    for raw in (SCRIPT, "<img", "onerror=alert(1)>", 'href="javascript:'):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the pen name and the commentary, literally
    assert "Hostile &#34;&gt;&lt;img src=x onerror=alert(1)&gt; javascript:alert(1)" in html
    assert "javascript:alert(1) &lt;script&gt;" in html
    feed = await get_text(client, f"{PAGE}/feed.atom")
    assert SCRIPT not in feed
    assert "<img" not in feed
    entry = next(e for e in feedparser.parse(feed).entries if e.id.endswith("#essay-3"))
    assert entry.author == SCRIPT  # literal text after one level of XML escaping


FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "Forwarded": "host=evil.example"}


async def test_without_a_public_base_url_feeds_are_refused_and_no_forged_host_gets_in(
    symposium: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Changed with issue 'no forged Host in links': the feeds used to take their links from the request's Host."""
    with caplog.at_level("WARNING", logger="adapters.web.app"):
        async for client in serve(symposium, None):
            for path in (f"{PAGE}/feed.atom", f"{PAGE}/calendar.ics", f"{PAGE}.json"):
                response = await client.get(path, headers=FORGED)
                assert response.status == 503, path
                assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
                assert response.headers["Cache-Control"] == "no-store"
                assert response.headers["Content-Security-Policy"] == CSP
                text = await response.text()
                assert "set PUBLIC_BASE_URL to serve feeds" in text
                assert text.count("\n") == 1
                assert "evil" not in text
            assert (await client.get("/s/nope/feed.atom", headers=FORGED)).status == 404
            for path in ("/", PAGE):
                html = await get_text_with(client, path, FORGED)
                assert "evil" not in html
                assert "127.0.0.1" not in html
                assert "://" not in html.replace("https://alice.example", "").replace(
                    "https://harry.example", ""
                ).replace("https://carol.example", "")
                assert ".atom" not in html  # no link to a feed that is not served
                assert "calendar.ics" not in html
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "PUBLIC_BASE_URL" in r.getMessage()]
    assert len(warnings) == 1


async def test_with_a_public_base_url_a_forged_host_changes_no_link(symposium: Harness, client: Client) -> None:
    for path in (f"{PAGE}/feed.atom", f"{PAGE}/calendar.ics", f"{PAGE}.json", "/", PAGE):
        body = await get_text_with(client, path, FORGED)
        assert "evil" not in body, path
        assert "127.0.0.1" not in body, path
    assert json.loads(await get_text_with(client, f"{PAGE}.json", FORGED))["symposium"]["url"] == f"{BASE}{PAGE}"


async def get_text_with(client: Client, path: str, headers: dict[str, str]) -> str:
    response = await client.get(path, headers=headers)
    assert response.status == 200, path
    return await response.text()


async def test_a_first_comment_on_an_essay_announced_bare_becomes_its_introduction_once(
    symposium: Harness, client: Client
) -> None:
    symposium.clock.advance(timedelta(days=1))
    await change(
        symposium,
        client,
        "erin: /symposium publish essay:6 url:https://frank.example/s\nerin: /symposium comment essay:6 text:First words.",
    )
    html = await get_text(client, PAGE)
    essay = html[html.index('id="essay-6"') : html.index('id="essay-3"')]
    assert essay.count("First words.") == 1
    assert "Commentary on" not in essay
    feed = feedparser.parse(await get_text(client, f"{PAGE}/feed.atom"))
    assert len(feed.entries) == 4 + 2


async def test_with_no_symposium_yet_the_list_says_so(engine: AsyncEngine, clock: SimulatedClock) -> None:
    app = build_web_app(engine, CoreSettings(database_url=str(engine.url)), clock, sleep=held)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert "No symposium has opened yet." in await get_text(client, "/")
        assert (await client.get(PAGE)).status == 404


async def test_readers_never_wait_for_the_database_and_get_the_same_page(symposium: Harness, client: Client) -> None:
    """Changed with issue 'the page at static-file speed': requests used to share a snapshot read per batch; now
    they read nothing (the refresher reads), so the assertion is on no statement at all, on the engine the page
    reads through."""
    engine = symposium.engine
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *rest: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        paths = [PAGE, "/", f"{PAGE}/feed.atom", "/s/unknown"] * 5
        responses = await asyncio.gather(*(client.get(path) for path in paths))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert [r.status for r in responses] == [200, 200, 200, 404] * 5
    assert len({r.headers["ETag"] for r in responses if r.url.path == PAGE}) == 1
    assert statements == []
