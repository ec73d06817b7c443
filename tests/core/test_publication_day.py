"""Publication day: the author confirms the date or proposes another, every announcement is previewed in the
review channel and can be held, the bot sees essays go live (a page that answers, an entry in the author's feed)
and reports a day that ended with none, and an announced essay's public name stays what readers read.

The writers' sites are `adapters.console.site.Site` servers on 127.0.0.1, fetched by the bot's real fetcher
with a `Tripwire` socket factory: any attempt to connect outside loopback fails the test.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from adapters.console.site import FEED, Site
from adapters.fetch import Fetcher, FetchSettings
from bot.clock import SimulatedClock
from bot.db.models import LiveCheck, OutboxRow, PostedMessage
from tests.conftest import OPEN, Harness, blocks, harness_for
from tests.net import Tripwire

DAY = datetime.fromisoformat("2023-03-14T09:00+00:00")  # a Tuesday in the publication window
APPROVED = """
ada: /intent title:Orchestrators forever
ada: /submit url:https://drafts.example/ada
erin: /symposium decide essay:1 decision:approve
"""


@dataclass
class World:
    harness: Harness
    site: Site
    tripwire: Tripwire

    async def run(self, script: str) -> str:
        return await self.harness.run(script)

    async def posts(self, key_prefix: str) -> int:
        async with self.harness.engine.connect() as conn:
            return int(
                await conn.scalar(
                    select(func.count()).select_from(PostedMessage).where(PostedMessage.key.like(f"{key_prefix}%"))
                )
                or 0
            )


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    site = Site(name="Bo's notes")
    runner = await site.serve()
    yield site
    await runner.cleanup()


@pytest.fixture
async def world(database_url: str, clock: SimulatedClock, site: Site) -> AsyncIterator[World]:
    tripwire = Tripwire()
    async with (
        Fetcher(FetchSettings(fetch_allow_hosts="127.0.0.1"), socket_factory=tripwire) as fetcher,
        harness_for(database_url, clock, {"erin"}, fetcher=fetcher) as harness,
    ):
        await harness.run(OPEN)
        yield World(harness, site, tripwire)
    assert tripwire.outside == []


def the(transcript: str, head: str) -> list[str]:
    """The messages of a transcript whose first line contains `head`."""
    return [b for b in blocks(transcript) if head in b.splitlines()[0]]


# ----- the author confirms the date, or proposes another


async def test_the_author_confirms_or_proposes_a_day_and_an_editor_accepts_it(harness: Harness) -> None:
    await harness.run(OPEN + "\n" + APPROVED + "\nclock: 2023-03-10T09:00+00:00")
    out = await harness.run("erin: /symposium schedule essay:1 date:2023-03-14")
    (asked,) = the(out, "[DM ada] “Orchestrators forever” has a publication date")
    assert "Confirm it, or propose another day between Mon 13 Mar and Fri 28 Apr" in asked
    assert "not yet confirmed by its author" in the(out, "[#review] Essay 1")[0]

    assert "is not yours" in await harness.run("bo: /symposium confirm essay:1")
    out = await harness.run("ada: /symposium confirm essay:1")
    assert "date confirmed" in out
    assert "confirmed by its author." in the(out, "[#review] Essay 1")[0]

    out = await harness.run("ada: /symposium propose essay:1 date:2023-03-16")
    (proposal,) = the(out, "its author proposes another day")
    assert "its author proposes Thu 2023-03-16 09:00 UTC" in proposal
    assert "your date stays Tue 2023-03-14" in out

    assert "Only the symposium's editors" in await harness.run("ada: /symposium accept essay:1")
    assert "now proposes Thu 16 Mar" in await harness.run("erin: /symposium accept essay:1 date:2023-03-17")
    out = await harness.run("erin: /symposium accept essay:1 date:2023-03-16")
    assert "It is published Thu 2023-03-16 09:00 UTC" in out
    assert "Thu 2023-03-16 09:00 UTC (in 6 days); confirmed by its author." in the(out, "[#review] Essay 1")[0]
    assert the(out, "[DM ada] “Orchestrators forever”: your day is accepted")
    assert "has nothing waiting" in await harness.run("erin: /symposium accept essay:1")


async def test_a_date_outside_the_window_or_too_soon_cannot_be_proposed(harness: Harness) -> None:
    await harness.run(OPEN + "\n" + APPROVED + "\nclock: 2023-03-13T00:00+00:00")
    await harness.run("erin: /symposium schedule essay:1 date:2023-03-14")
    assert "inside the publication window" in await harness.run("ada: /symposium propose essay:1 date:2023-05-02")
    assert "too close" in await harness.run("ada: /symposium propose essay:1 date:2023-03-13")
    assert "your date already" in await harness.run("ada: /symposium propose essay:1 date:2023-03-14")


async def test_an_unconfirmed_date_is_asked_about_once_two_days_before_and_said_when_published(
    harness: Harness,
) -> None:
    await harness.run(OPEN + "\n" + APPROVED + "\nclock: 2023-03-08T09:00+00:00")
    await harness.run("erin: /symposium schedule essay:1 date:2023-03-14")
    out = await harness.run("clock: 2023-03-13T09:00+00:00")
    (reminder,) = the(out, "[DM ada] Please confirm")
    assert "Does it suit you?" in reminder
    assert "not yet confirmed by its author" in the(out, "[#review] Preview of essay 1")[0]
    out = await harness.run("erin: /symposium publish essay:1 url:https://host.example/ada")
    assert "its author had not confirmed the arranged date" in out


# ----- previews


async def test_the_preview_is_the_announcement_and_follows_its_changes(harness: Harness) -> None:
    await harness.run(OPEN + "\n" + APPROVED + "\nclock: 2023-03-10T09:00+00:00")
    out = await harness.run("erin: /symposium schedule essay:1 date:2023-03-14 url:https://host.example/ada")
    assert not the(out, "New essay")  # the day before, not now
    out = await harness.run("clock: 2023-03-13T09:00+00:00")
    assert len(the(out, "[#review] New essay: Orchestrators forever")) == 1
    (note,) = the(out, "[#review] Preview of essay 1")
    assert "exactly as it will be posted in #general" in note
    assert "not yet confirmed by its author" in note

    out = await harness.run("erin: /symposium comment essay:1 text:Ada looks at metadata.")
    (edited,) = the(out, "(edited) [#review] New essay: Orchestrators forever")
    assert "Ada looks at metadata." in edited
    out = await harness.run("ada: /intent pen_name:A. Lovelace")
    (renamed,) = the(out, "(edited) [#review] New essay")
    assert "by A. Lovelace" in renamed

    out = await harness.run("clock: 2023-03-14T09:01+00:00")
    (announcement,) = the(out, "[#general] New essay: Orchestrators forever")
    body = lambda message: message.split("] ", 1)[1]  # noqa: E731  (what follows the place)
    assert body(announcement) == body(renamed)


async def test_a_held_essay_is_not_announced_and_its_author_is_told(harness: Harness) -> None:
    await harness.run(OPEN + "\n" + APPROVED + "\nclock: 2023-03-10T09:00+00:00")
    await harness.run("erin: /symposium schedule essay:1 date:2023-03-11 url:https://host.example/ada")
    out = await harness.run("erin: /symposium preview essay:1")
    assert "exactly as it will be posted, is in #review" in out
    assert the(out, "[#review] New essay: Orchestrators forever")
    note = the(out, "[#review] Preview of essay 1")[0].split()[0]  # its number, to react on

    assert "Only the symposium's editors can hold" in await harness.run(f"ada: react ⏸️ {note}")
    assert "Nothing changed" not in await harness.run(f"ada: react ⏸️ {note}")  # said once
    out = await harness.run(f"erin: react ⏸️ {note}")
    assert "Held by erin" in the(out, "(edited) [#review] Preview of essay 1")[0]
    (moved,) = the(out, "[DM ada] “Orchestrators forever”: the publication date moved")
    assert "will not be published on Sat 2023-03-11 09:00 UTC" in moved

    out = await harness.run("clock: +3d")
    assert not the(out, "[#general] New essay")
    assert "approved, without a date" in await harness.run("erin: /symposium status")


# ----- seeing essays live


async def test_a_cross_poster_needs_only_intent_and_submit_and_is_announced_from_their_feed(world: World) -> None:
    """Bo's two commands; the draft he submits is on his site, whose pages name its feed."""
    draft = world.site.base + "/drafts/conductor"
    world.site.pages["/drafts/conductor"] = "The conductor's baton (draft)"
    await world.run(
        f"bo: /intent title:The conductor's baton route:crosspost\nbo: /submit url:{draft}\n"
        "erin: /symposium decide essay:1 decision:approve\nclock: 2023-03-10T09:00+00:00\n"
        "erin: /symposium schedule essay:1 date:2023-03-14"
    )
    out = await world.run("clock: 2023-03-14T10:00+00:00")  # its time came, nothing on the site yet
    assert not the(out, "[#general] New essay")
    assert world.site.fetches[FEED] >= 1

    link = world.site.publish("The Conductor’s Baton", "/p/the-conductors-baton", DAY + timedelta(hours=1, minutes=5))
    world.harness.clock.set(DAY + timedelta(hours=1, minutes=5))
    out = await world.run("clock: +15m")  # one poll
    (announcement,) = the(out, "[#general] New essay: The conductor's baton")
    assert link in announcement
    assert the(out, "[DM bo] “The conductor's baton” is live")


