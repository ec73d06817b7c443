"""The console adapter and the CLI: the demo transcript, script lines, and the commands of `symposium-bot`."""

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.cli import main
from tests.conftest import OPEN, Harness, blocks

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "transcripts"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    return CliRunner()


@pytest.mark.slow  # the whole 2023 symposium, in a process of its own
def test_the_demo_runs_the_2023_symposium_start_to_finish(runner: CliRunner) -> None:
    result = runner.invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    expected = (TRANSCRIPTS / "demo.txt").read_text(encoding="utf-8")
    if os.environ.get("UPDATE_TRANSCRIPTS"):
        (TRANSCRIPTS / "demo.txt").write_text(result.output, encoding="utf-8")
    assert result.output == expected
    out = blocks(result.output)
    titles = [b.split("\n")[0].split("] ", 1)[1] for b in out if "[#general] New essay:" in b]
    assert titles == [
        "New essay: Good data engineers are lazy",
        "New essay: Will active metadata eat the orchestrator",
        "New essay: Limits of the Event-Driven Orchestrator",
        "New essay: Data Materialization is a Convergence Problem",
        "New essay: Orchestration isn't going anywhere",
    ]
    public = [b for b in out if b.split(" ")[1].startswith("[#general")]
    assert any("by Harry Flow" in b for b in public)
    assert not any("@cy" in b or " cy " in b or "by cy" in b for b in public)
    assert any("[private to fay] Intent withdrawn" in b for b in out)
    assert any("[DM gus] “Why you should buy our orchestrator”: declined" in b for b in out)
    assert any("Reminder: Intent to Submit" in b for b in out)
    assert any("Publication day" in b for b in out)
    # Publication day (issue 11): a date confirmed, another day proposed and accepted, a preview edited by a
    # comment, a cross-post found in the feed of a site the demo serves, and one missed day reported.
    assert any(b.startswith("[private to ben] Essay 2: date confirmed") for b in out)
    assert any(b.startswith("[private to ed] Essay 4: day accepted") for b in out)
    assert any("(edited) [#review] New essay: Limits" in b and "to its limits." in b for b in out)
    (dee,) = [b for b in public if "New essay: Data Materialization" in b]
    assert "http://dee.example.com/p/convergence" in dee
    assert not any(line.startswith("> dee: /submit live:") for line in result.output.splitlines())
    assert len([b for b in out if "[#review] Essay 1 is not live" in b]) == 1


def test_db_upgrade_and_run_refuses_two_tokens(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    monkeypatch.setenv("DISCORD_TOKEN", "x")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "y")
    result = runner.invoke(main, ["run"])
    assert result.exit_code != 0
    assert "choose one with --platform" in result.output


def test_console_script_runs_lines_in_other_channels(runner: CliRunner, tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text(f"{OPEN}\nerin in #essays: /symposium help\nthis is not a line\nclock: soon\n", encoding="utf-8")
    args = ["console", "--script", str(script), "--editors", "erin", "--start", "2023-02-01T09:00+00:00"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "[private to erin] Symposium Bot: commands" in result.output
    assert "I can't read “this is not a line”" in result.output
    assert "I can't read the time “soon”" in result.output


async def test_reactions_on_unknown_messages_are_explained(harness: Harness) -> None:
    await harness.run(OPEN)
    assert "there is no message #99 to react to" in await harness.run("erin: react ✅ #99")
    assert await harness.run("erin: react 🎉 #1") == ""
