"""The Discord fake, driven by the real discord.py client, so that bot tests can trust what it says."""

import asyncio
import contextlib
import io
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.fakes import discord_api
from tests.fakes.discord_api import (
    DEFAULT_BOT_PERMISSIONS,
    LOADING,
    MANAGE_MESSAGES,
    NONCE_SECONDS,
    SEND_MESSAGES,
    FakeDiscord,
    shard_of,
)

fake_discord = discord_api.fake_discord  # a module attribute is how pytest finds a fixture defined elsewhere

GUILD, GENERAL, ANNOUNCEMENTS = "1300000000000000001", "1300000000000000011", "1300000000000000012"
EDITORS, ALICE, BOB = "1300000000000000021", "1300000000000000031", "1300000000000000032"
READERS = str(int(GUILD) + (1 << 22))  # with two shards, GUILD is on shard 0 and READERS on shard 1
READING, SOME_MESSAGE = "1300000000000000041", "1300000000000000099"


class Intent(discord.ui.Modal, title="Declare an intent"):
    working_title: discord.ui.TextInput["Intent"] = discord.ui.TextInput(label="Working title", custom_id="title")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"Intent: {self.working_title.value}", ephemeral=True)


def symposium_commands() -> app_commands.Group:
    """A `symposium` group like the bot's, with typed options, a deferred answer, autocomplete and a modal."""
    group = app_commands.Group(name="symposium", description="Run a writing symposium")

    @group.command(description="Answer privately")
    async def ping(interaction: discord.Interaction, times: int, loud: bool, who: discord.Member) -> None:
        await interaction.response.send_message(f"pong x{times} loud={loud} to {who.name}", ephemeral=True)

    @group.command(description="Think, then answer and follow up with a file")
    async def export(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.edit_original_response(content="Exported.")
        await interaction.followup.send("Here it is", file=discord.File(io.BytesIO(b"# Essays"), "essays.md"))

    @group.command(description="Pick an essay")
    async def pick(interaction: discord.Interaction, essay: str) -> None:
        await interaction.response.send_message(essay)

    @pick.autocomplete("essay")
    async def essays(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        titles = ["Orchestras", "Schedulers", "Conductors"]
        return [app_commands.Choice(name=t, value=t) for t in titles if current.lower() in t.lower()]

    @group.command(description="Declare an intent")
    async def intent(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Intent(custom_id="intent"))

    return group


class Bot(discord.Client):
    """A client configured as the bot will be (no privileged intent); raw reaction events go to a queue."""

    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = intents.guild_reactions = True
        # max_ratelimit_timeout cannot go below 30 s in discord.py; a short guild_ready_timeout keeps startup fast.
        super().__init__(intents=intents, max_ratelimit_timeout=30.0, guild_ready_timeout=0.2)
        self.tree = app_commands.CommandTree(self)
        self.tree.add_command(symposium_commands(), guild=discord.Object(int(GUILD)))
        self.reactions: asyncio.Queue[tuple[str, discord.RawReactionActionEvent]] = asyncio.Queue()

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.reactions.put(("add", payload))

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.reactions.put(("remove", payload))


@pytest.fixture
def fake(fake_discord: FakeDiscord) -> FakeDiscord:
    """A guild with an editors role, a channel where the bot may not post, and a member who refuses DMs."""
    fake_discord.add_guild(GUILD, "Writers")
    fake_discord.add_role(GUILD, EDITORS, "editors", permissions=MANAGE_MESSAGES)
    fake_discord.add_channel(GUILD, GENERAL, "general")
    fake_discord.add_channel(
        GUILD, ANNOUNCEMENTS, "announcements", bot_permissions=DEFAULT_BOT_PERMISSIONS & ~SEND_MESSAGES
    )
    fake_discord.add_member(GUILD, ALICE, "alice", roles=[EDITORS])
    fake_discord.add_member(GUILD, BOB, "bob", accepts_dms=False)
    return fake_discord


class DateConfirmation(discord.ui.View):
    """A persistent view, as an author confirming a date by DM gets: no timeout and fixed custom_ids, so that a
    later process can answer a click on a message an earlier one sent."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.success, custom_id="symposium:date:confirm")
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button["DateConfirmation"]) -> None:
        await interaction.response.edit_message(content="Publishing on 13 March.", view=None)  # type 7

    @discord.ui.button(label="Later", style=discord.ButtonStyle.secondary, custom_id="symposium:date:later")
    async def later(self, interaction: discord.Interaction, button: discord.ui.Button["DateConfirmation"]) -> None:
        await interaction.response.defer()  # type 6 on a component: the message is edited afterwards
        await interaction.edit_original_response(content="Asked again tomorrow.")


class Sharded(discord.AutoShardedClient):
    """An AutoShardedClient queueing the events it gets: reactions, interactions and guild updates."""

    def __init__(self, **shards: Any) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_reactions = intents.dm_reactions = True
        super().__init__(intents=intents, guild_ready_timeout=0.05, **shards)
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.events.put(("reaction", payload))

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.events.put(("interaction", interaction))

    async def on_guild_update(self, before: discord.Guild, after: discord.Guild) -> None:
        await self.events.put(("guild_update", after))


@contextlib.asynccontextmanager
async def running(client: discord.Client, fake: FakeDiscord, shard: int | None = None) -> AsyncIterator[None]:
    """The client started with start() in a task, ready, and closed (with its task awaited) afterwards."""
    task = asyncio.create_task(client.start("test-token"))
    try:
        await fake.wait_ready(shard=shard)
        await asyncio.wait_for(client.wait_until_ready(), timeout=5)
        yield
    finally:
        await client.close()
        await task


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[Bot]:
    client = Bot()
    async with running(client, fake):
        yield client


def general(bot: Bot) -> discord.TextChannel:
    channel = bot.get_channel(int(GENERAL))
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_connects_identifies_and_caches_the_guild(fake: FakeDiscord, bot: Bot) -> None:
    guild = bot.get_guild(int(GUILD))
    assert guild is not None
    assert guild.name == "Writers"
    assert {c.name for c in guild.text_channels} == {"general", "announcements"}
    assert guild.get_role(int(EDITORS)) is not None
    assert bot.user is not None
    assert str(bot.user.id) == fake.bot_id
    assert bot.application_id == int(fake.bot_id)
    assert fake.identify_count == 1
    assert fake.resume_count == 0
    # The gateway URL carries the compression discord.py can decode (zlib-stream without zstandard installed).
    compression = discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE
    assert fake.connections == [f"/?v=10&encoding=json&compress={compression}"]
    # The bot's channel overwrite reaches discord.py's own permission view as well as the fake's checks.
    assert guild.me is not None
    announcements = guild.get_channel(int(ANNOUNCEMENTS))
    assert announcements is not None
    assert not announcements.permissions_for(guild.me).send_messages


async def test_app_command_reaches_the_tree_and_its_ephemeral_answer_is_recorded(fake: FakeDiscord, bot: Bot) -> None:
    synced = await bot.tree.sync(guild=discord.Object(int(GUILD)))
    assert [c.name for c in synced] == ["symposium"]
    assert fake.calls_to("PUT", rf"/applications/{fake.application_id}/guilds/{GUILD}/commands")

    ping = await fake.interaction_create(
        GUILD, GENERAL, ALICE, "symposium ping", {"times": 3, "loud": True, "who": BOB}
    )
    await fake.wait_for("POST", rf"/interactions/{ping.id}/[^/]+/callback")
    [callback] = ping.callbacks
    assert callback["type"] == 4
    assert callback["data"]["flags"] == 64
    assert callback["data"]["content"] == "pong x3 loud=True to bob"
    assert ping.original is not None
    assert fake.channel_messages(GENERAL) == []


async def test_deferred_answer_is_edited_then_followed_up_with_a_file(fake: FakeDiscord, bot: Bot) -> None:
    await bot.tree.sync(guild=discord.Object(int(GUILD)))
    export = await fake.interaction_create(GUILD, GENERAL, ALICE, "symposium export")
    followup = await fake.wait_for("POST", rf"/webhooks/{fake.application_id}/{export.token}")
    assert export.callbacks[0]["type"] == 5
    assert export.callbacks[0]["data"]["flags"] == 64
    assert export.original is not None
    assert export.original["content"] == "Exported."
    assert export.original["flags"] == 64  # no longer loading
    assert followup.files[0].filename == "essays.md"
    assert followup.files[0].data == b"# Essays"
    [message] = export.followups
    assert message["content"] == "Here it is"
    assert message["attachments"][0]["filename"] == "essays.md"


async def test_autocomplete_and_modal_submit(fake: FakeDiscord, bot: Bot) -> None:
    await bot.tree.sync(guild=discord.Object(int(GUILD)))
    typed = await fake.autocomplete(GUILD, GENERAL, ALICE, "symposium pick", {"essay": "sch"}, focused="essay")
    await fake.wait_for("POST", rf"/interactions/{typed.id}/[^/]+/callback")
    assert typed.callbacks == [{"type": 8, "data": {"choices": [{"name": "Schedulers", "value": "Schedulers"}]}}]

    opened = await fake.interaction_create(GUILD, GENERAL, ALICE, "symposium intent")
    await fake.wait_for("POST", rf"/interactions/{opened.id}/[^/]+/callback")
    assert opened.callbacks[0]["type"] == 9
    assert opened.callbacks[0]["data"]["custom_id"] == "intent"
    submitted = await fake.modal_submit(GUILD, GENERAL, ALICE, "intent", {"title": "On conductors"})
    await fake.wait_for("POST", rf"/interactions/{submitted.id}/[^/]+/callback")
    assert submitted.callbacks[0]["data"]["content"] == "Intent: On conductors"


async def test_send_edit_pin_and_react_leave_one_message_edited_in_place(fake: FakeDiscord, bot: Bot) -> None:
    message = await general(bot).send("Index v1", embed=discord.Embed(title="Essay Index"))
    await message.edit(content="Index v2", embed=discord.Embed(title="Essay Index", description="2 essays"))
    await message.pin()
    await message.add_reaction("👍")

    [stored] = fake.channel_messages(GENERAL)
    assert stored["id"] == str(message.id)
    assert stored["content"] == "Index v2"
    assert stored["embeds"][0]["description"] == "2 essays"
    assert stored["edited_timestamp"] is not None
    assert stored["pinned"]
    assert [mid for mid, _ in fake.pins[GENERAL]] == [str(message.id)]
    assert fake.calls_to("PUT", rf"/channels/{GENERAL}/messages/pins/{message.id}")  # discord.py 2.7's pin route
    assert [pinned.id async for pinned in general(bot).pins()] == [message.id]
    assert fake.reactions[str(message.id)] == {"👍": [fake.bot_id]}
    # As on Discord, the bot's own reaction comes back as a gateway event.
    kind, payload = await bot.reactions.get()
    assert kind == "add"
    assert payload.user_id == int(fake.bot_id)


async def test_reaction_add_carries_the_member_and_remove_does_not(fake: FakeDiscord, bot: Bot) -> None:
    message = await general(bot).send("Review card")
    await fake.reaction_add(GENERAL, str(message.id), ALICE, "✅", GUILD)
    kind, added = await bot.reactions.get()
    assert kind == "add"
    assert added.member is not None
    assert added.member.get_role(int(EDITORS)) is not None
    await fake.reaction_remove(GENERAL, str(message.id), ALICE, "✅", GUILD)
    kind, removed = await bot.reactions.get()
    assert kind == "remove"
    assert removed.member is None
    assert removed.user_id == int(ALICE)
    # Without the members intent, who removed it is learnt over REST.
    guild = bot.get_guild(int(GUILD))
    assert guild is not None
    assert guild.get_member(int(ALICE)) is None
    member = await guild.fetch_member(removed.user_id)
    assert member.get_role(int(EDITORS)) is not None


async def test_reactions_made_while_away_can_be_read_back(fake: FakeDiscord, bot: Bot) -> None:
    message = await general(bot).send("Review card")
    fake.store_reaction(GENERAL, str(message.id), ALICE, "✅")
    fetched = await general(bot).fetch_message(message.id)
    [reaction] = fetched.reactions
    assert str(reaction.emoji) == "✅"
    assert reaction.count == 1
    assert not reaction.me
    assert [user.id async for user in reaction.users()] == [int(ALICE)]


@pytest.mark.parametrize("global_", [False, True])
async def test_429_is_retried_and_the_message_arrives_once(fake: FakeDiscord, bot: Bot, global_: bool) -> None:
    fake.fail("POST", rf"/channels/{GENERAL}/messages", status=429, retry_after=0.05, global_=global_)
    await general(bot).send("Essay Index")
    assert [c.status for c in fake.calls_to("POST", rf"/channels/{GENERAL}/messages")] == [429, 200]
    assert [m["content"] for m in fake.channel_messages(GENERAL)] == ["Essay Index"]


async def test_429_longer_than_max_ratelimit_timeout_raises_rate_limited(fake: FakeDiscord, bot: Bot) -> None:
    fake.fail("POST", rf"/channels/{GENERAL}/messages", status=429, retry_after=60.0)
    with pytest.raises(discord.RateLimited):
        await general(bot).send("Essay Index")
    assert fake.channel_messages(GENERAL) == []


async def test_server_error_is_retried(fake: FakeDiscord, bot: Bot) -> None:
    fake.fail("POST", rf"/channels/{GENERAL}/messages", status=500)
    await general(bot).send("Essay Index")  # discord.py sleeps one second before its retry
    assert [c.status for c in fake.calls_to("POST", rf"/channels/{GENERAL}/messages")] == [500, 200]


async def test_refusals_carry_discord_error_codes(fake: FakeDiscord, bot: Bot) -> None:
    bob = await bot.fetch_user(int(BOB))
    with pytest.raises(discord.Forbidden) as closed_dms:
        await bob.send("Your essay is due")
    assert closed_dms.value.code == 50007
    await (await bot.fetch_user(int(ALICE))).send("Your essay is due")
    announcements = bot.get_channel(int(ANNOUNCEMENTS))
    assert isinstance(announcements, discord.TextChannel)
    with pytest.raises(discord.Forbidden) as no_send:
        await announcements.send("Essay Index")
    assert no_send.value.code == 50013
    with pytest.raises(discord.NotFound) as gone:
        await general(bot).fetch_message(1)
    assert gone.value.code == 10008
    fake.fail("GET", rf"/guilds/{GUILD}/members/\d+", status=403, code=50001, times=None)
    with pytest.raises(discord.Forbidden) as injected:
        await bot.get_guild(int(GUILD)).fetch_member(int(ALICE))  # type: ignore[union-attr]
    assert injected.value.code == 50001
    with pytest.raises(discord.NotFound):
        await bot.http.request(discord.http.Route("GET", "/nowhere"))
    assert [c.path for c in fake.unrouted] == ["/nowhere"]


async def test_threads_and_uploads(fake: FakeDiscord, bot: Bot) -> None:
    message = await general(bot).send("Essay: Orchestras", file=discord.File(io.BytesIO(b"text"), "essay.txt"))
    assert fake.channel_messages(GENERAL)[0]["attachments"][0]["size"] == 4
    thread = await message.create_thread(name="Orchestras: reviews")
    assert thread.id == message.id
    assert thread.parent_id == int(GENERAL)
    await thread.send("First review")
    assert [m["content"] for m in fake.channel_messages(str(thread.id))] == ["First review"]


async def test_resumes_after_a_dropped_connection(fake: FakeDiscord, bot: Bot) -> None:
    message = await general(bot).send("Review card")
    await fake.drop_connection(resumable=True)
    await fake.reaction_add(GENERAL, str(message.id), ALICE, "✅", GUILD)  # written once the client resumed
    kind, payload = await bot.reactions.get()
    assert kind == "add"
    assert payload.user_id == int(ALICE)
    assert fake.resume_count == 1
    assert fake.identify_count == 1
    assert fake.connections[-1].startswith("/resume?")  # the resume_gateway_url from READY


async def test_invalidated_session_identifies_again(fake: FakeDiscord, bot: Bot) -> None:
    message = await general(bot).send("Review card")
    await fake.drop_connection(resumable=False)
    await fake.wait_ready()  # discord.py's 5 s before_identify_hook is skipped by the fake_discord fixture
    assert fake.identify_count == 2
    assert fake.resume_count == 0
    await fake.reaction_add(GENERAL, str(message.id), ALICE, "✅", GUILD)
    kind, payload = await bot.reactions.get()
    assert kind == "add"
    assert payload.user_id == int(ALICE)


# ---- nonces ------------------------------------------------------------------------------------------------------


def created(fake: FakeDiscord, message_id: int, shard: int = 0) -> int:
    """How many MESSAGE_CREATE events the shard's session got for this message."""
    frames = fake.gateway_log(shard)
    return sum(1 for f in frames if f["t"] == "MESSAGE_CREATE" and f["d"]["id"] == str(message_id))


async def test_a_send_repeated_with_its_nonce_answers_the_first_message_and_creates_nothing(
    fake: FakeDiscord, bot: Bot
) -> None:
    first = await general(bot).send("Essay Index", nonce="index-2023-03")
    again = await general(bot).send("Essay Index, retried", nonce="index-2023-03")
    assert again.id == first.id
    assert again.content == "Essay Index"
    assert [m["content"] for m in fake.channel_messages(GENERAL)] == ["Essay Index"]
    posts = fake.calls_to("POST", rf"/channels/{GENERAL}/messages")
    assert [(c.status, c.json["nonce"], c.json["enforce_nonce"]) for c in posts] == [(200, "index-2023-03", True)] * 2
    assert fake.channel_messages(GENERAL)[0]["nonce"] == "index-2023-03"
    assert created(fake, first.id) == 1  # the repeat dispatches nothing

    alice = await bot.fetch_user(int(ALICE))  # a DM channel is a channel like any other
    dm = await alice.send("Your essay is due", nonce=7)
    assert (await alice.send("Your essay is due", nonce=7)).id == dm.id
    dm_channel = fake.dm_channel(ALICE)
    assert dm_channel is not None
    assert len(fake.channel_messages(dm_channel["id"])) == 1

    fake.advance(NONCE_SECONDS)  # the window has passed: the same nonce makes a new message
    later = await general(bot).send("Essay Index", nonce="index-2023-03")
    assert later.id != first.id
    assert len(fake.channel_messages(GENERAL)) == 2


async def test_a_nonce_without_enforce_nonce_is_only_echoed(fake: FakeDiscord, bot: Bot) -> None:
    route = discord.http.Route("POST", "/channels/{channel_id}/messages", channel_id=int(GENERAL))
    one = await bot.http.request(route, json={"content": "one", "nonce": "n-1"})
    two = await bot.http.request(route, json={"content": "two", "nonce": "n-1"})
    assert one["id"] != two["id"]
    assert one["nonce"] == two["nonce"] == "n-1"
    with pytest.raises(discord.HTTPException) as too_long:
        await bot.http.request(route, json={"content": "three", "nonce": "n" * 26})
    assert too_long.value.code == 50035


# ---- holding answers ---------------------------------------------------------------------------------------------


async def test_a_held_send_takes_effect_on_arrival_and_is_answered_on_release(fake: FakeDiscord, bot: Bot) -> None:
    hold = fake.hold("POST", rf"/channels/{GENERAL}/messages")
    sending = asyncio.create_task(general(bot).send("Essay Index"))
    held = await hold.arrived()
    assert await fake.wait_for("POST", rf"/channels/{GENERAL}/messages") is held  # seen on arrival
    assert held.status == 0
    assert not sending.done()
    [stored] = fake.channel_messages(GENERAL)  # Discord has made it; the bot does not know yet
    hold.release()
    message = await sending
    assert message.id == int(stored["id"])
    assert held.status == 200
    await general(bot).send("Not held")  # a released hold holds nothing more
    assert len(fake.channel_messages(GENERAL)) == 2


async def test_a_send_held_when_the_client_dies_is_found_again_by_its_nonce(fake: FakeDiscord) -> None:
    hold = fake.hold("POST", rf"/channels/{GENERAL}/messages")
    first = Bot()
    async with running(first, fake):
        sending = asyncio.create_task(general(first).send("Essay Index", nonce="index-1"))
        await hold.arrived()
        sending.cancel()  # the process dies with the request in flight
        with contextlib.suppress(asyncio.CancelledError):
            await sending
    [posted] = fake.channel_messages(GENERAL)
    fake.release_all()  # answering a client that is gone raises nothing in the fake
    await fake.wait_for("POST", rf"/channels/{GENERAL}/messages", lambda c: c.status == 200)

    second = Bot()  # a new process sends again with the nonce it had recorded
    async with running(second, fake):
        again = await general(second).send("Essay Index", nonce="index-1")
    assert str(again.id) == posted["id"]
    assert fake.channel_messages(GENERAL) == [posted]


async def test_a_held_callback_acknowledges_the_interaction_on_arrival(fake: FakeDiscord, bot: Bot) -> None:
    await bot.tree.sync(guild=discord.Object(int(GUILD)))
    hold = fake.hold("POST", r"/interactions/\d+/[^/]+/callback")
    export = await fake.interaction_create(GUILD, GENERAL, ALICE, "symposium export")
    held = await hold.arrived()
    assert held.status == 0
    assert export.original is not None
    assert export.original["flags"] & LOADING  # what the user sees: "Symposium is thinking…"
    hold.release()
    await fake.wait_for("PATCH", rf"/webhooks/{fake.application_id}/{export.token}/messages/@original")

    second = fake.hold("POST", r"/interactions/\d+/[^/]+/callback", times=1)
    ping = await fake.interaction_create(
        GUILD, GENERAL, ALICE, "symposium ping", {"times": 1, "loud": False, "who": BOB}
    )
    await second.arrived()
    await bot.close()  # the bot dies before its answer comes back
    async with aiohttp.ClientSession() as http:
        url = f"{fake.api_base}/interactions/{ping.id}/{ping.token}/callback"
        async with http.post(url, json={"type": 4, "data": {"content": "again"}}) as late:
            assert late.status == 400
            assert (await late.json())["code"] == 40060
    fake.release_all()  # answered 200, to nobody: the fake raises nothing
    await fake.wait_for("POST", rf"/interactions/{ping.id}/[^/]+/callback", lambda c: c.status == 200)
    assert [c.status for c in fake.calls_to("POST", rf"/interactions/{ping.id}/[^/]+/callback")] == [200, 400]
    assert ping.callbacks[0]["data"]["content"] == "pong x1 loud=False to bob"


# ---- buttons -----------------------------------------------------------------------------------------------------


async def test_a_button_deferred_then_edited_changes_the_message_it_is_on(fake: FakeDiscord, bot: Bot) -> None:
    sent = await general(bot).send("Publish on 13 March?", view=DateConfirmation())
    stored = fake.messages[GENERAL][str(sent.id)]
    [row] = stored["components"]
    assert [(b["type"], b["custom_id"], b["label"]) for b in row["components"]] == [
        (2, "symposium:date:confirm", "Confirm"),
        (2, "symposium:date:later", "Later"),
    ]
    click = await fake.button_click(GUILD, GENERAL, ALICE, str(sent.id), "symposium:date:later")
    await fake.wait_for("PATCH", rf"/webhooks/{fake.application_id}/{click.token}/messages/@original")
    assert [c["type"] for c in click.callbacks] == [6]
    assert click.payload["member"]["user"]["id"] == ALICE
    assert click.payload["message"]["id"] == str(sent.id)
    assert click.original is stored
    assert stored["content"] == "Asked again tomorrow."
    assert stored["components"] == [row]  # an edit that does not name them keeps them
    with pytest.raises(KeyError):
        await fake.button_click(GUILD, GENERAL, ALICE, str(sent.id), "symposium:date:never")


async def test_a_persistent_view_answers_a_click_in_a_dm_after_a_restart(fake: FakeDiscord) -> None:
    first = Bot()
    async with running(first, fake):
        alice = await first.fetch_user(int(ALICE))
        sent = await alice.send("Publish your essay on 13 March?", view=DateConfirmation())
    dm = fake.dm_channel(ALICE)
    assert dm is not None
    stored = fake.messages[dm["id"]][str(sent.id)]

    second = Bot()  # a new process: it knows the view's custom_ids, not the message
    second.add_view(DateConfirmation())
    async with running(second, fake):
        click = await fake.button_click(None, dm["id"], ALICE, str(sent.id), "symposium:date:confirm")
        await fake.wait_for("POST", rf"/interactions/{click.id}/[^/]+/callback")
    assert "guild_id" not in click.payload
    assert click.payload["user"]["id"] == ALICE
    [callback] = click.callbacks
    assert callback["type"] == 7
    assert stored["content"] == "Publishing on 13 March."
    assert stored["components"] == []
    assert stored["edited_timestamp"] is not None


# ---- sharding ----------------------------------------------------------------------------------------------------


@pytest.fixture
def sharded(fake: FakeDiscord) -> FakeDiscord:
    """A second guild, on the other shard of two."""
    assert (shard_of(GUILD, 2), shard_of(READERS, 2)) == (0, 1)
    fake.add_guild(READERS, "Readers")
    fake.add_channel(READERS, READING, "reading")
    fake.add_member(READERS, ALICE, "alice")
    return fake


def events(fake: FakeDiscord, shard: int) -> list[str]:
    return [frame["t"] for frame in fake.gateway_log(shard)]


async def test_each_shard_gets_only_its_guilds_events_and_dms_go_to_shard_0(sharded: FakeDiscord) -> None:
    fake = sharded
    zero, one = Sharded(shard_count=2, shard_ids=[0]), Sharded(shard_count=2, shard_ids=[1])
    async with running(zero, fake, shard=0), running(one, fake, shard=1):
        assert [g.id for g in zero.guilds] == [int(GUILD)]
        assert [g.id for g in one.guilds] == [int(READERS)]
        assert fake.gateway_log(1)[0]["d"]["shard"] == [1, 2]
        assert fake.calls_to("GET", "/gateway/bot") == []  # with shard_count given, discord.py uses its gateway URL
        assert (fake.identify_count, fake.session_start_limit["remaining"]) == (2, 998)

        await fake.reaction_add(READING, SOME_MESSAGE, ALICE, "👍", READERS)
        kind, reaction = await one.events.get()
        assert (kind, reaction.guild_id) == ("reaction", int(READERS))
        await fake.interaction_create(GUILD, GENERAL, ALICE, "symposium status")
        kind, interaction = await zero.events.get()
        assert (kind, interaction.guild_id) == ("interaction", int(GUILD))
        await fake.guild_update(READERS, name="Readers' Circle")
        kind, guild = await one.events.get()
        assert (kind, guild.name) == ("guild_update", "Readers' Circle")
        dm = await one.http.start_private_message(int(ALICE))
        await fake.reaction_add(dm["id"], SOME_MESSAGE, ALICE, "✅")
        kind, reaction = await zero.events.get()
        assert (kind, reaction.guild_id, reaction.channel_id) == ("reaction", None, int(dm["id"]))

        assert zero.events.empty()
        assert one.events.empty()
    assert events(fake, 0) == ["READY", "GUILD_CREATE", "INTERACTION_CREATE", "MESSAGE_REACTION_ADD"]
    assert events(fake, 1) == ["READY", "GUILD_CREATE", "MESSAGE_REACTION_ADD", "GUILD_UPDATE"]


async def test_an_auto_sharded_client_asks_gateway_bot_and_one_shard_resumes_alone(sharded: FakeDiscord) -> None:
    fake = sharded
    fake.recommended_shards = 2
    fake.session_start_limit["remaining"] = 1
    client = Sharded()
    async with running(client, fake):
        assert [c.status for c in fake.calls_to("GET", "/gateway/bot")] == [200]
        assert client.shard_count == 2
        assert {g.id: g.shard_id for g in client.guilds} == {int(GUILD): 0, int(READERS): 1}
        # The second shard identified at once: the fake_discord fixture skips discord.py's 5 s wait.
        assert (fake.identify_count, fake.identifies_over_limit, fake.session_start_limit["remaining"]) == (2, 1, 0)

        await fake.drop_connection(shard=1)
        await fake.reaction_add(READING, SOME_MESSAGE, ALICE, "👍", READERS)  # replayed once shard 1 resumed
        kind, reaction = await client.events.get()
        assert (kind, reaction.guild_id) == ("reaction", int(READERS))
        assert (fake.resume_count, fake.identify_count) == (1, 2)
        assert fake.connections[-1].startswith("/resume?")
        assert events(fake, 0) == ["READY", "GUILD_CREATE"]  # shard 0 went on, undisturbed


# ---- rate limits and DM channels ---------------------------------------------------------------------------------


async def test_429s_carry_the_headers_and_body_discord_documents_for_each_scope(fake: FakeDiscord) -> None:
    fake.fail("GET", rf"/users/{ALICE}", retry_after=2.5)
    fake.fail("GET", rf"/users/{ALICE}", retry_after=0.5, scope="shared")
    fake.fail("GET", rf"/users/{ALICE}", retry_after=1.25, global_=True)
    answers = []
    async with aiohttp.ClientSession() as http:
        for _ in range(4):
            async with http.get(f"{fake.api_base}/users/{ALICE}") as answer:
                answers.append((answer.status, answer.headers, await answer.json()))
    (user, user_headers, user_body), (_, shared_headers, shared_body), (_, global_headers, global_body) = answers[:3]
    bucket = {"X-RateLimit-Limit", "X-RateLimit-Reset", "X-RateLimit-Reset-After", "X-RateLimit-Bucket"}

    assert user == 429
    assert user_body == {"message": "You are being rate limited.", "retry_after": 2.5, "global": False}
    assert (user_headers["X-RateLimit-Scope"], user_headers["X-RateLimit-Remaining"]) == ("user", "0")
    assert (user_headers["Retry-After"], user_headers["X-RateLimit-Reset-After"]) == ("3", "2.5")
    assert bucket <= user_headers.keys()
    assert "X-RateLimit-Global" not in user_headers

    assert shared_body == {"message": "The resource is being rate limited.", "retry_after": 0.5, "global": False}
    assert shared_headers["X-RateLimit-Scope"] == "shared"
    assert shared_headers["X-RateLimit-Remaining"] != "0"  # the bot's own bucket is not spent

    assert global_body == {"message": "You are being rate limited.", "retry_after": 1.25, "global": True}
    assert (global_headers["X-RateLimit-Global"], global_headers["X-RateLimit-Scope"]) == ("true", "global")
    assert not bucket & global_headers.keys()

    ok, ok_headers, _ = answers[3]
    assert ok == 200
    assert bucket | {"X-RateLimit-Remaining"} <= ok_headers.keys()
    assert "X-RateLimit-Scope" not in ok_headers  # only 429s say it
    assert fake.rate_limited == Counter({f"GET /users/{ALICE}": 3})


async def test_the_global_limit_holds_discord_py_back_but_not_interaction_answers(fake: FakeDiscord, bot: Bot) -> None:
    await bot.tree.sync(guild=discord.Object(int(GUILD)))
    fake.global_rate_limit = 0  # nothing gets through, except what interaction endpoints are sent
    ping = await fake.interaction_create(
        GUILD, GENERAL, ALICE, "symposium ping", {"times": 2, "loud": True, "who": BOB}
    )
    assert (await fake.wait_for("POST", rf"/interactions/{ping.id}/[^/]+/callback")).status == 200

    fake.global_rate_limit = 3
    users = await asyncio.gather(*(bot.fetch_user(int(u)) for u in (ALICE, BOB, ALICE, BOB, ALICE)))
    assert [u.name for u in users] == ["alice", "bob", "alice", "bob", "alice"]
    limited = [c for c in fake.calls if c.status == 429]
    assert limited
    assert sum(fake.rate_limited.values()) == len(limited)
    assert all(c.path.startswith("/users/") for c in limited)


async def test_opening_a_dm_again_answers_the_same_channel(fake: FakeDiscord, bot: Bot) -> None:
    first = await bot.http.start_private_message(int(ALICE))
    again = await bot.http.start_private_message(int(ALICE))
    assert first["id"] == again["id"]
    assert first["recipients"][0]["id"] == ALICE
    assert fake.dm_channel(ALICE) == first
    assert (await bot.http.start_private_message(int(BOB)))["id"] != first["id"]
