"""DMs to many people at the platforms' limits: the Slack fake with Slack's tiers enforced, the Discord fake with
Discord's global limit, the pacers and the fakes on one virtual clock (tests/adapters/test_pacing.py), so a
minute of Tier 3 passes without waiting. The first fan-out opens each DM channel once, at the limit and without a
429; a second fan-out, and one after a restart (a new sender on the same database), opens none."""

import math
from collections.abc import AsyncIterator, Awaitable, Callable

import discord
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.discord.client import SymposiumClient
from adapters.discord.pacing import Pacer as DiscordPacer
from adapters.discord.sender import DiscordPlatform
from adapters.discord.settings import DiscordSettings
from adapters.runtime import symposium_process
from adapters.slack.pacing import SLACK_TIERS, Pacer
from adapters.slack.sender import SlackPlatform
from bot.clock import SimulatedClock
from bot.db.models import DmChannel
from bot.messages import MessageBuilder
from bot.ports import Attempt
from bot.settings import CoreSettings
from tests.adapters.test_pacing import VirtualClock
from tests.conftest import START
from tests.fakes import discord_api
from tests.fakes.slack_api import TEAM_ID, FakeSlack

fake_discord = discord_api.fake_discord  # a module attribute is how pytest finds a fixture defined elsewhere

PEOPLE = 120  # over two of Tier 3's minutes (50 a minute): the floor is two minutes
NOTE = MessageBuilder("Your essay is due in 7 days", tag="note").line("A line").build()
TOLERANCE = 1.10


def fan_out(
    send: Callable[[str, Attempt], Awaitable[None]], people: list[str], round_no: int, per_person: int = 1
) -> list[Awaitable[None]]:
    """Every DM at once, as the outbox's workers would send them (`VirtualClock.run` them)."""
    return [send(user, Attempt(f"r{round_no}-{n}-{k}")) for n, user in enumerate(people) for k in range(per_person)]


async def stored(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(DmChannel)) or 0)


def slack_sender(fake: FakeSlack, clock: VirtualClock, engine: AsyncEngine) -> SlackPlatform:
    pacer = Pacer(SLACK_TIERS, 1.0, clock.time, clock.sleep)
    platform = SlackPlatform(AsyncWebClient(token="xoxb-test", base_url=fake.api_url), SimulatedClock(START), pacer)
    platform.use_database(engine)
    return platform


@pytest.fixture
async def slack(clock: VirtualClock) -> AsyncIterator[FakeSlack]:
    async with FakeSlack(now=clock.time) as fake:
        fake.rate_limits(enabled=True)
        yield fake


@pytest.fixture
def clock() -> VirtualClock:
    """The pacers' and the fakes' monotonic clock (the conftest's `clock`, the core's date, is not used here)."""
    return VirtualClock()


async def test_slack_fans_out_at_tier_3_then_opens_nothing_again(
    slack: FakeSlack, clock: VirtualClock, engine: AsyncEngine
) -> None:
    people = [f"U{n:08d}" for n in range(PEOPLE)]
    platform = slack_sender(slack, clock, engine)

    async def send(user: str, attempt: Attempt) -> None:
        await platform.direct_message(TEAM_ID, user, NOTE, attempt)

    await clock.run(*fan_out(send, people, 1))
    first = clock.now
    await platform.flush()  # as the process does on its way out (otherwise within a second)

    floor = slack.rate_floor_seconds("conversations.open", PEOPLE)
    assert floor == 120.0
    assert floor <= first <= TOLERANCE * floor
    assert len(slack.calls_to("conversations.open")) == PEOPLE
    assert sum(slack.rate_limited.values()) == 0
    assert await stored(engine) == PEOPLE

    # The next fan-out, two messages each: nothing opened, each channel's posts a second apart, nothing more.
    clock.now += 60
    began = clock.now
    await clock.run(*fan_out(send, people, 2, per_person=2))
    assert clock.now - began == slack.rate_floor_per_channel_seconds(2) == 1.0
    assert len(slack.calls_to("conversations.open")) == PEOPLE

    # A restart: a new sender, the same database.
    again = slack_sender(slack, clock, engine)

    async def send_again(user: str, attempt: Attempt) -> None:
        await again.direct_message(TEAM_ID, user, NOTE, attempt)

    clock.now += 60
    await clock.run(*fan_out(send_again, people, 3))
    assert len(slack.calls_to("conversations.open")) == PEOPLE
    assert sum(slack.rate_limited.values()) == 0
    dms = slack.channels[slack.dm_channel_id(people[0])].messages
    assert len(dms) == 4


