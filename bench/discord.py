"""Discord: interaction-to-callback latency of /submit with 50 interactions in flight, against a bare discord.py
handler that only answers the same interaction, in the same run.

    python -m bench discord                    # SQLite, 50 in flight, 20 timed waves (1,000 samples a side)
    python -m bench discord --quick            # 4 timed waves
    python -m bench discord --backends sqlite,postgresql --waves 20 --markdown
    python -m bench discord --only dms         # the DM fan-outs alone (about 25 s)

Both sides run the real discord.py 2.x client against tests/fakes/discord_api.py on 127.0.0.1, in one process and
one event loop with the fake, so the fake's own work weighs on both alike. A sample is the time from the fake
starting to write INTERACTION_CREATE to the moment the interaction's callback request reaches it. Each wave sends
50 `/submit url:…` interactions at once, from 50 members. The sides take turns in blocks (bare, bot, bare, bot, …),
each block on a freshly connected client whose first wave warms its connections up and is not counted, so that
drift weighs on both sides alike.

- bare: a discord.Client whose `/submit` (the same options) only calls `interaction.response.send_message`.
- bot: Symposium Bot's client and core (adapters/discord), on a fresh database with one open symposium and the
  50 members' intents and first submissions made through interactions beforehand. Every wave is a new revision
  of each essay. It defers each command (the callback) before any database work, then edits the answer in; the time to
  that edit is reported too ("answer"). The outbox is not delivered during the waves (bench core measures it).

Target: bot p50 and p99 at most 1.5 times the bare handler's.

DM fan-outs (`--only dms`; `--dms N`, 200 by default, on the first of `--backends`): the fake enforces Discord's
global limit (50 requests a second) and sends its X-RateLimit-* headers, which discord.py follows. A REST-only
client and the bot's sender, paced as SPEC §4 says (25 calls in any second, one message a second per channel),
send one DM to each of 200 members at once: first time (open each DM channel, then post: 400 calls, so the floor
is 15 s) and again after a restart, a new client and sender on the same database (the channel ids come from it:
200 posts, floor 7 s). Target: within 10 % of the floor, no 429, and no DM channel opened on the repeat.
"""

import argparse
import asyncio
import itertools
import math
import os
import platform as host
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import discord
from discord import app_commands
from sqlalchemy import text
from sqlalchemy.engine import make_url

from adapters.discord.client import SymposiumClient
from adapters.discord.pacing import Pacer
from adapters.discord.sender import DiscordPlatform
from adapters.discord.settings import DiscordSettings, discord_endpoints
from bot.clock import SimulatedClock
from bot.core import SymposiumBot
from bot.db.engine import make_engine
from bot.db.migrate import upgrade
from bot.messages import MessageBuilder
from bot.ports import Attempt
from bot.settings import CoreSettings
from tests.fakes.discord_api import DEFAULT_BOT_PERMISSIONS, Call, FakeDiscord

GUILD, GENERAL, REVIEW, EDITOR_ROLE = (
    "1400000000000000001",
    "1400000000000000011",
    "1400000000000000012",
    "1400000000000000021",
)
EDITOR = "1400000000000000100"
IN_FLIGHT, WAVES, BLOCKS, TARGET = 50, 20, 4, 1.5
FLOOR_TARGET, SPEC_CALLS_PER_SECOND, DISCORD_GLOBAL = 1.10, 25, 50
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
START = datetime(2023, 2, 1, 9, 0, tzinfo=UTC)
OPEN = {
    "title": "Is the orchestrator dead or alive?",
    "prompt": "Is the orchestrator dead or alive?",
    "intent_deadline": "2023-03-03",
    "due": "2023-03-10",
    "publish_from": "2023-03-13",
    "publish_to": "2023-04-28",
    "review_channel": REVIEW,
}
JSON = dict[str, Any]
T = TypeVar("T")


