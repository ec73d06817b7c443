"""The Slack adapter against the fake Slack (tests/fakes/slack_api.py), on SQLite.

    python -m bench slack              # ack latency, then DM fan-outs to 200 people under Slack's limits (~5 min)
    python -m bench slack --quick      # 3 ack rounds; the fan-outs with Slack's minute 10 times shorter
    python -m bench slack --only dms   # the fan-outs alone

1. Ack latency: `/submit` over HTTP, 50 requests at once, signed as Slack signs them, against the bot's
   slack-bolt app (the ack, then the core and the private reply in the background) and, in the same run and
   alternating round by round, against a bare slack-bolt app whose /submit listener only acks. Latency is the
   time from sending a request to its HTTP response. Target: the bot's p50 and p99 at most 1.5 × the bare app's.
2. DM fan-outs, with the fake enforcing Slack's limits (each method's tier per sliding minute per workspace, a
   whole tier at once allowed; posts one a second per channel, no workspace ceiling):
   - first time: 200 participants with an intent and no essay; the clock reaches "due in 7 days" and the outbox
     delivers the 200 reminders (conversations.open, then chat.postMessage, each). The floor is the least time
     Slack's tiers allow: conversations.open is Tier 3, 50 at once then 50 a minute, so 3 minutes for 200
     (`FakeSlack.rate_floor_seconds`). Target: within 10 % of it, no 429.
   - repeat, after a restart: a new sender on the same database sends the 200 people one more DM each, all at
     once. The DM channel ids come from the database: no conversations.open. Slack's floor is the per-channel
     one, one post per channel here, so nothing to wait for; the floor is then what the network takes, measured
     by the same fan-out with the limits and the pacing off (5 rounds of each, alternating; medians). Target:
     within 10 % of it, no 429.
   `--scale K` shortens Slack's minute (and its second per channel) K times, in the fake and in the bot's pacing
   alike, so the first fan-out's floor is 180 / K s.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete, func, select

from adapters.dm_channels import DmChannels
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
from bot.db.models import DmChannel, OutboxRow
from bot.messages import MessageBuilder
from bot.ports import Attempt
from bot.settings import CoreSettings
from tests.doubles import ask
from tests.fakes.slack_api import FakeSlack, signed_headers, slash_command_body

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
REPEAT_ROUNDS = 5
REPEAT = MessageBuilder("Your essay is due in 2 days", tag="note").line("A reminder from the editors.").build()


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


def dm_posts(fake: FakeSlack) -> int:
    return len([c for c in fake.calls_to("chat.postMessage") if c.payload["channel"][:1] == "D" and c.status == 200])


async def dm_fanouts(recipients: int, scale: float) -> dict[str, float]:
    """The first fan-out through the core's outbox, then the repeat and its unpaced baseline (see the docstring)."""
    async with FakeSlack() as fake:
        settings = SlackSettings(
            slack_bot_token="xoxb-bench", slack_signing_secret=SECRET, slack_api_base_url=fake.api_url
        )
        clock = RunningClock(START)
        minute, interval = 60 / scale, settings.slack_post_interval_seconds / scale

        def sender(pacer: Pacer) -> SlackPlatform:
            return SlackPlatform(make_client(settings), clock, pacer)

        platform = sender(Pacer({}, 0))  # unpaced until the fan-out
        with tempfile.TemporaryDirectory(prefix="symposium-bench-slack-") as folder:
            core = CoreSettings(database_url=f"sqlite+aiosqlite:///{folder}/bench.db")
            async with symposium_process(core, platform, clock, ticking=False, deliver_in_background=False) as bot:
                await populate(bot, fake, recipients)
                async with bot.sessions() as session:
                    first_dm = await session.scalar(
                        select(func.min(OutboxRow.due_at)).where(
                            OutboxRow.op.in_(("dm", "remind")), OutboxRow.status == "pending"
                        )
                    )
                assert first_dm is not None
                clock.start(first_dm - timedelta(hours=1))
                await bot.tick()  # what fell due before (the answers to /intent, as DMs), without the fake's limits
                # Those opened the DM channels: forget them, so the reminders are a first-time fan-out.
                async with bot.sessions() as session, session.begin():
                    await session.execute(delete(DmChannel))
                platform.dm_channels = DmChannels()
                platform.use_database(bot.engine)
                platform.pacer = Pacer(SLACK_TIERS, interval, minute=minute)
                before = dm_posts(fake)
                opened_before = len(fake.calls_to("conversations.open"))
                fake.rate_limits(window_seconds=minute)  # Slack's tiers, over a minute of 60 / scale seconds
                clock.start(first_dm)
                started, sent = time.perf_counter(), 0
                while sent < recipients:
                    await bot.tick()
                    sent = dm_posts(fake) - before
                    if sent < recipients:
                        await asyncio.sleep(0.05)  # rows waiting on the pacer finish in the background
                first = time.perf_counter() - started
                opens = len([c for c in fake.calls_to("conversations.open")[opened_before:] if c.status == 200])
                floor = max(fake.rate_floor_seconds("conversations.open", opens), 0.0)
                limited_first = fake.rate_limited.total()
                await platform.flush()

                # The repeat, after a restart: a new sender on the same database, one more DM to each, all at once.
                people = [participant(n).user_id for n in range(1, recipients + 1)]
                await asyncio.sleep(interval)  # each DM channel's last post has left its second

                async def fan_out(to: SlackPlatform, name: str) -> float:
                    began = time.perf_counter()
                    await asyncio.gather(
                        *(to.direct_message(COMMUNITY, u, REPEAT, Attempt(f"{name}-{n}")) for n, u in enumerate(people))
                    )
                    return time.perf_counter() - began

                opened, limited_before = len(fake.calls_to("conversations.open")), fake.rate_limited.total()
                timings: dict[str, list[float]] = {"paced": [], "unpaced": []}
                for round_no in range(REPEAT_ROUNDS):  # alternating, so warm-up and noise fall on both alike
                    for kind in ("paced", "unpaced") if round_no % 2 == 0 else ("unpaced", "paced"):
                        paced = kind == "paced"
                        # Paced: Slack's limits on, as the bot runs. Unpaced: no limits, no pacing (the network's floor).
                        fake.rate_limits(enabled=paced, window_seconds=minute)
                        again = sender(Pacer(SLACK_TIERS, interval, minute=minute) if paced else Pacer({}, 0))
                        again.use_database(bot.engine)  # a restart: a new sender on the same database
                        timings[kind].append(await fan_out(again, f"{kind[0]}{round_no}"))
                        await asyncio.sleep(interval)  # each DM channel's last post leaves its second
                reopened = len(fake.calls_to("conversations.open")) - opened
                limited_repeat = fake.rate_limited.total() - limited_before
    repeat, unpaced = statistics.median(timings["paced"]), statistics.median(timings["unpaced"])
    channel_floor = fake.rate_floor_per_channel_seconds(1)  # one post per DM channel: nothing to wait for
    repeat_floor = max(channel_floor, unpaced)
    return {
        "dms": sent,
        "elapsed": first,
        "floor": floor,
        "ratio": first / floor if floor else float("inf"),
        "429s": limited_first,
        "repeat": repeat,
        "repeat_floor": repeat_floor,
        "unpaced": unpaced,
        "channel_floor": channel_floor,
        "repeat_ratio": repeat / repeat_floor,
        "repeat_opens": reopened,
        "repeat_429s": limited_repeat,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench slack", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 ack rounds, and Slack's minute 10 times shorter (--scale 10)"
    )
    parser.add_argument(
        "--rounds", type=int, help="measured rounds of 50 concurrent /submit per app (default 20, --quick 3)"
    )
    parser.add_argument("--dms", type=int, default=200, help="recipients of the DM fan-outs")
    parser.add_argument(
        "--scale", type=float, help="divide Slack's minute (and second) by this (default 1, --quick 10)"
    )
    parser.add_argument("--only", choices=("acks", "dms"), help="run one of the two measurements")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    scale = args.scale or (10.0 if args.quick else 1.0)
    args.rounds = args.rounds or (3 if args.quick else 20)

    print(f"\nSlack benchmarks: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, SQLite, fake Slack on 127.0.0.1\n", flush=True)
    met = True
    if args.only != "dms":
        print(f"-- ack latency: {args.rounds} rounds of {CONCURRENT} concurrent /submit, bot and bare app", flush=True)
        met = report_acks(asyncio.run(ack_latency(args.rounds))) and met
    if args.only != "acks":
        print(f"-- DM fan-outs to {args.dms:,} people under Slack's limits, the minute ÷ {scale:g}", flush=True)
        met = report_dms(asyncio.run(dm_fanouts(args.dms, scale)), scale) and met
    return 1 if args.strict and not met else 0


