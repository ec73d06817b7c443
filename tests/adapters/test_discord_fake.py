"""The Discord fake, driven by the real discord.py client, so that bot tests can trust what it says."""

import asyncio
import io
from collections.abc import AsyncIterator

import discord
import pytest
from discord import app_commands

from tests.fakes import discord_api
from tests.fakes.discord_api import DEFAULT_BOT_PERMISSIONS, MANAGE_MESSAGES, SEND_MESSAGES, FakeDiscord

fake_discord = discord_api.fake_discord  # a module attribute is how pytest finds a fixture defined elsewhere

GUILD, GENERAL, ANNOUNCEMENTS = "1300000000000000001", "1300000000000000011", "1300000000000000012"
EDITORS, ALICE, BOB = "1300000000000000021", "1300000000000000031", "1300000000000000032"


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


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[Bot]:
    """The client started with start() in a task, ready, and closed (with its task awaited) afterwards."""
    client = Bot()
    task = asyncio.create_task(client.start("test-token"))
    try:
        await fake.wait_ready()
        await asyncio.wait_for(client.wait_until_ready(), timeout=5)
        yield client
    finally:
        await client.close()
        await task


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
    await fake.wait_ready(timeout=10)  # discord.py's before_identify_hook waits 5 s before identifying again
    assert fake.identify_count == 2
    assert fake.resume_count == 0
    await fake.reaction_add(GENERAL, str(message.id), ALICE, "✅", GUILD)
    kind, payload = await bot.reactions.get()
    assert kind == "add"
    assert payload.user_id == int(ALICE)