class TimedFake(FakeDiscord):
    """The fake, noting when each interaction's callback and its edited answer arrive."""

    def __init__(self) -> None:
        super().__init__()
        self.callback_at: dict[str, float] = {}
        self.answer_at: dict[str, float] = {}
        self._by_token: dict[str, str] = {}
        self._arrivals = asyncio.Condition()

    async def _callback(self, call: Call, interaction_id: str, token: str) -> JSON | None:
        self.callback_at[interaction_id] = time.perf_counter()
        self._by_token[token] = interaction_id
        await self._arrived()
        return await super()._callback(call, interaction_id, token)

    async def _webhook_message(self, call: Call, app_id: str, token: str, message_id: str) -> JSON | None:
        if call.method == "PATCH" and message_id == "@original":
            self.answer_at[self._by_token[token]] = time.perf_counter()
            await self._arrived()
        return await super()._webhook_message(call, app_id, token, message_id)

    async def _arrived(self) -> None:
        async with self._arrivals:
            self._arrivals.notify_all()

    async def settled(self, ids: list[str], answered: bool) -> None:
        """Wait until every interaction in `ids` has its callback (and, if `answered`, its edited answer)."""
        marks = self.answer_at if answered else self.callback_at
        async with asyncio.timeout(120), self._arrivals:
            await self._arrivals.wait_for(lambda: all(i in marks for i in ids))


class Bare(discord.Client):
    """The baseline: `/submit` with the bot's options, answered at once and privately, nothing else."""

    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)

        @self.tree.command(description="submit your essay's link", guild=discord.Object(int(GUILD)))
        async def submit(
            interaction: discord.Interaction,
            url: str | None = None,
            note: str | None = None,
            live: str | None = None,
            symposium: str | None = None,
        ) -> None:
            await interaction.response.send_message("Submitted.", ephemeral=True)

    async def setup_hook(self) -> None:
        await self.tree.sync(guild=discord.Object(int(GUILD)))


def members() -> list[str]:
    return [str(1400000000000001000 + n) for n in range(IN_FLIGHT)]


def server(fake: FakeDiscord) -> None:
    fake.add_guild(GUILD, "Bench")
    fake.add_role(GUILD, EDITOR_ROLE, "Editor")
    fake.add_channel(GUILD, GENERAL, "general")
    fake.add_channel(GUILD, REVIEW, "review", bot_permissions=DEFAULT_BOT_PERMISSIONS)
    fake.add_member(GUILD, EDITOR, "editor", roles=[EDITOR_ROLE])
    for user in members():
        fake.add_member(GUILD, user, f"writer{user[-3:]}")


async def wave(fake: TimedFake, revision: int, answered: bool) -> tuple[list[float], list[float]]:
    """50 `/submit` at once; each one's callback latency and (bot only) answer latency, in seconds."""
    started: dict[str, float] = {}

    async def one(user: str) -> None:
        at = time.perf_counter()
        options = {"url": f"https://drafts.example.com/{user}/{revision}"}
        record = await fake.interaction_create(GUILD, GENERAL, user, "submit", options)
        started[record.id] = at

    await asyncio.gather(*(one(user) for user in members()))
    ids = list(started)
    await fake.settled(ids, answered)
    callbacks = [fake.callback_at[i] - started[i] for i in ids]
    answers = [fake.answer_at[i] - started[i] for i in ids] if answered else callbacks
    return callbacks, answers


async def connected(fake: TimedFake, client: discord.Client, work: Callable[[], Awaitable[T]]) -> T:
    """Start the client against the fake, run `work`, close the client."""
    async with client:
        task = asyncio.create_task(client.start("bench-token"))
        try:
            await fake.wait_ready()
            await asyncio.wait_for(client.wait_until_ready(), timeout=10)
            return await work()
        finally:
            await client.close()
            await task


async def answered_command(fake: TimedFake, user: str, command: str, options: JSON) -> None:
    record = await fake.interaction_create(GUILD, GENERAL, user, command, options)
    await fake.settled([record.id], answered=True)
    answer = fake.interactions[record.id].original or {}
    embed = (answer.get("embeds") or [{}])[0]
    if embed.get("title") == "That didn't work":
        raise RuntimeError(f"/{command} was refused: {embed.get('description')}")


