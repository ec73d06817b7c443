"""The public page in a real browser: headless Chromium (Debian's package) driven by Playwright, and checked
with axe-core, the accessibility engine.

Skipped, saying why, where /usr/bin/chromium is absent (`apt-get install chromium`). axe-core's script comes
from the PyPI package axe-playwright-python (a test dependency, which ships `axe.min.js`); set AXE_CORE_JS to
the path of another `axe.min.js` (such as npm's `axe-core/axe.min.js`) to check with that one instead."""

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, ConsoleMessage, Dialog, Error, Page, async_playwright

from adapters.web.app import SITE, build_web_app, serve_web
from bot.settings import CoreSettings
from tests.conftest import BuiltStates, Harness

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SLUG = "orchestrator-2023"
PUBLICATION = "clock: 2023-03-13T09:30+00:00"
HOSTILE_TITLE = 'Hostile "><img src=x onerror=alert(1)> javascript:alert(1)'
HOSTILE_COMMENT = "<script>alert(1)</script> javascript:alert(1)"

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no Chromium at /usr/bin/chromium (apt-get install chromium): browser tests skipped",
    ),
    # What the browser shows does not depend on the database behind the page (tests/adapters/test_web.py serves
    # the same page from both).
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

SCRIPT = f"""
erin: /symposium open title:Is the orchestrator dead or alive? prompt:Is the orchestrator dead or alive? \
intent_deadline:2023-03-03 due:2023-03-10 publish_from:2023-03-13 publish_to:2023-04-28 review_channel:#review \
alt_prompts:What comes after? timezone:Europe/Berlin slug:{SLUG}
alice: /intent title:Alive and well
bob: /intent title:Dead as a doornail route:crosspost pen_name:Harry Flow
carol: /intent title:{HOSTILE_TITLE} pen_name:<script>alert(1)</script>
dave: /intent title:The fourth essay
alice: /submit url:https://alice.example/alive
erin: react ✅ last
bob: /submit url:https://harry.example/dead
erin: react ✅ last
carol: /submit url:https://carol.example/x
erin: react ✅ last
dave: /submit url:https://dave.example/four
erin: react ✅ last
erin: /symposium schedule essay:4 date:2023-03-20
{PUBLICATION}
erin: /symposium publish essay:1 url:https://alice.example/alive commentary:Alice opens the symposium.
clock: +1h
erin: /symposium publish essay:2 url:https://harry.example/dead commentary:Harry Flow disagrees.
clock: +1h
erin: /symposium publish essay:3 url:https://carol.example/x commentary:{HOSTILE_COMMENT}
erin: /symposium comment essay:1 text:Readers ask for a sequel.
"""


BEFORE_PUBLICATION, AFTER = SCRIPT.split(PUBLICATION)


async def held(seconds: float) -> None:
    """The refresher's sleep here: it never ends, so the page changes when a test refreshes it."""
    await asyncio.Event().wait()


@dataclass
class Served:
    root: str
    url: str
    refresh: Any


@asynccontextmanager
async def serve(harness: Harness, script: str) -> AsyncIterator[Served]:
    """The symposium after `script`, served on a real port of 127.0.0.1."""
    await harness.run(script)
    settings = CoreSettings(database_url=str(harness.engine.url), public_base_url="https://symposium.example")
    app = build_web_app(harness.engine, settings, harness.clock, sleep=held)
    runner = await serve_web(app, "127.0.0.1", 0)
    try:
        host, port = runner.addresses[0][:2]
        yield Served(f"http://{host}:{port}/", f"http://{host}:{port}/s/{SLUG}", app[SITE].refresh)
    finally:
        await runner.cleanup()


async def build(harness: Harness) -> None:
    await harness.run(SCRIPT)


@pytest.fixture
async def served(harness: Harness, built_states: BuiltStates) -> AsyncIterator[Served]:
    """The scripted symposium, three essays published, served on a real port of 127.0.0.1."""
    await built_states.enter(harness, "browser", build)
    async with serve(harness, "") as served:
        yield served


@pytest.fixture
async def site(served: Served) -> str:
    """The symposium page's address."""
    return served.url


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        await browser.close()


class Watch:
    """Everything a page must never do: open a dialog, log an error, throw."""

    def __init__(self, page: Page) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self.dialog)
        page.on("console", self.console)
        page.on("pageerror", self.page_error)

    async def dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    def console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(message.text)

    def page_error(self, error: Error) -> None:
        self.errors.append(str(error))


