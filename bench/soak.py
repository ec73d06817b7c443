"""A soak: one symposium of 1,000 writers lived through a simulated month, with memory and latency sampled daily.

    python -m bench soak                  # 1,000 writers, 30 simulated days, SQLite and PostgreSQL
    python -m bench soak --quick          # 60 writers, 30 days, SQLite only
    python -m bench soak --writers 3000 --backends postgresql

The month, through the real core (`SymposiumBot` with the `SilentPlatform` double, no network): an editor opens
the call; writers declare intents over the first twelve days and submit over days 6 to 19; the editor approves
each review card (✅) once it is posted; on day 21 the editor schedules every essay on one of the publication
window's days with its live link, and the scheduler's tick announces them on days 22 to 29. The simulated clock moves an hour at a time
with a `tick()` each hour (reminders, digests, scheduled publication, delivery), so the month passes as fast as
the machine allows, well beyond ten times real speed.

Each simulated day records the commands' p99 (from receipt to the private reply), the slowest tick, and the
resident memory after a garbage collection. Targets: memory flat (the largest RSS of the second half at most
1.2× the RSS after the first week) and latency flat (command p99 of the third week at most 1.5× the first
week's), every essay announced exactly once.
"""

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select

from adapters.runtime import symposium_process
from bench.core import DEFAULT_POSTGRES, START, check, database, percentile, postgres_unreachable, rss
from bot.clock import SimulatedClock
from bot.commands import Actor
from bot.core import SymposiumBot
from bot.db.models import Essay, PostedMessage
from bot.settings import CoreSettings
from tests.doubles import SilentPlatform, ask, react

COMMUNITY = "soak"
DAYS = 30
INTENT_DAYS, SUBMIT_DAYS, SCHEDULE_DAY, PUBLISH_DAYS = range(0, 12), range(6, 20), 21, range(22, 30)
MB = 2**20
MEMORY_LIMIT, LATENCY_LIMIT = 1.2, 1.5


def day(n: int) -> str:
    return f"{START + timedelta(days=n):%Y-%m-%d}"


OPEN = (
    "/symposium open title:Is the orchestrator dead or alive? prompt:Is the orchestrator dead or alive? "
    f"intent_deadline:{day(12)} due:{day(20)} publish_from:{day(22)} publish_to:{day(29)} review_channel:#review "
    "alt_prompts:What comes after?"
)


@dataclass
class Day:
    number: int
    commands: list[float] = field(default_factory=list)
    slowest_tick: float = 0.0
    rss: int = 0


