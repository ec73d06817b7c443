"""The symposium page's layout and the call's prose: before publication the call and how to take part lead; the
call's own text is Markdown, rendered and sanitised, so the host's paragraphs, links and emphasis read as they
wrote them and nothing else gets through."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.web.app import build_web_app
from adapters.web.render import markdown_html
from bot.settings import CoreSettings
from tests.conftest import Harness

Client = TestClient[web.Request, web.Application]
PAGE = "/s/prose-2023"
OPEN = (
    "erin: /symposium open title:Is the orchestrator dead or alive? prompt:Is the orchestrator dead or alive? "
    "intent_deadline:2023-03-03 due:2023-03-10 publish_from:2023-03-13 publish_to:2023-04-28 review_channel:#review "
    "alt_prompts:What comes after? slug:prose-2023"
)
CALL = """We invite essays of **about 1,000 words** on the prompt, or on *one of the alternatives*.

Read [the first symposium](https://example.org/2022) first; questions to [the editors](mailto:editors@example.org).
A second line of the same paragraph.

- Pen names are welcome.
- Vendors may write too.

> Quoting is fine.

Not links: [script](javascript:alert(1)), [data](data:text/html,x), [relative](/s/other), ![tracker](https://t.example/p.png)
Not markup: <script>alert(1)</script> <img src=x onerror=alert(1)> <a href="https://evil.example">raw</a>

# Not a heading"""


async def held(seconds: float) -> None:
    await asyncio.Event().wait()


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[Client]:
    await harness.start_from(OPEN)
    start = len(harness.transcript)
    await harness.session.command("erin", f"/symposium edit call:{CALL}")  # one command, many lines
    await harness.bot.deliver()
    answer = "\n".join(harness.transcript[start:])
    assert "That didn't work" not in answer, answer
    settings = CoreSettings(database_url=str(harness.engine.url), public_base_url="https://symposium.example")
    app = build_web_app(harness.engine, settings, harness.clock, sleep=held)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def page(client: Client) -> str:
    response = await client.get(PAGE)
    assert response.status == 200
    return await response.text()


async def test_before_publication_the_call_and_how_to_take_part_lead(client: Client) -> None:
    html = await page(client)
    headings = ["The call", "How to take part", "Essay Index", "The Symposium", "Coming up"]
    positions = [html.index(f">{h}</h2>") for h in headings]
    assert positions == sorted(positions)
    assert '<details open>\n<summary><h2 id="take-part-heading">How to take part</h2></summary>' in html
    assert "Nothing yet: the first essays are on their way." in html
    assert '<nav aria-label="On this page">' not in html


async def test_the_call_is_the_hosts_prose_rendered_from_markdown(client: Client) -> None:
    html = await page(client)
    call = html[html.index('<section id="call"') : html.index('<section id="take-part"')]
    assert '<p class="prompt"><strong>Prompt:</strong> Is the orchestrator dead or alive?</p>' in call
    assert "<li>Alternative 1: What comes after?</li>" in call
    assert (
        "<p>We invite essays of <strong>about 1,000 words</strong> on the prompt, or on <em>one of the alternatives</em>.</p>"
        in call
    )
    assert '<a href="https://example.org/2022" rel="nofollow noopener">the first symposium</a>' in call
    assert '<a href="mailto:editors@example.org" rel="nofollow noopener">the editors</a>' in call
    assert "editors</a>.<br>\nA second line of the same paragraph.</p>" in call
    assert "<ul>\n<li>Pen names are welcome.</li>\n<li>Vendors may write too.</li>\n</ul>" in call
    assert "<blockquote>\n<p>Quoting is fine.</p>\n</blockquote>" in call
    assert "[script](javascript:alert(1))" in call
    assert "[relative](/s/other)" in call
    assert "[data](data:text/html,x)" in call
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in call
    assert "&lt;img src=x onerror=alert(1)&gt;" in call
    assert "<p># Not a heading</p>" in call
    for never in (
        "<script",
        "<img",
        'javascript:alert(1)"',
        'href="/s/other"',
        '<a href="https://evil.example"',
        "<h1>Not",
    ):
        assert never not in call, never
    assert call.index("Alternative 1") < call.index("We invite") < call.index("Intent to Submit by")
    assert html.count("<a ") == html.count("<a href=")  # every anchor is a link with an address


async def test_the_page_tells_the_call_in_json_as_the_host_wrote_it(client: Client) -> None:
    response = await client.get(f"{PAGE}.json")
    assert (await response.json())["symposium"]["call"] == CALL


def test_markdown_keeps_only_the_allowed_tags() -> None:
    out = markdown_html('**b** _i_ `c` <b>x</b> [a](https://a.example "t")\n\n```\n<pre>\n```\n\n3. three')
    assert out == (
        '<p><strong>b</strong> <em>i</em> <code>c</code> &lt;b&gt;x&lt;/b&gt; <a href="https://a.example" '
        'rel="nofollow noopener">a</a></p>\n<pre><code>&lt;pre&gt;\n</code></pre>\n<ol start="3">\n<li>three</li>\n</ol>'
    )