async def test_a_feed_that_fails_or_has_not_changed_changes_nothing_and_is_polled_at_most_every_15_minutes(
    world: World,
) -> None:
    world.site.answer = 404
    await world.run(
        f"bo: /intent title:The conductor's baton route:crosspost feed:{world.site.base}/\n"
        f"bo: /submit url:{world.site.base}/drafts/x\nerin: /symposium decide essay:1 decision:approve\n"
        "clock: 2023-03-10T09:00+00:00\nerin: /symposium schedule essay:1 date:2023-03-14\n"
        "clock: 2023-03-14T08:00+00:00"
    )
    before = world.site.fetches[FEED]
    for answer in (404, 410, b"<html>not a feed</html>", 500, None, None):
        world.site.answer = answer
        out = await world.run("clock: +15m")
        assert not the(out, "New essay")
    assert world.site.fetches[FEED] - before == 6  # one look per 15 minutes, whatever it answered
    world.site.fetches.clear()
    out = await world.run("clock: +14m")
    assert world.site.fetches[FEED] == 0
    async with world.harness.engine.connect() as conn:
        etag = await conn.scalar(select(LiveCheck.etag))
    assert etag  # the unchanged feed answered 304 to it (None above: the same feed twice)


@pytest.mark.slow  # a day and a half of looks at the feed, every 15 minutes
async def test_a_missed_day_is_reported_once_to_the_author_and_the_review_channel(world: World) -> None:
    await world.run(
        "bo: /intent title:The conductor's baton route:crosspost\nbo: /submit url:https://drafts.example/bo\n"
        "erin: /symposium decide essay:1 decision:approve\nclock: 2023-03-10T09:00+00:00\n"
        "erin: /symposium schedule essay:1 date:2023-03-14"
    )
    out = await world.run("clock: 2023-03-15T03:00+00:00")  # the day ended at midnight
    (editors,) = the(out, "[#review] Essay 1 is not live")
    assert "was due Tue 2023-03-14 09:00 UTC" in editors
    (author,) = the(out, "[DM bo] “The conductor's baton” is not live yet")
    assert "/submit live:<link>" in author
    out = await world.run("clock: +6h")  # 24 more looks at the feed: none reports it again
    assert not the(out, "is not live")
    assert "was due" in await world.run("erin: /symposium status")


