"""Buttons on Discord: the author's request to confirm a date and the editors' Accept as message components with
`sym:<server>:<value>` custom ids, pressed through the real discord.py client (component interactions from the
fake), run by the core as the commands they stand for, and still working after the client restarted."""

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from adapters.discord.buttons import view_of
from bot.clock import SimulatedClock
from bot.db.models import Essay
from bot.messages import Action, Message
from tests.adapters import test_discord
from tests.adapters.test_discord import ALICE, ERIN, GUILD, MALLORY, REVIEW, World, reply, running_world, text
from tests.conftest import snapshot
from tests.fakes.discord_api import FakeDiscord, Interaction

fake_discord, fake = test_discord.fake_discord, test_discord.fake

Button = dict[str, Any]


async def scheduled(world: World) -> tuple[str, dict[str, Any]]:
    """Essay 1, by Alice, approved and scheduled for Mon 20 March: (her DM channel, the request to confirm)."""
    await world.open()
    await world.bot.tick()
    await world.command(ALICE, "intent", {"title": "Orchestrators forever"})
    await world.command(ALICE, "submit", {"url": "https://drafts.example.com/forever"})
    await world.bot.tick()
    [card] = [m["id"] for m in world.messages(REVIEW) if m["embeds"][0]["title"].startswith("Essay 1")]
    await world.react(ERIN, card, "✅")
    await world.command(ERIN, "symposium schedule", {"essay": 1, "date": "2023-03-20"})
    await world.bot.tick()
    dm = world.fake.dm_channel(ALICE)
    assert dm is not None
    [asked] = [m for m in world.fake.channel_messages(dm["id"]) if "has a publication date" in text(m)]
    return dm["id"], asked


def buttons(message: dict[str, Any]) -> list[Button]:
    rows = message["components"]
    assert all(row["type"] == 1 and len(row["components"]) <= 5 for row in rows)
    return [button for row in rows for button in row["components"]]


def labelled(message: dict[str, Any], prefix: str) -> Button:
    return next(b for b in buttons(message) if b["label"].startswith(prefix))


async def press(
    world: World, user: str, channel: str, message: dict[str, Any], button: Button, guild: str | None = None
) -> Interaction:
    """Click a button as `user`, in the bot's DM with them or (with `guild`) in a server's channel; wait for the
    private answer."""
    done = await world.fake.button_click(guild, channel, user, message["id"], button["custom_id"])
    await world.fake.wait_for("PATCH", rf"/webhooks/{world.fake.application_id}/{done.token}/messages/@original")
    return done


async def essay_one(engine: AsyncEngine) -> Essay:
    async with AsyncSession(engine) as session:
        essay = await session.scalar(select(Essay).where(Essay.number == 1))
        assert essay is not None
        return essay


def day_of(at: datetime | None) -> date:
    """The day of a stored time (the symposium is in UTC; SQLite gives it back without its zone)."""
    assert at is not None
    return at.astimezone(UTC).date() if at.tzinfo else at.date()


async def test_the_authors_dm_has_buttons_and_confirm_confirms_the_date(
    fake: FakeDiscord, engine: AsyncEngine, clock: SimulatedClock
) -> None:
    async with running_world(fake, engine, clock) as world:
        dm, asked = await scheduled(world)
        essay = await essay_one(engine)
        found = buttons(asked)
        confirm = labelled(asked, "Confirm")

        done = await press(world, ALICE, dm, asked, confirm)

    assert (confirm["custom_id"], confirm["style"], confirm["label"]) == (
        f"sym:{GUILD}:confirm:{essay.id}",
        1,  # primary
        "Confirm Mon 20 Mar",
    )
    proposals = [b for b in found if b is not confirm]
    assert proposals
    assert all(b["custom_id"].startswith(f"sym:{GUILD}:propose:{essay.id}:") and b["style"] == 2 for b in proposals)
    assert all(len(b["custom_id"]) <= 100 for b in found)
    assert essay.date_confirmed_at is None
    assert reply(done).startswith("Essay 1: date confirmed")  # ephemeral, deferred, then edited into place
    assert (await essay_one(engine)).date_confirmed_at is not None


