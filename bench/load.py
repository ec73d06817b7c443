"""A deadline rush on Slack (issue 9: nothing acknowledged is lost, no lock held across the network), on SQLite
and on PostgreSQL.

    python -m bench load                 # SQLite and PostgreSQL, 310 participants, Slack's real limits (~50 min)
    python -m bench load --quick         # SQLite only, 110 participants, 3 rounds, limits 10 times Slack's (~1.5 min)
    python -m bench load --backends postgresql --participants 310 --rounds 10 --scale 5

The bot runs as in production in HTTP mode: its slack-bolt app served by aiohttp on 127.0.0.1, the core with
background delivery, the scheduler's tick and Slack's pacing, against the fake Slack (tests/fakes/slack_api.py)
with Slack's per-method rate limits enforced. Everything goes in as Slack sends it, signed: the editor opens the
symposium, N participants declare an intent (`/intent`, ten at a time), and the outbox is left to settle. Then:

1. calm: WRITERS writers send `/submit` at the same moment, round after round, while their review cards go out
   (`--rounds` rounds);
2. fan-out: the editor sends `/symposium notify`, a direct message to each of the N participants, which the
   outbox delivers under Slack's limits (conversations.open, then chat.postMessage, one a second); while it is
   under way the writers send the same rounds, spread over the time the fan-out needs at least;
3. after the fan-out has been delivered, the calm rounds once more (the calm figures are both calm phases).

A reply's latency is from sending the request to the bot's private reply reaching the fake (its response_url).
On SQLite a probe in a thread takes the write lock (`BEGIN IMMEDIATE`, 1 s timeout, what the core gives an
arrival to be recorded) every 50 ms throughout: its longest wait is how long any transaction of the bot held the
lock, so a transaction held across a call to Slack shows there.

Targets: no failure (every command answered with its reply, no probe or bot log saying "database is locked", no
error logged, every direct message delivered exactly once, every review card posted), and the p99 reply latency
during the fan-out at most 1.2 × the calm p99 measured in the same run. `--scale K` multiplies Slack's limits
(in the fake and in the bot's pacing alike) to shorten the fan-out.
"""

import argparse
import asyncio
import contextlib
import logging
import os
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import and_, event, func, not_, select
from sqlalchemy.engine import Connection, Engine, make_url

from adapters.runtime import symposium_process
from adapters.slack.after_ack import AfterAck
from adapters.slack.app import build_app, make_client, slack_routes
from adapters.slack.pacing import SLACK_TIERS, Pacer
from adapters.slack.sender import SlackPlatform
from adapters.slack.settings import SlackSettings
from bench.core import DEFAULT_POSTGRES, database, percentile, postgres_unreachable
from bot.db.models import OutboxRow
from bot.outbox import Op
from bot.settings import CoreSettings
from tests.fakes.slack_api import FakeSlack, signed_headers, slash_command_body

SECRET = "bench-signing-secret"
START = datetime(2023, 2, 1, 9, 0, tzinfo=UTC)
GENERAL, REVIEW, EDITOR = "CGENERAL1", "CREVIEW01", "UEDITOR01"
OPEN = (
    "/symposium open title:A deadline rush prompt:Is it? intent_deadline:2023-03-03 due:2023-03-10 "
    f"publish_from:2023-03-13 publish_to:2023-04-28 review_channel:<#{REVIEW}|review>"
)
NOTE = "The deadline is near."
WHO_FAILED = "did not tell me who you are"  # bot/core.py's answer when the platform could not say who asks
WRITERS = 10
RATIO_TARGET = 1.2
REPLY_TIMEOUT = 30.0
PROBE_EVERY, PROBE_TIMEOUT = 0.05, 1.0


class RunningClock:
    """The simulated date, moving at real speed: retries and paced rows fall due as in a running bot."""

    def __init__(self, at: datetime) -> None:
        self.at, self.since = at, time.monotonic()

    def now(self) -> datetime:
        return self.at + timedelta(seconds=time.monotonic() - self.since)


