"""Many communities against one: 100 communities of 100 participants each, and one community of 10,000, each with
a day's traffic, in the same run and on the same database server.

    python -m bench communities                      # PostgreSQL, 100 × 100 against 1 × 10,000
    python -m bench communities --quick              # PostgreSQL, 10 × 20 against 1 × 200
    python -m bench communities --backends sqlite --communities 20 --participants 50

The question: does the bot serving many small communities cost more per command, or deliver slower, than serving
one large one of the same total size? Both sides run the real core (`SymposiumBot.handle` on command lines, as
bench core does) with `SilentPlatform` (tests/doubles.py), on a `SimulatedClock` moving one second per action,
each in its own child process on a fresh database (bench core's `database`).

A scenario with C communities of P participants:

1. each community's editor opens a symposium, and its P participants declare an intent (not timed);
   on PostgreSQL, then `ANALYZE`;
2. a day's traffic in each community, interleaved across communities (community 1, 2, …, C, 1, 2, …), timed
   per call: P/10 participants `/submit`; the outbox is delivered (the review cards); the editor reacts ✅ on
   each card; P/10 participants ask `/symposium status`; the outbox is delivered again (approvals by DM, cards
   and Essay Index edited);
3. "delivery" is the time of those two delivery rounds (`SymposiumBot.deliver` until nothing is due).

Self-chosen targets: the many-communities side's command p99 and delivery time at most 1.5 times the single
community's (ratio ≤ 1.5).
"""

import argparse
import asyncio
import json
import os
import platform as host
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from adapters.runtime import symposium_process
from bench.core import DEFAULT_POSTGRES, START, check, database, percentile, postgres_unreachable, say, table
from bot.clock import SimulatedClock
from bot.commands import Actor
from bot.core import SymposiumBot
from bot.db.models import Essay, OutboxRow, PostedMessage, Submission, Symposium
from bot.settings import CoreSettings
from tests.doubles import SilentPlatform, ask, react

FULL = (100, 100)  # communities, participants each
QUICK = (10, 20)
TARGET_RATIO = 1.5
OPEN = (
    "/symposium open title:Is the orchestrator dead or alive? prompt:Is the orchestrator dead or alive? "
    "intent_deadline:2023-03-03 due:2023-03-10 publish_from:2023-03-13 publish_to:2023-04-28 review_channel:#review "
    "alt_prompts:What comes after? slug:{slug}"
)


@dataclass(frozen=True)
class Community:
    id: str
    editor: Actor
    participants: int

    def participant(self, n: int) -> Actor:
        return Actor(community=self.id, user_id=f"{self.id}-U{n:05d}", name=f"Participant {n}")


