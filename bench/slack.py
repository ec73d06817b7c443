"""The Slack adapter against the fake Slack (tests/fakes/slack_api.py), on SQLite.

    python -m bench slack              # ack latency, then 1,000 reminder DMs under Slack's real tiers (~21 minutes)
    python -m bench slack --quick      # the DMs under tiers 10 times faster than Slack's (~3 minutes)

1. Ack latency: `/submit` over HTTP, 50 requests at once, signed as Slack signs them, against the bot's
   slack-bolt app (the ack, then the core and the private reply in the background) and, in the same run and
   alternating round by round, against a bare slack-bolt app whose /submit listener only acks. Latency is the
   time from sending a request to its HTTP response. Target: the bot's p50 and p99 at most 1.5 × the bare app's.
2. Reminder DMs: 1,000 participants with an intent and no essay; the clock reaches the "due in 7 days" moment and
   the outbox delivers the 1,000 reminders (conversations.open, then chat.postMessage, per participant) with the
   fake's per-method rate limits on. The floor is the least time the limits allow for those calls
   (`FakeSlack.rate_floor_seconds`, the slowest method decides). Target: within 10 % of the floor.
   `--scale K` multiplies every limit by K, in the fake and in the bot's pacing alike, to shorten the run.
"""

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select

from adapters.runtime import symposium_process
from adapters.slack.after_ack import AfterAck
from adapters.slack.app import build_app, make_client, slack_routes
from adapters.slack.pacing import SLACK_TIERS, Pacer
from adapters.slack.sender import SlackPlatform
from adapters.slack.settings import SlackSettings
from bench.core import percentile
from bot.clock import SimulatedClock
from bot.commands import Actor
from bot.core import SymposiumBot
from bot.db.models import OutboxRow
from bot.settings import CoreSettings
from tests.doubles import ask
from tests.fakes.slack_api import DEFAULT_PER_MINUTE, FakeSlack, signed_headers, slash_command_body

SECRET = "bench-signing-secret"
START = datetime(2023, 2, 1, 9, 0, tzinfo=UTC)
COMMUNITY, GENERAL, REVIEW = "T0000FAKE", "CGENERAL1", "CREVIEW01"
OPEN = (
    "/symposium open title:Is the orchestrator dead or alive? prompt:Is the orchestrator dead or alive? "
    "intent_deadline:2023-03-03 due:2023-03-10 publish_from:2023-03-13 publish_to:2023-04-28 "
    f"review_channel:<#{REVIEW}|review>"
)
EDITOR = Actor(community=COMMUNITY, user_id="UEDITOR01", name="Erin Editor", is_admin=True)
CONCURRENT = 50
APPS = ("bot", "bare", "bare_pbr")  # the bot's app; bare apps with bolt's defaults, and process_before_response
ACK_TARGET, FLOOR_TARGET = 1.5, 1.10


class RunningClock:
    """The simulated date, moving at real speed from when `start()` is called, so retries fall due."""

    def __init__(self, at: datetime) -> None:
        self.at, self.since = at, time.monotonic()

    def start(self, at: datetime) -> None:
        self.at, self.since = at, time.monotonic()

    def now(self) -> datetime:
        return self.at + timedelta(seconds=time.monotonic() - self.since)


def participant(n: int) -> Actor:
    return Actor(community=COMMUNITY, user_id=f"U{n:08d}", name=f"Participant {n}")


async def populate(bot: SymposiumBot, fake: FakeSlack, people: int) -> None:
    """The editor opens the symposium and `people` participants declare an intent, through the core's inbox
    (who they are comes from the fake's users.info, as in a running bot)."""
    fake.add_user(EDITOR.user_id, name=EDITOR.name, is_admin=True)
    for line, who in [(OPEN, EDITOR)] + [(f"/intent title:Essay {n}", participant(n)) for n in range(1, people + 1)]:
        reply = await ask(bot, who, line, GENERAL)
        if reply is not None and reply.tag == "error":
            raise RuntimeError(f"{line[:40]} was refused: {reply.plain()}")


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"