def participant(n: int) -> str:
    return f"UWRITER{n:05d}"


class Problems(logging.Handler):
    """Every warning or error the bot logs meanwhile; "database is locked" ones counted apart."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []
        self.phase = "setup"

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        self.records.append(f"{record.levelname} ({self.phase}) {record.name}: {' '.join(text.split())}"[:240])

    def errors(self) -> list[str]:
        return [r for r in self.records if r.startswith(("ERROR", "CRITICAL"))]

    def locked(self) -> int:
        return sum("database is locked" in r for r in self.records)


class LockProbe:
    """Takes SQLite's write lock every PROBE_EVERY seconds from a thread; records each wait, per phase."""

    def __init__(self, path: str) -> None:
        self.path, self.phase = path, "setup"
        self.waits: dict[str, list[float]] = {}
        self.failures: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        db = sqlite3.connect(self.path, timeout=PROBE_TIMEOUT, isolation_level=None)
        try:
            while not self._stop.wait(PROBE_EVERY):
                phase, started = self.phase, time.perf_counter()
                try:
                    db.execute("BEGIN IMMEDIATE")
                    db.execute("COMMIT")
                except sqlite3.OperationalError:
                    self.failures[phase] += 1
                    continue
                self.waits.setdefault(phase, []).append(time.perf_counter() - started)
        finally:
            db.close()

    def __enter__(self) -> "LockProbe":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def where() -> str:
    """The core's and the adapter's functions the running task is in (its chain of awaits), innermost last."""
    task, frames = asyncio.current_task(), []
    coro: Any = task.get_coro() if task is not None else None
    while coro is not None and getattr(coro, "cr_frame", None) is not None:
        code = coro.cr_frame.f_code
        if "/bot/" in code.co_filename or "/adapters/" in code.co_filename:
            frames.append(f"{Path(code.co_filename).stem}.{code.co_name}")
        coro = coro.cr_await
    return " > ".join(frames[-3:])


class Transactions:
    """How long each write transaction of the bot stays open (SQLAlchemy's begin to its commit or rollback), per
    phase: one held across a call to Slack would last as long as the call."""

    def __init__(self) -> None:
        self.phase = "setup"
        self.longest: dict[str, tuple[float, str]] = {}  # phase: (seconds, where it began and what it ran)

    def _begin(self, conn: Connection) -> None:
        if not conn.get_execution_options().get("read_only", False):
            # [began, where, statements, holding]: a SQLite transaction holds the lock from its BEGIN IMMEDIATE
            conn.info["bench_began"] = [time.perf_counter(), where(), [], conn.dialect.name != "sqlite"]

    def _statement(self, conn: Connection, cursor: Any, statement: str, *_: Any) -> None:
        began = conn.info.get("bench_began")
        if began is None:
            return
        if statement.startswith("BEGIN"):  # SQLite's lock is held from here: the wait for it is not counted
            began[0], began[3] = time.perf_counter(), True
        elif began[3] and len(began[2]) < 2:
            began[2].append(" ".join(statement.split())[:50])

    def _end(self, conn: Connection) -> None:
        began = conn.info.pop("bench_began", None)
        if began is not None and began[3]:
            took = time.perf_counter() - began[0]
            if took > self.longest.get(self.phase, (0.0, ""))[0]:
                self.longest[self.phase] = (took, f"{began[1]} ({'; '.join(began[2])})")

    def __enter__(self) -> "Transactions":
        event.listen(Engine, "begin", self._begin)
        event.listen(Engine, "after_cursor_execute", self._statement)
        event.listen(Engine, "commit", self._end)
        event.listen(Engine, "rollback", self._end)
        return self

    def __exit__(self, *exc_info: object) -> None:
        event.remove(Engine, "begin", self._begin)
        event.remove(Engine, "after_cursor_execute", self._statement)
        event.remove(Engine, "commit", self._end)
        event.remove(Engine, "rollback", self._end)


