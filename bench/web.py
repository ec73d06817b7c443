"""The public page under load: `GET /s/<slug>` for a symposium with 500 published essays and 5,000 pieces of
running commentary, 50 concurrent clients, on the 200 path and the 304 path (`If-None-Match`), each measured
against aiohttp serving the same bytes as a static file in the same run (the floor on this machine).

    python -m bench web                       # SQLite and PostgreSQL, 10 s per path and server
    python -m bench web --quick               # SQLite only, 50 essays and 500 comments, 1 s per path and server
    python -m bench web --backends sqlite --seconds 5

The symposium is built through the real core (`SymposiumBot.handle`, commands parsed from text lines). Then two
servers run, each in its own process, one at a time: `symposium-bot web`, as in production, and a bare aiohttp
app whose `add_static` route serves the page's bytes from files (`page.html`, and `page.html.gz` holding the
page's own gzip, which aiohttp sends to clients that accept gzip; with sendfile, and ETags of its own). The load
comes from this process: CLIENTS aiohttp client loops on 127.0.0.1, sharing the 2 cores with the server. They
send `Accept-Encoding: gzip` as browsers do and do not inflate what they receive (a browser does that on its own
machine), so the figures are the servers'. Last, a comment is posted through the core while `symposium-bot web`
runs, FRESHNESS_SAMPLES times, and the time until the page shows it is printed (the refresher's staleness).

Targets: on the 200 path (gzip) at least 0.8 × the static file's throughput and p99 under 50 ms; on the 304 path
p99 under 50 ms and at least 1,000 requests/s. The identity 200 path (1.7 MB a response) is shown for reference.
"""

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from adapters.runtime import symposium_process
from bench.core import database, postgres_unreachable
from bot.clock import SimulatedClock
from bot.commands import Actor
from bot.settings import CoreSettings
from tests.doubles import SilentPlatform, ask

ESSAYS, COMMENTS, CLIENTS = 500, 5_000, 50
QUICK_ESSAYS, QUICK_COMMENTS = 50, 500  # --quick: the build is most of its time
FRESHNESS_SAMPLES = 6
P99_TARGET_MS, RATE_TARGET_304, STATIC_SHARE_200 = 50.0, 1_000.0, 0.8
SLUG = "bench-2023"
OPEN = (
    "/symposium open title:Is the orchestrator dead or alive? prompt:Is it? intent_deadline:2023-03-03 "
    "due:2023-03-10 publish_from:2023-03-13 publish_to:2023-04-28 review_channel:#review slug:" + SLUG
)
ROOT = Path(__file__).parents[1]


async def build(url: str, essays: int, comments: int) -> None:
    """One symposium with `essays` published essays and `comments` comments, made by commands through the core."""
    clock = SimulatedClock(datetime(2023, 2, 1, 9, tzinfo=UTC))
    editor = Actor(community="bench", user_id="erin", name="erin", holds_editor_role=True)
    platform = SilentPlatform({editor.user_id: editor})

    async with symposium_process(
        CoreSettings(database_url=url), platform, clock, ticking=False, deliver_in_background=False
    ) as bot:

        async def do(actor: Actor, line: str) -> None:
            reply = await ask(bot, actor, line)
            if reply is not None and reply.tag == "error":
                raise RuntimeError(f"{line[:60]}: {reply.plain()}")

        await do(editor, OPEN)
        for n in range(1, essays + 1):
            writer = Actor(community="bench", user_id=f"w{n}", name=f"Writer {n}")
            await do(writer, f"/intent title:Essay number {n} on orchestration")
            await do(writer, f"/submit https://drafts.example.com/{n}")
            await do(editor, f"/symposium decide essay:{n} decision:approve")
        clock.set(datetime(2023, 3, 13, 14, tzinfo=UTC))
        for n in range(1, essays + 1):
            await do(
                editor,
                f"/symposium publish essay:{n} url:https://symposium.example.com/{n} commentary:Why {n} matters.",
            )
            clock.advance(timedelta(minutes=5))
        for c in range(comments):
            await do(editor, f"/symposium comment essay:{c % essays + 1} text:Running commentary, part {c}.")
        await bot.tick()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if server.poll() is not None:
                raise RuntimeError("the server process stopped")
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)  # a benchmark waiting for a server process, not a test
    raise RuntimeError("the server process did not start")


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    server = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)


