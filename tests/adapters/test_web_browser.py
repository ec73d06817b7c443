"""The public page in a real browser: headless Chromium (Debian's package) driven by Playwright.

Skipped, saying why, where /usr/bin/chromium is absent (`apt-get install chromium`)."""

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Dialog, Error, Page, async_playwright

from adapters.web.app import build_web_app, serve_web
from bot.settings import CoreSettings
from tests.conftest import Harness

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
HOSTILE_TITLE = 'Hostile "><img src=x onerror=alert(1)> javascript:alert(1)'
HOSTILE_COMMENT = "<script>alert(1)</script> javascript:alert(1)"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium (apt-get install chromium): browser tests skipped"
)

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
clock: 2023-03-13T09:30+00:00
erin: /symposium publish essay:1 url:https://alice.example/alive commentary:Alice opens the symposium.
clock: +1h
erin: /symposium publish essay:2 url:https://harry.example/dead commentary:Harry Flow disagrees.
clock: +1h
erin: /symposium publish essay:3 url:https://carol.example/x commentary:{HOSTILE_COMMENT}
erin: /symposium comment essay:1 text:Readers ask for a sequel.
"""


@pytest.fixture
async def site(harness: Harness) -> AsyncIterator[str]:
    """The scripted symposium, served on a real port of 127.0.0.1; yields the page's address."""
    await harness.run(SCRIPT)
    settings = CoreSettings(database_url=str(harness.engine.url))
    runner = await serve_web(build_web_app(harness.engine, settings, harness.clock), "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}/s/{SLUG}"
    await runner.cleanup()


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
    harness: Harness, site: str, browser: Browser
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
