"""Slack settings, read from the environment (and `.env`)."""

from typing import Self

from cryptography.fernet import Fernet, MultiFernet
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

NEW_KEY = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"


class SlackSettings(BaseSettings):
    """`SLACK_APP_TOKEN` set means Socket Mode; otherwise HTTP mode on `SLACK_PORT` at `/slack/events`.

    With `SLACK_CLIENT_ID` and `SLACK_CLIENT_SECRET` and no `SLACK_BOT_TOKEN`, the app is distributed: any
    workspace installs it at /slack/install (OAuth), and each install's tokens are kept in the database,
    encrypted with `TOKEN_ENCRYPTION_KEY`.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    slack_bot_token: str | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    # Fernet keys, comma-separated: the first encrypts, any decrypts (list the new key first to rotate).
    token_encryption_key: SecretStr | None = None
    slack_app_token: str | None = None
    slack_signing_secret: str = ""
    slack_port: int = Field(default=3000, ge=1, le=65535)
    slack_api_base_url: str = "https://slack.com/api/"
    # Test doubles only: Slack's install page (OAuth), where /slack/install sends the installing user.
    slack_authorize_url: str = "https://slack.com/oauth/v2/authorize"
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
    def _a_bot_token(cls, value: str | None) -> str | None:
        if value is None:
            return value
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

    @field_validator("token_encryption_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                _keys(value.get_secret_value())
            except ValueError:
                raise ValueError(
                    f"not a Fernet key (32 url-safe base64-encoded bytes; several keys: comma-separated); make one "
                    f"with {NEW_KEY}"
                ) from None
        return value

    @model_validator(mode="after")
    def _a_token_or_oauth(self) -> Self:
        if self.slack_bot_token:
            return self
        if not self.slack_client_id or not self.slack_client_secret:
            raise ValueError(
                "SLACK_BOT_TOKEN is not set: set it to run in one workspace, or set SLACK_CLIENT_ID and "
                "SLACK_CLIENT_SECRET (Basic Information → App Credentials) to let many workspaces install the app"
            )
        if self.token_encryption_key is None:
            raise ValueError(
                f"TOKEN_ENCRYPTION_KEY is not set: installs' tokens are stored encrypted with it; make one with {NEW_KEY}"
            )
        if self.slack_app_token:
            raise ValueError(
                "SLACK_APP_TOKEN is set, but installing in many workspaces (SLACK_CLIENT_ID) serves HTTP mode: "
                "unset SLACK_APP_TOKEN"
            )
        return self

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

    @property
    def oauth_mode(self) -> bool:
        """Installed by many workspaces through OAuth, rather than one with SLACK_BOT_TOKEN."""
        return not self.slack_bot_token

    def token_keys(self) -> list[str]:
        """TOKEN_ENCRYPTION_KEY's keys (OAuth mode): the first encrypts, any decrypts."""
        assert self.token_encryption_key is not None
        return _keys(self.token_encryption_key.get_secret_value())


def _keys(value: str) -> list[str]:
    """Comma-separated Fernet keys; ValueError when one is not a Fernet key or there is none."""
    keys = [key.strip() for key in value.split(",") if key.strip()]
    MultiFernet([Fernet(key) for key in keys])
    return keys
