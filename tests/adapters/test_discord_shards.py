"""Sharding on Discord: two processes, each holding one shard of two, on one database, against the fake's
per-shard gateway sessions (tests/fakes/discord_gateway.py); and the settings that choose the shards."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.cli import settings_problems
from adapters.discord.client import ShardedSymposiumClient, SymposiumClient, make_client
from adapters.discord.pacing import Pacer
from adapters.discord.sender import DiscordPlatform
from adapters.discord.settings import DiscordSettings, discord_endpoints
from adapters.runtime import symposium_process
from bot.clock import SimulatedClock
from bot.core import SymposiumBot
from bot.db.models import CardReaction, Submission
from bot.settings import CoreSettings
from tests.adapters import test_discord
from tests.adapters.test_discord import DATES, reply, text
from tests.fakes.discord_api import DEFAULT_BOT_PERMISSIONS, FakeDiscord
from tests.fakes.discord_shapes import shard_of

fake_discord = test_discord.fake_discord

# Two servers, one on each shard of two: (guild_id >> 22) % 2.
WRITERS, READERS = "1300000000000000001", str(1300000000000000001 + (1 << 22))
ERIN, ALICE, CARA = "1300000000000000031", "1300000000000000033", "1300000000000000035"
CHANNELS = {WRITERS: ("1300000000000000011", "1300000000000000012"), READERS: ("1400000000000000011", "1400000000000000012")}  # fmt: skip
AUTHOR = {WRITERS: ALICE, READERS: CARA}


@dataclass
class Process:
    """One `symposium-bot run` holding some shards: its client, its core, and what its client saw."""

    client: SymposiumClient
    bot: SymposiumBot
    waits: list[float] = field(default_factory=list)  # what it waited for before IDENTIFY (session start limit)
    seen: list[tuple[str, int | None]] = field(default_factory=list)  # (event, guild id) received


class Seeing(ShardedSymposiumClient):
    """The sharded client, noting the server of each interaction and reaction it receives."""

    seen: list[tuple[str, int | None]]

    def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        if event in ("interaction", "raw_reaction_add") and args:
            self.seen.append((event, getattr(args[0], "guild_id", None)))
        super().dispatch(event, *args, **kwargs)


@pytest.fixture
def servers(fake_discord: FakeDiscord) -> FakeDiscord:
    """Writers (shard 0) and Readers (shard 1), each with an Editor role, #general, #review, erin the editor and
    one writer (alice in Writers, cara in Readers)."""
    assert (shard_of(WRITERS, 2), shard_of(READERS, 2)) == (0, 1)
    for n, guild in enumerate((WRITERS, READERS)):
        general, review = CHANNELS[guild]
        role = str(1300000000000000021 + n)
        fake_discord.add_guild(guild, ("Writers", "Readers")[n])
        fake_discord.add_role(guild, role, "Editor")
        fake_discord.add_channel(guild, general, "general")
        fake_discord.add_channel(guild, review, "review", bot_permissions=DEFAULT_BOT_PERMISSIONS)
        fake_discord.add_member(guild, ERIN, "erin", roles=[role])
        fake_discord.add_member(guild, AUTHOR[guild], ("alice", "cara")[n])
    return fake_discord


def shard_settings(fake: FakeDiscord, shard_ids: str, count: int = 2) -> DiscordSettings:
    return DiscordSettings(
        discord_token="test-token",
        discord_api_base_url=fake.api_base,
        discord_gateway_url=fake.gateway_url,
        discord_post_interval_seconds=0,
        discord_calls_per_second=0,
        discord_shard_count=count,
        discord_shard_ids=shard_ids,
    )


@asynccontextmanager
async def shard_process(
    fake: FakeDiscord, engine: AsyncEngine, clock: SimulatedClock, shard_ids: str
) -> AsyncIterator[Process]:
    """A process with `shard_ids` of two, started until its shards are ready and their cards reconciled."""
    settings = shard_settings(fake, shard_ids)
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    client = Seeing(settings, guild_ready_timeout=0.05, sleep=record)
    core = CoreSettings(database_url=engine.url.render_as_string(hide_password=False))
    platform = DiscordPlatform(client, Pacer(0, 0))
    with discord_endpoints(settings):
        async with (
            client,
            symposium_process(core, platform, clock, ticking=False, deliver_in_background=False, workers=1) as bot,
        ):
            process = Process(client, bot, waits)

            client.seen = process.seen
            client.attach(bot)
            reconciled = client.wait_for("cards_reconciled")
            task = asyncio.create_task(client.start(settings.discord_token))
            try:
                await asyncio.wait_for(reconciled, timeout=5)
                yield process
            finally:
                await client.close()
                await task


async def command(fake: FakeDiscord, guild: str, user: str, name: str, options: dict[str, Any]) -> str:
    done = await fake.interaction_create(guild, CHANNELS[guild][0], user, name, options)
    await fake.wait_for("PATCH", rf"/webhooks/{fake.application_id}/{done.token}/messages/@original")
    return reply(done)


async def submitted(fake: FakeDiscord, guild: str, process: Process) -> str:
    """Open a symposium in `guild`, declare and submit there; returns the review card's id once delivered."""
    review = CHANNELS[guild][1]
    options = {"title": f"Orchestrators in {guild}", "prompt": "Is the orchestrator dead or alive?"}
    opened = await command(fake, guild, ERIN, "symposium open", options | DATES | {"review_channel": review})
    assert "Opened" in opened
    author = AUTHOR[guild]
    await command(fake, guild, author, "intent", {"title": "Lazy engineers"})
    await command(fake, guild, author, "submit", {"url": f"https://drafts.example.com/{author}"})
    await process.bot.tick()
    [card] = fake.channel_messages(review)
    return str(card["id"])


