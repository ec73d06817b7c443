"""Slack settings, read from the environment (and `.env`)."""

from typing import Self

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SlackSettings(BaseSettings):
    """`SLACK_APP_TOKEN` set means Socket Mode; otherwise HTTP mode on `SLACK_PORT` at `/slack/events`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    slack_bot_token: str
    slack_app_token: str | None = None
    slack_signing_secret: str = ""
    slack_port: int = 3000
    slack_api_base_url: str = "https://slack.com/api/"
    # Slack's limit is about one message a second per channel; tests set 0.
    slack_post_interval_seconds: float = 1.0
    # Pace every Web API method under Slack's published tier for it, so bursts do not end in 429s; tests turn it off.
    slack_pace_methods: bool = True

    @field_validator("slack_api_base_url")
    @classmethod
    def _ends_with_slash(cls, value: str) -> str:
        if not value.endswith("/"):
            raise ValueError("SLACK_API_BASE_URL must end with / (slack-sdk appends method names to it)")
        return value

    @model_validator(mode="after")
    def _http_mode_needs_a_secret(self) -> Self:
        if not self.slack_app_token and not self.slack_signing_secret:
            raise ValueError("HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode)")
        return self

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)