async def burst(http: aiohttp.ClientSession, url: str, fake: FakeSlack, round_no: int) -> list[float]:
    """50 signed /submit requests at once; returns each one's time to its HTTP response."""

    async def one(n: int) -> float:
        body = slash_command_body(
            "/submit",
            f"https://blog.example/p/{n}?round={round_no}",
            user_id=participant(n).user_id,
            channel_id=GENERAL,
            response_url=fake.response_url(f"{round_no}-{n}"),
            trigger_id=f"{round_no}.{n}",
        )
        started = time.perf_counter()
        async with http.post(url, data=body, headers=signed_headers(SECRET, body, int(time.time()))) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"/submit answered HTTP {response.status}")
        return time.perf_counter() - started

    return list(await asyncio.gather(*(one(n) for n in range(1, CONCURRENT + 1))))


def bare(fake: FakeSlack, before_response: bool) -> web.Application:
    """A slack-bolt app whose /submit listener only acks; bolt's defaults, or `process_before_response` as ours."""
    app = AsyncApp(
        client=AsyncWebClient(token="xoxb-bench", base_url=fake.api_url),
        signing_secret=SECRET,
        process_before_response=before_response,
    )

    @app.command("/submit")
    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    web_app = web.Application()
    web_app.add_routes(slack_routes(app))
    return web_app


async def ack_latency(rounds: int) -> dict[str, float]:
    async with FakeSlack() as fake:
        settings = SlackSettings(
            slack_bot_token="xoxb-bench", slack_signing_secret=SECRET, slack_api_base_url=fake.api_url
        )
        client = make_client(settings)
        clock = SimulatedClock(START)
        with tempfile.TemporaryDirectory(prefix="symposium-bench-slack-") as folder:
            core = CoreSettings(database_url=f"sqlite+aiosqlite:///{folder}/bench.db")
            platform = SlackPlatform(client, clock, Pacer({}, 0))
            async with symposium_process(core, platform, clock, ticking=False) as bot:
                await populate(bot, fake, CONCURRENT)
                after_ack = AfterAck()
                ours = web.Application()
                ours.add_routes(slack_routes(build_app(bot, settings, platform, after_ack=after_ack)))
                runners = [await serve(ours)]
                for before_response in (False, True):
                    runners.append(await serve(bare(fake, before_response)))
                try:
                    timings: dict[str, list[float]] = {name: [] for name in APPS}
                    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                        for round_no in range(rounds + 1):  # round 0 warms up (auth.test, users.info)
                            replies = len(fake.calls_to("response_url"))
                            for name, (_, url) in zip(APPS, runners, strict=True):
                                took = await burst(http, url, fake, round_no)
                                if name == "bot":  # its replies come after the acks: let them go before the next app
                                    await fake.wait_for("response_url", count=replies + CONCURRENT, timeout=60)
                                if round_no:
                                    timings[name] += took
                finally:
                    for runner, _ in runners:
                        await runner.cleanup()
                    await after_ack.drain()
    return {f"{who}_{p}": percentile(samples, p) for who, samples in timings.items() for p in (50, 99)} | {
        "samples": len(timings["bot"])
    }


