"""Delivery through the Web API: rate limits and server errors, refused channels, files, and what each Slack
error becomes for the outbox."""

from collections.abc import Awaitable
from datetime import timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack.pacing import Pacer
from adapters.slack.sender import SlackPlatform
from bot.clock import SimulatedClock
from bot.db.models import OutboxRow
from bot.messages import Attachment, MessageBuilder
from bot.ports import Attempt, MessageGone, RetryLater, Undeliverable
from tests.adapters.test_slack import (
    ALICE,
    BOB,
    EDITOR,
    GENERAL,
    OPEN_ARGS,
    OTHER,
    REVIEW,
    SlackRig,
    cards,
    fake,
    fake_slack,
    headers_in,
    rig,
    simulated_pacer,
)
from tests.conftest import snapshot
from tests.fakes.slack_api import BOT_USER_ID, TEAM_ID, FakeSlack

__all__ = ["fake", "fake_slack", "rig"]  # fixtures, used by name

NOTE = MessageBuilder("Hello", tag="note").line("A line").build()
A = Attempt("symposium-test")


async def test_429s_and_500s_delay_messages_but_each_arrives_once_and_in_order(
    rig: SlackRig, fake: FakeSlack, engine: AsyncEngine
) -> None:
    await rig.open_symposium()
    writers = [ALICE, BOB, OTHER]
    for n, user in enumerate(writers, 1):
        await rig.command(user, f"/intent title:Essay number {n}")
        await rig.command(user, f"/submit https://writer{n}.example/essay")
    fake.fail("chat.postMessage", status=429, retry_after=30, times=2)
    fake.fail("chat.postMessage", status=500, times=2)
    fake.fail("reactions.add", status=503, times=1)

    await rig.bot.tick()  # the first card meets the 429: the review channel waits 30 s
    assert cards(fake) == []
    await rig.advance(timedelta(seconds=29))
    assert cards(fake) == []
    for _ in range(8):  # Retry-After, then the outbox's backoff after each 5xx
        await rig.advance(timedelta(minutes=2))

    titles = [header for _, header in headers_in(fake.channels[REVIEW])]
    assert titles == ["Essay 1: Essay number 1", "Essay 2: Essay number 2", "Essay 3: Essay number 3"]
    statuses = [c.status for c in fake.calls_to("chat.postMessage") if c.payload["channel"] == REVIEW]
    assert statuses == [429, 429, 500, 500, 200, 200, 200]
    for ts in cards(fake):
        assert sorted(fake.channels[REVIEW].messages[ts].reactions) == ["pencil2", "white_check_mark", "x"]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(OutboxRow.status, OutboxRow.due_at))).all()
    assert all(status == "sent" or (status == "pending" and due > rig.clock.now()) for status, due in rows)


async def test_opening_refuses_channels_the_bot_cannot_post_in_and_names_the_fix(
    rig: SlackRig, fake: FakeSlack, engine: AsyncEngine
) -> None:
    fake.add_channel(REVIEW, name="review", is_private=True, is_member=False)
    before = await snapshot(engine)

    not_member = await rig.command(EDITOR, f"/symposium open {OPEN_ARGS}")
    fake.delete_channel(REVIEW)
    missing = await rig.command(EDITOR, f"/symposium open {OPEN_ARGS}")

    assert "can't post in the review channel" in not_member
    assert "/invite @symposium" in not_member
    assert "deleted, or it is private" in missing
    assert "channel_not_found" in missing
    assert await snapshot(engine) == before


async def test_a_channel_that_fails_later_becomes_a_notice_in_the_review_channel(
    rig: SlackRig, fake: FakeSlack
) -> None:
    await rig.open_symposium()
    fake.channels[GENERAL].is_member = False  # someone removed the bot from #general

    await rig.command(EDITOR, "/symposium edit title:Is the orchestrator still alive?")
    await rig.advance(timedelta(minutes=2))

    notices = [m.text for m in fake.channels[REVIEW].messages.values() if "could not deliver" in m.text]
    assert len(notices) == 1
    assert "not_in_channel" in notices[0]
    assert "To fix: invite the bot to the channel with /invite @symposium" in notices[0]
    status = await rig.command(EDITOR, "/symposium status")
    assert "not_in_channel" in status


async def test_export_reaches_the_editor_as_a_file_in_a_direct_message(rig: SlackRig, fake: FakeSlack) -> None:
    await rig.open_symposium()
    await rig.command(ALICE, "/intent title:Orchestrators forever pen_name:A. Nonymous")

    assert "privately" in await rig.command(EDITOR, "/symposium export")
    await rig.bot.tick()

    uploads = {file["name"].rsplit("-", 1)[-1]: file for file in fake.files.values()}
    assert set(uploads) == {"export.csv", "history.csv"}
    upload = uploads["export.csv"]
    assert upload["channel"] == fake.dm_channel_id(EDITOR)
    assert b"A. Nonymous" in upload["content"]
    assert "Export of" in upload["initial_comment"]
    assert b"declared an intent" in uploads["history.csv"]["content"]


@pytest.fixture
def platform(fake: FakeSlack, clock: SimulatedClock) -> SlackPlatform:
    """The sender alone, without a database."""
    return SlackPlatform(AsyncWebClient(token="xoxb-test", base_url=fake.api_url), clock, simulated_pacer(clock))