def serve_static_main(folder: str, port: int) -> None:
    """The floor: a bare aiohttp app serving `folder` as static files (run in its own process)."""
    from aiohttp import web

    app = web.Application()
    app.router.add_static("/files", folder)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


@dataclass(frozen=True)
class Figure:
    rate: float
    p50: float
    p99: float


async def load(url: str, seconds: float, headers: dict[str, str], expected: int) -> Figure:
    """CLIENTS loops for `seconds` on one URL; requests/s and latencies (ms). Bodies are read, not inflated."""
    latencies: list[float] = []
    statuses: set[int] = set()
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

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
    if statuses != {expected}:
        raise RuntimeError(f"{url} answered {sorted(statuses)}, not {expected}")
    return Figure(len(latencies) / elapsed, statistics.median(latencies), statistics.quantiles(latencies, n=100)[98])


PATHS = {  # name: request headers (the ETag is added for 304), expected status
    "200 gzip": ({"Accept-Encoding": "gzip"}, 200),
    "304 If-None-Match": ({"Accept-Encoding": "gzip"}, 304),
    "200 identity": ({"Accept-Encoding": "identity"}, 200),
}


async def fetch_page(url: str) -> tuple[bytes, bytes, str]:
    """The page's plain and gzipped bytes, and the ETag of the gzipped one."""
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.get(url, headers={"Accept-Encoding": "identity"}) as response:
            plain = await response.read()
        async with session.get(url, headers={"Accept-Encoding": "gzip"}) as response:
            assert response.headers.get("Content-Encoding") == "gzip", "the page was not gzipped"
            return plain, await response.read(), response.headers["ETag"]


async def measure_server(url: str, etag: str, seconds: float) -> dict[str, Figure]:
    figures = {}
    for name, (headers, status) in PATHS.items():
        sent = {**headers, "If-None-Match": etag} if status == 304 else headers
        figures[name] = await load(url, seconds, sent, status)
    return figures


async def freshness(url: str, page: str, etag: str, samples: int) -> list[float]:
    """Seconds from a comment's commit (through the core, in this process) until the running server serves a
    page with a new ETag; polled every 10 ms with If-None-Match. The refresher's bound: WEB_REFRESH_SECONDS
    (1 s) plus the length of one refresh."""
    delays = []
    clock = SimulatedClock(datetime(2023, 3, 16, 9, tzinfo=UTC))
    editor = Actor(community="bench", user_id="erin", name="erin", holds_editor_role=True)
    async with (
        symposium_process(
            CoreSettings(database_url=url),
            SilentPlatform({editor.user_id: editor}),
            clock,
            ticking=False,
            deliver_in_background=False,
        ) as bot,
        aiohttp.ClientSession(auto_decompress=False) as session,
    ):
        for n in range(samples):
            reply = await ask(bot, editor, f"/symposium comment essay:{n + 1} text:A late thought, {n}.")
            if reply is None or reply.tag == "error":
                raise RuntimeError("the comment was refused")
            committed = time.perf_counter()
            while True:
                async with session.get(page, headers={"If-None-Match": etag, "Accept-Encoding": "gzip"}) as response:
                    await response.read()
                    if response.status == 200:
                        etag = response.headers["ETag"]
                        break
                await asyncio.sleep(0.01)  # polling a server in another process, not a test
            delays.append(time.perf_counter() - committed)
            await asyncio.sleep(0.37 * (n % 3))  # land changes at different points of the refresher's cycle
    return delays


