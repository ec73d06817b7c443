"""How the bot fetches essays and feeds, from the environment (and `.env`).

`FETCH_ALLOW_HOSTS` is for tests and the demo only, whose servers listen on 127.0.0.1: production leaves it
empty, so every loopback, private, link-local, multicast and reserved address is refused.
"""

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot import __version__

DEFAULT_USER_AGENT = (
    f"SymposiumBot/{__version__} (a writing-symposium chat bot; checks that essays are live and reads authors' feeds)"
)


class FetchSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    # Comma-separated host names, addresses or networks that may be fetched although not public,
    # e.g. `127.0.0.1` or `localhost,::1`. Empty in production.
    fetch_allow_hosts: str = ""
    fetch_timeout_seconds: float = 10.0
    fetch_max_bytes: int = 1_000_000
    fetch_max_redirects: int = 5
    fetch_user_agent: str = DEFAULT_USER_AGENT

    @field_validator("fetch_timeout_seconds", "fetch_max_bytes")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be positive")
        return value

    @field_validator("fetch_max_redirects")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must not be negative")
        return value

    @property
    def allow_hosts(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.fetch_allow_hosts.split(",") if part.strip())