async def test_two_shard_processes_each_receive_only_their_servers_and_decide_every_card_once(
    servers: FakeDiscord, engine: AsyncEngine, clock: SimulatedClock
) -> None:
    fake = servers
    async with AsyncExitStack() as stack:
        zero = await stack.enter_async_context(shard_process(fake, engine, clock, "0"))
        one = await stack.enter_async_context(shard_process(fake, engine, clock, "1"))
        assert {g.id for g in zero.client.guilds} == {int(WRITERS)}
        assert {g.id for g in one.client.guilds} == {int(READERS)}
        assert (zero.waits, one.waits) == ([], [5.0])  # shard 1 waits its turn to IDENTIFY (one at a time)

        writers_card = await submitted(fake, WRITERS, zero)
        readers_card = await submitted(fake, READERS, one)
        # Writers' card is decided live: the reaction goes to shard 0 only.
        handled = zero.client.wait_for("reaction_handled", check=lambda p: str(p.message_id) == writers_card)
        await fake.reaction_add(CHANNELS[WRITERS][1], writers_card, ERIN, "✅", WRITERS)
        await asyncio.wait_for(handled, timeout=5)
        # Readers' card is decided while both shards are away; each new session reconciles its own servers' cards.
        fake.store_reaction(CHANNELS[READERS][1], readers_card, ERIN, "✅")
        rounds = [p.client.wait_for("cards_reconciled") for p in (zero, one)]
        await fake.drop_connection(resumable=False)
        await asyncio.wait_for(asyncio.gather(*rounds), timeout=5)
        await zero.bot.tick()
        await one.bot.tick()

    assert {guild for _, guild in zero.seen} == {int(WRITERS)}
    assert {guild for _, guild in one.seen} == {int(READERS)}
    assert ("raw_reaction_add", int(WRITERS)) in zero.seen
    read = fake.calls_to("GET", rf"/channels/{CHANNELS[READERS][1]}/messages/{readers_card}$")
    assert len(read) == 1  # by shard 1 alone; shard 0 never reads another shard's cards
    async with engine.connect() as conn:
        decided = (await conn.execute(select(Submission.id, CardReaction.decision).join(CardReaction))).all()
    assert sorted(d for _, d in decided) == ["approved", "approved"]
    assert len({sub for sub, _ in decided}) == 2  # each card decided once
    for guild, card in ((WRITERS, writers_card), (READERS, readers_card)):
        assert text(fake.messages[CHANNELS[guild][1]][card]).endswith(
            "approved by erin\n**Publication:** no date arranged yet."
        )
        assert len(fake.channel_messages(CHANNELS[guild][0])) == 2  # the call and the Essay Index
        dms = [c for c in fake.channels.values() if c["type"] == 1 and c["recipients"][0]["id"] == AUTHOR[guild]]
        approvals = [m for c in dms for m in fake.channel_messages(c["id"]) if "approved" in text(m)]
        assert len(approvals) == 1


async def test_a_process_waits_for_the_session_start_limit_to_reset(
    servers: FakeDiscord, engine: AsyncEngine, clock: SimulatedClock
) -> None:
    servers.session_start_limit |= {"remaining": 0, "reset_after": 42_000, "max_concurrency": 2}
    async with shard_process(servers, engine, clock, "1") as process:
        assert process.waits == [42.0]  # the limit's reset; shard 1 is in its own IDENTIFY bucket: no turn to wait
    assert servers.identifies_over_limit == 1  # the fake does not reset; a real limit would have by then


def test_shard_settings_parse_ranges_and_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "8")
    monkeypatch.setenv("DISCORD_SHARD_IDS", "0-2,5, 7")
    settings = DiscordSettings(_env_file=None, discord_token="t")  # type: ignore[call-arg]
    assert settings.discord_shard_ids == (0, 1, 2, 5, 7)
    assert settings.shards_text() == "shards 0-2,5,7 of 8"
    assert settings.owns(WRITERS)
    assert not settings.owns(str(int(WRITERS) + (3 << 22)))
    assert isinstance(make_client(settings), ShardedSymposiumClient)
    unsharded = DiscordSettings(_env_file=None, discord_token="t", discord_shard_count=None, discord_shard_ids=None)  # type: ignore[call-arg]
    assert type(make_client(unsharded)) is SymposiumClient
    assert unsharded.owns(READERS)
    assert unsharded.shards_text() == "unsharded"


@pytest.mark.parametrize(
    ("count", "ids", "problem"),
    [
        ("4", "0-4", "DISCORD_SHARD_IDS: shard 4 is not below DISCORD_SHARD_COUNT (4) (got '0-4')."),
        ("4", "3-1", "DISCORD_SHARD_IDS: the range 3-1 runs backwards (got '3-1')."),
        ("4", "one", "DISCORD_SHARD_IDS: 'one' is not a shard id or a range such as 0-3 (got 'one')."),
        (None, "0", "DISCORD_SHARD_IDS: set DISCORD_SHARD_COUNT too"),
        ("0", None, "DISCORD_SHARD_COUNT: Input should be greater than or equal to 1 (got '0')."),
    ],
)
def test_a_wrong_shard_setting_is_one_line(
    monkeypatch: pytest.MonkeyPatch, count: str | None, ids: str | None, problem: str
) -> None:
    for name, value in (("DISCORD_SHARD_COUNT", count), ("DISCORD_SHARD_IDS", ids)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as raised:
        DiscordSettings(_env_file=None, discord_token="t")  # type: ignore[call-arg]
    [line] = settings_problems(raised.value)
    assert line.startswith(problem)
