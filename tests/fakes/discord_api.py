"""A protocol-level fake of Discord (gateway and REST API v10) that the real discord.py client talks to.

Point discord.py at it with the `fake_discord` fixture, or by hand:

    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

It keeps a small guild model, answers REST calls as Discord does (JSON errors with `code`, X-RateLimit-* headers
and 429s, message nonces, the bot's channel permissions), records every call, can hold answers back, and runs
gateway sessions per shard (HELLO, READY, RESUME with replay, compressed frames; discord_gateway.py). Like
Discord, it echoes the bot's own messages and reactions as gateway events. Users act through methods: reactions,
slash commands, autocomplete, modal submits and button clicks.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from aiohttp import web

from tests.fakes.discord_gateway import FakeGateway
from tests.fakes.discord_shapes import (
    ACTION_ROW,
    ADD_REACTIONS,
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    APPLICATION_COMMAND,
    ATTACH_FILES,
    AUTOCOMPLETE,
    BUTTON,
    CHANNEL_MESSAGE,
    CREATE_PUBLIC_THREADS,
    DEFAULT_BOT_PERMISSIONS,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    DM,
    DM_MESSAGES,
    DM_REACTIONS,
    EMBED_LINKS,
    EPHEMERAL,
    ERRORS,
    EVERYONE_PERMISSIONS,
    GUILD_MESSAGES,
    GUILD_REACTIONS,
    HAS_THREAD,
    JSON,
    LOADING,
    MANAGE_MESSAGES,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    PIN_MESSAGES,
    PRIVILEGED_INTENTS,
    PUBLIC_THREAD,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    TEXT,
    UPDATE_MESSAGE,
    USE_APPLICATION_COMMANDS,
    VIEW_CHANNEL,
    ApiError,
    Call,
    Guild,
    Hold,
    Interaction,
    Member,
    Upload,
    now_iso,
    route_emoji,
    shard_of,
)  # fmt: skip

__all__ = [
    "ACTION_ROW", "ADD_REACTIONS", "ADMINISTRATOR", "ALL_PERMISSIONS", "APPLICATION_COMMAND", "ATTACH_FILES",
    "AUTOCOMPLETE", "BUTTON", "CHANNEL_MESSAGE", "CREATE_PUBLIC_THREADS", "DEFAULT_BOT_PERMISSIONS",
    "DEFERRED_CHANNEL_MESSAGE", "DEFERRED_UPDATE_MESSAGE", "DM", "DM_MESSAGES", "DM_REACTIONS", "EMBED_LINKS",
    "EPHEMERAL", "ERRORS", "EVERYONE_PERMISSIONS", "GUILD_MESSAGES", "GUILD_REACTIONS", "HAS_THREAD", "JSON",
    "LOADING", "MANAGE_MESSAGES", "MESSAGE_COMPONENT", "MODAL_SUBMIT", "NONCE_SECONDS", "PIN_MESSAGES",
    "PRIVILEGED_INTENTS", "PUBLIC_THREAD", "READ_MESSAGE_HISTORY", "SEND_MESSAGES", "SEND_MESSAGES_IN_THREADS",
    "TEXT", "UPDATE_MESSAGE", "USE_APPLICATION_COMMANDS", "VIEW_CHANNEL", "ApiError", "Call", "FakeDiscord",
    "Guild", "Hold", "Interaction", "Member", "Upload", "fake_discord", "identify_without_waiting", "shard_of",
]  # fmt: skip

NONCE_SECONDS = 300.0  # how long `enforce_nonce` finds an earlier message with the same nonce (Discord: minutes)


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    code: int | None
    retry_after: float
    scope: str  # of a 429: "user", "shared" or "global"
    remaining: int | None


class FakeDiscord(FakeGateway):
    """An aiohttp server on 127.0.0.1 serving Discord's gateway at `gateway_url` and REST at `api_base`."""

    def __init__(self, *, bot_id: str = "1200000000000000001", bot_name: str = "Symposium") -> None:
        super().__init__()
        self.bot_id = self.application_id = bot_id
        self.bot_user = self._user(bot_id, bot_name, bot=True)
        self.bucket_limit = 50  # X-RateLimit-Limit per route and major id, per second
        self.global_rate_limit: int | None = None  # requests per second per bot (Discord: 50); None: not enforced
        self.users: dict[str, JSON] = {bot_id: self.bot_user}
        self.guilds: dict[str, Guild] = {}
        self.channels: dict[str, JSON] = {}
        self.messages: dict[str, dict[str, JSON]] = {}  # channel id -> message id -> message
        self.pins: dict[str, list[tuple[str, str]]] = {}  # channel id -> [(message id, pinned_at)]
        self.reactions: dict[str, dict[str, list[str]]] = {}  # message id -> route-form emoji -> user ids
        self.commands: dict[str | None, list[JSON]] = {}  # guild id (None: global) -> registered commands
        self.interactions: dict[str, Interaction] = {}
        self.calls: list[Call] = []
        self.unrouted: list[Call] = []
        self.rate_limited: Counter[str] = Counter()  # "METHOD /path" -> 429 answers, injected or modelled
        self._dms_closed: set[str] = set()
        self._failures: list[_Failure] = []
        self._holds: list[Hold] = []
        self._buckets: dict[tuple[str, str], tuple[float, int]] = {}  # (route, major id) -> (window start, used)
        self._global_window = (0.0, 0)  # (window start, requests let through)
        self._nonces: dict[tuple[str, str], tuple[float, str]] = {}  # (channel, nonce) -> (when, message id)
        self._elapsed = 0.0  # added to time.monotonic() by advance()
        self._counter = 0
        self._runner: web.AppRunner | None = None
        routes: list[tuple[str, str, Callable[..., Awaitable[Any]]]] = [
            ("GET", r"/gateway", self._get_gateway),
            ("GET", r"/gateway/bot", self._get_gateway_bot),
            ("GET", r"/users/@me", self._get_me),
            ("GET", r"/users/@me", self._get_me),
            ("GET", r"/users/(\d+)", self._get_user),
            ("POST", r"/users/@me/channels", self._open_dm),
            ("GET", r"/(?:oauth2/)?applications/@me", self._get_application),
            ("GET|PUT", r"/applications/(\d+)(?:/guilds/(\d+))?/commands", self._commands),
            ("POST", r"/interactions/(\d+)/([^/]+)/callback", self._callback),
            ("POST", r"/webhooks/(\d+)/([^/]+)", self._followup),
            ("GET|PATCH|DELETE", r"/webhooks/(\d+)/([^/]+)/messages/(@original|\d+)", self._webhook_message),
            ("GET", r"/channels/(\d+)", self._get_channel),
            ("POST", r"/channels/(\d+)/messages", self._create_message),
            ("GET|PATCH|DELETE", r"/channels/(\d+)/messages/(\d+)", self._message),
            ("GET", r"/channels/(\d+)/messages/pins", self._get_pins),
            ("PUT|DELETE", r"/channels/(\d+)/(?:messages/)?pins/(\d+)", self._pin),
            ("PUT|DELETE", r"/channels/(\d+)/messages/(\d+)/reactions/([^/]+)/(@me|\d+)", self._react),
            ("GET", r"/channels/(\d+)/messages/(\d+)/reactions/([^/]+)", self._reaction_users),
            ("POST", r"/channels/(\d+)/messages/(\d+)/threads", self._create_thread),
            ("GET", r"/guilds/(\d+)/members/(\d+)", self._get_member),
            ("GET", r"/guilds/(\d+)/roles", self._get_roles),
        ]
        self._routes = [(methods, re.compile(path), handler) for methods, path, handler in routes]

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application(client_max_size=100 * 2**20)
        app.router.add_get("/", self._gateway)
        app.router.add_get("/resume", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.release_all()  # a held request would keep the server's shutdown waiting
        await self._close_gateway()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    def monotonic(self) -> float:
        """The fake's clock for nonce and rate-limit windows: time.monotonic(), plus whatever advance() added."""
        return time.monotonic() + self._elapsed

    def advance(self, seconds: float) -> None:
        """Move the fake's clock on, so that nonce and rate-limit windows pass without a sleep."""
        self._elapsed += seconds

    # ---- guild model -----------------------------------------------------------------------------------------

    def _snowflake(self) -> str:
        self._counter += 1
        return str(((int(time.time() * 1000) - 1420070400000) << 22) | (self._counter & 0x3FFFFF))

    @staticmethod
    def _user(user_id: str, name: str, *, bot: bool = False) -> JSON:
        return {"id": user_id, "username": name, "global_name": None if bot else name, "discriminator": "0",
                "avatar": None, "bot": bot, "public_flags": 0, "flags": 0, "banner": None}  # fmt: skip

    def add_guild(self, guild_id: str, name: str, *, owner_id: str | None = None) -> Guild:
        """A guild with an @everyone role, a managed role for the bot, and the bot as a member."""
        guild = self.guilds[guild_id] = Guild(guild_id, name, owner_id or self._snowflake())
        self.add_role(guild_id, guild_id, "@everyone", EVERYONE_PERMISSIONS, position=0)
        bot_role = self.add_role(guild_id, self._snowflake(), self.bot_user["username"], DEFAULT_BOT_PERMISSIONS)
        bot_role.update(managed=True, tags={"bot_id": self.bot_id})
        guild.members[self.bot_id] = Member([bot_role["id"]], None, now_iso())
        return guild

    def add_role(self, guild_id: str, role_id: str, name: str, permissions: int = 0, position: int = 1) -> JSON:
        colors = {"primary_color": 0, "secondary_color": None, "tertiary_color": None}
        role = {"id": role_id, "name": name, "color": 0, "colors": colors, "hoist": False, "icon": None,
                "unicode_emoji": None, "position": position, "permissions": str(permissions), "managed": False,
                "mentionable": False, "flags": 0}  # fmt: skip
        self.guilds[guild_id].roles[role_id] = role
        return role

    def add_channel(
        self, guild_id: str, channel_id: str, name: str, type: int = TEXT, bot_permissions: int | None = None
    ) -> JSON:
        """A guild channel; `bot_permissions`, if given, is exactly what the bot may do there (an overwrite)."""
        overwrites = []
        if bot_permissions is not None:
            deny = str(ALL_PERMISSIONS & ~bot_permissions)
            overwrites.append({"id": self.bot_id, "type": 1, "allow": str(bot_permissions), "deny": deny})
        channel = {"id": channel_id, "type": type, "guild_id": guild_id, "name": name, "position": len(self.channels),
                   "permission_overwrites": overwrites, "parent_id": None, "topic": None, "nsfw": False,
                   "rate_limit_per_user": 0, "last_message_id": None, "flags": 0}  # fmt: skip
        self.channels[channel_id] = channel
        return channel

    def add_member(
        self,
        guild_id: str,
        user_id: str,
        name: str,
        roles: list[str] | None = None,
        permissions: int | None = None,
        accepts_dms: bool = True,
    ) -> JSON:
        """A member; `permissions`, if given, replaces what the roles grant at guild level."""
        guild = self.guilds[guild_id]
        if unknown := [role for role in roles or [] if role not in guild.roles]:
            raise KeyError(f"unknown roles {unknown}: add_role() them first")
        self.users.setdefault(user_id, self._user(user_id, name))
        guild.members[user_id] = Member(list(roles or []), permissions, now_iso())
        if not accepts_dms:
            self._dms_closed.add(user_id)
        return self.member_payload(guild_id, user_id)

    def member_payload(self, guild_id: str, user_id: str) -> JSON:
        member = self.guilds[guild_id].members[user_id]
        return {"user": self.users[user_id], "nick": None, "avatar": None, "roles": member.roles,
                "joined_at": member.joined_at, "premium_since": None, "deaf": False, "mute": False, "flags": 0,
                "pending": False, "communication_disabled_until": None}  # fmt: skip

    def permissions(self, guild_id: str, user_id: str, channel_id: str | None = None) -> int:
        """Discord's computation: base from roles, then @everyone, role and member overwrites of the channel."""
        guild = self.guilds[guild_id]
        if user_id == guild.owner_id:
            return ALL_PERMISSIONS
        member = guild.members[user_id]
        perms = member.permissions
        if perms is None:
            perms = int(guild.roles[guild_id]["permissions"])
            for role in member.roles:
                perms |= int(guild.roles[role]["permissions"])
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        channel = self.channels.get(channel_id or "")
        if channel is not None and channel["type"] == PUBLIC_THREAD:
            channel = self.channels[channel["parent_id"]]  # threads take their parent's permissions
        overwrites = {o["id"]: o for o in channel["permission_overwrites"]} if channel else {}
        for ids in ([guild_id], member.roles, [user_id]):
            applied = [overwrites[i] for i in ids if i in overwrites]
            deny, allow = sum(int(o["deny"]) for o in applied), sum(int(o["allow"]) for o in applied)
            perms = (perms & ~deny) | allow
        return perms

    def channel_messages(self, channel_id: str) -> list[JSON]:
        return list(self.messages.get(channel_id, {}).values())

    def dm_channel(self, user_id: str) -> JSON | None:
        """The DM channel the bot opened with this user, if it did."""
        dms = (c for c in self.channels.values() if c["type"] == DM and c["recipients"][0]["id"] == user_id)
        return next(dms, None)

    def store_reaction(
        self, channel_id: str, message_id: str, user_id: str, emoji: str, *, remove: bool = False
    ) -> None:
        """Change a stored message's reactions without dispatching (as if it happened while the bot was away)."""
        message = self._stored(channel_id, message_id)
        users = self.reactions.setdefault(message_id, {}).setdefault(emoji, [])
        if remove and user_id in users:
            users.remove(user_id)
        elif not remove and user_id not in users:
            users.append(user_id)
        summary = [{"emoji": route_emoji(e), "count": len(u), "count_details": {"burst": 0, "normal": len(u)},
                    "me": self.bot_id in u, "me_burst": False, "burst_colors": []}
                   for e, u in self.reactions[message_id].items() if u]  # fmt: skip
        message["reactions"] = summary
        if not summary:
            del message["reactions"]

    # ---- recording, waiting, failure injection, holding ------------------------------------------------------

    def calls_to(self, method: str, path_regex: str) -> list[Call]:
        """Calls with this method whose path (relative to /api/v10, no query) fully matches the regex."""
        pattern = re.compile(path_regex)
        return [c for c in self.calls if c.method == method.upper() and pattern.fullmatch(c.path)]

    async def wait_for(
        self,
        method: str,
        path_regex: str,
        predicate: Callable[[Call], bool] | None = None,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the fake's documented API
    ) -> Call:
        """Wait until `count` matching calls have been answered, or held (status 0); returns the count-th."""

        def matching() -> list[Call]:
            return [c for c in self.calls_to(method, path_regex) if predicate is None or predicate(c)]

        await self._until(lambda: len(matching()) >= count, timeout, f"{count} x {method} {path_regex}")
        return matching()[count - 1]

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int = 429,
        *,
        retry_after: float = 0.05,
        times: int | None = 1,
        global_: bool = False,
        scope: str = "user",
        code: int | None = None,
    ) -> None:
        """Answer the next `times` matching calls (None: all of them) with this error instead.

        A 429's `scope` is "user" (the route's bucket is spent) or "shared" (the resource is busy: the bucket is
        not spent); `global_=True` makes it the bot's global limit.
        """
        scope = "global" if global_ else scope
        if scope not in ("user", "shared", "global"):
            raise ValueError(f"unknown rate-limit scope {scope!r}")
        self._failures.append(_Failure(method.upper(), re.compile(path_regex), status, code, retry_after, scope, times))

    def hold(self, method: str, path_regex: str, *, times: int | None = None) -> Hold:
        """Hold the answers to the next `times` matching requests (None: all) until `release()`: Discord has done
        the work, the bot does not know yet. A held interaction callback acknowledges the interaction on arrival
        (the user sees "thinking…"), so another callback gets 40060."""
        self._holds = [h for h in self._holds if not h.released]
        hold = Hold(method.upper(), re.compile(path_regex), self._until, times)
        self._holds.append(hold)
        return hold

    def release_all(self) -> None:
        """Release every hold; answering a client that is gone is not an error."""
        for hold in self._holds:
            hold.release()
        self._holds.clear()

    # ---- guild events ----------------------------------------------------------------------------------------

    def _guild_payload(self, guild_id: str) -> JSON:
        """A guild as GUILD_UPDATE carries it."""
        guild = self.guilds[guild_id]
        return {
            "id": guild_id, "name": guild.name, "icon": None, "owner_id": guild.owner_id, "features": [],
            "roles": list(guild.roles.values()), "emojis": [], "stickers": [], "verification_level": 0,
            "mfa_level": 0, "default_message_notifications": 1, "explicit_content_filter": 0, "premium_tier": 0,
            "nsfw_level": 0, "system_channel_id": None, "system_channel_flags": 0, "preferred_locale": "en-US",
            "afk_timeout": 300,
        }  # fmt: skip

    def _guild_create(self, guild_id: str) -> JSON:
        """GUILD_CREATE as a bot without privileged intents gets it: the only member included is the bot."""
        guild = self.guilds[guild_id]
        channels = [c for c in self.channels.values() if c.get("guild_id") == guild_id]
        return self._guild_payload(guild_id) | {
            "member_count": len(guild.members), "large": False, "unavailable": False, "joined_at": now_iso(),
            "voice_states": [], "presences": [], "channels": [c for c in channels if c["type"] != PUBLIC_THREAD],
            "threads": [c for c in channels if c["type"] == PUBLIC_THREAD],
            "members": [self.member_payload(guild_id, self.bot_id)], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [],
        }  # fmt: skip

    async def guild_update(self, guild_id: str, *, name: str) -> None:
        """Rename a guild: GUILD_UPDATE, which only the session of the guild's shard receives."""
        self.guilds[guild_id].name = name
        await self.dispatch("GUILD_UPDATE", self._guild_payload(guild_id))

    # ---- events and interactions from users ------------------------------------------------------------------

    async def reaction_add(
        self, channel_id: str, message_id: str, user_id: str, emoji_name: str, guild_id: str | None = None
    ) -> None:
        """MESSAGE_REACTION_ADD (carrying the member in guilds); a stored message's reactions follow."""
        await self._reaction_event("MESSAGE_REACTION_ADD", channel_id, message_id, user_id, emoji_name, guild_id)

    async def reaction_remove(
        self, channel_id: str, message_id: str, user_id: str, emoji_name: str, guild_id: str | None = None
    ) -> None:
        """MESSAGE_REACTION_REMOVE, which carries no member (as on Discord)."""
        await self._reaction_event("MESSAGE_REACTION_REMOVE", channel_id, message_id, user_id, emoji_name, guild_id)

    async def _reaction_event(
        self, event: str, channel_id: str, message_id: str, user_id: str, emoji: str, guild_id: str | None
    ) -> None:
        if message_id in self.messages.get(channel_id, {}):
            self.store_reaction(channel_id, message_id, user_id, emoji, remove=event.endswith("REMOVE"))
        await self.dispatch(event, self._reaction_data(event, channel_id, message_id, user_id, emoji, guild_id))

    def _reaction_data(
        self, event: str, channel_id: str, message_id: str, user_id: str, emoji: str, guild_id: str | None
    ) -> JSON:
        data = {"user_id": user_id, "channel_id": channel_id, "message_id": message_id, "emoji": route_emoji(emoji),
                "burst": False, "type": 0}  # fmt: skip
        if guild_id := guild_id or self.channels.get(channel_id, {}).get("guild_id"):
            data["guild_id"] = guild_id
        if event == "MESSAGE_REACTION_ADD":
            data["burst_colors"] = []
            if message := self.messages.get(channel_id, {}).get(message_id):
                data["message_author_id"] = message["author"]["id"]
            if guild_id and user_id in self.guilds[guild_id].members:
                data["member"] = self.member_payload(guild_id, user_id)
        return data

    async def interaction_create(
        self, guild_id: str, channel_id: str, user_id: str, command: str, options: Mapping[str, Any] | None = None
    ) -> Interaction:
        """A chat-input command; `command` is "name [group] subcommand", e.g. "symposium schedule".

        Option types come from the synced command when the fake knows it (user, channel and role ids then get
        `resolved` data), else from the Python type of the value: bool, int, float, str.
        """
        data = self._command_data(guild_id, command, options or {}, focused=None)
        return await self._interaction(APPLICATION_COMMAND, guild_id, channel_id, user_id, data)

    async def autocomplete(
        self, guild_id: str, channel_id: str, user_id: str, command: str, options: Mapping[str, Any], focused: str
    ) -> Interaction:
        data = self._command_data(guild_id, command, options, focused=focused)
        return await self._interaction(AUTOCOMPLETE, guild_id, channel_id, user_id, data)

    async def modal_submit(
        self, guild_id: str, channel_id: str, user_id: str, custom_id: str, values: Mapping[str, str]
    ) -> Interaction:
        """A modal submit with one text input (custom_id -> value) per action row."""
        rows = [{"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]} for k, v in values.items()]
        data = {"custom_id": custom_id, "components": rows}
        return await self._interaction(MODAL_SUBMIT, guild_id, channel_id, user_id, data)

    async def button_click(
        self, guild_id: str | None, channel_id: str, user_id: str, message_id: str, custom_id: str
    ) -> Interaction:
        """A click on a button of a stored message, in a guild (with the member) or, with guild_id None, in the
        bot's DM channel with the user (with the user). Answer types 6 and 7 act on that message."""
        message = self._stored(channel_id, message_id)
        buttons = [c for row in message["components"] for c in row.get("components", []) if c["type"] == BUTTON]
        if custom_id not in [b.get("custom_id") for b in buttons]:
            raise KeyError(f"message {message_id} has no button {custom_id!r}: {buttons}")
        data = {"custom_id": custom_id, "component_type": BUTTON}
        extra = {"message": copy.deepcopy(self._event_message(message))}
        return await self._interaction(MESSAGE_COMPONENT, guild_id, channel_id, user_id, data, extra)

    async def replay(self, interaction: Interaction) -> None:
        """Dispatch an interaction again with its id and token, as a gateway replay after a RESUME may; answering
        it a second time is refused with 40060, as Discord does."""
        await self.dispatch("INTERACTION_CREATE", interaction.payload)

    async def _interaction(
        self, kind: int, guild_id: str | None, channel_id: str, user_id: str, data: JSON, extra: JSON | None = None
    ) -> Interaction:
        record = Interaction(self._snowflake(), secrets.token_urlsafe(24), kind)
        channel = self.channels[channel_id]
        record.payload = {
            "id": record.id, "application_id": self.application_id, "type": kind, "data": data,
            "token": record.token, "version": 1, "channel_id": channel_id, "channel": channel, "locale": "en-US",
            "entitlements": [], "attachment_size_limit": 10 * 2**20,
        }  # fmt: skip
        if guild_id is not None:
            permissions = str(self.permissions(guild_id, user_id, channel_id))
            record.payload |= {
                "guild_id": guild_id, "guild": {"id": guild_id, "locale": "en-US", "features": []},
                "member": self.member_payload(guild_id, user_id) | {"permissions": permissions},
                "app_permissions": str(self.permissions(guild_id, self.bot_id, channel_id)),
                "guild_locale": "en-US", "authorizing_integration_owners": {"0": guild_id}, "context": 0,
            }  # fmt: skip
        elif channel["type"] == DM and channel["recipients"][0]["id"] == user_id:
            record.payload |= {"user": self.users[user_id], "app_permissions": str(EVERYONE_PERMISSIONS),
                               "authorizing_integration_owners": {"0": "0"}, "context": 1}  # fmt: skip
        else:
            raise ValueError(f"without a guild, {channel_id} must be the bot's DM channel with {user_id}")
        record.payload |= extra or {}
        self.interactions[record.id] = record
        await self.dispatch("INTERACTION_CREATE", record.payload)
        return record

    def _command_data(self, guild_id: str, command: str, options: Mapping[str, Any], focused: str | None) -> JSON:
        name, *path = command.split()
        in_guild = next((c for c in self.commands.get(guild_id, []) if c["name"] == name), None)
        registered = in_guild or next((c for c in self.commands.get(None, []) if c["name"] == name), None)
        data: JSON = {"id": registered["id"] if registered else self._snowflake(), "name": name, "type": 1}
        if in_guild:
            data["guild_id"] = guild_id  # how discord.py tells a guild command from a global one
        node, schema = data, (registered or {}).get("options", [])
        for depth, sub in enumerate(path):  # "a b c": b is a subcommand group (2), c a subcommand (1)
            child: JSON = {"name": sub, "type": 2 if depth == 0 and len(path) == 2 else 1}
            node["options"], node = [child], child
            schema = next((o.get("options", []) for o in schema if o["name"] == sub), [])
        resolved: dict[str, JSON] = {}
        node["options"] = [self._option(guild_id, schema, key, value, resolved) for key, value in options.items()]
        for option in node["options"]:
            option.update({"focused": True} if option["name"] == focused else {})
        if resolved:
            data["resolved"] = resolved
        return data

    def _option(self, guild_id: str, schema: list[JSON], name: str, value: Any, resolved: dict[str, JSON]) -> JSON:
        types = [(bool, 5), (int, 4), (float, 10), (object, 3)]
        kind = next((o["type"] for o in schema if o["name"] == name), None)
        kind = kind or next(k for t, k in types if isinstance(value, t))
        key = str(value)
        if kind == 6:  # user
            resolved.setdefault("users", {})[key] = self.users[key]
            if key in self.guilds[guild_id].members:
                member = {k: v for k, v in self.member_payload(guild_id, key).items() if k != "user"}
                resolved.setdefault("members", {})[key] = member
        elif kind == 7:  # channel
            perms = str(self.permissions(guild_id, self.bot_id, key))
            resolved.setdefault("channels", {})[key] = self.channels[key] | {"permissions": perms}
        elif kind == 8:  # role
            resolved.setdefault("roles", {})[key] = self.guilds[guild_id].roles[key]
        return {"name": name, "type": kind, "value": key if kind in (6, 7, 8) else value}

    # ---- REST plumbing ---------------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        method, path = request.method, "/" + request.match_info["tail"]
        body, files = await self._read_body(request)
        call = Call(method, path, body, files, dict(request.headers), dict(request.query))
        found = [(h, m) for ms, p, h in self._routes if method in ms.split("|") and (m := p.fullmatch(path))]
        failure = next((f for f in self._failures if f.method == method and f.pattern.fullmatch(path)), None)
        try:
            if (limited := self._global_limit(path)) is not None:
                status, payload, headers = limited
            elif failure is not None:
                headers = self._bucket_headers(method, found[0][1]) if found else {}
                status, payload, headers = self._failure_answer(failure, headers)
            elif not found:
                headers = {}
                self.unrouted.append(call)
                raise ApiError(404, 0, "404: Not Found")
            else:
                headers = self._bucket_headers(method, found[0][1])
                payload = await found[0][0](call, *found[0][1].groups())
                status = 204 if payload is None else 200
        except ApiError as error:
            status, payload = error.status, {"message": str(error), "code": error.code}
        if status == 429:
            self.rate_limited[f"{method} {path}"] += 1
        self.calls.append(call)
        if hold := next((h for h in self._holds if h.matches(method, path)), None):
            hold.calls.append(call)  # done, and recorded with status 0: only the answer waits
            await self._notify()
            await hold._gate.wait()
        call.status = status
        await self._notify()
        # Exactly "application/json": discord.py compares the header verbatim (aiohttp would add a charset).
        content = {} if payload is None else {"Content-Type": "application/json"}
        data = b"" if payload is None else json.dumps(payload).encode()
        return web.Response(status=status, body=data, headers={"Via": "1.1 google", **content, **headers})

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, list[Upload]]:
        """JSON, or multipart with payload_json and files[n] parts."""
        if request.content_type != "multipart/form-data":
            return (await request.json() if request.can_read_body else None), []
        body, files = None, []
        async for part in await request.multipart():
            if not isinstance(part, aiohttp.BodyPartReader):
                continue
            if part.name == "payload_json":
                body = json.loads(await part.text())
            else:
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                files.append(Upload(part.name or "", part.filename or "", content_type, bytes(await part.read())))
        return body, files

    def _failure_answer(self, failure: _Failure, bucket: dict[str, str]) -> tuple[int, JSON, dict[str, str]]:
        if failure.remaining is not None:
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.remove(failure)
        if failure.status != 429:
            code = failure.code if failure.code is not None else 50013 if failure.status == 403 else 0
            text = ERRORS.get(code) if code else "500: Internal Server Error" if failure.status >= 500 else None
            return failure.status, {"message": text or f"{failure.status}: Error", "code": code}, bucket
        return self._rate_limited(failure.retry_after, failure.scope, bucket)

    @staticmethod
    def _rate_limited(retry_after: float, scope: str, bucket: dict[str, str]) -> tuple[int, JSON, dict[str, str]]:
        """A 429 as https://discord.com/developers/docs/topics/rate-limits shows them, for each scope."""
        shared = scope == "shared"
        message = "The resource is being rate limited." if shared else "You are being rate limited."
        body = {"message": message, "retry_after": retry_after, "global": scope == "global"}
        headers = {"Retry-After": str(math.ceil(retry_after)), "X-RateLimit-Scope": scope}
        if scope == "global":
            return 429, body, headers | {"X-RateLimit-Global": "true"}
        reset = {"X-RateLimit-Reset": f"{time.time() + retry_after:.3f}", "X-RateLimit-Reset-After": str(retry_after)}
        return 429, body, bucket | reset | headers | ({} if shared else {"X-RateLimit-Remaining": "0"})

    def _global_limit(self, path: str) -> tuple[int, JSON, dict[str, str]] | None:
        """The bot's global limit, if enabled: `global_rate_limit` requests per second; interaction endpoints are
        exempt, as on Discord."""
        interaction = path.startswith(("/interactions/", f"/webhooks/{self.application_id}/"))
        if self.global_rate_limit is None or interaction:
            return None
        now = self.monotonic()
        start, used = self._global_window
        if now - start >= 1.0:
            start, used = now, 0
        if used < self.global_rate_limit:
            self._global_window = (start, used + 1)
            return None
        return self._rate_limited(round(max(1.0 - (now - start), 0.001), 3), "global", {})

    def _bucket_headers(self, method: str, match: re.Match[str]) -> dict[str, str]:
        """X-RateLimit-* counting down a one-second window per route and major id.

        The fake never enforces the limit itself (inject 429s with fail()); discord.py waits when it hits 0.
        """
        key = (f"{method} {match.re.pattern}", match.group(1) if match.re.groups else "")
        now = self.monotonic()
        start, used = self._buckets.get(key, (now, 0))
        if now - start >= 1.0:
            start, used = now, 0
        self._buckets[key] = (start, used + 1)
        reset_after = round(max(1.0 - (now - start), 0.001), 3)
        remaining = max(self.bucket_limit - used - 1, 0)
        return {
            "X-RateLimit-Limit": str(self.bucket_limit), "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}", "X-RateLimit-Reset-After": str(reset_after),
            "X-RateLimit-Bucket": hashlib.sha1(key[0].encode()).hexdigest()[:32],
        }  # fmt: skip

    # ---- REST: users, application, commands ------------------------------------------------------------------

    async def _get_gateway(self, call: Call) -> JSON:
        return {"url": self.gateway_url}

    async def _get_gateway_bot(self, call: Call) -> JSON:
        """Where to connect, the recommended shard count, and how many IDENTIFYs remain (one goes per IDENTIFY)."""
        limit = dict(self.session_start_limit)
        return {"url": self.gateway_url, "shards": self.recommended_shards, "session_start_limit": limit}

    async def _get_me(self, call: Call) -> JSON:
        return self.bot_user

    async def _get_user(self, call: Call, user_id: str) -> JSON:
        if user_id not in self.users:
            raise ApiError(404, 10013)
        return self.users[user_id]

    async def _get_application(self, call: Call) -> JSON:
        return {"id": self.application_id, "name": self.bot_user["username"], "icon": None, "description": "",
                "rpc_origins": [], "bot_public": False, "bot_require_code_grant": False, "owner": self.bot_user,
                "verify_key": "0" * 64, "team": None, "flags": 0, "bot": self.bot_user, "summary": ""}  # fmt: skip

    async def _commands(self, call: Call, app_id: str, guild_id: str | None) -> list[JSON]:
        """PUT is a bulk overwrite: commands keep their id when the name stays (as on Discord); GET lists."""
        if app_id != self.application_id:
            raise ApiError(403, 50001)
        if call.method == "PUT":
            old = {c["name"]: c["id"] for c in self.commands.get(guild_id, [])}
            self.commands[guild_id] = [
                {"type": 1, "options": [], "default_member_permissions": None, "nsfw": False} | command
                | {"id": old.get(command["name"]) or self._snowflake(), "application_id": app_id}
                | {"version": self._snowflake()} | ({"guild_id": guild_id} if guild_id else {})
                for command in call.json
            ]  # fmt: skip
        return self.commands.get(guild_id, [])

    # ---- REST: interaction responses and their webhook -------------------------------------------------------

    async def _callback(self, call: Call, interaction_id: str, token: str) -> JSON | None:
        """Record the response: types 4 and 5 (deferred, a "thinking" message) create the original message; on a
        button click, 6 (deferred update) and 7 (update) make the clicked message the original, 7 editing it."""
        record = self.interactions.get(interaction_id)
        if record is None or record.token != token:
            raise ApiError(404, 10062)
        if record.callbacks:
            raise ApiError(400, 40060)
        kind, data = call.json["type"], call.json.get("data") or {}
        updates = kind in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE)
        if updates and record.type not in (MESSAGE_COMPONENT, MODAL_SUBMIT):
            raise ApiError(400, 50035)  # only a component's message can be updated
        record.callbacks.append(call.json)
        flags = data.get("flags") or 0
        summary = {"id": interaction_id, "type": record.type, "response_message_loading": kind == 5,
                   "response_message_ephemeral": bool(flags & EPHEMERAL)}  # fmt: skip
        answer: JSON = {"interaction": summary}
        if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            body = data if kind == CHANNEL_MESSAGE else {"flags": flags | LOADING}
            record.original = self._interaction_message(record, body, call.files)
            summary["response_message_id"] = record.original["id"]
            answer["resource"] = {"type": kind, "message": record.original}
        elif updates and "message" in record.payload:
            record.original = self._stored(record.payload["channel_id"], record.payload["message"]["id"])
            summary["response_message_id"] = record.original["id"]
            if kind == UPDATE_MESSAGE:
                self._edit(record.original, data, call.files)
                answer["resource"] = {"type": kind, "message": record.original}
        return answer if call.query.get("with_response") in ("1", "true", "True") else None

    def _interaction_message(self, record: Interaction, body: JSON, files: list[Upload]) -> JSON:
        """A response message; non-ephemeral ones are channel messages too, ephemeral ones live on the record."""
        message = self._new_message(record.payload["channel_id"], body, files)
        user = (record.payload.get("member") or record.payload)["user"]
        metadata = {"id": record.id, "type": record.type, "user": user}
        if "message" in record.payload:
            metadata["interacted_message_id"] = record.payload["message"]["id"]
        message |= {"webhook_id": self.application_id, "application_id": self.application_id,
                    "type": 20 if record.type == APPLICATION_COMMAND else 0,
                    "interaction_metadata": metadata}  # fmt: skip
        if not message["flags"] & EPHEMERAL:
            self._put_message(message)
        return message

    def _interaction_for(self, app_id: str, token: str) -> Interaction:
        record = next((i for i in self.interactions.values() if i.token == token), None)
        if app_id != self.application_id or record is None or not record.callbacks:
            raise ApiError(404, 10015)  # the webhook exists only once the interaction was answered
        return record

    async def _followup(self, call: Call, app_id: str, token: str) -> JSON | None:
        record = self._interaction_for(app_id, token)
        message = self._interaction_message(record, call.json or {}, call.files)
        record.followups.append(message)
        return message if call.query.get("wait") in ("1", "true", "True") else None

    async def _webhook_message(self, call: Call, app_id: str, token: str, message_id: str) -> JSON | None:
        record = self._interaction_for(app_id, token)
        by_id = {m["id"]: m for m in [record.original, *record.followups] if m is not None}
        message = record.original if message_id == "@original" else by_id.get(message_id)
        if message is None:
            raise ApiError(404, 10008)
        if call.method == "PATCH":
            message["flags"] &= ~LOADING  # editing a deferred response completes it
            return self._edit(message, call.json or {}, call.files)
        if call.method == "DELETE":
            self._delete(message)
            if message is record.original:
                record.original = None
            return None
        return message

    # ---- REST: channels, messages, pins, reactions, threads, DMs, members ------------------------------------

    def _channel(self, channel_id: str, *alternatives: int) -> JSON:
        """The channel, if the bot can see it and holds all bits of one of `alternatives` (if given) there."""
        channel = self.channels.get(channel_id)
        if channel is None:
            raise ApiError(404, 10003)
        if channel.get("guild_id"):
            perms = self.permissions(channel["guild_id"], self.bot_id, channel_id)
            if not perms & VIEW_CHANNEL:
                raise ApiError(403, 50001)
            if alternatives and not any(perms & need == need for need in alternatives):
                raise ApiError(403, 50013)
        return channel

    def _stored(self, channel_id: str, message_id: str) -> JSON:
        if message_id not in self.messages.get(channel_id, {}):
            raise ApiError(404, 10008)
        return self.messages[channel_id][message_id]

    def _new_message(self, channel_id: str, body: JSON, files: list[Upload]) -> JSON:
        message = {
            "id": self._snowflake(), "channel_id": channel_id, "author": self.bot_user, "timestamp": now_iso(),
            "content": body.get("content") or "", "edited_timestamp": None, "tts": False, "mention_everyone": False,
            "mentions": [], "mention_roles": [], "attachments": [], "embeds": body.get("embeds") or [],
            "components": body.get("components") or [], "pinned": False, "type": 0, "flags": body.get("flags") or 0,
        }  # fmt: skip
        message["attachments"] = self._attachments(message, files)
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        if reference := body.get("message_reference"):
            message |= {"type": 19, "message_reference": {"type": 0, "channel_id": channel_id} | reference}
        return message

    def _attachments(self, message: JSON, files: list[Upload], keep: list[JSON] | None = None) -> list[JSON]:
        """Attachments listed in `keep` (by id) stay; each upload adds one."""
        kept = {str(a.get("id")) for a in keep or []}
        attachments = [a for a in message["attachments"] if a["id"] in kept]
        for upload in files:
            attachment_id = self._snowflake()
            url = f"http://127.0.0.1:{self.port}/attachments/{message['channel_id']}/{attachment_id}/{upload.filename}"
            attachments.append({"id": attachment_id, "filename": upload.filename, "size": len(upload.data),
                                "url": url, "proxy_url": url, "content_type": upload.content_type})  # fmt: skip
        return attachments

    def _event_message(self, message: JSON) -> JSON:
        """A message as MESSAGE_CREATE/UPDATE carry it: in guilds with guild_id and the author's member."""
        guild_id = self.channels[message["channel_id"]].get("guild_id")
        if not guild_id:
            return message
        member = {k: v for k, v in self.member_payload(guild_id, message["author"]["id"]).items() if k != "user"}
        return message | {"guild_id": guild_id, "member": member}

    def _put_message(self, message: JSON) -> None:
        channel = self.channels[message["channel_id"]]
        self.messages.setdefault(channel["id"], {})[message["id"]] = message
        channel["last_message_id"] = message["id"]
        self._echo("MESSAGE_CREATE", self._event_message(message), channel, GUILD_MESSAGES, DM_MESSAGES)

    def _edit(self, message: JSON, body: JSON, files: list[Upload]) -> JSON:
        """A PATCH, in place: given keys replace (null clears); attachments not listed are dropped."""
        for key, empty in (("content", ""), ("embeds", []), ("components", []), ("flags", 0)):
            if key in body:
                message[key] = empty if body[key] is None else body[key]
        if files or "attachments" in body:
            message["attachments"] = self._attachments(message, files, body.get("attachments"))
        message["edited_timestamp"] = now_iso()
        if message["id"] in self.messages.get(message["channel_id"], {}):  # ephemeral messages are not echoed
            channel = self.channels[message["channel_id"]]
            self._echo("MESSAGE_UPDATE", self._event_message(message), channel, GUILD_MESSAGES, DM_MESSAGES)
        return message

    def _delete(self, message: JSON) -> None:
        channel = self.channels[message["channel_id"]]
        if self.messages.get(channel["id"], {}).pop(message["id"], None) is not None:
            data = {"id": message["id"], "channel_id": channel["id"]}
            data |= {"guild_id": channel["guild_id"]} if channel.get("guild_id") else {}
            self._echo("MESSAGE_DELETE", data, channel, GUILD_MESSAGES, DM_MESSAGES)

    async def _get_channel(self, call: Call, channel_id: str) -> JSON:
        return self._channel(channel_id)

    async def _create_message(self, call: Call, channel_id: str) -> JSON:
        channel = self.channels.get(channel_id, {})
        if channel.get("type") == DM:
            if channel["recipients"][0]["id"] in self._dms_closed:
                raise ApiError(403, 50007)
        else:
            send = SEND_MESSAGES_IN_THREADS if channel.get("type") == PUBLIC_THREAD else SEND_MESSAGES
            self._channel(channel_id, send | (ATTACH_FILES if call.files else 0))
        body = call.json or {}
        nonce = None if body.get("nonce") is None else (channel_id, str(body["nonce"]))
        if nonce and len(nonce[1]) > 25:
            raise ApiError(400, 50035)  # a nonce is at most 25 characters
        if nonce and body.get("enforce_nonce") and nonce in self._nonces:
            at, message_id = self._nonces[nonce]
            if self.monotonic() - at < NONCE_SECONDS and message_id in self.messages.get(channel_id, {}):
                return self.messages[channel_id][message_id]  # the same message, and nothing new to dispatch
        message = self._new_message(channel_id, body, call.files)
        self._put_message(message)
        if nonce:
            self._nonces[nonce] = (self.monotonic(), message["id"])
        return message

    async def _message(self, call: Call, channel_id: str, message_id: str) -> JSON | None:
        self._channel(channel_id, READ_MESSAGE_HISTORY)
        message = self._stored(channel_id, message_id)
        own = message["author"]["id"] == self.bot_id
        if call.method == "PATCH":
            if not own:
                raise ApiError(403, 50005)
            return self._edit(message, call.json or {}, call.files)
        if call.method == "DELETE":
            if not own:
                self._channel(channel_id, MANAGE_MESSAGES)
            self._delete(message)
            return None
        return message

    async def _get_pins(self, call: Call, channel_id: str) -> JSON:
        self._channel(channel_id, READ_MESSAGE_HISTORY)
        before, limit = call.query.get("before"), int(call.query.get("limit", 50))
        pins = sorted(self.pins.get(channel_id, []), key=lambda pin: pin[1], reverse=True)
        items = [
            {"pinned_at": at, "message": self.messages[channel_id][mid]}
            for mid, at in pins
            if not before or at < before
        ]
        return {"items": items[:limit], "has_more": len(items) > limit}

    async def _pin(self, call: Call, channel_id: str, message_id: str) -> None:
        self._channel(channel_id, PIN_MESSAGES, MANAGE_MESSAGES)
        message = self._stored(channel_id, message_id)
        pins = self.pins.setdefault(channel_id, [])
        pinned = [mid for mid, _ in pins]
        if call.method == "PUT" and message_id not in pinned:
            if len(pins) >= 250:
                raise ApiError(400, 30003)
            pins.append((message_id, now_iso()))
        elif call.method == "DELETE" and message_id in pinned:
            del pins[pinned.index(message_id)]
        message["pinned"] = call.method == "PUT"

    async def _react(self, call: Call, channel_id: str, message_id: str, emoji: str, user: str) -> None:
        channel = self._channel(channel_id, READ_MESSAGE_HISTORY)
        self._stored(channel_id, message_id)
        user_id = self.bot_id if user == "@me" else user
        if call.method == "PUT" and not self.reactions.get(message_id, {}).get(emoji):
            self._channel(channel_id, ADD_REACTIONS)  # only the first reaction with an emoji needs it
        if call.method == "DELETE" and user_id != self.bot_id:
            self._channel(channel_id, MANAGE_MESSAGES)
        self.store_reaction(channel_id, message_id, user_id, emoji, remove=call.method == "DELETE")
        event = "MESSAGE_REACTION_ADD" if call.method == "PUT" else "MESSAGE_REACTION_REMOVE"
        data = self._reaction_data(event, channel_id, message_id, user_id, emoji, channel.get("guild_id"))
        self._echo(event, data, channel, GUILD_REACTIONS, DM_REACTIONS)

    async def _reaction_users(self, call: Call, channel_id: str, message_id: str, emoji: str) -> list[JSON]:
        self._channel(channel_id, READ_MESSAGE_HISTORY)
        self._stored(channel_id, message_id)
        after, limit = int(call.query.get("after", 0)), int(call.query.get("limit", 25))
        users = sorted((u for u in self.reactions.get(message_id, {}).get(emoji, []) if int(u) > after), key=int)
        return [self.users.get(u) or self._user(u, f"user{u}") for u in users][:limit]

    async def _create_thread(self, call: Call, channel_id: str, message_id: str) -> JSON:
        """A public thread started from a message; as on Discord, the thread's id is the message's id."""
        parent = self._channel(channel_id, CREATE_PUBLIC_THREADS)
        message = self._stored(channel_id, message_id)
        if message_id in self.channels:
            raise ApiError(400, 160004)
        body = call.json or {}
        thread = self.add_channel(parent["guild_id"], message_id, body["name"], PUBLIC_THREAD)
        metadata = {"archived": False, "auto_archive_duration": body.get("auto_archive_duration", 1440),
                    "archive_timestamp": now_iso(), "locked": False, "create_timestamp": now_iso()}  # fmt: skip
        thread |= {"parent_id": channel_id, "owner_id": self.bot_id, "message_count": 0, "member_count": 1,
                   "total_message_sent": 0, "rate_limit_per_user": body.get("rate_limit_per_user") or 0,
                   "thread_metadata": metadata}  # fmt: skip
        message |= {"thread": thread, "flags": message["flags"] | HAS_THREAD}
        return thread

    async def _open_dm(self, call: Call) -> JSON:
        """One DM channel per recipient; whether they accept DMs shows only when posting (50007)."""
        recipient = str(call.json["recipient_id"])
        if recipient not in self.users:
            raise ApiError(404, 10013)
        if channel := self.dm_channel(recipient):
            return channel
        channel = {"id": self._snowflake(), "type": DM, "last_message_id": None, "flags": 0,
                   "recipients": [self.users[recipient]]}  # fmt: skip
        self.channels[channel["id"]] = channel
        return channel

    async def _get_member(self, call: Call, guild_id: str, user_id: str) -> JSON:
        if guild_id not in self.guilds:
            raise ApiError(404, 10004)
        if user_id not in self.guilds[guild_id].members:
            raise ApiError(404, 10007)
        return self.member_payload(guild_id, user_id)

    async def _get_roles(self, call: Call, guild_id: str) -> list[JSON]:
        if guild_id not in self.guilds:
            raise ApiError(404, 10004)
        return list(self.guilds[guild_id].roles.values())


def identify_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make discord.py IDENTIFY again at once, for as long as `monkeypatch` lasts.

    discord.py's Client.before_identify_hook sleeps 5 s before every IDENTIFY but a client's first (Discord allows
    one IDENTIFY per 5 s per max_concurrency bucket): after an INVALID_SESSION, and for each AutoShardedClient
    shard after the first. The fake has no such limit, so the test client need not wait; this replaces that hook,
    discord.py's documented place for it, on discord.Client (a subclass's own hook still runs).
    """

    async def identify_now(self: discord.Client, shard_id: int | None, *, initial: bool = False) -> None:
        return None

    monkeypatch.setattr(discord.Client, "before_identify_hook", identify_now)


@pytest.fixture
async def fake_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """A running FakeDiscord with discord.py's REST base and gateway pointed at it, restored afterwards; the
    clients identify again without discord.py's 5 s wait (identify_without_waiting)."""
    identify_without_waiting(monkeypatch)
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscord() as fake:
        discord.http.Route.BASE = fake.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
        try:
            yield fake
        finally:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway
