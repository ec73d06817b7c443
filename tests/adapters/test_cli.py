"""`symposium-bot` at the operator's edges: the usual failures end in one `Error: … Set …` line and exit code 1
(the traceback only with `--debug`), each invalid setting is named, the console says who its editors are, the
README's walkthrough runs as written, and `.env.example` lists every setting."""

import importlib
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pydantic_settings import BaseSettings

from adapters.cli import main

ROOT = Path(__file__).resolve().parents[2]


def settings_classes() -> list[type[BaseSettings]]:
    """Every settings class of the bot, found in its source, so a new one cannot be missed."""
    found = []
    for path in sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "adapters").rglob("*.py")]):
        for name in re.findall(r"^class (\w+)\(BaseSettings\)", path.read_text(encoding="utf-8"), re.M):
            module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
            found.append(getattr(module, name))
    return found


SETTINGS = sorted({field.upper() for cls in settings_classes() for field in cls.model_fields})


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def occupied() -> Iterator[int]:
    """A port on 127.0.0.1 that this test holds."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


class FakeApi(BaseHTTPRequestHandler):
    """Slack's auth.test (a token ending in `good` passes, any other is invalid_auth) and Discord's REST API
    (every call 401, as for a wrong token)."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/auth.test"):
            token_ok = self.headers.get("Authorization", "").endswith("good")
            status = 200
            body: dict[str, object] = (
                {"ok": True, "user": "symposium", "user_id": "UBOT", "team_id": "T1"}
                if token_ok
                else {"ok": False, "error": "invalid_auth"}
            )
        else:
            status, body = 401, {"message": "401: Unauthorized", "code": 0}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    """The fake's base address, http://127.0.0.1:<port>."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No setting from the machine or a `.env`; a throw-away database, a public address (so the page does not
    warn) and a free page port."""
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://symposium.example.org")
    monkeypatch.setenv("WEB_HOST", "127.0.0.1")
    monkeypatch.setenv("WEB_PORT", str(closed_port()))
    return monkeypatch


def invoke(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin)


def one_error(result: Result) -> str:
    """The single `Error: …` line a failure must end in, with exit code 1."""
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1, (result.output, result.exception)
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: "), result.output
    return lines[0]


# A busy port, a refused token, an unreachable Slack, Discord or database: one line each.


def test_a_busy_web_port_is_one_line_naming_web_port(env: pytest.MonkeyPatch, occupied: int) -> None:
    env.setenv("WEB_PORT", str(occupied))
    line = one_error(invoke("web"))
    assert (
        line
        == f"Error: port {occupied} is already in use, so the public page cannot listen. Set WEB_PORT to a free port."
    )


def test_debug_shows_the_traceback_instead(env: pytest.MonkeyPatch, occupied: int) -> None:
    env.setenv("WEB_PORT", str(occupied))
    result = invoke("--debug", "web")
    assert isinstance(result.exception, OSError)  # not turned into a line: click would print its traceback


def test_a_busy_slack_port_is_one_line_naming_slack_port(env: pytest.MonkeyPatch, api: str, occupied: int) -> None:
    env.setenv("SLACK_BOT_TOKEN", "xoxb-good")
    env.setenv("SLACK_SIGNING_SECRET", "secret")
    env.setenv("SLACK_API_BASE_URL", f"{api}/api/")
    env.setenv("SLACK_PORT", str(occupied))
    line = one_error(invoke("run"))
    assert (
        line
        == f"Error: port {occupied} is already in use, so Slack's HTTP mode cannot listen. Set SLACK_PORT to a free port."
    )


def test_slack_refusing_the_bot_token_is_one_line(env: pytest.MonkeyPatch, api: str) -> None:
    env.setenv("SLACK_BOT_TOKEN", "xoxb-revoked")
    env.setenv("SLACK_SIGNING_SECRET", "secret")
    env.setenv("SLACK_API_BASE_URL", f"{api}/api/")
    line = one_error(invoke("run"))
    assert line.startswith("Error: Slack refused SLACK_BOT_TOKEN (auth.test: invalid_auth). Set SLACK_BOT_TOKEN to ")


def test_slack_unreachable_is_one_line(env: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{closed_port()}/api/"
    env.setenv("SLACK_BOT_TOKEN", "xoxb-good")
    env.setenv("SLACK_APP_TOKEN", "xapp-good")
    env.setenv("SLACK_API_BASE_URL", url)
    line = one_error(invoke("run"))
    assert line.startswith(f"Error: cannot reach Slack at {url} (connection refused). Set SLACK_API_BASE_URL ")


def test_discord_refusing_the_token_is_one_line(env: pytest.MonkeyPatch, api: str) -> None:
    env.setenv("DISCORD_TOKEN", "not-a-token")
    env.setenv("DISCORD_API_BASE_URL", f"{api}/api/v10")
    line = one_error(invoke("run"))
    assert line.startswith("Error: Discord refused DISCORD_TOKEN (Improper token has been passed.). Set DISCORD_TOKEN")


def test_discord_unreachable_is_one_line(env: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{closed_port()}/api/v10"
    env.setenv("DISCORD_TOKEN", "a-token")
    env.setenv("DISCORD_API_BASE_URL", url)
    line = one_error(invoke("run", "--deliver-only"))
    assert line.startswith(f"Error: cannot reach Discord at {url} (connection refused). Set DISCORD_API_BASE_URL ")


def test_an_unreachable_database_is_one_line_without_its_password(env: pytest.MonkeyPatch) -> None:
    port = closed_port()
    env.setenv("DATABASE_URL", f"postgresql+asyncpg://bot:hunter2@127.0.0.1:{port}/symposium")
    line = one_error(invoke("db", "upgrade"))
    assert line.startswith(
        f"Error: cannot reach the database at postgresql+asyncpg://bot:***@127.0.0.1:{port}/symposium "
        "(connection refused). Set DATABASE_URL to "
    )
    assert "hunter2" not in line


def test_a_database_url_the_bot_cannot_use_is_one_line(env: pytest.MonkeyPatch) -> None:
    env.setenv("DATABASE_URL", "postgresql://bot@127.0.0.1/symposium")
    assert "names the driver 'postgresql'" in one_error(invoke("db", "upgrade"))
    env.setenv("DATABASE_URL", "symposium.db")
    assert one_error(invoke("db", "upgrade")).startswith("Error: DATABASE_URL is not a database URL. Set DATABASE_URL")


def test_a_missing_sqlite_folder_is_one_line(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/nowhere/symposium.db")
    line = one_error(invoke("db", "upgrade"))
    assert line.startswith(f"Error: the SQLite database's folder {tmp_path}/nowhere does not exist.")
    assert "set DATABASE_URL" in line


def test_an_unwritable_sqlite_folder_is_one_line(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o500)
    if os.access(folder, os.W_OK):  # root writes anywhere a mode allows nothing; sysfs refuses even root
        folder = Path("/sys")
        if not folder.is_dir() or os.access(folder / "symposium.db", os.F_OK):
            pytest.skip("no folder here that this user cannot write")
    env.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{folder}/symposium.db")
    line = one_error(invoke("run"))
    assert line.startswith(f"Error: the SQLite database's folder {folder} cannot be written (")
    assert "Set DATABASE_URL to a file in a folder this user can write" in line


@pytest.mark.slow  # a process of its own: 1.2 s alone, over 2 s beside the other tests
def test_a_real_process_prints_one_line_and_no_voice_warnings(env: pytest.MonkeyPatch, api: str) -> None:
    """In a process of its own, as an operator runs it: stderr holds the one line, nothing else (no traceback,
    no discord.py voice warnings)."""
    env.setenv("DISCORD_TOKEN", "not-a-token")
    env.setenv("DISCORD_API_BASE_URL", f"{api}/api/v10")
    done = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "run"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "Error: Discord refused DISCORD_TOKEN (Improper token has been passed.). Set DISCORD_TOKEN to the bot's "
        "token (Developer Portal → your application → Bot → Reset Token)."
    ]


def test_slack_refusing_the_app_token_names_slack_app_token() -> None:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.slack_response import SlackResponse

    from adapters.cli import explain

    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/apps.connections.open",
        req_args={},
        data={"ok": False, "error": "invalid_auth"},
        headers={},
        status_code=200,
    )
    assert explain(SlackApiError("failed", response), {}) == [
        "Slack refused SLACK_APP_TOKEN (apps.connections.open: invalid_auth). Set SLACK_APP_TOKEN to an app-level "
        "token (xapp-…) with connections:write, from Basic Information → App-Level Tokens, or unset it for HTTP mode."
    ]


# Invalid settings are named, with the reason.


def test_a_bad_discord_setting_is_named_not_reported_as_a_missing_token(env: pytest.MonkeyPatch) -> None:
    env.setenv("DISCORD_TOKEN", "a-token")
    env.setenv("DISCORD_CALLS_PER_SECOND", "fast")
    line = one_error(invoke("run"))
    assert line.startswith(
        "Error: DISCORD_CALLS_PER_SECOND: Input should be a valid number, unable to parse string as a number "
        "(got 'fast')"
    )
    assert "docs/discord.md" in line


def test_each_bad_slack_setting_is_named(env: pytest.MonkeyPatch) -> None:
    env.setenv("SLACK_BOT_TOKEN", "xoxb-good")
    env.setenv("SLACK_SIGNING_SECRET", "secret")
    env.setenv("SLACK_PORT", "http")
    env.setenv("SLACK_POST_INTERVAL_SECONDS", "-1")
    result = invoke("run")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: SLACK_PORT: Input should be a valid integer, unable to parse string as an integer (got 'http'). "
        "Set SLACK_PORT (see docs/slack.md).",
        "Error: SLACK_POST_INTERVAL_SECONDS: Input should be greater than or equal to 0 (got '-1'). "
        "Set SLACK_POST_INTERVAL_SECONDS (see docs/slack.md).",
    ]


