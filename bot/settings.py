"""Core settings, read from the environment (and `.env`)."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class CoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    database_url: str = "sqlite+aiosqlite:///symposium.db"
    public_base_url: str | None = None
    delivery_interval_seconds: float = 15.0
    delivery_max_attempts: int = 8
