"""The bot as its own process (`python -m adapters.cli run`), for tests that kill it, restart it, or run two.

It talks to the test's fake Slack and database through the environment, as an operator configures it, and runs
in a folder of its own (so no `.env` of the checkout is read). Readiness is a line the bot logs, read as it comes.
"""

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Self

from tests.fakes.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
SECRET = "fault-signing-secret"
READY_HTTP = "Slack HTTP mode on port"
READY_DELIVERY = "delivering the outbox only"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def slack_env(fake: FakeSlack, database_url: str, **extra: str) -> dict[str, str]:
    """What an operator would set for Slack HTTP mode, pointed at the fake, with short leases for the tests."""
    return {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_BASE_URL": fake.api_url,
        "SLACK_PORT": str(free_port()),
        "SLACK_PACE_METHODS": "false",
        "SLACK_POST_INTERVAL_SECONDS": "0",
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(free_port()),
        "DELIVERY_INTERVAL_SECONDS": "0.2",
        "DELIVERY_LEASE_SECONDS": "3",
    } | extra


class BotProcess:
    """`async with BotProcess(folder, env, "--deliver-only") as bot:` starts it and waits until it is ready;
    leaving stops it with SIGTERM unless it was killed."""

    def __init__(self, folder: Path, env: dict[str, str], *args: str, ready: str = READY_HTTP) -> None:
        self.folder, self.env, self.args, self.ready = folder, env, args, ready
        self.lines: list[str] = []
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._seen = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['SLACK_PORT']}/slack/events"

    async def __aenter__(self) -> Self:
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "DATABASE_"))}
        env |= self.env | {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "adapters.cli",
            "-v",
            "run",
            "--platform",
            "slack",
            *self.args,
            cwd=self.folder,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())
        try:
            async with asyncio.timeout(30):
                await self._seen.wait()
        except TimeoutError:
            raise AssertionError("the bot did not start:\n" + "\n".join(self.lines[-30:])) from None
        return self

    async def _read(self) -> None:
        assert self._proc is not None
        assert self._proc.stderr is not None
        async for raw in self._proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if self.ready in line:
                self._seen.set()

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as an OOM killer or a pulled plug."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGKILL)
        await self._proc.wait()

    async def __aexit__(self, *exc_info: object) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(20):
                    await self._proc.wait()
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        errors = [line for line in self.lines if line.startswith(("ERROR", "CRITICAL", "Traceback"))]
        assert not errors, "the bot logged errors:\n" + "\n".join(self.lines[-40:])