async def test_a_direct_essay_is_announced_when_its_page_answers_at_the_final_address(world: World) -> None:
    world.site.moved["/ada"] = "/p/orchestrators-forever"
    await world.run(
        APPROVED + "\nclock: 2023-03-10T09:00+00:00\n"
        f"erin: /symposium schedule essay:1 date:2023-03-14 url:{world.site.base}/ada"
    )
    out = await world.run("clock: 2023-03-14T10:00+00:00")
    assert not the(out, "[#general] New essay")  # the page answers 404 at its time
    (told,) = the(out, "[#review] Essay 1 is not live")
    assert "answered 404" in told

    world.site.publish("Orchestrators forever", "/p/orchestrators-forever", DAY)
    out = await world.run("clock: +15m")
    (announcement,) = the(out, "[#general] New essay: Orchestrators forever")
    assert f"{world.site.base}/p/orchestrators-forever" in announcement
    assert not the(out, "is not live")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_processes_that_both_see_an_essay_live_announce_it_once(
    database_url: str, clock: SimulatedClock, site: Site
) -> None:
    async with (
        Fetcher(FetchSettings(fetch_allow_hosts="127.0.0.1"), socket_factory=Tripwire()) as fetcher,
        harness_for(database_url, clock, {"erin"}, fetcher=fetcher) as first,
        harness_for(database_url, clock, {"erin"}, fetcher=fetcher) as second,
    ):
        await first.run(
            OPEN + f"\nbo: /intent title:Baton route:crosspost feed:{site.base}/\nbo: /submit url:{site.base}/d\n"
            "erin: /symposium decide essay:1 decision:approve\nclock: 2023-03-10T09:00+00:00\n"
            "erin: /symposium schedule essay:1 date:2023-03-14"
        )
        site.publish("Baton", "/p/baton", DAY)
        clock.set(DAY + timedelta(minutes=1))
        await asyncio.gather(first.bot.tick(), second.bot.tick(), first.bot.tick(), second.bot.tick())
        async with first.engine.connect() as conn:
            announced = await conn.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.key.like("announcement:%"))
            )
    assert announced == 1


