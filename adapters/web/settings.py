"""Where the public page listens, `WEB_HOST` and `WEB_PORT` (SPEC §6), and how fresh it stays,
`WEB_REFRESH_SECONDS`: from the environment or `.env`."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    web_host: str = "0.0.0.0"
    web_port: int = 8080
    web_refresh_seconds: float = Field(default=1.0, gt=0, le=3600)
    """How often the page re-reads the symposia: a public change shows within this, plus one refresh's time."""
