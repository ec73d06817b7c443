"""A whole symposium on Discord, from /symposium open to the closing roundup, through the real discord.py client;
and what members without the editor role, and titles with @everyone, cannot do."""

from datetime import UTC, datetime
from typing import Any

from tests.adapters import test_discord
from tests.adapters.test_discord import (
    ALICE,
    CARA,
    ERIN,
    GENERAL,
    MALLORY,
    OWEN,
    REVIEW,
    World,
    reply,
    text,
)
from tests.conftest import snapshot

fake_discord, fake, world = test_discord.fake_discord, test_discord.fake, test_discord.world


def titled(world: World, channel: str, prefix: str) -> list[dict[str, Any]]:
    return [m for m in world.messages(channel) if m["embeds"] and m["embeds"][0]["title"].startswith(prefix)]


async def test_a_whole_symposium_from_open_to_the_last_announcement(world: World) -> None:
    fake = world.fake
    opened = await world.open(call="Write about *orchestration*; vendors welcome.")
    assert "Opened “Is the orchestrator dead or alive?”" in reply(opened)
    await world.bot.tick()
    [call] = titled(world, GENERAL, "Call for essays")
    assert "Write about \\*orchestration\\*; vendors welcome." in text(call)
    [index] = titled(world, GENERAL, "Essay Index")
    assert [mid for mid, _ in fake.pins[GENERAL]] == [index["id"]]

    # One intent typed, one through the form (a pen name, cross-posted).
    typed = await world.command(
        ALICE, "intent", {"title": "Will active metadata eat the orchestrator?", "prompt": 1, "bio": "Alice writes."}
    )
    assert "Intent to Submit recorded" in reply(typed)
    form = await world.form(
        CARA, {"title": "Good data engineers are lazy", "pen_name": "Harry Flow", "route": "crosspost"}
    )
    assert "Pen name: Harry Flow" in reply(form).replace("*", "")

    # Submissions become review cards with the three reactions; editors decide by reacting.
    world.clock.set(datetime(2023, 3, 3, 9, tzinfo=UTC))
    assert "Essay 1 submitted" in reply(
        await world.command(ALICE, "submit", {"url": "https://drafts.example.com/active-metadata"})
    )
    assert "Essay 2 submitted" in reply(await world.command(CARA, "submit", {"url": "https://drafts.example.com/lazy"}))
    await world.bot.tick()
    cards = [m["id"] for m in titled(world, REVIEW, "Essay ")]
    assert len(cards) == 2
    assert all(fake.reactions[card] == {e: [fake.bot_id] for e in ("✅", "❌", "✏️")} for card in cards)
    await world.react(ERIN, cards[0], "✅")  # holds the Editor role
    await world.react(OWEN, cards[1], "✅")  # has Manage Server
    await world.bot.tick()
    assert text(fake.messages[REVIEW][cards[0]]).endswith(
        "**Status:** approved by erin\n**Publication:** no date arranged yet."
    )
    assert text(fake.messages[REVIEW][cards[1]]).endswith(
        "**Status:** approved by owen\n**Publication:** no date arranged yet."
    )
    assert "was approved" in world.dm_texts(ALICE)[0]
    assert "/submit live:\\<link>" in world.dm_texts(CARA)[0]

    # Dates, commentary before publication, then the clock publishes essay 1 by itself.
    scheduled = await world.command(
        ERIN, "symposium schedule", {"essay": 1, "date": "2023-03-13", "url": "https://symposium.example.com/am"}
    )
    assert "It goes live by itself then" in reply(scheduled)
    assert "Essay 2 scheduled" in reply(
        await world.command(ERIN, "symposium schedule", {"essay": 2, "date": "2023-03-14"})
    )
    commentary = {"essay": 1, "text": "Alice asks whether metadata will swallow the orchestrator."}
    assert "Commentary set for essay 1" in reply(await world.command(ERIN, "symposium comment", commentary))
    await world.bot.tick()
    world.clock.set(datetime(2023, 3, 13, 9, tzinfo=UTC))
    await world.bot.tick()
    [first] = titled(world, GENERAL, "New essay: Will active metadata")
    assert "Alice asks whether metadata will swallow the orchestrator." in text(first)
    assert "is live" in world.dm_texts(ALICE)[-1]

    # Deciding a published essay changes nothing; a reaction has no private reply on Discord, so a DM says why.
    await world.react(ERIN, cards[0], "❌")
    assert "cannot be decided any more: it is already published" in world.dm_texts(ERIN)[-1]

    # Running commentary after publication goes into a thread on the announcement.
    later = {"essay": 1, "text": "Readers asked about data contracts."}
    assert "Commentary added to essay 1" in reply(await world.command(ERIN, "symposium comment", later))
    await world.bot.tick()
    thread = fake.channels[first["id"]]  # a thread started on a message has the message's id
    assert (thread["type"], thread["parent_id"]) == (11, GENERAL)
    assert [text(m) for m in world.messages(first["id"])][-1].endswith("Readers asked about data contracts.")

    # The cross-poster gives the live link; the essay goes out at its time under the pen name only.
    assert "Live link recorded" in reply(
        await world.command(CARA, "submit", {"live": "https://lazy.example.com/essay"})
    )
    world.clock.set(datetime(2023, 3, 14, 9, tzinfo=UTC))
    await world.bot.tick()
    [second] = titled(world, GENERAL, "New essay: Good data engineers")
    assert "by **Harry Flow**" in text(second)
    assert CARA not in str(second)
    assert "cara" not in text(second)
    # It was drafted in the review channel first, rendered exactly as it went out (pen name and all).
    [preview] = titled(world, REVIEW, "New essay: Good data engineers")
    assert (preview["embeds"], preview["content"]) == (second["embeds"], second["content"])

    assert "Export on its way" in reply(await world.command(ERIN, "symposium export"))
    await world.bot.tick()
    uploads = {c.files[0].filename: c for c in fake.calls if c.files}
    assert set(uploads) == {f"is-the-orchestrator-dead-or-alive-2023-{kind}.csv" for kind in ("export", "history")}
    upload = uploads["is-the-orchestrator-dead-or-alive-2023-export.csv"]
    assert b"Harry Flow" in upload.files[0].data  # the private fields reach the editor, by DM only
    assert fake.channels[upload.path.split("/")[2]]["type"] == 1

    shown = reply(await world.command(ALICE, "essays"))
    assert shown.index("Will active metadata") < shown.index("Good data engineers are lazy")
    assert "Roundup" not in shown
    assert "closed" in reply(await world.command(ERIN, "symposium close")).lower()
    await world.bot.tick()
    [roundup] = titled(world, GENERAL, "Is the orchestrator dead or alive? is closed")
    assert "2 essays published." in text(roundup)

    # The index is one message, edited in place and pinned once; nothing in the channel was posted twice.
    assert titled(world, GENERAL, "Essay Index") == [index]
    edits = fake.calls_to("PATCH", rf"/channels/{GENERAL}/messages/\d+")
    assert len(edits) >= 2
    assert {c.path for c in edits} == {f"/channels/{GENERAL}/messages/{index['id']}"}
    assert "Good data engineers are lazy** by Harry Flow" in text(fake.messages[GENERAL][index["id"]])
    assert len(fake.calls_to("PUT", rf"/channels/{GENERAL}/messages/pins/\d+")) == 1
    assert [mid for mid, _ in fake.pins[GENERAL]] == [index["id"]]
    # Every interaction was answered privately: deferred with the ephemeral flag, then edited (reply() checks).
    commands = [i for i in fake.interactions.values() if i.type == 2 and i.callbacks[0]["type"] != 9]
    assert all(i.callbacks[0] == {"type": 5, "data": {"flags": 64}} for i in commands)
    assert fake.unrouted == []


