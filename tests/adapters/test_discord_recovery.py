"""Recovery on Discord: a dropped gateway, reactions made while away, closed DMs, 429s, 5xx, deleted messages
and missing permissions, each through the real discord.py client and the outbox."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db.models import CardReaction, OutboxRow
from tests.adapters import test_discord
from tests.adapters.test_discord import ALICE, BOB, ERIN, GENERAL, GUILD, MALLORY, REVIEW, World, reply, text
from tests.fakes.discord_api import DEFAULT_BOT_PERMISSIONS, SEND_MESSAGES

fake_discord, fake, world = test_discord.fake_discord, test_discord.fake, test_discord.world
QUIET, LOBBY = "1300000000000000013", "1300000000000000014"


async def submitted(world: World, user: str = ALICE, title: str = "Orchestrators all the way down") -> str:
    """Open a symposium (once), declare and submit; returns the review card's id."""
    if not world.fake.channel_messages(GENERAL):
        await world.open()
    await world.command(user, "intent", {"title": title})
    await world.command(user, "submit", {"url": "https://drafts.example.com/" + user})
    await world.bot.tick()
    return str(world.fake.channel_messages(REVIEW)[-1]["id"])


async def decisions(world: World) -> list[str]:
    async with world.engine.connect() as conn:
        return list((await conn.scalars(select(CardReaction.decision))).all())


@pytest.mark.parametrize("resumable", [True, False], ids=["resumed", "reidentified"])
async def test_the_gateway_dropping_mid_symposium_loses_nothing(world: World, resumable: bool) -> None:
    card = await submitted(world)
    reconciled = world.client.wait_for("cards_reconciled")
    await world.fake.drop_connection(resumable=resumable)
    if resumable:  # the event waits in the session and is replayed after the RESUME
        await world.react(ERIN, card, "✅")
    else:  # a new session replays nothing: reconciliation reads the reaction off the card
        world.fake.store_reaction(REVIEW, card, ERIN, "✅")
        await world.fake.wait_ready()  # at once: the fake_discord fixture skips discord.py's 5 s identify wait
    status = await world.command(ALICE, "symposium status")
    await asyncio.wait_for(reconciled, timeout=5)
    assert (world.fake.resume_count, world.fake.identify_count) == ((1, 1) if resumable else (0, 2))
    assert "Orchestrators all the way down" in reply(status)
    await world.bot.tick()
    assert await decisions(world) == ["approved"]  # the event and the re-read card count once
    assert text(world.fake.messages[REVIEW][card]).endswith("approved by erin\n**Publication:** no date arranged yet.")
    assert len([t for t in world.dm_texts(ALICE) if "approved" in t]) == 1


async def test_a_reaction_added_while_disconnected_is_found_by_reconciliation_and_decided_once(world: World) -> None:
    card = await submitted(world)
    other = await submitted(world, MALLORY, "Schedulers are orchestrators")
    reconciled = world.client.wait_for("cards_reconciled")
    await world.fake.drop_connection(resumable=True)
    world.fake.store_reaction(REVIEW, card, ERIN, "✅")  # no event will ever say so
    world.fake.store_reaction(REVIEW, other, MALLORY, "✅")  # not an editor: read, and changes nothing
    await asyncio.wait_for(reconciled, timeout=5)
    assert world.fake.calls_to("GET", rf"/channels/{REVIEW}/messages/{card}/reactions/✅")
    await world.bot.tick()
    assert await decisions(world) == ["approved"]
    assert text(world.fake.messages[REVIEW][card]).endswith("approved by erin\n**Publication:** no date arranged yet.")
    assert "waiting for review" in text(world.fake.messages[REVIEW][other])

    again = world.client.wait_for("cards_reconciled")
    await world.fake.drop_connection(resumable=True)
    await asyncio.wait_for(again, timeout=5)
    await world.bot.tick()
    assert await decisions(world) == ["approved"]
    assert len([t for t in world.dm_texts(ALICE) if "approved" in t]) == 1


async def test_a_dm_refused_with_50007_is_undeliverable_not_retried_and_named_to_the_editors(world: World) -> None:
    card = await submitted(world, BOB, "Closed doors")
    await world.react(ERIN, card, "✅")
    await world.bot.tick()
    dm_posts = [c for c in world.fake.calls if c.method == "POST" and c.status == 403]
    assert len(dm_posts) == 1
    async with world.engine.connect() as conn:
        failed = (
            await conn.execute(select(OutboxRow.op, OutboxRow.attempts).where(OutboxRow.status == "failed"))
        ).all()
    assert failed == [("dm", 0)]
    [notice] = [m for m in world.fake.channel_messages(REVIEW) if m["embeds"][0]["title"].startswith("I could not")]
    assert "code 50007" in text(notice)
    assert "Privacy Settings" in text(notice)

    # Not retried, however long it waits; the editors' status and their daily digest both name it.
    await submitted(world, ALICE)
    world.clock.advance(timedelta(days=3))
    await world.bot.tick()
    assert len([c for c in world.fake.calls if c.method == "POST" and c.status == 403]) == 1
    assert "50007" in reply(await world.command(ERIN, "symposium status"))
    [digest] = [m for m in world.fake.channel_messages(REVIEW) if m["embeds"][0]["title"].startswith("Daily digest")]
    assert f"undelivered dm to {BOB}" in text(digest)


