"""Who acts: a Slack user as the core's Actor, with the facts users.info gives (admin or owner), cached a while."""

import logging
import time
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import Actor

log = logging.getLogger(__name__)


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

    def __init__(self, client: AsyncWebClient, ttl_seconds: float = 600) -> None:
        self.client, self.ttl = client, ttl_seconds
        self._known: dict[str, _Facts] = {}

    async def actor(self, community: str, user_id: str) -> Actor:
        facts = await self._facts(user_id)
        return Actor(community=community, user_id=user_id, name=facts.name, is_admin=facts.is_admin)

    async def _facts(self, user_id: str) -> _Facts:
        known = self._known.get(user_id)
        if known is not None and known.until > time.monotonic():
            return known
        try:
            user = (await self.client.users_info(user=user_id))["user"]
        except SlackApiError:
            if known is None:
                raise
            log.warning("users.info failed for %s; using what it said before", user_id)
            return known
        self._known[user_id] = facts = _Facts(
            _display_name(user), bool(user.get("is_admin") or user.get("is_owner")), time.monotonic() + self.ttl
        )
        return facts


def _display_name(user: dict[str, Any]) -> str:
    profile = user.get("profile") or {}
    for name in (profile.get("real_name"), user.get("real_name"), profile.get("display_name"), user.get("name")):
        if name:
            return str(name)
    return str(user["id"])
