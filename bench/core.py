"""The core at scale: one symposium with 1,000 and 10,000 participants, on SQLite and on PostgreSQL.

    python -m bench core                 # SQLite and PostgreSQL, 1,000 and 10,000 participants
    python -m bench core --quick         # SQLite only, 1,000 participants (about a minute)
    python -m bench core --backends sqlite --participants 3000 --profile intent,reminders

The population is built through the real core: `SymposiumBot.handle` on commands parsed from text lines by
bot/grammar.py, as the console and Slack adapters do; nothing is inserted by hand. The platform is
`SilentPlatform`, a test double that draws nothing and hands out increasing message refs. The bot's time is a
`SimulatedClock` that moves one second per action; measurements use `time.perf_counter` around
`await bot.handle(...)` / `await bot.react(...)` only.

Each (backend, size) scenario runs in a fresh child process on a fresh database (a SQLite file in a temporary
directory; a `bench_<random>` PostgreSQL database, dropped afterwards), so that no scenario's memory or caches
leak into the next and the resident memory is the bot's own. A scenario, with N participants and S samples:

1. an editor opens the symposium (`/symposium open ...`);
2. N − S participants declare an intent (not timed), then, on PostgreSQL, `ANALYZE` (autovacuum's job on a
   live server), then S more participants declare one, timed: `/intent` at N participants;
3. S participants, spread over the population, submit a link, timed: `/submit`;
4. `tick()` delivers the outbox, so the S review cards are posted and have refs (timed, for reference);
5. the editor reacts ✅ on each of those cards, timed: the reaction;
6. the full reminder recompute (bot/services/reminders.py `recompute(uow, sym)` in a unit of work, with its
   commit) runs 3 times, timed, each after moving the due date by a day so that every reminder is rewritten;
   the median is the figure; then the clock moves to the first due-date reminder and it is written out to
   every writer (`reminders.write_out`, as `tick()` does), timed, with its longest transaction;
7. `/symposium edit due:...` (that recompute plus a private note to each participant), timed once, for reference;
8. resident memory (psutil RSS, after a garbage collection): after step 5, after step 6 and at the end (the
   target's figure), and the peak (getrusage).

`--profile PHASE,...` prints, for those phases, the SQL statements that took the most time and a cProfile
listing (cumulative), on stderr; the phases are intent, submit, deliver, react, reminders, edit.
"""

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import json
import os
import platform as host
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Engine, make_url

from adapters.runtime import symposium_process
from bot import queries
from bot.clock import SimulatedClock
from bot.commands import Actor
from bot.core import SymposiumBot
from bot.db.engine import make_engine
from bot.db.models import OutboxRow, PostedMessage
from bot.messages import Message
from bot.services import reminders
from bot.settings import CoreSettings
from tests.doubles import SilentPlatform, ask, react

SIZES = (1_000, 10_000)
SAMPLES = 500
RECOMPUTE_RUNS = 3
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
START = datetime(2023, 2, 1, 9, 0, tzinfo=UTC)
COMMUNITY = "bench"
OPEN = (
    "/symposium open title:Is the orchestrator dead or alive? prompt:Is the orchestrator dead or alive? "
    "intent_deadline:2023-03-03 due:2023-03-10 publish_from:2023-03-13 publish_to:2023-04-28 review_channel:#review "
    "alt_prompts:What comes after? | Who orchestrates the orchestrator? | Is it a scheduler?"
)
DUE = datetime(2023, 3, 10, 23, 59, 59, tzinfo=UTC)  # as OPEN says
EDIT_DUE = "/symposium edit due:2023-03-12"
PHASES = ("intent", "submit", "deliver", "react", "reminders", "edit")
MB = 2**20
BUSY = 20.0  # % of all cores in use, just before a scenario, above which something else is running


# ---------------------------------------------------------------------------------------------------------------
# Figures and targets


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    scale: float  # from the raw value (seconds or bytes) to the unit shown