async def scenario(url: str, waves: int) -> dict[str, list[float]]:
    settings = DiscordSettings(discord_token="bench-token", discord_guild_id=int(GUILD))
    engine = make_engine(url)
    await upgrade(engine)
    platform = DiscordPlatform(SymposiumClient(settings), Pacer(0, 0))
    bot = SymposiumBot(engine, SimulatedClock(START), platform, CoreSettings(database_url=url))

    def bot_client() -> SymposiumClient:
        """A fresh client on the same core; the platform follows it (a closed client cannot start again)."""
        client = SymposiumClient(settings, guild_ready_timeout=0.05)
        client.attach(bot)
        platform.client = client
        return client

    async def populate() -> None:
        """The symposium, the 50 intents, and each one's first submission, one at a time: concurrent first
        submissions race for essay numbers on PostgreSQL (reported to the core), and the waves time revisions."""
        await answered_command(fake, EDITOR, "symposium open", OPEN)
        for user in members():
            await answered_command(fake, user, "intent", {"title": f"Essay by {user}"})
            await answered_command(fake, user, "submit", {"url": f"https://drafts.example.com/{user}/first"})

    async def waves_of(answered: bool, count: int) -> tuple[list[float], list[float]]:
        await wave(fake, next(revisions), answered)  # warms this connection up; not counted
        callbacks: list[float] = []
        answers: list[float] = []
        for _ in range(count):
            c, a = await wave(fake, next(revisions), answered)
            callbacks += c
            answers += a
        return callbacks, answers

    revisions = itertools.count(1)
    samples: dict[str, list[float]] = {"bare": [], "bot": [], "answer": []}
    fake = TimedFake()
    async with fake:
        server(fake)
        with discord_endpoints(settings.model_copy(update={"discord_api_base_url": fake.api_base,
                                                           "discord_gateway_url": fake.gateway_url})):  # fmt: skip
            try:
                await connected(fake, bot_client(), populate)
                for block in range(BLOCKS):
                    count = waves // BLOCKS + (block < waves % BLOCKS)
                    bare, _ = await connected(fake, Bare(), partial(waves_of, False, count))
                    callbacks, answers = await connected(fake, bot_client(), partial(waves_of, True, count))
                    samples["bare"] += bare
                    samples["bot"] += callbacks
                    samples["answer"] += answers
            finally:
                await bot.close()
                await engine.dispose()
    return samples


@asynccontextmanager
async def database(backend: str, postgres: str) -> AsyncIterator[str]:
    """A fresh database: a SQLite file, or a `bench_<random>` database on the PostgreSQL server, dropped after."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="symposium-bench-") as folder:
            yield f"sqlite+aiosqlite:///{folder}/bench.db"
        return
    name, admin = f"bench_{uuid.uuid4().hex[:10]}", make_engine(postgres, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def measure(backend: str, postgres: str, waves: int) -> dict[str, list[float]]:
    async with database(backend, postgres) as url:
        return await scenario(url, waves)


async def dm_fanouts(recipients: int, backend: str, postgres: str) -> dict[str, float]:
    """DMs to `recipients` members at once at SPEC §4's pacing, then again after a restart (see the docstring)."""
    settings = DiscordSettings(discord_token="bench-token")
    people = [str(1400000000000010000 + n) for n in range(recipients)]
    async with database(backend, postgres) as url, FakeDiscord() as fake:
        engine = make_engine(url)
        await upgrade(engine)
        fake.add_guild(GUILD, "Writers")
        for n, user in enumerate(people):
            fake.add_member(GUILD, user, f"member{n}")
        fake.global_rate_limit = DISCORD_GLOBAL  # Discord's global limit, enforced
        clients: list[SymposiumClient] = []

        async def fan_out(name: str, pacer: Pacer) -> float:
            """A new client and sender (a restart) on the same database, one DM to every member at once."""
            clients.append(client := SymposiumClient(settings))
            await client.login(settings.discord_token)
            platform = DiscordPlatform(client, pacer)
            platform.use_database(engine)
            note = MessageBuilder("Your essay is due in 7 days", tag="note").line("A reminder from the editors.")
            began = time.perf_counter()
            await asyncio.gather(
                *(platform.direct_message(GUILD, u, note.build(), Attempt(f"{name}-{n}")) for n, u in enumerate(people))
            )
            took = time.perf_counter() - began
            await platform.flush()
            return took

        try:
            with discord_endpoints(settings.model_copy(update={"discord_api_base_url": fake.api_base})):
                paced = Pacer(SPEC_CALLS_PER_SECOND, 1.0)
                first = await fan_out("first", paced)
                opens = len(fake.calls_to("POST", r"/users/@me/channels"))
                limited = fake.rate_limited.total()
                await asyncio.sleep(1)  # every window empty again
                repeat = await fan_out("repeat", Pacer(SPEC_CALLS_PER_SECOND, 1.0))
                reopened = len(fake.calls_to("POST", r"/users/@me/channels")) - opens
        finally:
            for client in clients:
                await client.close()
            await engine.dispose()
    first_floor = math.ceil(2 * opens / SPEC_CALLS_PER_SECOND) - 1  # an open and a post each, 25 in any second
    repeat_floor = math.ceil(recipients / SPEC_CALLS_PER_SECOND) - 1  # a post each
    return {
        "dms": recipients,
        "first": first,
        "first_floor": first_floor,
        "opens": opens,
        "first_429s": limited,
        "repeat": repeat,
        "repeat_floor": repeat_floor,
        "repeat_opens": reopened,
        "repeat_429s": fake.rate_limited.total() - limited,
    }