def measure(url: str, seconds: float) -> tuple[dict[str, dict[str, Figure]], int, int, list[float]]:
    """Both servers, one after the other, each alone on the machine; returns figures[path][server] and the sizes."""
    port = free_port()
    env = {"DATABASE_URL": url, "WEB_HOST": "127.0.0.1", "WEB_PORT": str(port)}
    env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    figures: dict[str, dict[str, Figure]] = {name: {} for name in PATHS}
    page = f"http://127.0.0.1:{port}/s/{SLUG}"
    command = [sys.executable, "-c", "from adapters.cli import main; main()", "web"]
    with tempfile.TemporaryDirectory(prefix="symposium-bench-static-") as folder:
        with process(command, env) as server:
            asyncio.run(wait_until_up(page, server))
            plain, zipped, etag = asyncio.run(fetch_page(page))
            for name, figure in asyncio.run(measure_server(page, etag, seconds)).items():
                figures[name]["page"] = figure
            delays = asyncio.run(freshness(url, page, etag, FRESHNESS_SAMPLES))
        Path(folder, "page.html").write_bytes(plain)
        Path(folder, "page.html.gz").write_bytes(zipped)
        port = free_port()
        static = f"http://127.0.0.1:{port}/files/page.html"
        floor = [
            sys.executable,
            "-c",
            f"from bench.web import serve_static_main; serve_static_main({folder!r}, {port})",
        ]
        with process(floor, {}) as server:
            asyncio.run(wait_until_up(static, server))
            _, static_zipped, static_etag = asyncio.run(fetch_page(static))
            if static_zipped != zipped:
                raise RuntimeError("the static server did not send the page's own gzip")
            for name, figure in asyncio.run(measure_server(static, static_etag, seconds)).items():
                figures[name]["static"] = figure
    return figures, len(plain), len(zipped), delays


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def report(backend: str, figures: dict[str, dict[str, Figure]], delays: list[float]) -> bool:
    """Print one backend's rows and its targets; True when every target is met."""
    for name, by_server in figures.items():
        for server in ("static", "page"):
            f = by_server[server]
            share = f"{f.rate / by_server['static'].rate:.2f}" if server == "page" else ""
            print(f"{backend:<11} {name:<18} {server:<7} {f.rate:>9,.0f} {f.p50:>8.1f} {f.p99:>8.1f} {share:>12}")
    page200, static200 = figures["200 gzip"]["page"], figures["200 gzip"]["static"]
    page304 = figures["304 If-None-Match"]["page"]
    checks = [
        (
            f"200 throughput {page200.rate / static200.rate:.2f} × the static file's (target ≥ {STATIC_SHARE_200})",
            page200.rate >= STATIC_SHARE_200 * static200.rate,
        ),
        (f"200 p99 {page200.p99:.1f} ms (target < {P99_TARGET_MS:.0f} ms)", page200.p99 < P99_TARGET_MS),
        (f"304 p99 {page304.p99:.1f} ms (target < {P99_TARGET_MS:.0f} ms)", page304.p99 < P99_TARGET_MS),
        (f"304 {page304.rate:,.0f} req/s (target ≥ {RATE_TARGET_304:,.0f})", page304.rate >= RATE_TARGET_304),
    ]
    for text, met in checks:
        print(f"{backend:<11}   {text}: {verdict(met)}")
    print(
        f"{backend:<11}   a new comment reached the page after {statistics.median(delays):.2f} s (median), "
        f"{max(delays):.2f} s at most, of {len(delays)} (bound: WEB_REFRESH_SECONDS 1 s + one refresh)"
    )
    return all(met for _, met in checks)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench web", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default=None, help="sqlite,postgresql (default; sqlite with --quick)")
    parser.add_argument("--seconds", type=float, default=None, help="load time per path and server (10; 1 quick)")
    parser.add_argument(
        "--quick", action="store_true", help=f"SQLite only, {QUICK_ESSAYS} essays, {QUICK_COMMENTS:,} comments, 1 s"
    )
    parser.add_argument(
        "--postgres", default=os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    )
    args = parser.parse_args(argv)
    backends = args.backends or ("sqlite" if args.quick else "sqlite,postgresql")
    seconds = args.seconds or (1.0 if args.quick else 10.0)
    essays, comments = (QUICK_ESSAYS, QUICK_COMMENTS) if args.quick else (ESSAYS, COMMENTS)
    print(
        f"GET /s/<slug>: {essays} published essays, {comments:,} comments, {CLIENTS} concurrent clients, {seconds:g} s each"
    )
    print(f"{'backend':<11} {'path':<18} {'server':<7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'page/static':>12}")
    all_met = True
    for backend in backends.split(","):
        if backend == "postgresql" and (why := postgres_unreachable(args.postgres)):
            print(f"{backend:<11} skipped: {why}")
            continue
        with database(backend, args.postgres) as url:
            started = time.perf_counter()
            asyncio.run(build(url, essays, comments))
            built = time.perf_counter() - started
            figures, plain, zipped, delays = measure(url, seconds)
        print(
            f"{backend:<11} (built through the core in {built:.0f} s; the page is {plain / 1e6:.2f} MB, "
            f"{zipped / 1e3:.0f} kB gzipped)"
        )
        all_met &= report(backend, figures, delays)
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