FIGURES = (
    Figure("intent_p50", "/intent p50", "ms", 1e3),
    Figure("intent_p99", "/intent p99", "ms", 1e3),
    Figure("submit_p50", "/submit p50", "ms", 1e3),
    Figure("submit_p99", "/submit p99", "ms", 1e3),
    Figure("react_p50", "reaction ✅ p50", "ms", 1e3),
    Figure("react_p99", "reaction ✅ p99", "ms", 1e3),
    Figure("gc_pause", "longest GC pause in those calls", "ms", 1e3),
    Figure("reminders", "reminder recompute, median of 3", "ms", 1e3),
    Figure("reminders_max", "reminder recompute, worst of 3", "ms", 1e3),
    Figure("reminder_rows", "reminder rows it writes", "", 1),
    Figure("write_out", "a due-date reminder written out to every writer", "ms", 1e3),
    Figure("write_out_chunk", "its longest transaction", "ms", 1e3),
    Figure("written", "reminders it writes", "", 1),
    Figure("edit_due", "/symposium edit due: (ref.)", "s", 1),
    Figure("deliver_cards", "tick() posting S review cards (ref.)", "s", 1),
    Figure("rss", "RSS at the end", "MB", 1 / MB),
    Figure("rss_steady", "RSS after the timed calls", "MB", 1 / MB),
    Figure("rss_recompute", "RSS after the recomputes", "MB", 1 / MB),
    Figure("rss_peak", "peak RSS", "MB", 1 / MB),
    Figure("rss_start", "RSS before the population", "MB", 1 / MB),
    Figure("build", "building N − S intents (not a target)", "s", 1),
)
BY_KEY = {f.key: f for f in FIGURES}


@dataclass(frozen=True)
class Target:
    key: str
    limit: float  # in the figure's raw unit
    backends: tuple[str, ...]
    text: str


TARGET_SIZE = 10_000
TARGETS = (
    Target("intent_p99", 0.025, ("sqlite",), "/intent p99 < 25 ms (SQLite)"),
    Target("submit_p99", 0.025, ("sqlite",), "/submit p99 < 25 ms (SQLite)"),
    Target("react_p99", 0.025, ("sqlite",), "reaction p99 < 25 ms (SQLite)"),
    Target("reminders", 1.0, ("sqlite", "postgresql"), "reminders for 10,000 intents < 1 s"),
    Target("rss", 150 * MB, ("sqlite", "postgresql"), "resident memory < 150 MB"),
)


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100): the smallest sample with at least p% of the samples at or below it."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


# ---------------------------------------------------------------------------------------------------------------
# Instruments