async def discord_sender(fake: discord_api.FakeDiscord, clock: VirtualClock, engine: AsyncEngine) -> DiscordPlatform:
    settings = DiscordSettings(discord_token="test-token", discord_api_base_url=fake.api_base)
    client = SymposiumClient(settings)
    await client.login(settings.discord_token)
    platform = DiscordPlatform(client, DiscordPacer(25, 1.0, clock.time, clock.sleep))
    platform.use_database(engine)
    return platform


async def test_discord_fans_out_at_the_bot_wide_limit_then_opens_nothing_again(
    fake_discord: discord_api.FakeDiscord, clock: VirtualClock, engine: AsyncEngine
) -> None:
    fake = fake_discord
    guild = "1500000000000000001"
    fake.add_guild(guild, "Writers")
    people = [str(1500000000000001000 + n) for n in range(PEOPLE)]
    for n, user in enumerate(people):
        fake.add_member(guild, user, f"member{n}")
    fake.monotonic = clock.time  # type: ignore[method-assign]  # the fake's windows on the virtual clock
    fake.global_rate_limit = 50  # Discord's global limit, enforced
    platforms = []

    async def fan(round_no: int) -> float:
        platform = await discord_sender(fake, clock, engine) if round_no != 2 else platforms[-1]
        platforms.append(platform)

        async def send(user: str, attempt: Attempt) -> None:
            await platform.direct_message(guild, user, NOTE, attempt)

        clock.now += 60
        began = clock.now
        await clock.run(*fan_out(send, people, round_no))
        return clock.now - began

    try:
        first = await fan(1)
        # 2 calls a person (open the DM channel, post), 25 in any second: the last of them after ⌈2n/25⌉ - 1 s.
        floor = math.ceil(2 * PEOPLE / 25) - 1
        assert floor <= first <= TOLERANCE * floor
        opens = fake.calls_to("POST", r"/users/@me/channels")
        assert len(opens) == PEOPLE
        await platforms[0].flush()
        assert await stored(engine) == PEOPLE

        repeat, restarted = await fan(2), await fan(3)  # the same sender, then a new one on the same database
        assert len(fake.calls_to("POST", r"/users/@me/channels")) == PEOPLE
        assert repeat <= TOLERANCE * (math.ceil(PEOPLE / 25) - 1)
        assert restarted <= TOLERANCE * (math.ceil(PEOPLE / 25) - 1)
        assert not fake.rate_limited
        assert len(fake.channel_messages(fake.dm_channel(people[0])["id"])) == 3  # type: ignore[index]
    finally:
        for platform in platforms:
            if isinstance(platform.client, discord.Client) and not platform.client.is_closed():
                await platform.client.close()


async def test_a_process_keeps_its_dm_channels_for_the_next_one(database_url: str) -> None:
    """Through the composition root: the ids reach the database on the way out, and the next process uses them."""
    core = CoreSettings(database_url=database_url)
    people = [f"U{n:08d}" for n in range(5)]
    async with FakeSlack() as fake:
        for run in (1, 2):
            client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
            platform = SlackPlatform(client, SimulatedClock(START), Pacer({}, 0))
            async with symposium_process(core, platform, SimulatedClock(START), ticking=False):
                for n, user in enumerate(people):
                    await platform.direct_message(TEAM_ID, user, NOTE, Attempt(f"p{run}-{n}"))
            assert len(fake.calls_to("conversations.open")) == len(people)  # the second process opened none