async def failure(call: Awaitable[object]) -> Exception:
    with pytest.raises((RetryLater, Undeliverable, MessageGone)) as raised:
        await call
    return raised.value


async def test_slack_errors_become_retry_later_undeliverable_or_message_gone(
    platform: SlackPlatform, fake: FakeSlack
) -> None:
    fake.fail("chat.postMessage", status=429, retry_after=7)
    fake.fail("chat.postMessage", status=502)
    fake.fail("chat.postMessage", error="missing_scope")
    fake.fail("chat.postMessage", error="is_archived")
    fake.fail("chat.postMessage", error="invalid_auth")
    limited = await failure(platform.post(TEAM_ID, GENERAL, NOTE, A))
    server = await failure(platform.post(TEAM_ID, GENERAL, NOTE, A))
    scope = await failure(platform.post(TEAM_ID, GENERAL, NOTE, A))
    archived = await failure(platform.post(TEAM_ID, GENERAL, NOTE, A))
    auth = await failure(platform.post(TEAM_ID, GENERAL, NOTE, A))
    gone = await failure(platform.edit(TEAM_ID, GENERAL, "1.000000", NOTE))
    bot_dm = await failure(platform.direct_message(TEAM_ID, BOT_USER_ID, NOTE, A))

    assert isinstance(limited, RetryLater)
    assert limited.after_seconds == 7
    assert isinstance(server, RetryLater)
    assert server.after_seconds is None
    assert isinstance(scope, Undeliverable)
    assert "scope under OAuth & Permissions" in scope.hint
    assert isinstance(archived, Undeliverable)
    assert "unarchive" in archived.hint
    assert isinstance(auth, Undeliverable)
    assert "SLACK_BOT_TOKEN" in auth.hint
    assert isinstance(gone, MessageGone)
    assert isinstance(bot_dm, Undeliverable)
    assert "cannot_dm_bot" in str(bot_dm)


async def test_repeated_pins_and_reactions_are_not_failures(platform: SlackPlatform, fake: FakeSlack) -> None:
    ts = await platform.post(TEAM_ID, GENERAL, NOTE, A)

    await platform.pin(TEAM_ID, GENERAL, ts)
    await platform.pin(TEAM_ID, GENERAL, ts)
    await platform.add_reactions(TEAM_ID, GENERAL, ts, ("✅", "❌", "✏️"))
    await platform.add_reactions(TEAM_ID, GENERAL, ts, ("✅",))
    await platform.unpin(TEAM_ID, GENERAL, ts)
    await platform.unpin(TEAM_ID, GENERAL, ts)

    message = fake.channels[GENERAL].messages[ts]
    assert sorted(message.reactions) == ["pencil2", "white_check_mark", "x"]
    assert fake.channels[GENERAL].pins == []


async def test_check_channel_reports_what_works_and_what_to_grant(platform: SlackPlatform, fake: FakeSlack) -> None:
    fake.add_channel("COUTSIDE", is_member=False)
    fake.delete_channel("CGONE")

    public, private = await platform.check_channel(TEAM_ID, GENERAL), await platform.check_channel(TEAM_ID, REVIEW)
    outside, gone = await platform.check_channel(TEAM_ID, "COUTSIDE"), await platform.check_channel(TEAM_ID, "CGONE")

    assert public.works == ("post", "edit", "pin", "react", "thread")
    assert public.readable_by_everyone
    assert private.can_post
    assert not private.readable_by_everyone
    assert not outside.can_post
    assert outside.missing["pin"] == "invite the bot to the channel with /invite @symposium"
    assert not gone.can_post
    assert "channel_not_found" in gone.missing["post"]
    assert await platform.check_direct_message(TEAM_ID, ALICE) is None
    assert "bots cannot receive direct messages" in (await platform.check_direct_message(TEAM_ID, BOT_USER_ID) or "")


async def test_direct_messages_reuse_the_conversation_and_carry_files(platform: SlackPlatform, fake: FakeSlack) -> None:
    csv = MessageBuilder("Export", tag="notice").line("<b>rows</b> & more").build(Attachment("x.csv", "a,b\n1,2\n"))

    await platform.direct_message(TEAM_ID, ALICE, NOTE, A)
    await platform.direct_message(TEAM_ID, ALICE, csv, A)

    assert len(fake.calls_to("conversations.open")) == 1
    (file,) = fake.files.values()
    assert (file["channel"], file["content"]) == (fake.dm_channel_id(ALICE), b"a,b\n1,2\n")
    assert file["initial_comment"] == "Export\n&lt;b&gt;rows&lt;/b&gt; &amp; more"


async def test_the_pacer_paces_posts_per_channel_from_when_each_finished_and_holds_for_retry_after() -> None:
    now = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(round(seconds, 3))
        now[0] += seconds

    pacer = Pacer({"pins.add": 20}, channel_interval=2.0, now=lambda: now[0], sleep=sleep)
    for channel in ("C1", "C2", "C1"):
        async with pacer.slot("chat.postMessage", channel):
            now[0] += 0.1  # the call takes 100 ms
    async with pacer.slot("pins.add"):
        pass
    pacer.hold("pins.add", 10)
    async with pacer.slot("pins.add"):
        pass
    async with pacer.slot("users.info"):
        pass

    # C2 does not wait (Slack has no workspace-wide post limit); the second C1 post waits for C1's two seconds,
    # counted from when the first one finished; the held pins.add waits out its Retry-After.
    assert waits == [1.9, 10.0]
