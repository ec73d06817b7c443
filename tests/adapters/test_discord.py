"""The Discord adapter against the real discord.py client and tests/fakes/discord_api.py: commands, sync, forms,
autocomplete and the one error path. Shared fixtures for test_discord_*.py live here."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import discord
import pytest
import yarl
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.console.adapter import ConsolePlatform
from adapters.discord.client import PERMISSIONS, SCOPES, SymposiumClient
from adapters.discord.pacing import Pacer
from adapters.discord.sender import DiscordPlatform
from adapters.discord.settings import DiscordSettings, discord_endpoints
from adapters.run_discord import run_discord
from adapters.runtime import symposium_process
from bot.clock import SimulatedClock
from bot.core import SymposiumBot, error_reply
from bot.grammar import CATALOGUE
from bot.inbox import Arrival, Kind
from bot.settings import CoreSettings
from tests.fakes import discord_api
from tests.fakes.discord_api import DEFAULT_BOT_PERMISSIONS, VIEW_CHANNEL, FakeDiscord, Interaction

fake_discord = discord_api.fake_discord  # a module attribute is how pytest finds a fixture defined elsewhere

GUILD, GENERAL, REVIEW = "1300000000000000001", "1300000000000000011", "1300000000000000012"
EDITOR_ROLE, MODERATOR_ROLE = "1300000000000000021", "1300000000000000022"
ERIN, OWEN, ALICE, BOB, CARA, MALLORY = (f"13000000000000000{n}" for n in (31, 32, 33, 34, 35, 36))
MANAGE_GUILD = 1 << 5
EPHEMERAL = 64
DATES = {
    "intent_deadline": "2023-03-03",
    "due": "2023-03-10",
    "publish_from": "2023-03-13",
    "publish_to": "2023-04-28",
}


@dataclass
class World:
    """The bot on Discord: the fake server, the real client, the core on a simulated clock."""

    fake: FakeDiscord
    client: SymposiumClient
    bot: SymposiumBot
    clock: SimulatedClock
    engine: AsyncEngine

    async def command(
        self, user: str, command: str, options: dict[str, Any] | None = None, channel: str = GENERAL
    ) -> Interaction:
        """Run a slash command and wait for its answer (the deferred "thinking" message, edited)."""
        done = await self.fake.interaction_create(GUILD, channel, user, command, options)
        await self.fake.wait_for("PATCH", rf"/webhooks/{self.fake.application_id}/{done.token}/messages/@original")
        return done

    async def form(self, user: str, values: dict[str, str]) -> Interaction:
        """`/intent` alone opens the form; submit it with `values` and wait for the answer."""
        opened = await self.fake.interaction_create(GUILD, GENERAL, user, "intent")
        await self.fake.wait_for("POST", rf"/interactions/{opened.id}/[^/]+/callback")
        [callback] = opened.callbacks
        assert callback["type"] == 9  # a modal, answered before any database work
        done = await self.fake.modal_submit(GUILD, GENERAL, user, callback["data"]["custom_id"], values)
        await self.fake.wait_for("PATCH", rf"/webhooks/{self.fake.application_id}/{done.token}/messages/@original")
        return done

    async def open(self, **extra: Any) -> Interaction:
        return await self.command(ERIN, "symposium open", open_options() | extra)

    async def react(self, user: str, message_id: str, emoji: str, *, remove: bool = False) -> None:
        """React on a message in the review channel and wait until the bot has handled it."""
        handled = self.client.wait_for(
            "reaction_handled", check=lambda p: (str(p.user_id), str(p.message_id)) == (user, message_id)
        )
        if remove:
            await self.fake.reaction_remove(REVIEW, message_id, user, emoji, GUILD)
        else:
            await self.fake.reaction_add(REVIEW, message_id, user, emoji, GUILD)
        await asyncio.wait_for(handled, timeout=5)

    def messages(self, channel: str) -> list[dict[str, Any]]:
        return self.fake.channel_messages(channel)

    def dm_texts(self, user: str) -> list[str]:
        dms = [c for c in self.fake.channels.values() if c["type"] == 1 and c["recipients"][0]["id"] == user]
        return [text(m) for c in dms for m in self.fake.channel_messages(c["id"])]


def endpoints() -> tuple[str, yarl.URL]:
    """Where discord.py sends REST calls and opens its gateway."""
    return discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


def open_options() -> dict[str, Any]:
    options = {"title": "Is the orchestrator dead or alive?", "prompt": "Is the orchestrator dead or alive?"}
    return options | DATES | {"review_channel": REVIEW, "alt_prompts": "What comes after? | Is it a scheduler?"}


def text(message: dict[str, Any] | None) -> str:
    """A message as its content, embed titles and descriptions, one per line."""
    assert message is not None
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
    return "\n".join(p for p in parts if p)


def reply(interaction: Interaction) -> str:
    """The private answer to a command: ephemeral, deferred first, then edited into place."""
    [callback] = interaction.callbacks
    assert callback["type"] == 5
    assert callback["data"]["flags"] == EPHEMERAL
    assert interaction.original is not None
    assert interaction.original["flags"] & EPHEMERAL
    return text(interaction.original)


@pytest.fixture
def fake(fake_discord: FakeDiscord) -> FakeDiscord:
    """A server with an Editor role, a Moderators role with Manage Server, a public channel, a staff-only review
    channel, and six members: erin (Editor), owen (Moderators), alice, bob (who refuses DMs), cara, mallory."""
    fake_discord.add_guild(GUILD, "Writers")
    fake_discord.add_role(GUILD, EDITOR_ROLE, "Editor")
    fake_discord.add_role(GUILD, MODERATOR_ROLE, "Moderators", permissions=MANAGE_GUILD)
    fake_discord.add_channel(GUILD, GENERAL, "general")
    review = fake_discord.add_channel(GUILD, REVIEW, "review", bot_permissions=DEFAULT_BOT_PERMISSIONS)
    review["permission_overwrites"].append({"id": GUILD, "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)})
    fake_discord.add_member(GUILD, ERIN, "erin", roles=[EDITOR_ROLE])
    fake_discord.add_member(GUILD, OWEN, "owen", roles=[MODERATOR_ROLE])
    fake_discord.add_member(GUILD, ALICE, "alice")
    fake_discord.add_member(GUILD, BOB, "bob", accepts_dms=False)
    fake_discord.add_member(GUILD, CARA, "cara")
    fake_discord.add_member(GUILD, MALLORY, "mallory")
    return fake_discord


@pytest.fixture
async def world(fake: FakeDiscord, engine: AsyncEngine, clock: SimulatedClock) -> AsyncIterator[World]:
    async with running_world(fake, engine, clock) as world:
        yield world


@asynccontextmanager
async def running_world(fake: FakeDiscord, engine: AsyncEngine, clock: SimulatedClock) -> AsyncIterator[World]:
    """The client started and ready (commands synced, first reconciliation done); closed cleanly afterwards. Several
    in turn on one database are one process after another (a restart)."""
    settings = DiscordSettings(
        discord_token="test-token",
        discord_guild_id=int(GUILD),
        discord_api_base_url=fake.api_base,
        discord_gateway_url=fake.gateway_url,
        discord_post_interval_seconds=0,
        discord_calls_per_second=0,
    )
    client = SymposiumClient(settings, guild_ready_timeout=0.05)
    core = CoreSettings(database_url=engine.url.render_as_string(hide_password=False))
    platform = DiscordPlatform(client, Pacer(0, 0))
    with discord_endpoints(settings):
        async with (
            client,
            symposium_process(core, platform, clock, ticking=False, deliver_in_background=False, workers=1) as bot,
        ):
            client.attach(bot)
            reconciled = client.wait_for("cards_reconciled")
            task = asyncio.create_task(client.start(settings.discord_token))
            try:
                await asyncio.wait_for(reconciled, timeout=5)
                yield World(fake, client, bot, clock, engine)
            finally:
                await client.close()
                await task


async def test_commands_are_synced_from_the_catalogue_with_typed_options(world: World) -> None:
    synced = {c["name"]: c for c in world.fake.commands[GUILD]}
    assert set(synced) == {"intent", "submit", "withdraw", "essays", "symposium"}
    assert all(c["contexts"] == [0] for c in synced.values())  # servers only, never in DMs
    assert all(c["integration_types"] == [0] for c in synced.values())  # installed to servers, not to users
    subcommands = {o["name"]: o for o in synced["symposium"]["options"]}
    expected = {s.path.split()[1] for s in CATALOGUE if s.path.startswith("symposium ")} - {"editors"}
    assert set(subcommands) == expected  # `editors` is for Slack and the console

    def options(command: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {o["name"]: o for o in command["options"]}

    intent = options(synced["intent"])
    assert (intent["prompt"]["type"], intent["prompt"]["min_value"], intent["prompt"]["autocomplete"]) == (4, 0, True)
    assert intent["route"]["choices"] == [{"name": c, "value": c} for c in ("direct", "crosspost")]
    assert not any(o.get("required") for o in intent.values())  # /intent alone opens the form
    opening = options(subcommands["open"])
    assert [name for name, o in opening.items() if o.get("required")] == [
        "title", "prompt", "intent_deadline", "due", "publish_from", "publish_to", "review_channel",
    ]  # fmt: skip
    assert (opening["review_channel"]["type"], opening["review_channel"]["channel_types"]) == (7, [0, 5])
    assert [c["value"] for c in opening["allow_late_intents"]["choices"]] == ["yes", "no"]
    assert opening["intent_deadline"]["type"] == 3  # dates are text; the core explains a bad one
    decide = options(subcommands["decide"])
    assert (decide["essay"]["type"], decide["essay"]["autocomplete"]) == (4, True)
    assert [c["value"] for c in decide["decision"]["choices"]] == ["approve", "decline", "changes"]
    assert options(subcommands["schedule"])["essay"]["type"] == 3  # a number, or auto
    assert options(subcommands["extend"])["user"]["type"] == 6
    assert options(subcommands["reminders"])["state"]["required"]
    every = [synced["intent"], synced["submit"], *subcommands.values()]
    assert all(options(c)["symposium"].get("autocomplete") for c in every)


async def test_autocomplete_suggests_prompts_essays_and_symposia(world: World) -> None:
    await world.open(slug="orchestrators")
    await world.command(ALICE, "intent", {"title": "Schedulers, again"})
    await world.command(ALICE, "submit", {"url": "https://drafts.example.com/schedulers"})

    async def suggest(user: str, command: str, options: dict[str, Any], focused: str) -> list[dict[str, Any]]:
        typed = await world.fake.autocomplete(GUILD, GENERAL, user, command, options, focused)
        await world.fake.wait_for("POST", rf"/interactions/{typed.id}/[^/]+/callback")
        [callback] = typed.callbacks
        assert callback["type"] == 8
        return list(callback["data"]["choices"])

    assert await suggest(ALICE, "intent", {"prompt": "sched"}, "prompt") == [
        {"name": "2: Is it a scheduler?", "value": 2}
    ]
    essays = await suggest(ERIN, "symposium decide", {"essay": ""}, "essay")
    assert essays == [{"name": "1: Schedulers, again (waiting for review)", "value": 1}]
    assert await suggest(ALICE, "symposium decide", {"essay": ""}, "essay") == []  # editors only
    slugs = await suggest(ALICE, "essays", {"symposium": "orch"}, "symposium")
    assert slugs == [{"name": "Is the orchestrator dead or alive? (orchestrators)", "value": "orchestrators"}]


async def test_bad_input_is_answered_privately_in_the_core_s_words(world: World) -> None:
    bad_date = await world.command(ERIN, "symposium open", open_options() | {"due": "2023-02-30"})
    assert "That didn't work" in reply(bad_date)
    assert "2023-02-30" in reply(bad_date)
    await world.open()
    form = await world.form(ALICE, {"title": "Sideways", "route": "sideways"})
    assert "route must be one of: direct, crosspost." in reply(form)
    refused = await world.command(ALICE, "symposium close")
    assert "That didn't work" in reply(refused)
    assert world.fake.channel_messages(GENERAL) == []  # nothing was delivered: no tick, and nothing new to send


async def test_a_failure_in_the_adapter_is_answered_privately_through_the_one_error_path(world: World) -> None:
    world.fake.fail("POST", r"/interactions/\d+/[^/]+/callback", status=400, code=0)  # the deferral fails once
    failed = await world.fake.interaction_create(GUILD, GENERAL, ALICE, "essays")
    await world.fake.wait_for("POST", rf"/interactions/{failed.id}/[^/]+/callback", lambda c: c.status == 200)
    [answer] = failed.callbacks
    assert answer["type"] == 4
    assert answer["data"]["flags"] == EPHEMERAL
    assert answer["data"]["allowed_mentions"] == {"parse": []}
    assert "Something went wrong on my side" in answer["data"]["embeds"][0]["description"]


def test_discord_endpoints_are_set_only_while_the_block_runs() -> None:
    base, gateway = endpoints()
    settings = DiscordSettings(
        discord_token="t", discord_api_base_url="http://127.0.0.1:9/api/v10/", discord_gateway_url="ws://127.0.0.1:9/"
    )
    with discord_endpoints(settings):
        assert discord.http.Route("GET", "/users/@me").url == "http://127.0.0.1:9/api/v10/users/@me"
        assert endpoints() == ("http://127.0.0.1:9/api/v10", yarl.URL("ws://127.0.0.1:9/"))
    assert endpoints() == (base, gateway)


def test_the_invite_asks_for_exactly_the_scopes_and_permissions_needed() -> None:
    url = yarl.URL(discord.utils.oauth_url(1, permissions=PERMISSIONS, scopes=SCOPES))
    assert url.query["scope"] == "bot applications.commands"
    needed = (
        discord_api.VIEW_CHANNEL | discord_api.SEND_MESSAGES | discord_api.SEND_MESSAGES_IN_THREADS
        | discord_api.CREATE_PUBLIC_THREADS | discord_api.EMBED_LINKS | discord_api.ADD_REACTIONS
        | discord_api.READ_MESSAGE_HISTORY | discord_api.PIN_MESSAGES
    )  # fmt: skip
    assert int(url.query["permissions"]) == needed


def run_settings(fake: FakeDiscord) -> DiscordSettings:
    return DiscordSettings(
        discord_token="test-token",
        discord_guild_id=int(GUILD),
        discord_api_base_url=fake.api_base,
        discord_gateway_url=fake.gateway_url,
        discord_post_interval_seconds=0,
        discord_calls_per_second=0,
    )


async def test_run_discord_serves_until_cancelled(
    fake: FakeDiscord, engine: AsyncEngine, clock: SimulatedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    """The composition `symposium-bot run` uses: migrations, login, sync, gateway, delivery in the background."""
    core = CoreSettings(database_url=engine.url.render_as_string(hide_password=False))
    running = asyncio.create_task(run_discord(core, run_settings(fake), clock))
    await fake.wait_ready()
    assert "Invite Symposium Bot to a server with: https://discord.com/oauth2/authorize?" in capsys.readouterr().out
    opened = await fake.interaction_create(GUILD, GENERAL, ERIN, "symposium open", open_options())
    await fake.wait_for("PATCH", rf"/webhooks/{fake.application_id}/{opened.token}/messages/@original")
    assert "Opened" in reply(opened)
    await fake.wait_for("PUT", rf"/channels/{GENERAL}/messages/pins/\d+")  # delivered with no tick() from here
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert endpoints() == (fake.api_base, yarl.URL(fake.gateway_url))  # as the fixture set them


async def test_deliver_only_delivers_the_outbox_without_a_gateway_connection(
    fake: FakeDiscord, engine: AsyncEngine, clock: SimulatedClock
) -> None:
    core = CoreSettings(database_url=engine.url.render_as_string(hide_password=False))
    gateway_owner = ConsolePlatform(clock, lambda _: None, {ERIN})
    async with symposium_process(core, gateway_owner, clock, ticking=False, deliver_in_background=False) as elsewhere:
        body = {"command": "symposium open", "values": open_options(), "channel": GENERAL}
        ticket = await elsewhere.receive(Arrival("discord:1", GUILD, ERIN, Kind.FORM, body))
        assert (await elsewhere.handle(ticket) or error_reply()).tag == "reply"
    running = asyncio.create_task(run_discord(core, run_settings(fake), clock, deliver_only=True))
    # The call and the Essay Index go out through separate workers, in either order; the index is then pinned.
    await fake.wait_for("POST", rf"/channels/{GENERAL}/messages", count=2)
    await fake.wait_for("PUT", rf"/channels/{GENERAL}/messages/pins/\d+")
    assert len(fake.channel_messages(GENERAL)) == 2
    assert (fake.connections, fake.identify_count, fake.commands) == ([], 0, {})  # REST only: no gateway, no sync
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