def report_dms(dms: dict[str, float]) -> tuple[str, bool]:
    lines, met = [], True
    for run, what in (("first", "first-time fan-out (open the DM channel, post)"), ("repeat", "repeat, restarted")):
        ratio = dms[run] / dms[f"{run}_floor"]
        ok = ratio <= FLOOR_TARGET and dms[f"{run}_429s"] == 0 and (run == "first" or dms["repeat_opens"] == 0)
        met = met and ok
        lines.append(
            f"{what}, {int(dms['dms'])} DMs: {dms[run]:.2f} s, floor {dms[f'{run}_floor']:.0f} s "
            f"({SPEC_CALLS_PER_SECOND} calls in any second): ratio {ratio:.3f}; "
            f"POST /users/@me/channels {int(dms['opens'] if run == 'first' else dms['repeat_opens'])}, "
            f"{int(dms[f'{run}_429s'])} answers 429; target ≤ {FLOOR_TARGET}: {'met' if ok else 'missed'}"
        )
    return "\n".join(lines), met


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def table(rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(" --- " for _ in rows[0]) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows[1:]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]  # fmt: skip
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def report(results: dict[str, dict[str, list[float]]], markdown: bool) -> tuple[str, bool]:
    rows = [["backend", "bare p50", "bare p99", "bot p50", "bot p99", "ratio p50", "ratio p99", "answer p50",
             "answer p99", "verdict"]]  # fmt: skip
    met = True
    for backend, samples in results.items():
        figures = {f"{side} p{q}": percentile(samples[side], q) for side in samples for q in (50, 99)}
        ratios = [figures[f"bot p{q}"] / figures[f"bare p{q}"] for q in (50, 99)]
        ok = all(r <= TARGET for r in ratios)
        met = met and ok
        ms = [f"{figures[k] * 1e3:.1f} ms" for k in ("bare p50", "bare p99", "bot p50", "bot p99")]
        answer = [f"{figures[f'answer p{q}'] * 1e3:.1f} ms" for q in (50, 99)]
        rows.append([backend, *ms, *(f"{r:.2f}" for r in ratios), *answer, "pass" if ok else "FAIL"])
    return table(rows, markdown), met


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench discord", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 timed waves")
    parser.add_argument("--waves", type=int, default=WAVES, help=f"timed waves of {IN_FLIGHT} interactions")
    parser.add_argument("--backends", default="sqlite", help="comma-separated: sqlite,postgresql")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES,
        help="a PostgreSQL URL whose server may create and drop bench_<random> databases",
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--dms", type=int, default=200, help="members of the DM fan-outs")
    parser.add_argument("--only", choices=("latency", "dms"), help="run one of the two measurements")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    waves = 4 if args.quick else args.waves
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - {"sqlite", "postgresql"}:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    results = {}
    for backend in backends if args.only != "dms" else ():
        print(f"-- {backend}: {waves} waves of {IN_FLIGHT} /submit in flight, per side", flush=True)
        try:
            results[backend] = asyncio.run(measure(backend, args.postgres_url, waves))
        except OSError as exc:  # PostgreSQL not reachable
            print(f"{backend} skipped: {exc}", file=sys.stderr)
    print(
        f"\nDiscord benchmark: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {host.python_version()}, discord.py {discord.__version__}, {host.system()} {host.machine()}\n"
    )
    shown, met = report(results, args.markdown) if results else ("", True)
    print(shown)
    if args.only != "latency":
        print(f"\n-- DM fan-outs to {args.dms} members, {backends[0]}", flush=True)
        shown, dms_met = report_dms(asyncio.run(dm_fanouts(args.dms, backends[0], args.postgres_url)))
        print(shown)
        met = met and dms_met
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