class Month:
    def __init__(self, bot: SymposiumBot, clock: SimulatedClock, writers: int) -> None:
        self.bot, self.clock, self.writers = bot, clock, writers
        self.editor = Actor(community=COMMUNITY, user_id="editor", name="Erin Editor", is_admin=True)
        self.approved: set[str] = set()

    @staticmethod
    def writer(n: int) -> Actor:
        return Actor(community=COMMUNITY, user_id=f"W{n:05d}", name=f"Writer {n}")

    def share(self, days: range, d: int) -> range:
        """The writers whose turn is day `d` of `days`: an even share each day."""
        if d not in days:
            return range(0)
        i = d - days.start
        return range(1 + i * self.writers // len(days), 1 + (i + 1) * self.writers // len(days))

    async def timed(self, today: Day, actor: Actor, line: str) -> None:
        self.clock.advance(timedelta(seconds=20))
        started = time.perf_counter()
        check(await ask(self.bot, actor, line), line)
        today.commands.append(time.perf_counter() - started)

    async def approve_posted_cards(self, today: Day) -> None:
        async with self.bot.sessions() as session:
            cards = (
                await session.execute(
                    select(PostedMessage.channel, PostedMessage.ref).where(PostedMessage.key.like("card:%"))
                )
            ).all()
        for channel, ref in cards:
            if ref not in self.approved:
                self.approved.add(ref)
                self.clock.advance(timedelta(seconds=20))
                started = time.perf_counter()
                check(await react(self.bot, self.editor, channel, ref), "a reaction")
                today.commands.append(time.perf_counter() - started)

    async def tick(self, today: Day) -> None:
        started = time.perf_counter()
        await self.bot.tick()
        today.slowest_tick = max(today.slowest_tick, time.perf_counter() - started)

    async def live(self, d: int) -> Day:
        today = Day(d)
        if d == 0:
            await self.timed(today, self.editor, OPEN)
        for n in self.share(INTENT_DAYS, d):
            route = "crosspost" if n % 3 == 0 else "direct"
            await self.timed(today, self.writer(n), f"/intent title:Essay {n}, revisited route:{route}")
        for n in self.share(SUBMIT_DAYS, d):
            await self.timed(today, self.writer(n), f"/submit url:https://blog.example/p/{n}")
        await self.tick(today)  # the cards go out
        await self.approve_posted_cards(today)
        if d == SCHEDULE_DAY:  # each essay on one of the window's days, with the host's live link
            for n in range(1, self.writers + 1):
                when = day(PUBLISH_DAYS.start + n % len(PUBLISH_DAYS))
                line = f"/symposium schedule essay:{n} date:{when} url:https://host.example/essays/{n}"
                await self.timed(today, self.editor, line)
        midnight = START.replace(hour=0) + timedelta(days=d + 1)
        while self.clock.now() < midnight + timedelta(hours=9):
            self.clock.advance(timedelta(hours=1))
            await self.tick(today)
        today.rss = rss()
        return today

    async def announcements(self) -> tuple[int, int]:
        """(essays, announcements sent): each essay should have exactly one."""
        async with self.bot.sessions() as session:
            essays = await session.scalar(select(func.count()).select_from(Essay))
            sent = await session.scalar(select(func.count()).where(PostedMessage.key.like("announcement:%")))
        return int(essays or 0), int(sent or 0)


async def run(url: str, writers: int, days: int) -> tuple[list[Day], tuple[int, int]]:
    clock = SimulatedClock(START)
    platform = SilentPlatform()
    async with symposium_process(
        CoreSettings(database_url=url), platform, clock, ticking=False, deliver_in_background=False
    ) as bot:
        month = Month(bot, clock, writers)
        platform.people[month.editor.user_id] = month.editor
        lived = []
        for d in range(days):
            today = await month.live(d)
            lived.append(today)
            p99 = f"{percentile(today.commands, 99) * 1e3:6.1f} ms" if today.commands else "      —"
            print(
                f"   day {d:2}: {len(today.commands):5} commands, p99 {p99}, slowest tick "
                f"{today.slowest_tick * 1e3:7.1f} ms, RSS {today.rss / MB:6.1f} MB",
                flush=True,
            )
        return lived, await month.announcements()


def verdicts(lived: list[Day], announced: tuple[int, int]) -> list[tuple[str, str, bool]]:
    week1 = max(d.rss for d in lived[:7])
    later = max(d.rss for d in lived[len(lived) // 2 :])
    first = [t for d in lived[:7] for t in d.commands]
    third = [t for d in lived[14:21] for t in d.commands]
    memory = later / week1
    latency = percentile(third, 99) / percentile(first, 99) if first and third else float("nan")
    essays, sent = announced
    return [
        (f"memory flat: largest RSS of the second half / RSS of the first week ≤ {MEMORY_LIMIT}", f"{memory:.2f}",
         memory <= MEMORY_LIMIT),
        (f"latency flat: command p99 of week 3 / week 1 ≤ {LATENCY_LIMIT}", f"{latency:.2f}",
         latency <= LATENCY_LIMIT),
        ("every essay announced exactly once", f"{sent} of {essays}", sent == essays),
    ]  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 writers, SQLite only")
    parser.add_argument("--writers", type=int, default=1000)
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES,
    )
    args = parser.parse_args(argv)
    writers = 60 if args.quick else args.writers
    backends = ["sqlite"] if args.quick else [b.strip() for b in args.backends.split(",") if b.strip()]
    if "postgresql" in backends and (why := postgres_unreachable(args.postgres_url)):
        print(f"PostgreSQL skipped: {why}", file=sys.stderr)
        backends.remove("postgresql")
    missed = False
    for backend in backends:
        print(f"-- soak on {backend}: {writers:,} writers, {args.days} simulated days", flush=True)
        started = time.perf_counter()
        with database(backend, args.postgres_url) as url:
            lived, announced = asyncio.run(run(url, writers, args.days))
        print(f"   {time.perf_counter() - started:.0f} s for the month")
        for text, figure, met in verdicts(lived, announced):
            print(f"   target {text}: {figure}: {'met' if met else 'missed'}")
            missed = missed or not met
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
