"""Slack's OAuth flow over the bot's own database: installs (every token Fernet-encrypted) and install states.

slack-bolt's `AsyncOAuthFlow` drives the install (/slack/install, /slack/oauth_redirect); these are the stores it
saves to and checks with, in the tables of migrations/versions/0006. One row per workspace holds its latest
install; a token in the database reads as Fernet ciphertext, so a copy of the database without
TOKEN_ENCRYPTION_KEY gives no token away. `check_key` runs at start: a key that cannot read the stored tokens
stops the bot with one line, rather than every workspace failing later.
"""

import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from logging import Logger
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.db.engine import make_sessions
from bot.db.models import OAuthState, SlackInstallation

log = logging.getLogger(__name__)

TOKENS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
STATE_LIFETIME = timedelta(minutes=10)  # as slack-sdk's own state stores


class TokenKeyError(RuntimeError):
    """TOKEN_ENCRYPTION_KEY cannot read the tokens stored in the database."""


def workspace_of(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> str:
    """The row's key and the community: the team id, or the enterprise id of an org-wide install."""
    key = enterprise_id if is_enterprise_install or not team_id else team_id
    return key or ""


def _at(value: int | float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


class SlackInstallations(AsyncInstallationStore):
    """slack-sdk's installation store, for bot installs (bolt runs it with `installation_store_bot_only`).

    Args:
        keys: TOKEN_ENCRYPTION_KEY's Fernet keys: the first encrypts, any decrypts.
        on_saved: called with the workspace after each install is saved (the bot resumes it).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        keys: Sequence[str],
        on_saved: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.sessions = make_sessions(engine)
        self.fernet, self._rotating = MultiFernet([Fernet(key) for key in keys]), len(keys) > 1
        self.on_saved = on_saved

    @property
    def logger(self) -> Logger:
        return log

    def _seal(self, token: str | None) -> str | None:
        return None if token is None else self.fernet.encrypt(token.encode()).decode()

    def _open(self, sealed: str | None) -> str | None:
        return None if sealed is None else self.fernet.decrypt(sealed.encode()).decode()

    async def check_key(self) -> int:
        """Decrypt one stored token, and re-encrypt every row under the first key when there are several (a key
        rotation's second step); returns how many rows were re-encrypted. TokenKeyError when the key cannot."""
        async with self.sessions() as session, session.begin():
            rows = list(await session.scalars(select(SlackInstallation).order_by(SlackInstallation.id)))
            if not rows:
                return 0
            try:
                for name in TOKENS:
                    if (value := getattr(rows[0], name)) is not None:
                        self.fernet.decrypt(value.encode())
                        break
                if not self._rotating:
                    return 0
                for row in rows:
                    for name in TOKENS:
                        if (value := getattr(row, name)) is not None:
                            setattr(row, name, self.fernet.rotate(value.encode()).decode())
            except InvalidToken:
                raise TokenKeyError(
                    "TOKEN_ENCRYPTION_KEY cannot decrypt the Slack tokens stored in the database: set it to the key "
                    "they were stored with (while rotating keys: the new key, a comma, then the old one)"
                ) from None
            return len(rows)

    async def async_save(self, installation: Installation) -> None:
        key = workspace_of(installation.enterprise_id, installation.team_id, installation.is_enterprise_install)
        values: dict[str, Any] = {
            "workspace": key,
            "enterprise_id": installation.enterprise_id,
            "team_id": installation.team_id,
            "team_name": installation.team_name,
            "app_id": installation.app_id,
            "is_enterprise_install": bool(installation.is_enterprise_install),
            "bot_id": installation.bot_id,
            "bot_user_id": installation.bot_user_id,
            "bot_scopes": ",".join(installation.bot_scopes or []),
            "bot_token": self._seal(installation.bot_token),
            "bot_refresh_token": self._seal(installation.bot_refresh_token),
            "bot_token_expires_at": _at(installation.bot_token_expires_at),
            "user_id": installation.user_id,
            "user_scopes": ",".join(installation.user_scopes or []),
            "user_token": self._seal(installation.user_token),
            "user_refresh_token": self._seal(installation.user_refresh_token),
            "user_token_expires_at": _at(installation.user_token_expires_at),
            "installed_at": _at(installation.installed_at) or datetime.now(UTC),
        }
        async with self.sessions() as session, session.begin():
            row = await session.scalar(select(SlackInstallation).where(SlackInstallation.workspace == key))
            if row is None:
                session.add(SlackInstallation(**values))
            else:
                for name, value in values.items():
                    setattr(row, name, value)
        log.info("Slack workspace %s (%s) installed the app", key, installation.team_name)
        if self.on_saved is not None:
            await self.on_saved(key)

    async def async_save_bot(self, bot: Bot) -> None:
        """A bot token renewed (token rotation): only the bot's token fields change."""
        key = workspace_of(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(SlackInstallation)
                .where(SlackInstallation.workspace == key)
                .values(
                    bot_token=self._seal(bot.bot_token),
                    bot_refresh_token=self._seal(bot.bot_refresh_token),
                    bot_token_expires_at=_at(bot.bot_token_expires_at),
                    bot_scopes=",".join(bot.bot_scopes or []),
                )
            )

    async def _row(self, enterprise_id: str | None, team_id: str | None, org: bool | None) -> SlackInstallation | None:
        async with self.sessions() as session:
            key = workspace_of(enterprise_id, team_id, org)
            return await session.scalar(select(SlackInstallation).where(SlackInstallation.workspace == key))

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        row = await self._row(enterprise_id, team_id, is_enterprise_install)
        if row is None or row.bot_token is None:
            return None
        return Bot(
            app_id=row.app_id,
            enterprise_id=row.enterprise_id,
            team_id=row.team_id,
            team_name=row.team_name,
            bot_token=self._open(row.bot_token) or "",
            bot_id=row.bot_id or "",
            bot_user_id=row.bot_user_id or "",
            bot_scopes=row.bot_scopes or "",
            bot_refresh_token=self._open(row.bot_refresh_token),
            bot_token_expires_at=_epoch(row.bot_token_expires_at),
            is_enterprise_install=row.is_enterprise_install,
            installed_at=row.installed_at.timestamp(),
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        row = await self._row(enterprise_id, team_id, is_enterprise_install)
        if row is None or (user_id is not None and row.user_id != user_id):
            return None
        return Installation(
            app_id=row.app_id,
            enterprise_id=row.enterprise_id,
            team_id=row.team_id,
            team_name=row.team_name,
            bot_token=self._open(row.bot_token),
            bot_id=row.bot_id,
            bot_user_id=row.bot_user_id,
            bot_scopes=row.bot_scopes or "",
            bot_refresh_token=self._open(row.bot_refresh_token),
            bot_token_expires_at=_epoch(row.bot_token_expires_at),
            user_id=row.user_id or "",
            user_token=self._open(row.user_token),
            user_scopes=row.user_scopes or "",
            user_refresh_token=self._open(row.user_refresh_token),
            user_token_expires_at=_epoch(row.user_token_expires_at),
            is_enterprise_install=row.is_enterprise_install,
            installed_at=row.installed_at.timestamp(),
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """The bot's tokens were revoked: forget them (the row stays for the user's, if any)."""
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(SlackInstallation)
                .where(SlackInstallation.workspace == workspace_of(enterprise_id, team_id, None))
                .values(bot_token=None, bot_refresh_token=None, bot_token_expires_at=None)
            )

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        """A user's tokens were revoked (`user_id`), or the whole install goes."""
        key = workspace_of(enterprise_id, team_id, None)
        async with self.sessions() as session, session.begin():
            if user_id is None:
                await session.execute(delete(SlackInstallation).where(SlackInstallation.workspace == key))
                return
            await session.execute(
                update(SlackInstallation)
                .where(SlackInstallation.workspace == key, SlackInstallation.user_id == user_id)
                .values(user_token=None, user_refresh_token=None, user_token_expires_at=None)
            )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)

    async def workspaces(self) -> list[str]:
        """Every workspace holding a bot token."""
        async with self.sessions() as session:
            found = await session.scalars(
                select(SlackInstallation.workspace)
                .where(SlackInstallation.bot_token.is_not(None))
                .order_by(SlackInstallation.id)
            )
            return list(found)


class InstallStates(AsyncOAuthStateStore):
    """The `state` of each install under way: issued at /slack/install, used once at /slack/oauth_redirect
    before it expires, so a replayed or forged redirect is refused."""

    def __init__(self, engine: AsyncEngine, clock: Clock, lifetime: timedelta = STATE_LIFETIME) -> None:
        self.sessions = make_sessions(engine)
        self.clock, self.lifetime = clock, lifetime

    @property
    def logger(self) -> Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(32)
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            await session.execute(delete(OAuthState).where(OAuthState.expires_at <= now))
            session.add(OAuthState(state=state, expires_at=now + self.lifetime))
        return state

    async def async_consume(self, state: str) -> bool:
        """True once for a state issued here and not yet expired; its row is gone after."""
        async with self.sessions() as session, session.begin():
            row = await session.scalar(select(OAuthState).where(OAuthState.state == state[:64]))
            if row is None:
                return False
            await session.delete(row)
            return row.expires_at > self.clock.now()
