"""Publication day at scale: 500 accepted essays over the publication window, the bot seeing each go live on its
writer's site (a local HTTP server) and announcing it, on SQLite and on PostgreSQL.

    python -m bench publication            # SQLite and PostgreSQL, 500 essays over 46 days (~10 min)
    python -m bench publication --quick    # SQLite only, 44 essays over 4 days (~1 min)
    python -m bench publication --backends postgresql --essays 200

The symposium is built through the real core (commands parsed from text lines, `SymposiumBot.handle`): each
writer declares an intent and submits, the editor approves and schedules the essay (`/symposium schedule
essay:N date:YYYY-MM-DD HH:MM`), PER_DAY essays a day, 50 minutes apart from 08:00 UTC. Odd-numbered essays are
direct (scheduled with their link, `url:`: the bot looks at the page from its time); even-numbered ones are
cross-posts (`/intent route:crosspost feed:<site>`: the bot finds the feed from the writer's home page and polls
it from the morning of the day). The writers' sites are one aiohttp server on 127.0.0.1 (`/w<n>/`, with a home
page naming `/w<n>/feed.xml`, the feed, with ETags and 304s, and the essay's page), fetched by the bot's real
fetcher (adapters/fetch) with `FETCH_ALLOW_HOSTS=127.0.0.1`, the settings tests use, and the tests' tripwire
socket factory: any connection outside loopback is refused and counted. Each essay appears on its site (page,
and entry in the feed) at its time plus an offset drawn between −90 and +40 minutes (seeded).

The bot's time is a `SimulatedClock`, moved as the scheduler moves a running bot's: from one moment something
falls due (`bot.next_due()`) to the next, rounded up to the scheduler's grid (`DELIVERY_INTERVAL_SECONDS`, 15 s,
from the first tick), calling `bot.tick()` there; the platform is a silent test double that records what is
posted where, and when.

Figures: for each essay, the simulated time from the moment it could be announced (it is live and its time has
come: the later of the two) to its announcement in the channel, p50 and p99 (target p99 ≤ 15 minutes, the poll
interval); the wall time of the slowest tick against the tick interval (target: less); and each essay announced
exactly once, never before its time nor before it was live (target: all of them).
"""

import argparse
import asyncio
import hashlib
import math
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web
from sqlalchemy.engine import make_url

from adapters.fetch import Fetcher, FetchSettings
from adapters.runtime import symposium_process
from bench.core import DEFAULT_POSTGRES, database, percentile, postgres_unreachable
from bot.clock import SimulatedClock
from bot.commands import Actor
from bot.core import SymposiumBot
from bot.messages import Message
from bot.ports import Attempt
from bot.settings import CoreSettings
from tests.doubles import SilentPlatform, ask
from tests.net import NameTable, Tripwire

PER_DAY = 11
FIRST_DAY = datetime(2023, 3, 13, tzinfo=UTC)
OPEN = (
    "/symposium open title:Is the orchestrator dead or alive? prompt:Is it? intent_deadline:2023-03-03 "
    "due:2023-03-10 publish_from:2023-03-13 publish_to:2023-04-28 review_channel:#review"
)
LATENCY_TARGET = timedelta(minutes=15)
EARLY, LATE = -90, 40  # minutes: when an essay appears on its site, around its time


@dataclass
class Essay:
    n: int
    at: datetime  # its time
    appears: datetime  # when its page and feed entry appear
    title: str = ""
    crosspost: bool = False

    def __post_init__(self) -> None:
        self.title = f"Essay {self.n} on orchestration"
        self.crosspost = self.n % 2 == 0