def report_acks(acks: dict[str, float]) -> bool:
    p50, p99 = acks["bot_50"] / acks["bare_50"], acks["bot_99"] / acks["bare_99"]
    pbr50, pbr99 = acks["bot_50"] / acks["bare_pbr_50"], acks["bot_99"] / acks["bare_pbr_99"]
    ok = max(p50, p99) <= ACK_TARGET
    print(f"/submit ack, {int(acks['samples'])} requests each ({CONCURRENT} at a time):")
    print(f"  bot app   p50 {acks['bot_50'] * 1e3:6.1f} ms   p99 {acks['bot_99'] * 1e3:6.1f} ms")
    print(f"  bare app  p50 {acks['bare_50'] * 1e3:6.1f} ms   p99 {acks['bare_99'] * 1e3:6.1f} ms   (bolt's defaults)")
    print(f"  ratio     p50 {p50:6.2f}      p99 {p99:6.2f}      target ≤ {ACK_TARGET}: {'met' if ok else 'missed'}")
    print(
        f"  bare app, process_before_response: p50 {acks['bare_pbr_50'] * 1e3:.1f} ms, p99 "
        f"{acks['bare_pbr_99'] * 1e3:.1f} ms; the bot's ratio to it: p50 {pbr50:.2f}, p99 {pbr99:.2f}"
    )
    return ok


