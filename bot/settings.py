"""Core settings, read from the environment (and `.env`)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    database_url: str = "sqlite+aiosqlite:///symposium.db"
    public_base_url: str | None = None
    delivery_interval_seconds: float = 15.0
    delivery_max_attempts: int = 8
    # Rows delivered at once by one process; rows to one destination still go out one after another, in order.
    delivery_workers: int = 8
    # Rows of a fan-out (reminders, a message to every participant) delivered at once by one process. Platforms pace
    # fan-outs anyway; a few senders reach their limits, and leave the database and the loop to commands meanwhile.
    delivery_fan_out_workers: int = Field(3, ge=1)
    # Rows of one community (a Slack workspace, a Discord server) delivered at once by one process (unset: no limit),
    # so a community its platform makes wait never holds every worker; a bot for many workspaces sets half of them.
    delivery_workers_per_community: int | None = Field(None, ge=1)
    # How long a claimed row is held for its sender; past it, the row is in doubt and another process resolves it.
    delivery_lease_seconds: float = 120.0
    # How long recording an arrival may take before the request is acknowledged anyway (and handled from memory).
    receive_within_seconds: float = 1.0
    # The least time between two looks at one essay's page or feed on its day (feeds are polled at most this often).
    live_poll_minutes: float = Field(15.0, ge=15.0)
    # Pages and feeds fetched at once.
    live_concurrency: int = Field(16, ge=1)
