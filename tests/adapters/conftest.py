"""An adapter translates: what it asks of the database goes through the core, whose tests run on SQLite and
PostgreSQL in `make test`. So an adapter test's PostgreSQL run is in the slow tier (`make test-slow`; CI runs
both), except for the adapters that read or write the database themselves: the public page, the DM channel ids,
Slack's installations and Discord's shard processes."""

from pathlib import Path

import pytest

HERE = Path(__file__).parent
QUERY_THE_DATABASE = {
    "test_web.py",
    "test_web_cache.py",
    "test_dm_fanout.py",
    "test_slack_oauth.py",
    "test_discord_shards.py",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        params = getattr(item, "callspec", None)
        on_postgresql = params is not None and params.params.get("database_url") == "postgresql"
        if on_postgresql and item.path.is_relative_to(HERE) and item.path.name not in QUERY_THE_DATABASE:
            item.add_marker(pytest.mark.slow)
