"""`symposium-bot`: run, console, demo, web and db upgrade."""

import asyncio
import contextlib
import logging
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from tempfile import TemporaryDirectory

import click
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.web.settings import WebSettings
from bot.clock import Clock, SimulatedClock, SystemClock
from bot.db.engine import make_engine
from bot.db.migrate import upgrade
from bot.settings import CoreSettings

DEMO_START = datetime(2023, 2, 1, 9, 0, tzinfo=UTC)


class Tokens(BaseSettings):
    """Which chat platforms have a token (in the environment or `.env`): that picks what `run` connects to."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    discord_token: str | None = None
    slack_bot_token: str | None = None


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log what the bot does.")
def main(verbose: bool) -> None:
    """Symposium Bot: run a writing symposium in Discord, Slack or a local console."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@main.command()
@click.option("--platform", type=click.Choice(["console", "slack", "discord"]), help="Which chat to connect to.")
@click.option("--deliver-only", is_flag=True, help="Only deliver the outbox (extra workers on PostgreSQL).")
@click.option("--editors", default="editor", show_default=True, help="Console only: comma-separated editors.")
def run(platform: str | None, deliver_only: bool, editors: str) -> None:
    """Start the bot: Discord if DISCORD_TOKEN is set, Slack if SLACK_BOT_TOKEN is set, else the console."""
    given = Tokens()
    tokens = [name for name, token in (("discord", given.discord_token), ("slack", given.slack_bot_token)) if token]
    if platform is None:
        if len(tokens) > 1:
            raise click.UsageError("Both DISCORD_TOKEN and SLACK_BOT_TOKEN are set: choose one with --platform.")
        platform = tokens[0] if tokens else "console"
    if platform == "discord":
        _run_discord(deliver_only)
        return
    if platform == "slack":
        _run_slack(deliver_only)
        return
    if deliver_only:
        raise click.UsageError("--deliver-only delivers for Discord or Slack: set DISCORD_TOKEN or SLACK_BOT_TOKEN.")
    asyncio.run(_console(None, _names(editors), SystemClock(), CoreSettings(), WebSettings()))


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
        clock = SimulatedClock(datetime.fromisoformat(start) if start else datetime.now(UTC))
    text = script.read_text(encoding="utf-8") if script else None
    asyncio.run(_console(text, _names(editors), clock, CoreSettings(), WebSettings() if web else None))


@main.command()
def demo() -> None:
    """The 2023 orchestrator symposium, start to finish, on a simulated clock."""
    text = resources.files("adapters.console").joinpath("demo.txt").read_text(encoding="utf-8")
    with TemporaryDirectory() as folder:
        settings = CoreSettings(database_url=f"sqlite+aiosqlite:///{folder}/demo.db")
        asyncio.run(_console(text, {"erin", "ed"}, SimulatedClock(DEMO_START), settings, None))


@main.command("web")
def web_only() -> None:
    """Serve the public page alone (SPEC §6), on WEB_HOST:WEB_PORT."""
    from adapters.runtime import migrated_engine, public_page

    async def serve() -> None:
        settings, web = CoreSettings(), WebSettings()
        async with migrated_engine(settings) as engine, public_page(engine, settings, SystemClock(), web):
            click.echo(f"public page on http://{web.web_host}:{web.web_port}/ (Ctrl-C stops)")
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations to DATABASE_URL and stop."""

    async def go() -> None:
        engine = make_engine(CoreSettings().database_url)
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(go())
    click.echo("database is up to date")


def _run_discord(deliver_only: bool) -> None:
    from pydantic import ValidationError

    from adapters.discord.main import run_discord
    from adapters.discord.settings import DiscordSettings

    try:
        settings = DiscordSettings()
    except ValidationError as exc:
        raise click.UsageError("Discord needs DISCORD_TOKEN (see docs/discord.md).") from exc
    web = None if deliver_only else WebSettings()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_discord(CoreSettings(), settings, SystemClock(), deliver_only=deliver_only, web=web))


def _run_slack(deliver_only: bool) -> None:
    from pydantic import ValidationError

    from adapters.slack.main import run_slack
    from adapters.slack.settings import SlackSettings

    try:
        settings = SlackSettings()
    except ValidationError as exc:
        raise click.UsageError(
            "Slack needs SLACK_BOT_TOKEN, and SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode); "
            f"see docs/slack.md. {exc.errors()[0]['msg']}"
        ) from exc
    web = None if deliver_only else WebSettings()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_slack(CoreSettings(), settings, SystemClock(), deliver_only=deliver_only, web=web))


def _names(editors: str) -> set[str]:
    return {n.strip() for n in editors.split(",") if n.strip()}


async def _console(
    script: str | None, editors: set[str], clock: Clock, settings: CoreSettings, web: WebSettings | None
) -> None:
    from adapters.console.adapter import ConsolePlatform, ConsoleSession
    from adapters.runtime import running_core

    platform = ConsolePlatform(clock, print)
    async with running_core(settings, platform, clock, web=web) as bot:
        if web is not None:
            print(f"Public page: http://{web.web_host}:{web.web_port}/")
        session = ConsoleSession(bot, platform, clock, editors)
        await bot.tick()
        if script is not None:
            for line in script.splitlines():
                if line.strip() and not line.startswith("#"):
                    print(f"> {line}")
                await session.run_line(line)
            return
        print("Symposium Bot console. Lines: `<user>: <text>`, `<user>: react ✅ #n`, `clock: +2d`. Ctrl-D quits.")
        print(
            f"Editors: {', '.join(sorted(editors)) or 'none (start with --editors you)'}. Try: <name>: /symposium help"
        )
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            await session.run_line(line)
