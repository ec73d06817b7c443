"""Many workspaces (OAuth distribution): each installed workspace gets its own sender, with its own token, pacer,
DM channel cache and people cache, so one busy workspace never slows another's commands or deliveries.

`Workspaces` maps a team id to that workspace's `SlackPlatform`, built on first use from the installation store
and kept; a bot token about to expire is renewed first (token rotation) and the kept sender carries the new one.
`WorkspacePlatform` is the core's Platform over all of them, choosing by the community each call names (a
Slack community is its team id); `WorkspaceAuthorize` gives slack-bolt the same workspace's token for each
request, without an auth.test per request.
"""

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackClientError, SlackTokenRotationError
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack.markup import normalize
from adapters.slack.oauth import SlackInstallations
from adapters.slack.pacing import pacer_for
from adapters.slack.people import People
from adapters.slack.sender import CALL_TIMEOUT_SECONDS, SlackPlatform
from adapters.slack.settings import SlackSettings
from bot.clock import Clock
from bot.commands import Actor
from bot.grammar import OptionSpec
from bot.messages import Message
from bot.ports import Attempt, ChannelCheck, RetryLater, Undeliverable

log = logging.getLogger(__name__)

ROTATE_BEFORE_MINUTES = 120  # renew a bot token this long before it expires (slack-bolt's default)
NOT_INSTALLED = "the app is not installed in this Slack workspace"
REINSTALL = "install it again from the bot's /slack/install page"


@dataclass
class Workspace:
    """One installed workspace: its stored bot install and its own sender."""

    bot: Bot
    platform: SlackPlatform


class Workspaces:
    """Team id → that workspace's sender, built from its stored install on first use."""

    def __init__(
        self,
        store: SlackInstallations,
        settings: SlackSettings,
        clock: Clock,
        *,
        rotate_before_minutes: int = ROTATE_BEFORE_MINUTES,
        now: Callable[[], float] = time.time,
    ) -> None:
        assert settings.slack_client_id
        assert settings.slack_client_secret
        self.store, self.settings, self.clock = store, settings, clock
        self._rotate_before, self._now = rotate_before_minutes, now
        self._rotator = AsyncTokenRotator(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret.get_secret_value(),
            client=AsyncWebClient(base_url=settings.slack_api_base_url, timeout=CALL_TIMEOUT_SECONDS),
        )
        self._known: dict[str, Workspace] = {}
        self._engine: AsyncEngine | None = None
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def get(self, team_id: str) -> Workspace | None:
        """The workspace's sender with a current token; None when the app is not installed there.

        Raises SlackTokenRotationError when its token is due for renewal and Slack refuses to renew it."""
        known = self._known.get(team_id)
        if known is not None and not self._expiring(known.bot):
            return known
        async with self._locks[team_id]:  # one renewal at a time per workspace; others are not held
            known = self._known.get(team_id)
            if known is not None and not self._expiring(known.bot):
                return known
            bot = await self.store.async_find_bot(enterprise_id=None, team_id=team_id)
            if bot is None:
                self._known.pop(team_id, None)
                return None
            if self._expiring(bot):  # (another process may have renewed it already: the store is read first)
                bot = await self._renew(team_id, bot)
            return self._keep(team_id, bot)

    async def _renew(self, team_id: str, bot: Bot) -> Bot:
        """Renew the bot token with its refresh token and store the new pair. When Slack refuses the refresh token
        because another process used it a moment ago, that process's renewed token is read back instead."""
        try:
            renewed = await self._rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=self._rotate_before
            )
        except SlackTokenRotationError:
            again = await self.store.async_find_bot(enterprise_id=None, team_id=team_id)
            if again is None or again.bot_refresh_token == bot.bot_refresh_token or self._expiring(again):
                raise
            return again
        if renewed is None:
            return bot
        await self.store.async_save_bot(renewed)
        log.info("renewed the bot token of Slack workspace %s", team_id)
        return renewed

    def _expiring(self, bot: Bot) -> bool:
        expires = bot.bot_token_expires_at
        return (
            bot.bot_refresh_token is not None
            and expires is not None
            and (expires <= self._now() + self._rotate_before * 60)
        )

    def _keep(self, team_id: str, bot: Bot) -> Workspace:
        known = self._known.get(team_id)
        if known is not None:  # the same sender (its pacer and caches) with the renewed token
            known.bot = bot
            known.platform.client.token = bot.bot_token
            return known
        client = AsyncWebClient(
            token=bot.bot_token, base_url=self.settings.slack_api_base_url, timeout=CALL_TIMEOUT_SECONDS
        )
        people = People(client, ttl_seconds=self.settings.slack_people_ttl_seconds)
        platform = SlackPlatform(client, self.clock, pacer_for(self.settings), people=people)
        if self._engine is not None:
            platform.use_database(self._engine)
        self._known[team_id] = known = Workspace(bot, platform)
        return known

    def use_database(self, engine: AsyncEngine) -> None:
        """Keep each workspace's DM channels in the database (adapters/dm_channels.py)."""
        self._engine = engine
        for known in self._known.values():
            known.platform.use_database(engine)

    async def flush(self) -> None:
        for known in list(self._known.values()):
            await known.platform.flush()

    def forget(self, team_id: str) -> None:
        """The workspace's install changed (installed again, uninstalled): read it afresh next time."""
        self._known.pop(team_id, None)