class Day:
    """One scenario: C communities of P participants, built then timed."""

    def __init__(self, bot: SymposiumBot, clock: SimulatedClock, platform: SilentPlatform, c: int, p: int) -> None:
        self.bot, self.clock = bot, clock
        self.communities = [
            Community(f"C{n:04d}", Actor(community=f"C{n:04d}", user_id=f"C{n:04d}-editor", name="Erin", is_admin=True), p)
            for n in range(c)
        ]  # fmt: skip
        for community in self.communities:
            platform.people[community.editor.user_id] = community.editor
        self.took: dict[str, list[float]] = {"submit": [], "react": [], "status": []}
        self.result: dict[str, Any] = {"communities": c, "participants": p}

    async def timed(self, kind: str, call: Any) -> None:
        self.clock.advance(timedelta(seconds=1))
        started = time.perf_counter()
        reply = await call
        self.took[kind].append(time.perf_counter() - started)
        check(reply, kind)

    async def build(self) -> None:
        started = time.perf_counter()
        for n, community in enumerate(self.communities):
            check(await ask(self.bot, community.editor, OPEN.format(slug=f"orch-{n}")), "/symposium open")
            for i in range(1, community.participants + 1):
                self.clock.advance(timedelta(seconds=1))
                line = f"/intent title:Essay {i}: the orchestrator, revisited prompt:{i % 2}"
                check(await ask(self.bot, community.participant(i), line), "/intent")
            if n % 10 == 9 or community.participants >= 1000:
                say(f"  {n + 1} communities built, {time.perf_counter() - started:.0f} s")
        await self.deliver()
        async with self.bot.sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                await session.execute(text("ANALYZE"))
                await session.commit()
        self.result["build"] = time.perf_counter() - started

    async def deliver(self) -> tuple[float, int]:
        started, sent = time.perf_counter(), 0
        while delivered := await self.bot.deliver():
            sent += delivered
        return time.perf_counter() - started, sent

    def interleaved(self, share: int) -> list[tuple[Community, int]]:
        """(community, participant n) for `share` participants of each community, round-robin."""
        return [(c, 1 + i * (c.participants // share)) for i in range(share) for c in self.communities]

    async def run(self) -> None:
        share = max(1, self.communities[0].participants // 10)
        for community, n in self.interleaved(share):
            line = f"/submit https://blog.example/{community.id}/{n} note:draft"
            await self.timed("submit", ask(self.bot, community.participant(n), line))
        first, sent_first = await self.deliver()
        async with self.bot.sessions() as session:
            posted = (
                await session.execute(
                    select(PostedMessage.key, PostedMessage.channel, PostedMessage.ref)
                    .where(PostedMessage.key.like("card:%"))
                    .order_by(PostedMessage.id)
                )
            ).all()
            where = dict(
                (
                    await session.execute(
                        select(Submission.id, Symposium.community)
                        .join(Essay, Submission.essay_id == Essay.id)
                        .join(Symposium, Essay.symposium_id == Symposium.id)
                    )
                ).all()
            )
        cards = [(where[int(key.split(":")[1])], channel, ref) for key, channel, ref in posted]
        expected = share * len(self.communities)
        if len(cards) != expected:
            raise RuntimeError(f"expected {expected} review cards, found {len(cards)}")
        editors = {c.id: c.editor for c in self.communities}
        for community, channel, ref in cards:
            await self.timed("react", react(self.bot, editors[community], channel, ref))
        for community, n in self.interleaved(share):
            await self.timed("status", ask(self.bot, community.participant(n), "/symposium status"))
        second, sent_second = await self.deliver()
        async with self.bot.sessions() as session:
            left = await session.scalar(
                select(func.count()).where(OutboxRow.status == "pending", OutboxRow.due_at <= self.clock.now())
            )
        if left:
            raise RuntimeError(f"{left} messages due were not delivered")
        every = [t for kind in self.took.values() for t in kind]
        self.result |= {
            "commands": len(every),
            "command_p50": percentile(every, 50),
            "command_p99": percentile(every, 99),
            **{f"{kind}_p99": percentile(took, 99) for kind, took in self.took.items()},
            "delivery": first + second,
            "delivered": sent_first + sent_second,
        }


async def run_scenario(url: str, c: int, p: int) -> dict[str, Any]:
    clock = SimulatedClock(START)
    platform = SilentPlatform()
    async with symposium_process(
        CoreSettings(database_url=url), platform, clock, ticking=False, deliver_in_background=False
    ) as bot:
        day = Day(bot, clock, platform, c, p)
        say(f"building {c} × {p:,} intents")
        await day.build()
        say("a day's traffic")
        await day.run()
    return day.result


def run_child(url: str, c: int, p: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.communities", "--child", url, str(c), str(p)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False, cwd=Path(__file__).parents[1])
    if done.returncode != 0:
        raise RuntimeError(f"the scenario's process failed (exit code {done.returncode}); its error is above")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def side(c: int, p: int) -> str:
    return f"{c} × {p:,}" if c > 1 else f"1 × {p:,}"


def shown(key: str, seconds: float) -> str:
    return f"{seconds:.2f} s" if key == "delivery" else f"{seconds * 1e3:.1f} ms"


def report(results: dict[str, tuple[dict[str, Any], dict[str, Any]]], markdown: bool) -> tuple[str, bool]:
    """Per backend: the figures of both sides, the ratios and the verdicts."""
    rows = [
        ["backend", "side", "commands", "p50 ms", "p99 ms", "/submit p99", "✅ p99", "status p99", "delivery s", "rows"]
    ]
    checks = [["backend", "figure", "many", "one", "ratio", f"target ≤ {TARGET_RATIO}"]]
    met = True
    for backend, (many, one) in results.items():
        for figures in (many, one):
            rows.append(
                [
                    backend,
                    side(figures["communities"], figures["participants"]),
                    str(figures["commands"]),
                    f"{figures['command_p50'] * 1e3:.1f}",
                    f"{figures['command_p99'] * 1e3:.1f}",
                    f"{figures['submit_p99'] * 1e3:.1f}",
                    f"{figures['react_p99'] * 1e3:.1f}",
                    f"{figures['status_p99'] * 1e3:.1f}",
                    f"{figures['delivery']:.2f}",
                    str(figures["delivered"]),
                ]
            )
        for key, name in (("command_p99", "command p99"), ("delivery", "delivery time")):
            ratio = many[key] / one[key]
            met = met and ratio <= TARGET_RATIO
            verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
            checks.append([backend, name, shown(key, many[key]), shown(key, one[key]), f"{ratio:.2f}", verdict])
    return table(rows, markdown) + "\n\n" + table(checks, markdown), met


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        url, c, p = argv[1], int(argv[2]), int(argv[3])
        print(json.dumps(asyncio.run(run_scenario(url, c, p))))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench communities", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK[0]} × {QUICK[1]} against 1 × {QUICK[0] * QUICK[1]}"
    )
    parser.add_argument("--communities", type=int, help=f"communities on the many side (default {FULL[0]})")
    parser.add_argument("--participants", type=int, help=f"participants in each (default {FULL[1]})")
    parser.add_argument("--backends", help="comma-separated: sqlite,postgresql (default: postgresql)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES,
    )
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    c, p = QUICK if args.quick else FULL
    c, p = args.communities or c, args.participants or p
    backends = [b.strip() for b in (args.backends or "postgresql").split(",")]
    if "postgresql" in backends and (why := postgres_unreachable(args.postgres_url)):
        print(f"PostgreSQL skipped: cannot reach {make_url(args.postgres_url)!r} ({why})", file=sys.stderr)
        backends.remove("postgresql")
    began = time.perf_counter()
    results: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for backend in backends:
        pair = []
        for cc, pp in ((c, p), (1, c * p)):
            print(f"-- {backend}: {side(cc, pp)} participants", flush=True)
            started = time.perf_counter()
            with database(backend, args.postgres_url) as url:
                pair.append(run_child(url, cc, pp))
            print(f"   done in {time.perf_counter() - started:.0f} s", flush=True)
        results[backend] = (pair[0], pair[1])
    if not results:
        return 1
    print(
        f"\nCommunities benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} cores, Python "
        f"{host.python_version()}, run took {time.perf_counter() - began:.0f} s\n"
    )
    text_, met = report(results, args.markdown)
    print(text_)
    print(
        f"\nTargets (self-chosen): many-communities command p99 and delivery time ≤ {TARGET_RATIO} × the single community's."
    )
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
