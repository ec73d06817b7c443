"""The fault tests kill processes, restart a PostgreSQL server and load the bot: seconds each, so they run with
`make test-slow` (CI runs both), not with `make test`."""

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.slow)
