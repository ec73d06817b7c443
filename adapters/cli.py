"""`symposium-bot`: run, console, demo, web and db upgrade.

What commonly goes wrong on an operator's machine (a busy port, a token Slack or Discord refuses, a Slack,
Discord or database that cannot be reached, a SQLite folder that is missing or read-only, an invalid setting)
ends in one line per problem, `Error: … Set …`, and exit code 1; `--debug` shows the traceback instead.
Anything else keeps its traceback: it is a bug to report.
"""

import asyncio
import contextlib
import errno
import json
import logging
import os
import re
import signal
import socket
import ssl
import sys
import tempfile
from collections.abc import Coroutine
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import IO, Any

import click
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from adapters.web.settings import WebSettings
from bot.clock import Clock, SimulatedClock, SystemClock
from bot.db.engine import make_engine
from bot.db.migrate import upgrade
from bot.matching import EssayFetcher
from bot.settings import CoreSettings

DEMO_START = datetime(2023, 2, 1, 9, 0, tzinfo=UTC)
DEBUG = "symposium.debug"  # ctx.meta: show tracebacks
API_URL = "symposium.api_url"  # ctx.meta: the Slack or Discord address this run talks to
DATABASE = "symposium.database_url"  # ctx.meta: the database this run uses
DEFAULT_DISCORD_API = "https://discord.com/api/v10"
DEFAULT_SLACK_API = "https://slack.com/api/"
SUPPORTED_DATABASES = "sqlite+aiosqlite:///symposium.db or postgresql+asyncpg://user:password@host:5432/db"
# Where each settings class is explained, for "see …" in a settings error.
SETTINGS_DOCS = {"DiscordSettings": "docs/discord.md", "SlackSettings": "docs/slack.md"}
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "DATABASE_URL")


class Tokens(BaseSettings):
    """Which chat platforms have a token (in the environment or `.env`): that picks what `run` connects to."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    discord_token: str | None = None
    slack_bot_token: str | None = None
    slack_client_id: str | None = None  # Slack without a bot token: installed by many workspaces (OAuth)


class Failure(click.ClickException):
    """What the operator must fix: one `Error: …` line each, and exit code 1."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines

    def show(self, file: IO[Any] | None = None) -> None:
        for line in self.lines:
            click.echo(f"Error: {line}", file=file, err=file is None)


class StartupNoise(logging.Filter):
    """Warnings every start would print and no operator can act on: discord.py's that PyNaCl and davey (voice)
    are missing, for a bot that never speaks; slack-bolt's that SLACK_BOT_TOKEN (which it reads from the
    environment itself) is unused, since the bot hands it a client already holding that token."""

    NOISE = ("voice will NOT be supported", "As you gave `client` as well, `token` will be unused")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in self.NOISE)


NOISY_LOGGERS = ("discord.client", "slack_bolt.AsyncApp")