@dataclass
class Run:
    """What one backend's run measured."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {"calm": [], "fan-out": []})
    acks: dict[str, list[float]] = field(default_factory=lambda: {"calm": [], "fan-out": []})
    failures: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


class Rush:
    def __init__(self, fake: FakeSlack, http: aiohttp.ClientSession, url: str, run: Run) -> None:
        self.fake, self.http, self.url, self.run = fake, http, url, run
        self.tokens = 0

    def body(self, user: str, line: str) -> tuple[str, str]:
        name, _, text = line.partition(" ")
        self.tokens += 1
        token = f"r{self.tokens}"
        body = slash_command_body(
            name,
            text,
            user_id=user,
            user_name=user.lower(),
            channel_id=GENERAL,
            response_url=self.fake.response_url(token),
            trigger_id=f"{token}.trigger",
        )
        return body, token

    async def commands(
        self, lines: list[tuple[str, str]], expect: str, refused: list[str] | None = None
    ) -> list[tuple[float, float]]:
        """Send the commands at once, signed as Slack signs them; wait for every private reply. Returns (ack,
        reply) latencies of those answered as expected; anything else is a failure, except, when `refused` is
        given, the users told to try again because Slack did not say who they are (users.info answered 429)."""
        sent: dict[str, tuple[float, str]] = {}
        users = {}

        async def one(user: str, line: str) -> float:
            body, token = self.body(user, line)
            started = time.monotonic()
            sent[token], users[token] = (started, line), user
            headers = signed_headers(SECRET, body, int(time.time()))
            async with self.http.post(self.url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    self.run.failures.append(f"{line[:40]}: HTTP {response.status}")
            return time.monotonic() - started

        acks = await asyncio.gather(*(one(user, line) for user, line in lines))
        with contextlib.suppress(TimeoutError):
            await self.fake.wait_for("response_url", lambda c: c.token in sent, len(sent), timeout=REPLY_TIMEOUT)
        answers = {c.token: c for c in self.fake.calls_to("response_url") if c.token in sent}
        out = []
        for ack, (token, (started, line)) in zip(acks, sent.items(), strict=True):
            answer = answers.get(token)
            if answer is None:
                self.run.failures.append(f"{line[:40]}: no reply within {REPLY_TIMEOUT:.0f} s")
            elif refused is not None and WHO_FAILED in str(answer.payload.get("text", "")):
                refused.append(users[token])
            elif expect not in str(answer.payload.get("text", "")):
                self.run.failures.append(f"{line[:40]}: {str(answer.payload.get('text'))[:120]}")
            else:
                out.append((ack, answer.at_monotonic - started))
        return out

    async def rounds(self, phase: str, rounds: int, first: int, every: float = 0.0) -> None:
        """`rounds` rounds of WRITERS /submit at once, one starting every `every` seconds (or at once after the
        last round's replies)."""
        for r in range(first, first + rounds):
            started = time.monotonic()
            lines = [(participant(n), f"/submit https://w{n}.example/essay-{r}") for n in range(1, WRITERS + 1)]
            for ack, reply in await self.commands(lines, "submitted"):
                self.run.acks[phase].append(ack)
                self.run.latencies[phase].append(reply)
            await asyncio.sleep(max(0.0, started + every - time.monotonic()))


def dms(fake: FakeSlack) -> Counter[str]:
    """The notes delivered, by direct-message channel."""
    return Counter(
        c.payload["channel"]
        for c in fake.calls_to("chat.postMessage")
        if c.status == 200 and str(c.payload.get("channel", "")).startswith("D") and NOTE in str(c.payload)
    )


async def pending(bot: Any) -> int:
    """Rows still to deliver: planned reminders (which have a scope) excepted, and the Essay Index's next edit
    while it waits out its minute (edits are merged, one a minute at most), which the run measures nothing of. A
    row held back by a 429 counts: it is due later, but it is due."""
    waiting_index = and_(OutboxRow.op == Op.INDEX, OutboxRow.due_at > bot.clock.now())
    async with bot.sessions() as session:
        query = select(func.count()).where(
            OutboxRow.status == "pending", OutboxRow.scope.is_(None), not_(waiting_index)
        )
        return int(await session.scalar(query) or 0)


async def settle(bot: Any, within: float) -> float:
    """Wait (polling, a benchmark) until the outbox has sent everything due; returns how long it took."""
    started = time.monotonic()
    while await pending(bot):
        if time.monotonic() - started > within:
            raise RuntimeError(f"{await pending(bot)} rows still pending after {within:.0f} s")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def scenario(url: str, participants: int, rounds: int, scale: float) -> Run:
    run = Run()
    run.figures["participants"] = participants
    transactions = Transactions()
    problems = Problems()
    logging.getLogger().addHandler(problems)
    path = url.removeprefix("sqlite+aiosqlite:///") if url.startswith("sqlite") else None
    try:
        async with FakeSlack() as fake:
            fake.add_user(EDITOR, name="Erin Editor", is_admin=True)
            fake.add_channel(GENERAL, name="general")
            fake.add_channel(REVIEW, name="review", is_private=True)
            fake.rate_limits(window_seconds=60 / scale)  # Slack's tiers, its minute scaled
            settings = SlackSettings(
                slack_bot_token="xoxb-bench", slack_signing_secret=SECRET, slack_api_base_url=fake.api_url
            )
            pacer = Pacer({m: n * scale for m, n in SLACK_TIERS.items()}, settings.slack_post_interval_seconds / scale)
            clock = RunningClock(START)
            platform = SlackPlatform(make_client(settings), clock, pacer)
            async with symposium_process(CoreSettings(database_url=url), platform, clock) as bot:
                after_ack = AfterAck()
                app = web.Application()
                app.add_routes(slack_routes(build_app(bot, settings, platform, after_ack=after_ack)))
                runner = web.AppRunner(app, access_log=None)
                await runner.setup()
                await web.TCPSite(runner, "127.0.0.1", 0).start()
                events = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
                probe = LockProbe(path) if path else contextlib.nullcontext()
                try:
                    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                        rush = Rush(fake, http, events, run)
                        with probe, transactions:
                            await drive(rush, bot, [probe, problems, transactions], participants, rounds)
                finally:
                    await runner.cleanup()
                    await after_ack.drain()
            check(fake, run, participants)
    finally:
        logging.getLogger().removeHandler(problems)
    if isinstance(probe, LockProbe):
        for phase, waits in probe.waits.items():
            run.figures[f"lock_{phase}"] = max(waits)
        for phase, failed in probe.failures.items():
            run.failures.append(f"the write-lock probe failed {failed} times ({phase}): database is locked")
    # Refusals of who-are-you (users.info 429) are counted apart; in a round they fail the writer's /submit.
    run.failures += [f"logged: {r}" for r in problems.errors() if "could not tell who" not in r]
    if problems.locked():
        run.failures.append(f"{problems.locked()} log records say 'database is locked'")
    if undurable := sum("not made durable" in r for r in problems.records):
        run.failures.append(f"{undurable} commands acknowledged without being recorded first (held in memory only)")
    for phase, (longest, what) in transactions.longest.items():
        run.figures[f"transaction_{phase}"], run.figures[f"transaction_{phase}_what"] = longest, what
    run.figures["warnings"] = len(problems.records) - len(problems.errors())
    run.figures["logged"] = Counter(problems.records)
    run.figures["429s"] = fake.rate_limited.total()
    return run


async def drive(rush: Rush, bot: Any, watchers: list[Any], participants: int, rounds: int) -> None:
    run, fake = rush.run, rush.fake

    def phase(name: str) -> None:
        for watcher in watchers:
            watcher.phase = name

    say("opening the symposium and declaring intents")
    started = time.monotonic()
    await rush.commands([(EDITOR, OPEN)], "")
    people, tries = [participant(n) for n in range(1, participants + 1)], 0
    while people:  # those told to try again do, a little later, as people would
        refused: list[str] = []
        for first in range(0, len(people), 10):
            lines = [(user, f"/intent title:Essay {user}") for user in people[first : first + 10]]
            await rush.commands(lines, "", refused)
        tries += 1
        run.figures.setdefault("refused_first", len(refused))
        if refused:
            say(f"{len(refused)} told to try again: Slack did not say who they are (users.info)")
            await asyncio.sleep(15.0)
        people = refused
    run.figures["population_tries"] = tries
    await settle(bot, 3600)
    run.figures["population_s"] = time.monotonic() - started
    run.figures["population_calls"] = Counter(c.method for c in fake.calls)

    say(f"calm: {rounds} rounds of {WRITERS} /submit at once")
    phase("calm")
    await rush.rounds("calm", rounds, 1)
    await settle(bot, 600)

    say(f"fan-out: /symposium notify to {participants} participants, and {rounds} rounds meanwhile")
    phase("fan-out")
    started = time.monotonic()
    notified = await rush.commands([(EDITOR, f"/symposium notify text:{NOTE}")], f"{participants} participants")
    if not notified:
        raise RuntimeError("the notify was not answered as expected: " + "; ".join(run.failures[-1:]))
    # The rounds spread over the fan-out (its floor: conversations.open's tier), so they meet all of it.
    every = 0.9 * fake.rate_floor_seconds("conversations.open", participants) / rounds
    await rush.rounds("fan-out", rounds, rounds + 1, every)
    run.figures["dms_during_rounds"] = sum(dms(fake).values())
    run.figures["fan_out_seconds"] = time.monotonic() - started + await settle(bot, 3600)
    phase("calm")
    say(f"calm again: {rounds} rounds")
    await rush.rounds("calm", rounds, 2 * rounds + 1)
    await settle(bot, 600)
    run.figures["sent"] = rush.tokens


def check(fake: FakeSlack, run: Run, participants: int) -> None:
    """Nothing acknowledged was lost: each note delivered once, each writer's card posted, each command answered
    once."""
    delivered = dms(fake)
    if len(delivered) != participants or set(delivered.values()) != {1}:
        repeated = sum(1 for n in delivered.values() if n > 1)
        run.failures.append(f"notes: {len(delivered)} of {participants} people reached, {repeated} more than once")
    run.figures["dms"] = sum(delivered.values())
    review = fake.channels[REVIEW].messages.values()
    cards = {
        m.text.split("\n")[0].split(":")[1].strip() for m in review if m.text.startswith("Essay ") and ":" in m.text
    }
    if len(cards) != WRITERS:
        run.failures.append(f"review cards: {len(cards)} essays have one, {WRITERS} expected")
    answered = Counter(c.token for c in fake.calls_to("response_url") if c.status == 200)
    if twice := [t for t, n in answered.items() if n > 1]:
        run.failures.append(f"{len(twice)} commands answered more than once")
    expected = run.figures["sent"]
    if len(answered) != expected:
        run.failures.append(f"{len(answered)} commands answered, {expected} sent")


def say(line: str) -> None:
    print(f"   {line}", flush=True)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The bot logs at INFO; only warnings and errors are collected (and counted) here."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.setLevel(level)


def report(name: str, run: Run) -> bool:
    calm, busy = run.latencies["calm"], run.latencies["fan-out"]
    if not calm or not busy:
        print(f"{name}: no latency measured; failures: {run.failures[:5]}")
        return False
    ratio = percentile(busy, 99) / percentile(calm, 99)
    ok_ratio, ok_failures = ratio <= RATIO_TARGET, not run.failures
    f = run.figures
    print(f"\n{name}:")
    for phase, samples in run.latencies.items():
        acks = run.acks[phase]
        print(
            f"  {phase:<8} reply p50 {percentile(samples, 50) * 1e3:6.0f} ms  p99 {percentile(samples, 99) * 1e3:6.0f} ms"
            f"   ack p99 {percentile(acks, 99) * 1e3:5.0f} ms   ({len(samples)} /submit)"
        )
    print(
        f"  fan-out: {f.get('dms', 0)} notes in {f.get('fan_out_seconds', 0):.0f} s; {f.get('dms_during_rounds', 0)} "
        f"of them delivered while the rounds ran; {f.get('429s', 0)} answers 429; {f.get('warnings', 0)} warnings"
    )
    calls = ", ".join(f"{method} {n}" for method, n in f.get("population_calls", Counter()).most_common(6))
    print(f"  population: {f.get('population_s', 0):.0f} s; calls to Slack: {calls}")
    print(
        f"  first /intent of {f.get('refused_first', 0)} of the {f.get('participants', 0)} people refused "
        f"('{WHO_FAILED}': users.info answered 429); {f.get('population_tries', 0)} passes until all were in"
    )
    print(
        f"  longest write transaction of the bot: setup {f.get('transaction_setup', 0) * 1e3:.0f} ms, "
        f"calm {f.get('transaction_calm', 0) * 1e3:.0f} ms, fan-out {f.get('transaction_fan-out', 0) * 1e3:.0f} ms"
    )
    for phase in ("setup", "calm", "fan-out"):
        print(f"    the longest ({phase}): {f.get(f'transaction_{phase}_what', '')}")
    if "lock_calm" in f:
        print(
            f"  SQLite write lock, longest wait: setup {f.get('lock_setup', 0) * 1e3:.0f} ms, calm {f['lock_calm'] * 1e3:.0f} ms, "
            f"fan-out {f.get('lock_fan-out', 0) * 1e3:.0f} ms"
        )
    for record, times in run.figures["logged"].most_common(5):
        print(f"  logged {times}×: {record}")
    print(f"  target: failures = 0: {len(run.failures)}: {'met' if ok_failures else 'MISSED'}")
    for failure in run.failures[:10]:
        print(f"    {failure}")
    print(f"  target: reply p99 fan-out / calm ≤ {RATIO_TARGET}: {ratio:.2f}: {'met' if ok_ratio else 'MISSED'}")
    return ok_ratio and ok_failures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="SQLite, 110 participants, 3 rounds, limits × 10")
    parser.add_argument("--backends", default=None, help="sqlite,postgresql (default; sqlite with --quick)")
    parser.add_argument("--participants", type=int, help="participants notified (default 310; 110 quick)")
    parser.add_argument("--rounds", type=int, help=f"rounds of {WRITERS} /submit per phase (default 10; 3 quick)")
    parser.add_argument("--scale", type=float, help="multiply Slack's limits by this (default 1; 10 quick)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES,
        help="a server where a bench_<random> database may be created and dropped",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    participants = args.participants or (110 if args.quick else 310)
    rounds = args.rounds or (3 if args.quick else 10)
    scale = args.scale or (10.0 if args.quick else 1.0)
    backends = [b.strip() for b in (args.backends or ("sqlite" if args.quick else "sqlite,postgresql")).split(",")]
    if "postgresql" in backends and (why := postgres_unreachable(args.postgres_url)):
        print(f"PostgreSQL skipped: cannot reach {make_url(args.postgres_url)!r} ({why})", flush=True)
        backends.remove("postgresql")

    all_met = True
    for backend in backends:
        name = "SQLite" if backend == "sqlite" else "PostgreSQL"
        print(f"-- {name}: {participants} participants, {rounds} rounds, Slack's limits × {scale:g}", flush=True)
        started = time.perf_counter()
        with database(backend, args.postgres_url) as url, quiet():
            run = asyncio.run(scenario(url, participants, rounds, scale))
        print(f"   done in {time.perf_counter() - started:.0f} s", flush=True)
        all_met &= report(name, run)
    return 1 if args.strict and not all_met else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
