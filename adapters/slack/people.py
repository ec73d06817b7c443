"""Who acts: a Slack user as the core's Actor, with the facts users.info gives (admin or owner), cached a while."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.pacing import retry_after
from bot.commands import Actor

log = logging.getLogger(__name__)

TRIES = 3
RATE_LIMIT_WAIT = 5.0  # seconds: a longer Retry-After is not waited out while someone waits for their answer
SERVER_ERROR_WAIT = 0.5


@dataclass(frozen=True)
class _Facts:
    name: str
    is_admin: bool
    until: float


class People:
    """users.info answers, kept `ttl_seconds`; a stale answer is used when Slack fails to give a fresh one.

    The core decides who is an editor (bot/permissions.py); this only reports whether Slack calls the user
    a workspace admin or owner, and the name to show.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        ttl_seconds: float = 600,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client, self.ttl, self._sleep = client, ttl_seconds, sleep
        self._known: dict[str, _Facts] = {}

    async def actor(self, community: str, user_id: str) -> Actor:
        facts = await self._facts(user_id)
        return Actor(community=community, user_id=user_id, name=facts.name, is_admin=facts.is_admin)

    async def _facts(self, user_id: str) -> _Facts:
        known = self._known.get(user_id)
        if known is not None and known.until > time.monotonic():
            return known
        try:
            user = await self._ask(user_id)
        except SlackApiError:
            if known is None:
                raise
            log.warning("users.info failed for %s; using what it said before", user_id)
            return known
        self._known[user_id] = facts = _Facts(
            _display_name(user), bool(user.get("is_admin") or user.get("is_owner")), time.monotonic() + self.ttl
        )
        return facts

    async def _ask(self, user_id: str) -> dict[str, Any]:
        """users.info; a 429 asking for a short wait, or a passing server error, is tried again a couple of
        times (a person's request waits on the answer)."""
        for attempt in range(TRIES):
            try:
                return dict((await self.client.users_info(user=user_id))["user"])
            except SlackApiError as exc:
                status = exc.response.status_code
                wait = retry_after(exc.response) if status == 429 else SERVER_ERROR_WAIT
                if (status != 429 and status < 500) or wait > RATE_LIMIT_WAIT or attempt == TRIES - 1:
                    raise
                await self._sleep(wait)
        raise AssertionError("unreachable")


def _display_name(user: dict[str, Any]) -> str:
    profile = user.get("profile") or {}
    for name in (profile.get("real_name"), user.get("real_name"), profile.get("display_name"), user.get("name")):
        if name:
            return str(name)
    return str(user["id"])