async def test_a_reaction_from_a_member_without_the_editor_role_changes_nothing(world: World) -> None:
    await world.open()
    await world.command(ALICE, "intent", {"title": "Orchestrators all the way down"})
    await world.command(ALICE, "submit", {"url": "https://drafts.example.com/down"})
    await world.bot.tick()
    [card] = titled(world, REVIEW, "Essay 1")
    before = await snapshot(world.engine)
    await world.react(MALLORY, card["id"], "✅")
    await world.react(ALICE, card["id"], "✅")  # the author is no editor either
    await world.react(MALLORY, card["id"], "✅", remove=True)  # a remove carries no member: fetched over REST
    assert world.fake.calls_to("GET", rf"/guilds/{test_discord.GUILD}/members/{MALLORY}")
    assert await world.bot.tick() == 0
    after = await snapshot(world.engine)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {k: v for k, v in before.items() if k != "audit_log"}
    assert [row[4] for row in after["audit_log"] if row not in before["audit_log"]] == ["not_an_editor"] * 2
    assert "waiting for review" in text(world.fake.messages[REVIEW][card["id"]])
    # Reactions have no private answer on Discord: a note goes by DM, and only to someone who takes part.
    assert [t for t in world.dm_texts(ALICE) if "Only the symposium's editors decide" in t]
    assert world.dm_texts(MALLORY) == []


async def test_a_title_with_everyone_pings_no_one_and_renders_literally(world: World) -> None:
    await world.open(title="@everyone <@&1300000000000000021> **read** this", slug="pings")
    await world.command(ALICE, "intent", {"title": "@here is <#1300000000000000011> at <t:1:R>"})
    await world.command(ALICE, "submit", {"url": "https://drafts.example.com/pings"})
    await world.bot.tick()
    await world.react(ERIN, titled(world, REVIEW, "Essay 1")[0]["id"], "✅")
    await world.bot.tick()
    carrying = [
        c for c in world.fake.calls if isinstance(c.json, dict) and (c.json.get("content") or c.json.get("embeds"))
    ]
    assert len(carrying) >= 6  # the call, the index, the card and its edit, the DM, the interaction answers
    assert all(c.json["allowed_mentions"] == {"parse": []} for c in carrying)
    [call] = titled(world, GENERAL, "Call for essays")
    assert call["content"] == "Call for essays: @\u200beveryone \\<@\u200b&1300000000000000021> \\*\\*read\\*\\* this"
    [card] = titled(world, REVIEW, "Essay 1")
    assert "@\u200bhere is \\<#1300000000000000011> at \\<t:1:R>" in card["embeds"][0]["title"]
