"""Where the public page listens: `WEB_HOST` and `WEB_PORT` (SPEC §6), from the environment or `.env`."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    web_host: str = "0.0.0.0"
    web_port: int = 8080