class WorkspacePlatform:
    """The core's Platform over every installed workspace: each call goes to its community's own sender.

    A workspace without an install refuses deliveries as Undeliverable; its rows are normally not even claimed,
    since uninstalling pauses the community (bot/services/communities.py)."""

    name = "slack"
    index_page_chars = SlackPlatform.index_page_chars

    def __init__(self, workspaces: Workspaces) -> None:
        self.workspaces = workspaces

    def use_database(self, engine: AsyncEngine) -> None:
        self.workspaces.use_database(engine)

    async def flush(self) -> None:
        await self.workspaces.flush()

    async def _in(self, community: str) -> SlackPlatform:
        try:
            found = await self.workspaces.get(community)
        except SlackTokenRotationError as exc:
            error = exc.api_error.response.get("error")
            raise Undeliverable(f"Slack refused to renew the bot token ({error})", REINSTALL) from exc
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise RetryLater(f"renewing the bot token failed ({type(exc).__name__})") from exc
        if found is None:
            raise Undeliverable(NOT_INSTALLED, REINSTALL)
        return found.platform

    async def post(self, community: str, channel: str, message: Message, attempt: Attempt) -> str:
        return await (await self._in(community)).post(community, channel, message, attempt)

    async def edit(self, community: str, channel: str, ref: str, message: Message) -> None:
        await (await self._in(community)).edit(community, channel, ref, message)

    async def pin(self, community: str, channel: str, ref: str) -> None:
        await (await self._in(community)).pin(community, channel, ref)

    async def unpin(self, community: str, channel: str, ref: str) -> None:
        await (await self._in(community)).unpin(community, channel, ref)

    async def add_reactions(self, community: str, channel: str, ref: str, emojis: tuple[str, ...]) -> None:
        await (await self._in(community)).add_reactions(community, channel, ref, emojis)

    async def reply_in_thread(self, community: str, channel: str, ref: str, message: Message, attempt: Attempt) -> str:
        return await (await self._in(community)).reply_in_thread(community, channel, ref, message, attempt)

    async def direct_message(self, community: str, user_id: str, message: Message, attempt: Attempt) -> None:
        await (await self._in(community)).direct_message(community, user_id, message, attempt)

    async def reply(self, community: str, handle: dict[str, Any], message: Message) -> None:
        await (await self._in(community)).reply(community, handle, message)

    async def check_channel(self, community: str, channel: str) -> ChannelCheck:
        try:
            platform = await self._in(community)
        except (Undeliverable, RetryLater) as exc:
            return ChannelCheck(channel, missing={"post": str(exc)})
        return await platform.check_channel(community, channel)

    async def check_direct_message(self, community: str, user_id: str) -> str | None:
        try:
            platform = await self._in(community)
        except (Undeliverable, RetryLater) as exc:
            return str(exc)
        return await platform.check_direct_message(community, user_id)

    async def actor(self, community: str, user_id: str, facts: dict[str, Any]) -> Actor | None:
        try:
            platform = await self._in(community)
        except (Undeliverable, RetryLater) as exc:
            log.warning("who %s is in %s: %s", user_id, community, exc)
            return None
        return await platform.actor(community, user_id, facts)

    def normalize(self, option: OptionSpec, value: str) -> str:
        return normalize(option, value)


class WorkspaceAuthorize(AsyncAuthorize):
    """slack-bolt's authorize: each request runs with its workspace's current bot token (renewed when due),
    from the same kept install the senders use, so no auth.test is made per request."""

    def __init__(self, workspaces: Workspaces) -> None:
        super().__init__()
        self.workspaces = workspaces

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        **_: Any,
    ) -> AuthorizeResult | None:
        if not team_id:
            return None
        try:
            found = await self.workspaces.get(team_id)
        except SlackTokenRotationError as exc:
            log.error("Slack refused to renew the bot token of workspace %s: %s", team_id, exc)
            return None
        if found is None:
            return None
        bot = found.bot
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_user_id=bot.bot_user_id,
            bot_id=bot.bot_id,
            bot_token=bot.bot_token,
            bot_scopes=bot.bot_scopes,
            user_id=user_id,
        )
