"""The core stays platform-neutral: no module under bot/ imports a chat library."""

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"
FORBIDDEN = ("discord", "slack_bolt", "slack_sdk", "slack", "aiohttp", "adapters")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(BOT.rglob("*.py")), ids=lambda p: str(p.relative_to(BOT)))
def test_core_module_imports_no_platform(path: Path) -> None:
    leaks = {m for m in imported_modules(path) if m.split(".")[0] in FORBIDDEN}
    assert not leaks, f"{path} imports {leaks}"


def test_the_check_sees_an_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import discord\nfrom slack_bolt.async_app import AsyncApp\n", encoding="utf-8")
    assert imported_modules(sample) == {"discord", "slack_bolt.async_app"}