class GcWatch:
    """Python's garbage-collector pauses (gc.callbacks), to tell a latency tail they cause from the core's own."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []  # (generation, seconds)
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._started))

    def take(self) -> dict[str, Any]:
        """The collections since the last take: how many of each generation, and the longest pause."""
        pauses, self.pauses = self.pauses, []
        return {
            "collections": [sum(1 for g, _ in pauses if g == n) for n in range(3)],
            "longest_ms": round(max((t for _, t in pauses), default=0.0) * 1e3, 1),
        }


class Profiler:
    """For the phases named by --profile: the SQL statements that took the most database time (from SQLAlchemy's
    cursor events) and the top functions by cumulative time (cProfile), printed on stderr."""

    def __init__(self, phases: set[str]) -> None:
        self.phases = phases
        self.sql: dict[str, list[float]] = {}  # statement: [count, total s, longest s]
        self.recording = False
        if phases:
            event.listen(Engine, "before_cursor_execute", self._before)
            event.listen(Engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        took = time.perf_counter() - conn.info["bench_started"].pop()
        if self.recording:
            flat = " ".join(statement.split())
            entry = self.sql.setdefault(flat if len(flat) < 240 else f"{flat[:110]} … {flat[-120:]}", [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += took
            entry[2] = max(entry[2], took)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if name not in self.phases:
            yield
            return
        profile = cProfile.Profile()
        self.sql.clear()
        self.recording = True
        started = time.perf_counter()
        profile.enable()
        try:
            yield
        finally:
            profile.disable()
            wall, self.recording = time.perf_counter() - started, False
            in_sql = sum(entry[1] for entry in self.sql.values())
            lines = [f"--- profile of {name}: {wall:.2f} s wall (inflated by cProfile), {in_sql:.2f} s in SQL ---"]
            lines.append("   total s   count   max ms  statement")
            for statement, (count, took, longest) in sorted(self.sql.items(), key=lambda kv: -kv[1][1])[:12]:
                lines.append(f"{took:10.3f} {count:7.0f} {longest * 1e3:8.1f}  {statement}")
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(30)
            print("\n".join(lines) + "\n" + out.getvalue(), file=sys.stderr, flush=True)


def say(line: str) -> None:
    """Progress, on stderr: stdout carries only the child's JSON result."""
    print(f"   {line}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# One scenario, in a child process


class Scenario:
    def __init__(self, bot: SymposiumBot, clock: SimulatedClock, participants: int, samples: int) -> None:
        self.bot, self.clock = bot, clock
        self.participants, self.samples = participants, samples
        self.events = 0
        self.editor = Actor(community=COMMUNITY, user_id="editor", name="Erin Editor", is_admin=True)
        self.result: dict[str, Any] = {"participants": participants, "samples": samples}
        self.gc = GcWatch()

    @staticmethod
    def participant(n: int) -> Actor:
        return Actor(community=COMMUNITY, user_id=f"U{n:06d}", name=f"Participant {n}")

    @staticmethod
    def intent_line(n: int) -> str:
        route = "crosspost" if n % 3 == 0 else "direct"
        pen_name = f" pen_name:Pen {n}" if n % 10 == 0 else ""
        return f"/intent title:Essay {n}: the orchestrator, revisited prompt:{n % 4} route:{route}{pen_name}"

    def event_id(self) -> str:
        """Each action one simulated second after the last, with its own platform event id (deduplication)."""
        self.clock.advance(timedelta(seconds=1))
        self.events += 1
        return f"ev-{self.events}"

    async def run(self, line: str, actor: Actor) -> float:
        """Time a line through the inbox (recorded, then handled, the reply delivered), as an adapter sends it; a
        refusal stops the benchmark."""
        self.event_id()
        started = time.perf_counter()
        reply = await ask(self.bot, actor, line)
        took = time.perf_counter() - started
        check(reply, line)
        return took

    async def react(self, channel: str, ref: str) -> float:
        self.event_id()
        started = time.perf_counter()
        reply = await react(self.bot, self.editor, channel, ref)
        took = time.perf_counter() - started
        check(reply, "a reaction")
        return took

    def record(self, name: str, took: list[float]) -> None:
        """p50 and p99 of a latency phase, its five slowest calls (ms, position), and the GC pauses meanwhile."""
        self.result[f"{name}_p50"], self.result[f"{name}_p99"] = percentile(took, 50), percentile(took, 99)
        self.result[f"{name}_slowest"] = sorted(((round(t * 1e3, 1), i) for i, t in enumerate(took)), reverse=True)[:5]
        self.result[f"{name}_gc"] = self.gc.take()
        self.result["gc_pause"] = max(self.result.get("gc_pause", 0.0), self.result[f"{name}_gc"]["longest_ms"] / 1e3)

    async def population(self) -> None:
        check(await ask(self.bot, self.editor, OPEN), "/symposium open")
        await self.bot.tick()
        say(f"building {self.participants - self.samples:,} intents through the core")
        started = time.perf_counter()
        for n in range(1, self.participants - self.samples + 1):
            await self.run(self.intent_line(n), self.participant(n))
            if n % 2000 == 0:
                say(f"  {n:,} intents, {time.perf_counter() - started:.0f} s")
        self.result["build"] = time.perf_counter() - started
        async with self.bot.sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                # What autovacuum would long have done on a live server (this machine's runs with it off): without
                # statistics the planner may scan tables whose indexes would serve.
                await session.execute(text("ANALYZE"))
                await session.commit()

    async def latencies(self, profiler: Profiler) -> None:
        n, s = self.participants, self.samples
        say(f"timing {s} /intent, reaching {n:,} participants")
        self.gc.take()
        with profiler.phase("intent"):
            took = [await self.run(self.intent_line(i), self.participant(i)) for i in range(n - s + 1, n + 1)]
        self.record("intent", took)

        say(f"timing {s} /submit")
        writers = [1 + i * (n // s) for i in range(s)]
        with profiler.phase("submit"):
            took = [
                await self.run(f"/submit https://blog.example/p/{i} note:draft {i}", self.participant(i))
                for i in writers
            ]
        self.record("submit", took)

        with profiler.phase("deliver"):
            started = time.perf_counter()
            await self.bot.tick()
            self.result["deliver_cards"] = time.perf_counter() - started
        async with self.bot.sessions() as session:
            cards = (
                await session.execute(
                    select(PostedMessage.channel, PostedMessage.ref).where(PostedMessage.key.like("card:%"))
                )
            ).all()
        if len(cards) != s:
            raise RuntimeError(f"expected {s} posted review cards, found {len(cards)}")

        say(f"timing {s} editor reactions ✅ on review cards")
        self.gc.take()
        with profiler.phase("react"):
            took = [await self.react(channel, ref) for channel, ref in cards]
        self.record("react", took)

    async def write_out(self) -> None:
        """The first due-date reminder falls due and is written out to every writer without an essay, a chunk of
        writers per transaction, as `tick()` does (timed without delivering what it writes)."""
        async with self.bot.sessions() as session:
            first = await session.scalar(select(func.min(OutboxRow.due_at)).where(OutboxRow.op == "remind"))
        assert first is not None
        self.clock.set(first)
        say("timing a due-date reminder written out to every writer")
        chunks, started = [], time.perf_counter()
        more = True
        while more:
            chunk = time.perf_counter()
            async with self.bot.unit_of_work() as uow:
                more = await reminders.write_out(uow)
                await uow.commit()
            chunks.append(time.perf_counter() - chunk)
        self.result["write_out"], self.result["write_out_chunk"] = time.perf_counter() - started, max(chunks)
        async with self.bot.sessions() as session:
            written = await session.scalar(select(func.count()).where(OutboxRow.dedupe_key.like("rem:%:due:%")))
        if written != self.participants - self.samples:
            raise RuntimeError(f"expected {self.participants - self.samples} reminders written out, found {written}")
        self.result["written"] = written

    async def recompute(self, profiler: Profiler) -> None:
        say(f"timing the full reminder recompute ×{RECOMPUTE_RUNS}")
        runs = []
        for run in range(RECOMPUTE_RUNS):
            # Move the due date a day later, back, later again, as /symposium edit does before its recompute: each
            # run then rewrites every reminder (their keys name the deadline), even in a core that skips unchanged
            # ones.
            self.clock.advance(timedelta(minutes=1))
            with profiler.phase("reminders"):
                started = time.perf_counter()
                async with self.bot.unit_of_work() as uow:
                    sym = await queries.symposium(uow.session, COMMUNITY, None)
                    sym.due_at = DUE + timedelta(days=1 - run % 2)
                    await reminders.recompute(uow, sym)
                    await uow.commit()
                runs.append(time.perf_counter() - started)
        self.result["reminders"], self.result["reminders_max"] = statistics.median(runs), max(runs)
        async with self.bot.sessions() as session:
            rows = await session.scalar(
                select(func.count()).where(OutboxRow.status == "pending", OutboxRow.dedupe_key.like("rem:%"))
            )
        # 7, 2 and 1 days before the due date, each written out to its writers when due, and two in the channel.
        if rows != 3 + 2:
            raise RuntimeError(f"expected 5 pending reminders after the recompute, found {rows}")
        self.result["reminder_rows"] = rows
        self.result["rss_recompute"] = rss()
        await self.write_out()

        say("timing /symposium edit due:")
        with profiler.phase("edit"):
            self.result["edit_due"] = await self.run(EDIT_DUE, self.editor)


def check(reply: Message | None, what: str) -> None:
    if reply is not None and reply.tag == "error":
        raise RuntimeError(f"{what} was refused: {reply.plain()}")


def rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


async def run_scenario(url: str, participants: int, samples: int, profile: set[str]) -> dict[str, Any]:
    """Build the population through the core, then measure; returns raw figures (seconds, bytes, counts)."""
    started_rss = rss()
    clock = SimulatedClock(START)
    profiler = Profiler(profile)
    platform = SilentPlatform()
    async with symposium_process(
        CoreSettings(database_url=url), platform, clock, ticking=False, deliver_in_background=False
    ) as bot:
        scenario = Scenario(bot, clock, participants, samples)
        platform.people[scenario.editor.user_id] = scenario.editor
        scenario.result["rss_start"] = started_rss
        await scenario.population()
        await scenario.latencies(profiler)
        scenario.result["rss_steady"] = rss()
        await scenario.recompute(profiler)
        scenario.result["rss"] = rss()
        scenario.result["rss_peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return scenario.result


def child(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.core --child")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("url")
    parser.add_argument("participants", type=int)
    parser.add_argument("samples", type=int)
    parser.add_argument("--profile", default="")
    args = parser.parse_args(argv)
    phases = {p for p in args.profile.split(",") if p}
    result = asyncio.run(run_scenario(args.url, args.participants, args.samples, phases))
    print(json.dumps(result))
    return 0


# ---------------------------------------------------------------------------------------------------------------
# Databases, and the parent process


def admin_sql(url: str, sql: str) -> None:
    async def go() -> None:
        engine = make_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(go())


def postgres_unreachable(url: str) -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        admin_sql(url, "SELECT 1")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    return None


@contextlib.contextmanager
def database(backend: str, postgres: str) -> Iterator[str]:
    """A fresh, empty database for one scenario, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="symposium-bench-") as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin_sql(postgres, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        admin_sql(postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_child(url: str, participants: int, samples: int, profile: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.core", "--child", url, str(participants), str(samples)]
    if profile:
        command += ["--profile", profile]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False, cwd=Path(__file__).parents[1])
    if done.returncode != 0:
        raise RuntimeError(f"the scenario's process failed (exit code {done.returncode}); its error is above")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def label(backend: str, participants: int) -> str:
    return f"{'SQLite' if backend == 'sqlite' else 'PostgreSQL'} {participants:,}"


def shown(key: str, value: float | None, unit: bool = True) -> str:
    if value is None:
        return "—"
    figure = BY_KEY[key]
    scaled = value * figure.scale
    number = f"{scaled:,.0f}" if figure.unit == "" or scaled >= 100 else f"{scaled:,.1f}"
    return f"{number} {figure.unit}" if unit and figure.unit else number


def table(rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        head = [
            "| " + " | ".join(rows[0]) + " |",
            "|" + "|".join(":---" if i == 0 else "---:" for i in range(len(rows[0]))) + "|",
        ]
        return "\n".join(head + ["| " + " | ".join(r) + " |" for r in rows[1:]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def report(results: dict[tuple[str, int], dict[str, Any]], markdown: bool) -> tuple[str, bool]:
    """The figures, and the targets with figure/target ratios; False when a target is missed."""
    scenarios = sorted(results, key=lambda s: (s[0] != "sqlite", s[1]))
    figures = [["figure", *(label(*s) for s in scenarios)]]
    for figure in FIGURES:
        name = f"{figure.label} ({figure.unit})" if figure.unit else figure.label
        figures.append([name, *(shown(figure.key, results[s].get(figure.key), unit=False) for s in scenarios)])
    checks = [["target (at 10,000 participants)", "measured on", "figure", "target", "ratio", "verdict"]]
    met = True
    for target in TARGETS:
        for backend in target.backends:
            sizes = sorted(n for b, n in results if b == backend)
            if not sizes:
                continue
            size = TARGET_SIZE if TARGET_SIZE in sizes else sizes[-1]
            value = results[(backend, size)][target.key]
            ratio = value / target.limit
            met = met and ratio < 1
            verdict = ("met" if ratio < 1 else "MISSED") + ("" if size == TARGET_SIZE else " (indicative only)")
            measured, limit = shown(target.key, value), shown(target.key, target.limit)
            checks.append([target.text, label(backend, size), measured, limit, f"{ratio:.2f}", verdict])
    return table(figures, markdown) + "\n\n" + table(checks, markdown), met


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        return child(argv)
    parser = argparse.ArgumentParser(prog="python -m bench core", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="SQLite only (unless --backends), 1,000 participants")
    parser.add_argument("--participants", type=int, nargs="+", help=f"population sizes (default: {SIZES})")
    parser.add_argument("--backends", help="comma-separated: sqlite,postgresql (default; sqlite with --quick)")
    parser.add_argument("--samples", type=int, default=SAMPLES, help="timed calls per latency figure (at most N/4)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES,
        help="a server where bench_<random> databases may be created and dropped "
        "(default: $BENCH_POSTGRES_URL, $TEST_DATABASE_URL, or the local one)",
    )
    parser.add_argument("--profile", default="", help=f"profile these phases (comma-separated): {','.join(PHASES)}")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument("--json", type=Path, help="also write the raw figures to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    sizes = [1_000] if args.quick else (args.participants or list(SIZES))
    chosen = args.backends or ("sqlite" if args.quick else "sqlite,postgresql")
    backends = [b.strip() for b in chosen.split(",") if b.strip()]
    if unknown := set(backends) - {"sqlite", "postgresql"}:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    if "postgresql" in backends and (why := postgres_unreachable(args.postgres_url)):
        print(f"PostgreSQL skipped: cannot reach {make_url(args.postgres_url)!r} ({why})", file=sys.stderr)
        backends.remove("postgresql")

    results: dict[tuple[str, int], dict[str, Any]] = {}
    failed = False
    began = time.perf_counter()
    for participants in sorted(sizes):
        for backend in backends:
            samples = max(10, min(args.samples, participants // 4))
            load = psutil.cpu_percent(interval=1.0)  # what else runs: this process waits meanwhile
            busy = f"; the machine is busy ({load:.0f}% CPU in use): figures may be inflated" if load > BUSY else ""
            print(f"-- {label(backend, participants)} participants, {samples} timed calls each{busy}", flush=True)
            started = time.perf_counter()
            try:
                with database(backend, args.postgres_url) as url:
                    results[(backend, participants)] = run_child(url, participants, samples, args.profile)
                    results[(backend, participants)]["others_cpu"] = load
            except RuntimeError as exc:
                print(f"   FAILED: {exc}", flush=True)
                failed = True
                continue
            print(f"   done in {time.perf_counter() - started:.0f} s", flush=True)
    if not results:
        return 1

    loads = ", ".join(f"{figures['others_cpu']:.0f}%" for figures in results.values())
    print(
        f"\nCore benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} cores, Python "
        f"{host.python_version()}, {host.system()} {host.machine()}, run took {time.perf_counter() - began:.0f} s; "
        f"CPU in use by others before each scenario: {loads}\n"
    )
    report_text, met = report(results, args.markdown)
    print(report_text)
    if args.json:
        raw = {f"{backend} {n}": figures for (backend, n), figures in results.items()}
        args.json.write_text(json.dumps(raw, indent=2) + "\n")
    return 1 if failed or (args.strict and not met) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
