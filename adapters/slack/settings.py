"""Slack settings, read from the environment (and `.env`)."""

from typing import Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SlackSettings(BaseSettings):
    """`SLACK_APP_TOKEN` set means Socket Mode; otherwise HTTP mode on `SLACK_PORT` at `/slack/events`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    slack_bot_token: str
    slack_app_token: str | None = None
    slack_signing_secret: str = ""
    slack_port: int = Field(default=3000, ge=1, le=65535)
    slack_api_base_url: str = "https://slack.com/api/"
    # Slack's limit is about one message a second per channel; tests set 0.
    slack_post_interval_seconds: float = Field(default=1.0, ge=0)
    # Pace every Web API method under Slack's published tier for it, so bursts do not end in 429s; tests turn it off.
    slack_pace_methods: bool = True
    # Posts a minute across the workspace (0: none; Slack has none, it limits posts per channel).
    slack_post_ceiling_per_minute: int = Field(default=0, ge=0)
    # How long who a person is (users.info: name, admin or owner) is remembered before Slack is asked again.
    slack_people_ttl_seconds: float = Field(default=600.0, ge=0)

    @field_validator("slack_api_base_url")
    @classmethod
    def _ends_with_slash(cls, value: str) -> str:
        if not value.endswith("/"):
            raise ValueError("must end with / (slack-sdk appends method names to it)")
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _a_bot_token(cls, value: str) -> str:
        if value.startswith("xapp-"):
            raise ValueError(
                "this is an app-level token (xapp-…), which goes in SLACK_APP_TOKEN; the bot token is xoxb-…"
            )
        if value.startswith("xoxp-"):
            raise ValueError("this is a user token (xoxp-…); the bot token is the Bot User OAuth Token, xoxb-…")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _an_app_token(cls, value: str | None) -> str | None:
        if value is not None and value.startswith(("xoxb-", "xoxp-")):
            raise ValueError(
                "this is not an app-level token: SLACK_APP_TOKEN is xapp-… (Basic Information → App-Level Tokens)"
            )
        return value

    @model_validator(mode="after")
    def _http_mode_needs_a_secret(self) -> Self:
        if not self.slack_app_token and not self.slack_signing_secret:
            raise ValueError(
                "SLACK_SIGNING_SECRET is not set: HTTP mode needs it (Basic Information → App Credentials); "
                "or set SLACK_APP_TOKEN for Socket Mode"
            )
        return self

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)