async def test_propose_then_the_editors_accept_moves_the_date_and_a_non_editor_cannot(
    fake: FakeDiscord, engine: AsyncEngine, clock: SimulatedClock
) -> None:
    async with running_world(fake, engine, clock) as world:
        dm, asked = await scheduled(world)
        other = next(b for b in buttons(asked) if ":propose:" in b["custom_id"])
        day = date.fromisoformat(other["custom_id"].rsplit(":", 1)[1])

        proposed = await press(world, ALICE, dm, asked, other)
        await world.bot.tick()
        [card] = [m for m in world.messages(REVIEW) if "proposes another day" in text(m)]
        [accept] = buttons(card)
        before = await snapshot(engine)
        refused = await press(world, MALLORY, REVIEW, card, accept, GUILD)
        unchanged = await snapshot(engine)
        accepted = await press(world, ERIN, REVIEW, card, accept, GUILD)
        await world.bot.tick()
    essay = await essay_one(engine)

    assert reply(proposed).startswith("Essay 1: another day proposed")
    assert (accept["custom_id"], accept["style"]) == (f"sym:{GUILD}:accept:{essay.id}:{day.isoformat()}", 1)
    assert "Only the symposium's editors can do /symposium accept" in reply(refused)
    assert unchanged == before
    assert reply(accepted).startswith("Essay 1: day accepted")
    assert day_of(essay.scheduled_for) == day
    assert essay.date_confirmed_at is not None
    assert essay.proposed_for is None
    assert "your day is accepted" in world.dm_texts(ALICE)[-1]


async def test_a_replayed_press_is_neither_answered_twice_nor_run_twice(
    fake: FakeDiscord, engine: AsyncEngine, clock: SimulatedClock
) -> None:
    async with running_world(fake, engine, clock) as world:
        dm, asked = await scheduled(world)
        confirm = labelled(asked, "Confirm")
        done = await press(world, ALICE, dm, asked, confirm)

        await fake.replay(done)  # the gateway sends the same interaction again
        # Alice's next press is handled after whatever the replay started: hers are handled in order.
        again = await press(world, ALICE, dm, asked, confirm)

    callbacks = fake.calls_to("POST", rf"/interactions/{done.id}/[^/]+/callback")
    answers = fake.calls_to("PATCH", rf"/webhooks/{fake.application_id}/{done.token}/messages/@original")
    assert (len(callbacks), len(answers)) == (1, 1)
    assert reply(done).startswith("Essay 1: date confirmed")
    assert "You had confirmed it already" in reply(again)


async def test_a_button_pressed_after_a_restart_still_works(
    fake: FakeDiscord, engine: AsyncEngine, clock: SimulatedClock
) -> None:
    async with running_world(fake, engine, clock) as first:
        dm, asked = await scheduled(first)
    async with running_world(fake, engine, clock) as second:  # a new client and core on the same database
        done = await press(second, ALICE, dm, asked, labelled(asked, "Confirm"))

    assert reply(done).startswith("Essay 1: date confirmed")
    assert (await essay_one(engine)).date_confirmed_at is not None


async def test_the_previews_hold_button_holds_the_essay_and_leaves_the_note(
    fake: FakeDiscord, engine: AsyncEngine, clock: SimulatedClock
) -> None:
    async with running_world(fake, engine, clock) as world:
        await scheduled(world)
        await world.command(ERIN, "symposium preview", {"essay": 1})
        await world.bot.tick()
        [note] = [m for m in world.messages(REVIEW) if m["embeds"][0]["title"].startswith("Preview of essay 1")]
        hold = labelled(note, "Hold it")

        held = await press(world, ERIN, REVIEW, note, hold, GUILD)
        await world.bot.tick()

    assert (hold["custom_id"], hold["style"]) == (f"sym:{GUILD}:hold:{(await essay_one(engine)).id}", 4)  # danger
    assert reply(held).startswith("Essay 1 held")
    assert (await essay_one(engine)).scheduled_for is None
    assert "Held" in text(note)  # the note, edited in place, says so and has no button left
    assert note["components"] == []


async def test_buttons_go_five_to_a_row_and_none_clears_them() -> None:
    actions = tuple(Action(f"Button {n}", f"hold:{n}", "/symposium hold essay:1") for n in range(7))

    view = view_of(GUILD, Message("Title", (), actions=actions))

    assert view is not None
    rows = view.to_components()
    assert [len(row["components"]) for row in rows] == [5, 2]
    assert rows[1]["components"][1]["custom_id"] == f"sym:{GUILD}:hold:6"
    assert view_of(GUILD, Message("Title")) is None
