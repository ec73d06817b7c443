"""The public page under load (issue 6): `GET /s/<slug>` for a symposium with 500 published essays and 5,000
pieces of running commentary, 50 concurrent clients, on the 200 path and the 304 path (`If-None-Match`).

    python -m bench web                       # SQLite and PostgreSQL
    python -m bench web --backends sqlite --seconds 5

The symposium is built through the real core (`SymposiumBot.handle`, commands parsed from text lines), then the
page is served by `symposium-bot web` in its own process, as in production, and loaded from this process with
an aiohttp client loop on 127.0.0.1. Targets: p99 under 50 ms, and at least 1,000 requests/s on the 304 path.
"""

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from adapters.runtime import running_core
from bench.core import SilentPlatform, database, postgres_unreachable
from bot.clock import SimulatedClock
from bot.commands import Actor, Origin
from bot.grammar import parse
from bot.settings import CoreSettings

ESSAYS, COMMENTS, CLIENTS = 500, 5_000, 50
P99_TARGET_MS, RATE_TARGET_304 = 50.0, 1_000.0
SLUG = "bench-2023"
OPEN = (
    "/symposium open title:Is the orchestrator dead or alive? prompt:Is it? intent_deadline:2023-03-03 "
    "due:2023-03-10 publish_from:2023-03-13 publish_to:2023-04-28 review_channel:#review slug:" + SLUG
)


async def build(url: str) -> None:
    """One symposium with ESSAYS published essays and COMMENTS comments, made by commands through the core."""
    clock = SimulatedClock(datetime(2023, 2, 1, 9, tzinfo=UTC))
    editor = Actor(community="bench", user_id="erin", name="erin", holds_editor_role=True)
    origin = Origin(channel="general")

    async with running_core(CoreSettings(database_url=url), SilentPlatform(), clock) as bot:

        async def do(actor: Actor, line: str) -> None:
            reply = await bot.handle(parse(line, actor, origin))
            if reply.tag == "error":
                raise RuntimeError(f"{line[:60]}: {reply.plain()}")

        await do(editor, OPEN)
        for n in range(1, ESSAYS + 1):
            writer = Actor(community="bench", user_id=f"w{n}", name=f"Writer {n}")
            await do(writer, f"/intent title:Essay number {n} on orchestration")
            await do(writer, f"/submit https://drafts.example.com/{n}")
            await do(editor, f"/symposium decide essay:{n} decision:approve")
        clock.set(datetime(2023, 3, 13, 14, tzinfo=UTC))
        for n in range(1, ESSAYS + 1):
            await do(
                editor,
                f"/symposium publish essay:{n} url:https://symposium.example.com/{n} commentary:Why {n} matters.",
            )
            clock.advance(timedelta(minutes=5))
        for c in range(COMMENTS):
            await do(editor, f"/symposium comment essay:{c % ESSAYS + 1} text:Running commentary, part {c}.")
        await bot.tick()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if server.poll() is not None:
                raise RuntimeError("the web process stopped")
            try:
                async with session.get(base + "/") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)  # a benchmark waiting for a server process, not a test
    raise RuntimeError("the web process did not start")


async def load(url: str, seconds: float, etag: str | None) -> tuple[float, list[float], set[int]]:
    """CLIENTS loops for `seconds`; returns requests/s, latencies (ms) and the statuses seen."""
    latencies: list[float] = []
    statuses: set[int] = set()
    headers = {"If-None-Match": etag} if etag else {}
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    statuses.add(response.status)
                latencies.append((time.perf_counter() - started) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - began
    return len(latencies) / elapsed, latencies, statuses


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


@contextlib.contextmanager
def serving(url: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`symposium-bot web` on a free port of 127.0.0.1, in its own process, for the block's duration."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "WEB_HOST": "127.0.0.1", "WEB_PORT": str(port)}
    command = [sys.executable, "-c", "from adapters.cli import main; main()", "web"]
    server = subprocess.Popen(command, env=env, cwd=Path(__file__).parents[1], stdout=subprocess.DEVNULL)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.terminate()
        server.wait(timeout=30)


async def measure(
    base: str, server: subprocess.Popen[bytes], seconds: float
) -> list[tuple[str, float, float, float, int]]:
    await wait_until_up(base, server)
    page = f"{base}/s/{SLUG}"
    async with aiohttp.ClientSession() as session, session.get(page) as response:
        body, etag = await response.read(), response.headers["ETag"]
    rows = []
    for name, tag in (("200", None), ("304 (If-None-Match)", etag)):
        rate, latencies, statuses = await load(page, seconds, tag)
        rows.append((name, rate, statistics.median(latencies), p99(latencies), len(body)))
        expected = {304} if tag else {200}
        if statuses != expected:
            raise RuntimeError(f"the {name} path answered {sorted(statuses)}")
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench web", description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=10.0, help="load time per path")
    parser.add_argument(
        "--postgres", default=os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    )
    args = parser.parse_args(argv)
    print(f"GET /s/<slug>: {ESSAYS} published essays, {COMMENTS:,} comments, {CLIENTS} concurrent clients")
    print(
        f"{'backend':<11} {'path':<20} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99/target':>11} {'rate/target':>12}"
    )
    failed = False
    for backend in args.backends.split(","):
        if backend == "postgresql" and (why := postgres_unreachable(args.postgres)):
            print(f"{backend:<11} skipped: {why}")
            continue
        with database(backend, args.postgres) as url:
            started = time.perf_counter()
            asyncio.run(build(url))
            print(f"{backend:<11} (built through the core in {time.perf_counter() - started:.0f} s)")
            with serving(url) as (base, server):
                rows = asyncio.run(measure(base, server, args.seconds))
            for name, rate, p50, p99_ms, size in rows:
                rate_ratio = f"{RATE_TARGET_304 / rate:.2f}" if name.startswith("304") else "—"
                print(
                    f"{backend:<11} {name:<20} {rate:>8,.0f} {p50:>8.1f} {p99_ms:>8.1f} {p99_ms / P99_TARGET_MS:>11.2f} "
                    f"{rate_ratio:>12}   ({size / 1e6:.1f} MB page)"
                )
                if name.startswith("304"):
                    failed |= p99_ms > P99_TARGET_MS or rate < RATE_TARGET_304
    print("ratios are figure/target for p99 and target/figure for the rate: at most 1.00 meets the target")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