async def test_a_short_429_is_retried_by_discord_py_and_a_long_one_comes_back_to_the_outbox(world: World) -> None:
    fake = world.fake
    fake.fail("POST", rf"/channels/{GENERAL}/messages", status=429, retry_after=0.05)
    await world.open()
    await world.bot.tick()
    assert [c.status for c in fake.calls_to("POST", rf"/channels/{GENERAL}/messages")] == [429, 200, 200]

    fake.fail("POST", rf"/channels/{REVIEW}/messages", status=429, retry_after=60.0)
    await world.command(ALICE, "intent", {"title": "Backpressure"})
    await world.command(ALICE, "submit", {"url": "https://drafts.example.com/backpressure"})
    await world.bot.tick()
    assert fake.channel_messages(REVIEW) == []
    await world.bot.tick()  # not due yet: nothing is sent
    assert [c.status for c in fake.calls_to("POST", rf"/channels/{REVIEW}/messages")] == [429]
    world.clock.advance(timedelta(seconds=61))
    await world.bot.tick()
    assert [c.status for c in fake.calls_to("POST", rf"/channels/{REVIEW}/messages")] == [429, 200]
    [card] = fake.channel_messages(REVIEW)
    assert fake.reactions[card["id"]] == {e: [fake.bot_id] for e in ("✅", "❌", "✏️")}


async def test_a_server_error_is_retried_by_the_outbox(world: World) -> None:
    world.fake.fail("POST", rf"/channels/{GENERAL}/messages", status=503)  # discord.py itself retries 500/502/504
    await world.open()
    await world.bot.tick()
    posts = world.fake.calls_to("POST", rf"/channels/{GENERAL}/messages")
    assert [c.status for c in posts] == [503, 200]  # the call waits; the index behind it is not held up
    world.clock.advance(timedelta(seconds=10))
    await world.bot.tick()
    assert [c.status for c in world.fake.calls_to("POST", rf"/channels/{GENERAL}/messages")] == [503, 200, 200]
    assert len(world.fake.channel_messages(GENERAL)) == 2


async def test_a_deleted_index_is_posted_again_and_pinned(world: World) -> None:
    await world.open()
    await world.bot.tick()
    [(old, _)] = world.fake.pins[GENERAL]
    await world.client.http.delete_message(int(GENERAL), int(old))  # someone deleted it
    await world.command(ERIN, "symposium edit", {"publish_to": "2023-04-30"})
    world.clock.advance(timedelta(minutes=2))
    await world.bot.tick()
    assert [c.status for c in world.fake.calls_to("PATCH", rf"/channels/{GENERAL}/messages/{old}")] == [404]
    [index] = [m for m in world.fake.channel_messages(GENERAL) if m["embeds"][0]["title"].startswith("Essay Index")]
    assert index["id"] != old
    assert index["pinned"]
    assert world.fake.calls_to("DELETE", rf"/channels/{GENERAL}/messages/pins/{old}")  # the old pin, let go


async def test_missing_permissions_are_named_by_open_check_and_delivery(world: World) -> None:
    fake = world.fake
    quiet = fake.add_channel(GUILD, QUIET, "quiet", bot_permissions=DEFAULT_BOT_PERMISSIONS & ~SEND_MESSAGES)
    refused = await world.command(ERIN, "symposium open", test_discord.open_options() | {"announce_channel": QUIET})
    assert "(post: grant the bot Send Messages in #quiet)" in reply(refused)
    assert quiet["last_message_id"] is None

    fake.add_channel(GUILD, LOBBY, "lobby")
    assert "readable by everyone" in reply(await world.open(review_channel=LOBBY))
    checked = reply(await world.command(ERIN, "symposium check")).replace("*", "")
    assert "Announcements <#1300000000000000011>\n• ✓ post\n• ✓ edit\n• ✓ pin\n• ✓ react\n• ✓ thread" in checked
    assert "! readable by everyone" in checked
    assert "Direct messages: ✓ works" in checked
    assert "making sure I can reach you" in world.dm_texts(ERIN)[0]  # Discord tells only by sending one

    # Sending taken away before delivery: refused for good (50013), and the review channel says what to grant.
    fake.channels[GENERAL]["permission_overwrites"].append(
        {"id": fake.bot_id, "type": 1, "allow": "0", "deny": str(SEND_MESSAGES)}
    )
    await world.bot.tick()
    notices = [text(m) for m in fake.channel_messages(LOBBY)]
    assert len(notices) == 2  # the call and the Essay Index
    assert "code 50013" in notices[0]
    assert "grant the bot View Channel, Send Messages and Embed Links in #general" in notices[0]