def test_missing_and_misplaced_tokens_are_named(env: pytest.MonkeyPatch) -> None:
    assert (
        one_error(invoke("run", "--platform", "discord"))
        == "Error: DISCORD_TOKEN is not set. Set DISCORD_TOKEN (see docs/discord.md)."
    )
    env.setenv("SLACK_BOT_TOKEN", "xoxb-good")
    assert one_error(invoke("run")).startswith("Error: SLACK_SIGNING_SECRET is not set: HTTP mode needs it")
    env.setenv("SLACK_BOT_TOKEN", "xapp-1-abc")
    env.setenv("SLACK_APP_TOKEN", "xapp-1-abc")
    line = one_error(invoke("run"))
    assert line.startswith("Error: SLACK_BOT_TOKEN: this is an app-level token (xapp-…), which goes in SLACK_APP_TOKEN")
    assert "xapp-1-abc" not in line  # tokens are never echoed


def test_a_bad_core_setting_is_named(env: pytest.MonkeyPatch) -> None:
    env.setenv("DELIVERY_WORKERS", "many")
    assert one_error(invoke("db", "upgrade")).startswith("Error: DELIVERY_WORKERS: Input should be a valid integer")


# The console says who may run a symposium, and the README's walkthrough runs as written.


def test_make_run_s_console_says_who_the_editors_are_and_how_to_be_one(env: pytest.MonkeyPatch) -> None:
    result = invoke("run", stdin="")
    assert result.exit_code == 0, result.output
    assert "Editors: editor. Only editors open and run a symposium" in result.output
    assert "`symposium-bot run --editors <name>[,<name>…]`" in result.output
    assert "--clock simulated" in result.output


def readme_walkthrough() -> tuple[list[str], str]:
    """The console command line the README shows and the lines it says to type after it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Try it in the console", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w*)\n(.*?)```", section, re.S)
    command = next(body for kind, body in blocks if kind == "sh" and "symposium-bot console" in body)
    args = shlex.split(command.strip())
    assert args[0].endswith("symposium-bot")
    lines = next(body for kind, body in blocks if kind == "" and "/symposium open" in body)
    return args[1:], lines


def test_the_readme_walkthrough_runs_as_written_to_an_announcement(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    args, lines = readme_walkthrough()
    assert "simulated" in args  # so that it works as written on any day
    assert "--start" in args
    script = tmp_path / "walkthrough.txt"
    script.write_text(lines, encoding="utf-8")
    result = invoke(*args, "--script", str(script))
    assert result.exit_code == 0, result.output
    assert "/symposium publish" in lines
    assert "can't" not in result.output, result.output
    announcement = re.search(r"^#\d+ \[#general\] New essay: (.+)$", result.output, re.M)
    assert announcement is not None, result.output
    assert announcement[1] in lines  # the title alice gave
    index = result.output.rsplit("Essay Index:", 1)[1]
    assert announcement[1] in index  # and the Essay Index lists it


# The settings file an operator copies lists every setting.


def test_env_example_lists_every_setting_with_a_comment() -> None:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    listed = {line.split("=", 1)[0]: n for n, line in enumerate(lines) if re.match(r"^[A-Z_]+=", line)}
    assert [name for name in SETTINGS if name not in listed] == []
    for name, n in listed.items():
        assert lines[n - 1].startswith("# "), f"{name} has no comment line above it"