class Cli(click.Group):
    """Turns the usual failures into `Error: …` lines (see `explain`), unless `--debug` was given."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if ctx.meta.get(DEBUG):
                raise
            lines = explain(exc, ctx.meta)
            if not lines:
                raise
            raise Failure(*lines) from exc


@click.group(cls=Cli)
@click.option("-v", "--verbose", is_flag=True, help="Log what the bot does.")
@click.option("--debug", is_flag=True, help="Show the full traceback when something fails.")
@click.pass_context
def main(ctx: click.Context, verbose: bool, debug: bool) -> None:
    """Symposium Bot: run a writing symposium in Discord, Slack or a local console."""
    ctx.meta[DEBUG] = debug
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, StartupNoise) for f in logger.filters):
            logger.addFilter(StartupNoise())


@main.command()
@click.option("--platform", type=click.Choice(["console", "slack", "discord"]), help="Which chat to connect to.")
@click.option("--deliver-only", is_flag=True, help="Only deliver the outbox (extra workers on PostgreSQL).")
@click.option("--editors", default="editor", show_default=True, help="Console only: comma-separated editors.")
def run(platform: str | None, deliver_only: bool, editors: str) -> None:
    """Start the bot: Discord if DISCORD_TOKEN is set, Slack if SLACK_BOT_TOKEN (or SLACK_CLIENT_ID) is set, else
    the console."""
    given = Tokens()
    slack = given.slack_bot_token or given.slack_client_id
    tokens = [name for name, token in (("discord", given.discord_token), ("slack", slack)) if token]
    if platform is None:
        if len(tokens) > 1:
            slack_setting = "SLACK_BOT_TOKEN" if given.slack_bot_token else "SLACK_CLIENT_ID"
            raise click.UsageError(f"Both DISCORD_TOKEN and {slack_setting} are set: choose one with --platform.")
        platform = tokens[0] if tokens else "console"
    if platform == "discord":
        _run_discord(deliver_only)
        return
    if platform == "slack":
        _run_slack(deliver_only)
        return
    if deliver_only:
        raise click.UsageError("--deliver-only delivers for Discord or Slack: set DISCORD_TOKEN or SLACK_BOT_TOKEN.")
    settings, web = core_settings(), WebSettings()
    asyncio.run(_console(None, _names(editors), SystemClock(), settings, web, how_to_edit="run"))


@main.command()
@click.option(
    "--script", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Run these lines, then stop."
)
@click.option("--editors", default="", help="Comma-separated names who are editors (and admins).")
@click.option(
    "--clock", "clock_kind", type=click.Choice(["real", "simulated"]), help="Default: simulated with --script."
)
@click.option("--start", help="Simulated clock start, ISO time with offset (default: now).")
@click.option("--web", is_flag=True, help="Also serve the public page on WEB_PORT.")
def console(script: Path | None, editors: str, clock_kind: str | None, start: str | None, web: bool) -> None:
    """The local chat: type `<user>: <text>`, `<user>: react ✅ #n`, or `clock: +2d`."""
    kind = clock_kind or ("simulated" if script else "real")
    clock: Clock = SystemClock()
    if kind == "simulated":
        clock = SimulatedClock(_start(start) if start else datetime.now(UTC))
    text = script.read_text(encoding="utf-8") if script else None
    settings, page = core_settings(), WebSettings() if web else None
    asyncio.run(_console(text, _names(editors), clock, settings, page, how_to_edit="console"))


@main.command()
def demo() -> None:
    """The 2023 orchestrator symposium, start to finish, on a simulated clock."""
    from adapters.demo import demo_fetcher

    text = resources.files("adapters.console").joinpath("demo.txt").read_text(encoding="utf-8")
    clock = SimulatedClock(DEMO_START)

    async def run(settings: CoreSettings) -> None:
        async with demo_fetcher(clock) as fetcher:
            await _console(text, {"erin", "ed"}, clock, settings, None, fetcher=fetcher)

    with TemporaryDirectory() as folder:
        asyncio.run(run(CoreSettings(database_url=f"sqlite+aiosqlite:///{folder}/demo.db")))


@main.command("web")
def web_only() -> None:
    """Serve the public page alone (SPEC §6), on WEB_HOST:WEB_PORT."""
    from adapters.runtime import migrated_engine, public_page

    settings, web = core_settings(), WebSettings()

    async def serve() -> None:
        async with migrated_engine(settings) as engine, public_page(engine, settings, SystemClock(), web):
            click.echo(f"public page on http://{web.web_host}:{web.web_port}/ (Ctrl-C stops)")
            await asyncio.Event().wait()

    until_stopped(serve())


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per community, in a list.")
def communities(as_json: bool) -> None:
    """Each community with a symposium: its platform, symposia, and how its deliveries stand."""
    from adapters.runtime import migrated_engine
    from bot import queries
    from bot.db.engine import make_sessions

    settings = core_settings()

    async def read() -> list[queries.CommunityHealth]:
        async with migrated_engine(settings) as engine, make_sessions(engine, read_only=True)() as session:
            return await queries.communities(session, datetime.now(UTC))

    rows = [
        {
            "community": c.community,
            "platform": platform_of(c.community),
            "symposia": c.symposia,
            "open": c.open_symposia,
            "newest": c.newest_title,
            "last_delivery": c.last_delivery.isoformat() if c.last_delivery else None,
            "waiting": c.waiting,
            "failed": c.failed,
            "paused": c.paused,
        }
        for c in asyncio.run(read())
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No community has a symposium yet.")
        return
    click.echo(
        f"{'COMMUNITY':<22} {'PLATFORM':<8} {'SYMPOSIA':>8} {'OPEN':>4} {'LAST DELIVERY (UTC)':<19} {'WAITING':>7} {'FAILED':>6}  NEWEST"
    )
    for row in rows:
        last = str(row["last_delivery"] or "never")[:19].replace("T", " ")
        click.echo(
            f"{row['community']:<22} {row['platform']:<8} {row['symposia']:>8} {row['open']:>4} {last:<19} "
            f"{row['waiting']:>7} {row['failed']:>6}  {row['newest']}"
            + (f"  (paused: {row['paused']})" if row["paused"] else "")
        )


def platform_of(community: str) -> str:
    """Which chat a community is on, by the shape of its id: Discord's servers are numbers (snowflakes), Slack's
    workspaces `T…` (Enterprise Grid: `E…`); anything else is the console's."""
    if community.isdigit():
        return "discord"
    if re.fullmatch(r"[TE][A-Z0-9]{6,}", community):
        return "slack"
    return "console"


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations to DATABASE_URL and stop."""
    settings = core_settings()

    async def go() -> None:
        engine = make_engine(settings.database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(go())
    click.echo("database is up to date")


def _run_discord(deliver_only: bool) -> None:
    from adapters.discord.settings import DiscordSettings
    from adapters.run_discord import run_discord

    settings = DiscordSettings()
    click.get_current_context().meta[API_URL] = settings.discord_api_base_url or DEFAULT_DISCORD_API
    core, web = core_settings(), None if deliver_only else WebSettings()
    until_stopped(run_discord(core, settings, SystemClock(), deliver_only=deliver_only, web=web))


def _run_slack(deliver_only: bool) -> None:
    from adapters.run_slack import run_slack
    from adapters.slack.settings import SlackSettings

    settings = SlackSettings()
    click.get_current_context().meta[API_URL] = settings.slack_api_base_url
    core, web = core_settings(), None if deliver_only else WebSettings()
    until_stopped(run_slack(core, settings, SystemClock(), deliver_only=deliver_only, web=web))


def until_stopped(work: Coroutine[Any, Any, None]) -> None:
    """Serve until Ctrl-C or SIGTERM (what a process supervisor sends), then stop cleanly: requests under way
    finish, and what is left waits in the inbox and the outbox for the next start."""

    async def serve() -> None:
        task = asyncio.ensure_future(work)
        loop = asyncio.get_running_loop()
        for stop in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(stop, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(serve())


def _names(editors: str) -> set[str]:
    return {n.strip() for n in editors.split(",") if n.strip()}


def _start(text: str) -> datetime:
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO time, e.g. 2027-01-04T09:00+00:00", param_hint="--start"
        ) from None
    if start.tzinfo is None:
        raise click.BadParameter(f"give {text!r} an offset, e.g. {text}+00:00", param_hint="--start")
    return start


async def _console(
    script: str | None,
    editors: set[str],
    clock: Clock,
    settings: CoreSettings,
    web: WebSettings | None,
    how_to_edit: str = "console",
    fetcher: EssayFetcher | None = None,
) -> None:
    """The console. It fetches nothing unless given a `fetcher` (the demo's, which reaches only its own sites):
    essays are announced at their time unchecked, as with no fetcher anywhere."""
    from adapters.console.adapter import ConsolePlatform, ConsoleSession
    from adapters.runtime import symposium_process

    platform = ConsolePlatform(clock, print, editors)
    async with symposium_process(
        settings, platform, clock, web=web, ticking=False, deliver_in_background=False, workers=1, fetcher=fetcher
    ) as bot:
        if web is not None:
            print(f"Public page: http://{web.web_host}:{web.web_port}/")
        session = ConsoleSession(bot, platform, clock)
        await bot.tick()
        if script is not None:
            for line in script.splitlines():
                if line.strip() and not line.startswith("#"):
                    print(f"> {line}")
                await session.run_line(line)
            return
        for line in banner(editors, clock, how_to_edit):
            print(line)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            await session.run_line(line)


def banner(editors: set[str], clock: Clock, command: str) -> list[str]:
    """What the interactive console says first: the line forms, who the editors are and how to be one, and
    which clock it runs on."""
    names = sorted(editors)
    lines = [
        "Symposium Bot console. Lines: `<user>: <text>`, `<user>: react ✅ #n`, `clock: +2d`. Ctrl-D quits.",
        f"Editors: {', '.join(names) or 'none'}. Only editors open and run a symposium; to be one, start "
        f"with your name: `symposium-bot {command} --editors <name>[,<name>…]`.",
    ]
    if isinstance(clock, SimulatedClock):
        lines.append(f"Clock: simulated, now {clock.now():%a %Y-%m-%d %H:%M} UTC; `clock: +2d` moves it.")
    else:
        lines.append(
            f"Clock: real, now {clock.now():%a %Y-%m-%d %H:%M} UTC, so dates must be after today. The README's "
            "walkthrough runs on a simulated clock: `symposium-bot console --clock simulated --start …`."
        )
    lines.append(f"Try: {names[0] if names else 'you'}: /symposium help")
    return lines


# Settings the operator can get wrong before anything runs.


def core_settings() -> CoreSettings:
    """CoreSettings, with DATABASE_URL checked (a supported driver; for SQLite, a folder that exists and can be
    written: SQLite writes its journal next to the file), so a bad one is said before anything starts."""
    settings = CoreSettings()
    click.get_current_context().meta[DATABASE] = settings.database_url
    check_database_url(settings.database_url)
    return settings


def check_database_url(url: str) -> None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise Failure(f"DATABASE_URL is not a database URL. Set DATABASE_URL to {SUPPORTED_DATABASES}.") from None
    if parsed.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise Failure(
            f"DATABASE_URL names the driver {parsed.drivername!r}, which the bot does not use. "
            f"Set DATABASE_URL to {SUPPORTED_DATABASES}."
        )
    database = parsed.database or ""
    if parsed.drivername != "sqlite+aiosqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return
    path = Path(database)
    folder = path.parent.absolute()
    if not folder.is_dir():
        raise Failure(
            f"the SQLite database's folder {folder} does not exist. Create it, or set DATABASE_URL to a file in a "
            "folder that exists (e.g. sqlite+aiosqlite:///symposium.db)."
        )
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".symposium-write-check-"):
            pass
    except OSError as exc:
        raise Failure(
            f"the SQLite database's folder {folder} cannot be written ({_why(exc)}). Set DATABASE_URL to a file in a "
            "folder this user can write, or let this user write there."
        ) from None
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise Failure(
            f"the SQLite database {path.absolute()} is read-only. Set DATABASE_URL to a file this user can write."
        )


# The usual failures, explained.


def explain(exc: BaseException, meta: dict[str, Any]) -> list[str] | None:
    """The lines to show for a failure the operator can fix, or None for one to show with its traceback."""
    if isinstance(exc, ValidationError):
        return settings_problems(exc)
    modules = _modules(exc)
    for problem in (_database_problem, _listen_problem, _slack_problem, _discord_problem):
        if (line := problem(exc, modules, meta)) is not None:
            return [line]
    return None


def settings_problems(exc: ValidationError) -> list[str]:
    """Each invalid setting by its name and the reason, e.g. `DISCORD_CALLS_PER_SECOND: Input should be a valid
    number, … (got 'fast'); see docs/discord.md`."""
    doc = SETTINGS_DOCS.get(exc.title, ".env.example")
    lines = []
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]).upper() if error["loc"] else ""
        reason = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            lines.append(f"{name} is not set. Set {name} (see {doc}).")
        elif not name:
            lines.append(f"{reason} (see {doc}).")
        elif any(word in name for word in SECRET_WORDS):
            lines.append(f"{name}: {reason}. Set {name} (see {doc}).")
        else:
            lines.append(f"{name}: {reason} (got {error['input']!r}). Set {name} (see {doc}).")
    return lines


def _modules(exc: BaseException) -> set[str]:
    """The modules the failure was raised through, following explicit causes."""
    names: set[str] = set()
    seen: BaseException | None = exc
    while seen is not None:
        tb = seen.__traceback__
        while tb is not None:
            names.add(str(tb.tb_frame.f_globals.get("__name__", "")))
            tb = tb.tb_next
        seen = seen.__cause__
    return names


def _through(modules: set[str], *packages: str) -> bool:
    return any(name == package or name.startswith(f"{package}.") for name in modules for package in packages)


def _why(exc: BaseException) -> str:
    """A short reason for a network or file failure: `connection refused`, `unknown host name`, …"""
    import aiohttp

    if isinstance(exc, socket.gaierror) or isinstance(getattr(exc, "os_error", None), socket.gaierror):
        return "unknown host name"  # aiohttp's ClientConnectorDNSError (3.11+) carries the gaierror as os_error
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | ssl.SSLCertVerificationError):
        return "its TLS certificate cannot be verified"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _network(exc: BaseException) -> bool:
    import aiohttp

    return isinstance(exc, OSError | TimeoutError | aiohttp.ClientError)


def _database_problem(exc: BaseException, modules: set[str], meta: dict[str, Any]) -> str | None:
    """The database cannot be reached, refuses the login, or (SQLite) its file cannot be opened or written.
    Other database errors are bugs and keep their traceback."""
    from sqlalchemy.exc import DBAPIError

    url = meta.get(DATABASE)
    if url is None:
        return None
    shown = make_url(url).render_as_string(hide_password=True)
    fix = f"Set DATABASE_URL to a database this machine can reach and log in to ({SUPPORTED_DATABASES})."
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        sqlstate = str(getattr(orig, "sqlstate", None) or "")
        message = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
        if sqlstate[:2] in ("08", "28", "3D") or sqlstate in ("53300", "57P03"):
            return f"the database at {shown} refused the connection ({message}). {fix}"
        if type(orig).__module__ == "sqlite3" and ("unable to open" in message or "readonly" in message):
            folder = Path(make_url(url).database or ".").parent.absolute()
            return (
                f"the SQLite database {shown} cannot be opened or written ({message}). Set DATABASE_URL to a file in "
                f"a folder this user can write (now {folder})."
            )
        return None
    if type(exc).__module__.startswith("alembic") and "Can't locate revision" in str(exc):
        return (
            f"the database at {shown} was migrated by a newer version of the bot ({exc}). Run that version, or set "
            "DATABASE_URL to another database."
        )
    if _through(modules, "asyncpg") and _network(exc):
        return f"cannot reach the database at {shown} ({_why(exc)}). {fix}"
    return None


def _listen_problem(exc: BaseException, modules: set[str], meta: dict[str, Any]) -> str | None:
    """A port the bot listens on (WEB_PORT for the public page, SLACK_PORT for Slack's HTTP mode) is taken or
    not allowed, or the address to listen on (WEB_HOST) is not this machine's."""
    if not isinstance(exc, OSError) or not _through(modules, "aiohttp.web_runner"):
        return None
    slack = _through(modules, "adapters.slack.app")  # serve_http: Slack's HTTP mode
    setting, what = ("SLACK_PORT", "Slack's HTTP mode") if slack else ("WEB_PORT", "the public page")
    found = re.search(r"address \('([^']*)', (\d+)", str(exc))
    host, port = (found[1], found[2]) if found else ("", "its port")
    also = " (SLACK_PORT and WEB_PORT must differ)" if slack and port == str(WebSettings().web_port) else ""
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is already in use, so {what} cannot listen{also}. Set {setting} to a free port."
    if exc.errno == errno.EACCES:
        return f"this user may not listen on port {port} ({what}). Set {setting} to a port above 1023."
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return (
            f"cannot listen on {host or 'WEB_HOST'} ({_why(exc)}). Set WEB_HOST to an address of this machine, "
            "or 0.0.0.0 for all of them."
        )
    return f"{what} cannot listen on port {port} ({_why(exc)}). Set {setting} to a port this machine can open."


SLACK_TOKEN_REFUSALS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type"}
)


def _slack_problem(exc: BaseException, modules: set[str], meta: dict[str, Any]) -> str | None:
    """Slack refuses a token (auth.test for SLACK_BOT_TOKEN, apps.connections.open for SLACK_APP_TOKEN), or
    cannot be reached at SLACK_API_BASE_URL."""
    oauth = sys.modules.get("adapters.slack.oauth")
    if oauth is not None and isinstance(exc, oauth.TokenKeyError):
        return str(exc)
    errors = sys.modules.get("slack_sdk.errors")
    if errors is not None and isinstance(exc, errors.SlackApiError):
        method = str(getattr(exc.response, "api_url", "")).rstrip("/").rsplit("/", 1)[-1] or "Slack"
        data = getattr(exc.response, "data", None)
        code = data.get("error") if isinstance(data, dict) else None
        code = code or f"HTTP {getattr(exc.response, 'status_code', '?')}"
        if method == "apps.connections.open":
            token = "SLACK_APP_TOKEN"
            fix = (
                "an app-level token (xapp-…) with connections:write, from Basic Information → App-Level Tokens, "
                "or unset it for HTTP mode"
            )
        else:
            token, fix = "SLACK_BOT_TOKEN", "the app's Bot User OAuth Token (xoxb-…), under Install App"
        if code in SLACK_TOKEN_REFUSALS:
            return f"Slack refused {token} ({method}: {code}). Set {token} to {fix}."
        return f"Slack answered {method} with {code}. Check {token} and the app's settings (see docs/slack.md)."
    if not _through(modules, "slack_sdk", "slack_bolt") or not _network(exc):
        return None
    url = meta.get(API_URL) or DEFAULT_SLACK_API
    if url == DEFAULT_SLACK_API:
        return (
            f"cannot reach Slack at {url} ({_why(exc)}). Let this machine reach slack.com over HTTPS (network, "
            "DNS, firewall); SLACK_API_BASE_URL is for test doubles only."
        )
    return (
        f"cannot reach Slack at {url} ({_why(exc)}). Set SLACK_API_BASE_URL to a Slack API that answers, or unset "
        "it to reach Slack itself."
    )


def _discord_problem(exc: BaseException, modules: set[str], meta: dict[str, Any]) -> str | None:
    """Discord refuses DISCORD_TOKEN, answers the login with an error, or cannot be reached."""
    discord = sys.modules.get("discord")
    if discord is None:
        return None
    if isinstance(exc, discord.LoginFailure):
        return (
            f"Discord refused DISCORD_TOKEN ({exc}). Set DISCORD_TOKEN to the bot's token (Developer Portal → "
            "your application → Bot → Reset Token)."
        )
    if not _through(modules, "discord"):
        return None
    url = meta.get(API_URL) or DEFAULT_DISCORD_API
    if isinstance(exc, discord.HTTPException):
        return f"Discord answered {exc.status} ({exc.text or 'no reason given'}) at {url}. Try again later; set DISCORD_API_BASE_URL only for test doubles."
    if isinstance(exc, discord.GatewayNotFound | discord.ConnectionClosed):
        return f"cannot connect to Discord's gateway ({exc}). Let this machine reach discord.com (network, firewall)."
    if not _network(exc):
        return None
    if url == DEFAULT_DISCORD_API:
        return (
            f"cannot reach Discord at {url} ({_why(exc)}). Let this machine reach discord.com over HTTPS (network, "
            "DNS, firewall); DISCORD_API_BASE_URL is for test doubles only."
        )
    return (
        f"cannot reach Discord at {url} ({_why(exc)}). Set DISCORD_API_BASE_URL to a Discord API that answers, or "
        "unset it to reach Discord itself."
    )


if __name__ == "__main__":
    main()