# ----- names


async def test_an_announced_essay_keeps_its_public_name_until_an_editor_renames_it(harness: Harness) -> None:
    await harness.run(
        OPEN + "\nada: /intent title:Orchestrators forever pen_name:A. Lovelace\n"
        "ada: /submit url:https://drafts.example/ada\nerin: /symposium decide essay:1 decision:approve\n"
        "clock: 2023-03-14T09:00+00:00\nerin: /symposium publish essay:1 url:https://host.example/ada"
    )
    out = await harness.run("ada: /intent pen_name:Ada")
    assert "can no longer change here" in out
    assert "/symposium rename essay:1" in out
    assert "Say what changes" in await harness.run("erin: /symposium rename essay:1")
    out = await harness.run("erin: /symposium rename essay:1 pen_name:none")
    (edited,) = the(out, "(edited) [#general] New essay: Orchestrators forever")
    assert "by ada" in edited
    assert "A. Lovelace" not in edited
    assert the(out, "[DM ada] “Orchestrators forever” was updated")


async def test_a_withdrawal_names_its_author_and_reason_on_the_card(harness: Harness) -> None:
    await harness.run(OPEN + "\n" + APPROVED)
    out = await harness.run("ada: /withdraw reason:My employer asked me not to publish")
    card = the(out, "(edited) [#review] Essay 1")[0]
    assert "withdrawn by ada, its author" in card
    assert "Reason: My employer asked me not to publish" in card
    assert "erin" not in card.split("Status:")[1]