def report_dms(dms: dict[str, float], scale: float) -> bool:
    first_ok = dms["ratio"] <= FLOOR_TARGET and dms["429s"] == 0
    repeat_ok = dms["repeat_ratio"] <= FLOOR_TARGET and dms["repeat_429s"] == 0 and dms["repeat_opens"] == 0
    print(f"first-time fan-out, {int(dms['dms']):,} DMs through the outbox (conversations.open, then a post each):")
    print(f"  {dms['elapsed']:.1f} s; Tier 3 floor {dms['floor']:.1f} s: ratio {dms['ratio']:.3f}, ", end="")
    print(f"{int(dms['429s'])} answers 429; target ≤ {FLOOR_TARGET}: {'met' if first_ok else 'missed'}")
    print(
        f"repeat fan-out after a restart, {int(dms['dms']):,} DMs at once (channel ids from the database), "
        f"median of {REPEAT_ROUNDS} rounds alternating with the same fan-out unpaced:"
    )
    print(
        f"  {dms['repeat']:.2f} s, {int(dms['repeat_opens'])} conversations.open, {int(dms['repeat_429s'])} answers "
        f"429; floor {dms['repeat_floor']:.2f} s (per-channel floor {dms['channel_floor']:.1f} s: one post per "
        f"channel; the same fan-out unpaced {dms['unpaced']:.2f} s): ratio {dms['repeat_ratio']:.3f}; "
        f"target ≤ {FLOOR_TARGET}: {'met' if repeat_ok else 'missed'}"
    )
    return first_ok and repeat_ok


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