async def test_the_page_follows_the_symposium_live_and_runs_nothing_it_shows(
    harness: Harness, served: Served, site: str, browser: Browser
) -> None:
    context = await browser.new_context(timezone_id="Asia/Tokyo", locale="en-GB")
    page = await context.new_page()
    watch = Watch(page)
    response = await page.goto(site)
    assert response is not None
    assert response.status == 200

    index = page.locator("#index li")
    assert await index.count() == 3
    texts = await index.all_inner_texts()
    assert "Alive and well" in texts[0]
    assert "Dead as a doornail by Harry Flow" in texts[1]
    assert HOSTILE_TITLE in texts[2]
    assert "Alice opens the symposium." in await page.locator("#essay-1").inner_text()
    assert "Readers ask for a sequel." in await page.locator("#essay-1 .running").inner_text()
    assert "Harry Flow disagrees." in await page.locator("#essay-2").inner_text()
    assert await page.locator("#essay-3 h3").inner_text() == HOSTILE_TITLE
    assert HOSTILE_COMMENT in await page.locator("#essay-3").inner_text()
    assert await page.locator("#essay-3 script, #essay-3 img, #index img").count() == 0
    assert await page.locator("a[href^='javascript']").count() == 0
    assert await page.locator("#coming-up li").count() == 1

    harness.clock.set(datetime.fromisoformat("2023-03-14T09:00+00:00"))
    await harness.run("erin: /symposium publish essay:4 url:https://dave.example/four commentary:And a fourth.")
    await served.refresh()  # the refresher's next turn
    await page.reload()
    assert await index.count() == 4
    assert "The fourth essay" in (await index.all_inner_texts())[3]
    assert "And a fourth." in await page.locator("#essay-4").inner_text()
    assert await page.locator("#coming-up li").count() == 0

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)
    assert watch.dialogs == []
    assert watch.errors == []
    await context.close()


async def test_times_show_in_the_readers_zone_and_read_fine_without_script(site: str, browser: Browser) -> None:
    plain = await browser.new_context(java_script_enabled=False)
    tokyo = await browser.new_context(timezone_id="Asia/Tokyo", locale="en-GB")
    shown: dict[str, list[str]] = {}
    for name, context in (("plain", plain), ("tokyo", tokyo)):
        page = await context.new_page()
        watch = Watch(page)
        await page.goto(site)
        shown[name] = await page.locator("#index time").all_inner_texts()
        assert watch.errors == []
        await context.close()
    assert shown["plain"][0] == "Mon 2023-03-13 10:30 Europe/Berlin"
    assert shown["tokyo"][0] != shown["plain"][0]
    assert "18:30" in shown["tokyo"][0]
    assert "GMT+9" in shown["tokyo"][0]
    assert len(shown["tokyo"]) == len(shown["plain"]) == 3


async def test_the_page_fits_a_phone(site: str, browser: Browser) -> None:
    context = await browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = await context.new_page()
    await page.goto(site)
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await context.close()


def axe_script() -> str:
    """axe-core's browser script: AXE_CORE_JS when set, else the copy that axe-playwright-python ships."""
    if path := os.environ.get("AXE_CORE_JS"):
        return Path(path).read_text(encoding="utf-8")
    return resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's default rule set (WCAG 2.x A and AA, and best practices) on the page as it is now. Injected
    through the DevTools protocol, so the page's strict CSP stays as it is."""
    await page.evaluate(axe_script())
    violations: list[dict[str, Any]] = await page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => [n.target.join(" "), n.failureSummary])
        }))"""
    )
    return violations


@pytest.mark.slow  # axe runs on six pages
async def test_the_pages_have_no_accessibility_violations_before_and_after_publication(
    harness: Harness, browser: Browser
) -> None:
    async with serve(harness, BEFORE_PUBLICATION) as served:
        for scheme in ("light", "dark"):
            context = await browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
            page = await context.new_page()
            watch = Watch(page)
            for url in (served.root, served.url):
                await page.goto(url)
                assert await axe_violations(page) == [], (scheme, url)
            assert await page.locator("#take-part details[open]").count() == 1
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / f"web-page-before-publication-{scheme}.png"), full_page=True)
            await context.close()
            assert watch.errors == []

        await harness.run(PUBLICATION + AFTER)
        await served.refresh()
        for scheme in ("light", "dark"):
            context = await browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
            page = await context.new_page()
            await page.goto(served.url)
            assert await axe_violations(page) == [], scheme
            await page.locator("#take-part summary").click()  # unfolded, too
            assert await page.locator("#take-part details[open]").count() == 1
            assert await axe_violations(page) == [], scheme
            await context.close()


async def test_once_publication_began_the_essay_index_is_in_view_at_1280_by_800(site: str, browser: Browser) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(site)
    heading = await page.locator("#index-heading").bounding_box()
    last = await page.locator("#index li").last.bounding_box()
    assert heading is not None
    assert last is not None
    assert heading["y"] < 400
    assert last["y"] + last["height"] <= 800  # the whole index of three essays, without scrolling
    assert await page.locator("#take-part details[open]").count() == 0
    assert not await page.locator("#take-part dl.commands").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "web-page-1280x800.png"))
    await context.close()