def plan(essays: int) -> list[Essay]:
    days = math.ceil(essays / PER_DAY)
    seeded = random.Random(2023)
    out = []
    for i in range(essays):
        at = FIRST_DAY + timedelta(days=i % days, hours=8, minutes=50 * (i // days))
        out.append(Essay(i + 1, at, at + timedelta(minutes=seeded.randint(EARLY, LATE))))
    return out


@dataclass
class Sites:
    """Every writer's site, under /w<n>/ on one server; what is live follows the bot's clock."""

    essays: dict[int, Essay]
    clock: SimulatedClock
    base: str = ""
    fetches: Counter[str] = field(default_factory=Counter)

    def page(self, n: int) -> str:
        return f"{self.base}/w{n}/p/essay-{n}"

    def home(self, n: int) -> str:
        return f"{self.base}/w{n}/"

    @staticmethod
    def html(title: str, feed: str) -> web.Response:
        head = f'<title>{escape(title)}</title><link rel="alternate" type="application/rss+xml" href="{feed}">'
        return web.Response(text=f"<!doctype html><html><head>{head}</head><body><h1>{escape(title)}</h1></body></html>", content_type="text/html")  # fmt: skip

    async def handle(self, request: web.Request) -> web.StreamResponse:
        parts = request.path.strip("/").split("/")
        essay = self.essays.get(int(parts[0][1:])) if parts[0][1:].isdigit() else None
        if essay is None:
            return web.Response(status=404)
        live = essay.appears <= self.clock.now()
        feed = f"/w{essay.n}/feed.xml"
        kind = parts[1] if len(parts) > 1 else "home"
        self.fetches[kind] += 1
        if kind == "home":
            return self.html(f"Writer {essay.n}'s site", feed)
        if kind == "draft":
            return self.html(f"{essay.title} (draft)", feed)
        if kind == "p":
            return self.html(essay.title, feed) if live else web.Response(status=404, text="not found")
        if kind != "feed.xml":
            return web.Response(status=404)
        link = escape(self.page(essay.n))
        item = (
            f"<item><title>{escape(essay.title)}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>{format_datetime(essay.appears)}</pubDate></item>"
        )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Writer {essay.n}</title><link>{escape(self.home(essay.n))}</link>"
            f"<item><title>An older post</title><link>{escape(self.base)}/w{essay.n}/p/old</link></item>"
            f"{item if live else ''}</channel></rss>"
        ).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            self.fetches["feed 304"] += 1
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type="application/rss+xml", headers={"ETag": etag})

    async def serve(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        return runner


class Channel(SilentPlatform):
    """The silent platform, recording each post's title, channel and (simulated) time."""

    def __init__(self, clock: SimulatedClock, people: dict[str, Actor]) -> None:
        super().__init__(people)
        self.clock = clock
        self.posts: list[tuple[str, str, datetime]] = []

    async def post(self, community: str, channel: str, message: Message, attempt: Attempt) -> str:
        self.posts.append((channel, message.title or "", self.clock.now()))
        return await super().post(community, channel, message, attempt)


async def build(bot: SymposiumBot, clock: SimulatedClock, editor: Actor, sites: Sites) -> None:
    async def do(actor: Actor, line: str) -> None:
        reply = await ask(bot, actor, line)
        if reply is not None and reply.tag == "error":
            raise RuntimeError(f"{line[:60]}: {reply.plain()}")

    await do(editor, OPEN)
    for essay in sites.essays.values():
        writer = Actor(community="bench", user_id=f"w{essay.n}", name=f"Writer {essay.n}")
        if essay.crosspost:
            await do(writer, f"/intent title:{essay.title} route:crosspost feed:{sites.home(essay.n)}")
        else:
            await do(writer, f"/intent title:{essay.title}")
        await do(writer, f"/submit {sites.base}/w{essay.n}/draft")
        await do(editor, f"/symposium decide essay:{essay.n} decision:approve")
    clock.set(datetime(2023, 3, 10, 9, tzinfo=UTC))
    for essay in sites.essays.values():
        url = "" if essay.crosspost else f" url:{sites.page(essay.n)}"
        await do(editor, f"/symposium schedule essay:{essay.n} date:{essay.at:%Y-%m-%d %H:%M}{url}")
    await bot.tick()


@dataclass(frozen=True)
class Tick:
    wall: float  # seconds
    at: datetime  # the simulated moment
    sent: int  # outbox rows it delivered


async def days(bot: SymposiumBot, clock: SimulatedClock, interval: float, until: datetime) -> list[Tick]:
    """Step the clock from one due moment to the next, on the scheduler's grid, ticking; each tick's wall time."""
    grid = clock.now()
    ticks: list[Tick] = []
    while True:
        due = await bot.next_due()
        if due is None or due > until:
            return ticks
        steps = math.ceil((due - grid).total_seconds() / interval)
        clock.set(grid + timedelta(seconds=steps * interval))
        started = time.perf_counter()
        sent = await bot.tick()
        ticks.append(Tick(time.perf_counter() - started, clock.now(), sent))


async def scenario(url: str, count: int) -> dict[str, Any]:
    essays = plan(count)
    clock = SimulatedClock(datetime(2023, 2, 1, 9, tzinfo=UTC))
    editor = Actor(community="bench", user_id="erin", name="erin", holds_editor_role=True)
    platform = Channel(clock, {editor.user_id: editor})
    sites = Sites({e.n: e for e in essays}, clock)
    tripwire = Tripwire()
    settings = CoreSettings(database_url=url)
    runner = await sites.serve()
    try:
        fetch = FetchSettings(fetch_allow_hosts="127.0.0.1")
        async with (
            Fetcher(fetch, resolver=NameTable({}), socket_factory=tripwire) as fetcher,
            symposium_process(
                settings, platform, clock, ticking=False, deliver_in_background=False, fetcher=fetcher
            ) as bot,
        ):
            started = time.perf_counter()
            await build(bot, clock, editor, sites)
            built = time.perf_counter() - started
            say(f"built {count} scheduled essays through the core in {built:.0f} s; moving through the days")
            started = time.perf_counter()
            last = max(e.at for e in essays) + timedelta(days=1)
            ticks = await days(bot, clock, settings.delivery_interval_seconds, last)
            simulated = time.perf_counter() - started
    finally:
        await runner.cleanup()
    return {
        "essays": essays,
        "posts": platform.posts,
        "ticks": ticks,
        "interval": settings.delivery_interval_seconds,
        "fetches": sites.fetches,
        "outside": tripwire.outside,
        "build_s": built,
        "days_s": simulated,
    }


def say(line: str) -> None:
    print(f"   {line}", flush=True)


def report(name: str, result: dict[str, Any]) -> bool:
    essays: list[Essay] = result["essays"]
    announced: dict[str, list[datetime]] = {}
    missed = 0
    for channel, title, at in result["posts"]:
        if channel == "general" and title.startswith("New essay: "):
            announced.setdefault(title.removeprefix("New essay: "), []).append(at)
        if channel == "review" and title.endswith(" is not live"):
            missed += 1
    latencies, problems = [], []
    for essay in essays:
        times = announced.get(essay.title, [])
        if len(times) != 1:
            problems.append(f"essay {essay.n} announced {len(times)} times")
            continue
        ready = max(essay.at, essay.appears)
        if times[0] < ready:
            problems.append(f"essay {essay.n} announced at {times[0]:%m-%d %H:%M}, before {ready:%m-%d %H:%M}")
        latencies.append((times[0] - ready).total_seconds())
    if result["outside"]:
        problems.append(f"{len(result['outside'])} connections outside loopback: {result['outside'][:3]}")
    ticks, interval = [t.wall for t in result["ticks"]], result["interval"]
    slowest = max(ticks)
    p99 = percentile(latencies, 99) if latencies else float("inf")
    ok_latency, ok_tick, ok_once = p99 <= LATENCY_TARGET.total_seconds(), slowest < interval, not problems
    fetches = result["fetches"]
    print(
        f"\n{name}: {len(essays)} essays ({len(essays) // 2} cross-posts), built in {result['build_s']:.0f} s, ", end=""
    )
    print(f"{len(ticks):,} ticks in {result['days_s']:.0f} s of wall time")
    if latencies:
        print(
            f"  live → announced: p50 {percentile(latencies, 50) / 60:.1f} min, p99 {p99 / 60:.1f} min, "
            f"max {max(latencies) / 60:.1f} min"
        )
    print(
        f"  tick wall time: p50 {percentile(ticks, 50) * 1e3:.0f} ms, p99 {percentile(ticks, 99) * 1e3:.0f} ms, "
        f"slowest {slowest * 1e3:.0f} ms"
    )
    worst = sorted(result["ticks"], key=lambda t: -t.wall)[:3]
    print(
        "  slowest ticks: " + ", ".join(f"{t.wall:.2f} s at {t.at:%a %m-%d %H:%M} ({t.sent} rows sent)" for t in worst)
    )
    print(
        f"  fetches: {fetches['p']} pages, {fetches['home']} home pages, {fetches['feed.xml']} feeds "
        f"({fetches['feed 304']} answered 304); {missed} 'not live' reports to the editors"
    )
    print(
        f"  target: live → announced p99 ≤ {LATENCY_TARGET.total_seconds() / 60:.0f} min: {p99 / 60:.1f} min: "
        f"{'met' if ok_latency else 'MISSED'}"
    )
    print(f"  target: slowest tick < {interval:g} s: {slowest:.2f} s: {'met' if ok_tick else 'MISSED'}")
    print(
        f"  target: each essay announced once, not before its time or before it was live: "
        f"{len(essays) - len(problems)} of {len(essays)}: {'met' if ok_once else 'MISSED'}"
    )
    for problem in problems[:10]:
        print(f"    {problem}")
    return ok_latency and ok_tick and ok_once


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench publication", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="SQLite only, 44 essays over 4 days")
    parser.add_argument("--backends", default=None, help="sqlite,postgresql (default; sqlite with --quick)")
    parser.add_argument("--essays", type=int, help=f"essays, {PER_DAY} a day (default 500; 44 quick)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES,
        help="a server where a bench_<random> database may be created and dropped",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    count = args.essays or (44 if args.quick else 500)
    if not 1 <= count <= PER_DAY * 47:
        parser.error(f"--essays: 1 to {PER_DAY * 47} ({PER_DAY} a day over the 47-day window)")
    backends = [b.strip() for b in (args.backends or ("sqlite" if args.quick else "sqlite,postgresql")).split(",")]
    if "postgresql" in backends and (why := postgres_unreachable(args.postgres_url)):
        print(f"PostgreSQL skipped: cannot reach {make_url(args.postgres_url)!r} ({why})", flush=True)
        backends.remove("postgresql")

    all_met = True
    for backend in backends:
        name = "SQLite" if backend == "sqlite" else "PostgreSQL"
        print(f"-- {name}: {count} essays, {PER_DAY} a day", flush=True)
        started = time.perf_counter()
        with database(backend, args.postgres_url) as url:
            result = asyncio.run(scenario(url, count))
        print(f"   done in {time.perf_counter() - started:.0f} s", flush=True)
        all_met &= report(name, result)
    return 1 if args.strict and not all_met else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