async def reminder_dms(participants: int, scale: float) -> dict[str, float]:
    async with FakeSlack() as fake:
        settings = SlackSettings(
            slack_bot_token="xoxb-bench", slack_signing_secret=SECRET, slack_api_base_url=fake.api_url
        )
        clock = RunningClock(START)
        limits = {method: calls * scale for method, calls in SLACK_TIERS.items()}
        pacer = Pacer(limits, settings.slack_post_interval_seconds / scale)
        platform = SlackPlatform(make_client(settings), clock, pacer)
        with tempfile.TemporaryDirectory(prefix="symposium-bench-slack-") as folder:
            core = CoreSettings(database_url=f"sqlite+aiosqlite:///{folder}/bench.db")
            async with symposium_process(core, platform, clock, ticking=False, deliver_in_background=False) as bot:
                await populate(bot, fake, participants)
                async with bot.sessions() as session:
                    first_dm = await session.scalar(
                        select(func.min(OutboxRow.due_at)).where(OutboxRow.op == "dm", OutboxRow.status == "pending")
                    )
                assert first_dm is not None
                clock.start(first_dm - timedelta(hours=1))
                await bot.tick()  # what fell due before (the channel's reminders), without the fake's limits
                fake.rate_limits(per_minute={m: round(n * scale) for m, n in DEFAULT_PER_MINUTE.items()})
                clock.start(first_dm)
                started, sent = time.perf_counter(), 0
                while sent < participants:
                    await bot.tick()
                    sent = len([c for c in fake.calls_to("chat.postMessage") if c.payload["channel"][:1] == "D"])
                    if sent < participants:
                        await asyncio.sleep(0.05)  # a retry waits for its Retry-After on the running clock
                elapsed = time.perf_counter() - started
    opens = len([c for c in fake.calls_to("conversations.open") if c.status == 200])
    floor = max(
        fake.rate_floor_seconds("conversations.open", opens),
        fake.rate_floor_seconds("chat.postMessage", sent),
    )
    limited = len([c for c in fake.calls if c.status == 429])
    return {"dms": sent, "elapsed": elapsed, "floor": floor, "ratio": elapsed / floor, "429s": limited}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench slack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the DMs under limits 10 times Slack's (--scale 10)")
    parser.add_argument("--rounds", type=int, default=20, help="measured rounds of 50 concurrent /submit per app")
    parser.add_argument("--dms", type=int, default=1000, help="reminder DMs to deliver")
    parser.add_argument("--scale", type=float, help="multiply every rate limit by this (default 1, --quick 10)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    scale = args.scale or (10.0 if args.quick else 1.0)

    print(f"-- ack latency: {args.rounds} rounds of {CONCURRENT} concurrent /submit, bot app and bare app", flush=True)
    acks = asyncio.run(ack_latency(args.rounds))
    print(f"-- {args.dms:,} reminder DMs under the fake's rate limits × {scale:g}", flush=True)
    dms = asyncio.run(reminder_dms(args.dms, scale))

    p50, p99 = acks["bot_50"] / acks["bare_50"], acks["bot_99"] / acks["bare_99"]
    pbr50, pbr99 = acks["bot_50"] / acks["bare_pbr_50"], acks["bot_99"] / acks["bare_pbr_99"]
    ack_ok, dm_ok = max(p50, p99) <= ACK_TARGET, dms["ratio"] <= FLOOR_TARGET
    print(f"\nSlack benchmarks: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, SQLite, fake Slack on 127.0.0.1\n")
    print(f"/submit ack, {int(acks['samples'])} requests each ({CONCURRENT} at a time):")
    print(f"  bot app   p50 {acks['bot_50'] * 1e3:6.1f} ms   p99 {acks['bot_99'] * 1e3:6.1f} ms")
    print(f"  bare app  p50 {acks['bare_50'] * 1e3:6.1f} ms   p99 {acks['bare_99'] * 1e3:6.1f} ms   (bolt's defaults)")
    print(f"  ratio     p50 {p50:6.2f}      p99 {p99:6.2f}      target ≤ {ACK_TARGET}: {'met' if ack_ok else 'MISSED'}")
    print(
        f"  bare app, process_before_response: p50 {acks['bare_pbr_50'] * 1e3:.1f} ms, p99 "
        f"{acks['bare_pbr_99'] * 1e3:.1f} ms; the bot's ratio to it: p50 {pbr50:.2f}, p99 {pbr99:.2f}"
    )
    print(f"{int(dms['dms']):,} reminder DMs, limits × {scale:g}:")
    print(f"  {dms['elapsed']:.1f} s against a floor of {dms['floor']:.1f} s: {dms['ratio']:.3f} × the floor, ", end="")
    print(f"{int(dms['429s'])} answers 429; target ≤ {FLOOR_TARGET}: {'met' if dm_ok else 'MISSED'}")
    return 1 if args.strict and not (ack_ok and dm_ok) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
