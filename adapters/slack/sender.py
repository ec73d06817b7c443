"""The core's Platform over Slack's Web API: what the outbox delivers, the channel checks of `open`/`check`,
and who acts.

No call here waits out a 429: slack-sdk's rate-limit retry handler is not installed, and a 429 becomes
`RetryLater(Retry-After)` so the outbox reschedules the row (see pacing.py for how calls avoid 429s).

Every message the bot posts carries its outbox row in Slack's message metadata, so a row whose earlier attempt
is in doubt (its process died mid-send) is first looked for in the channel's recent history: found, it is not
posted again. A file (the export) carries no metadata; that one may repeat.
"""

import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.dm_channels import DmChannels
from adapters.slack.markup import normalize
from adapters.slack.pacing import Pacer, retry_after
from adapters.slack.people import People
from adapters.slack.render import render
from bot.clock import Clock
from bot.commands import Actor
from bot.grammar import OptionSpec
from bot.messages import Message
from bot.ports import Attempt, ChannelCheck, MessageGone, RateLimited, RetryLater, Undeliverable

log = logging.getLogger(__name__)

METADATA_EVENT = "symposium_outbox"  # the event_type of the metadata every post carries
LOOK_BACK = timedelta(minutes=1)  # before an in-doubt attempt began, for clocks that disagree a little
HISTORY_PAGE = 200
CALL_TIMEOUT_SECONDS = 10
EMOJI_NAMES = {"✅": "white_check_mark", "❌": "x", "✏️": "pencil2", "✏": "pencil2"}
CHANNEL_ABILITIES = ("post", "edit", "pin", "react", "thread")
ABILITY_SCOPES = {
    "post": "chat:write",
    "edit": "chat:write",
    "pin": "pins:write",
    "react": "reactions:write",
    "thread": "chat:write",
}
GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
PASSING = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})
_REAUTH = "the bot token is missing or was revoked: reinstall the app and set SLACK_BOT_TOKEN"
FIXES = {
    "not_in_channel": "invite the bot to the channel with /invite @{bot}",
    "channel_not_found": "the channel was deleted, or it is private and the bot is not in it: invite the bot with "
    "/invite @{bot}, or choose another channel with /symposium edit",
    "is_archived": "the channel is archived: unarchive it, or choose another channel with /symposium edit",
    "cannot_dm_bot": "that account is a bot, and bots cannot receive direct messages",
    "user_not_found": "that person is no longer in this workspace",
    "user_disabled": "that person's account is deactivated",
    "restricted_action": "a workspace setting stops the bot from doing this: ask a workspace admin",
    "too_many_pins": "the channel has reached Slack's pin limit: unpin older messages",
    "not_authed": _REAUTH,
    "invalid_auth": _REAUTH,
    "token_revoked": _REAUTH,
    "account_inactive": _REAUTH,
}


class SlackPlatform:
    """Delivers rendered messages; a message's ref is its `ts`.

    Args:
        people: who users are (users.info, cached); made from `client` when not given.
        bot_name: the bot's handle, for hints such as "/invite @symposium".
    """

    name = "slack"
    # Well inside Slack's limits (3,000-character text objects, 50 blocks): a page renders as two blocks.
    index_page_chars = 3000

    def __init__(
        self,
        client: AsyncWebClient,
        clock: Clock,
        pacer: Pacer,
        bot_name: str = "symposium",
        people: People | None = None,
    ) -> None:
        self.client, self.clock, self.pacer, self.bot_name = client, clock, pacer, bot_name
        self.people = people or People(client)
        self.dm_channels = DmChannels()

    def use_database(self, engine: AsyncEngine) -> None:
        """Keep the DM channels opened in the database, so a restart or the next fan-out opens none again."""
        self.dm_channels.use_database(engine)

    async def flush(self) -> None:
        await self.dm_channels.flush()

    async def post(self, community: str, channel: str, message: Message, attempt: Attempt) -> str:
        return await self._post_once(channel, message, attempt)

    async def _post_once(self, channel: str, message: Message, attempt: Attempt, thread: str | None = None) -> str:
        """chat.postMessage carrying the outbox row in its metadata; an attempt in doubt is looked for first."""
        if attempt.in_doubt and (found := await self._find(channel, attempt)) is not None:
            log.info(
                "outbox row %s was posted before its process stopped (%s): not posting again", attempt.nonce, found
            )
            return found
        blocks, text = render(message, self.clock.now())
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"outbox": attempt.nonce}}
        sent = await self._call(
            "chat.postMessage",
            lambda: self.client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, metadata=metadata, thread_ts=thread
            ),
            channel,
        )
        return str(sent["ts"])

    async def _find(self, channel: str, attempt: Attempt) -> str | None:
        """The ts of a message in `channel` carrying this attempt's nonce, posted since the attempt began."""
        oldest = (attempt.since - LOOK_BACK).timestamp() if attempt.since else 0
        answer = await self._call(
            "conversations.history",
            lambda: self.client.conversations_history(
                channel=channel, oldest=f"{oldest:.6f}", limit=HISTORY_PAGE, include_all_metadata=True
            ),
        )
        for message in answer.get("messages") or []:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("outbox") == attempt.nonce:
                return str(message["ts"])
        return None

    async def edit(self, community: str, channel: str, ref: str, message: Message) -> None:
        blocks, text = render(message, self.clock.now())
        await self._call(
            "chat.update", lambda: self.client.chat_update(channel=channel, ts=ref, text=text, blocks=blocks), channel
        )

    async def pin(self, community: str, channel: str, ref: str) -> None:
        await self._call(
            "pins.add", lambda: self.client.pins_add(channel=channel, timestamp=ref), ok={"already_pinned"}
        )

    async def unpin(self, community: str, channel: str, ref: str) -> None:
        await self._call("pins.remove", lambda: self.client.pins_remove(channel=channel, timestamp=ref), ok={"no_pin"})

    async def add_reactions(self, community: str, channel: str, ref: str, emojis: tuple[str, ...]) -> None:
        for emoji in emojis:
            await self._react(channel, ref, EMOJI_NAMES.get(emoji, emoji.strip(":")))

    async def _react(self, channel: str, ref: str, name: str) -> None:
        await self._call(
            "reactions.add",
            lambda: self.client.reactions_add(channel=channel, timestamp=ref, name=name),
            ok={"already_reacted"},
        )

    async def reply_in_thread(self, community: str, channel: str, ref: str, message: Message, attempt: Attempt) -> str:
        return await self._post_once(channel, message, attempt, thread=ref)

    async def direct_message(self, community: str, user_id: str, message: Message, attempt: Attempt) -> None:
        channel = await self._dm_channel(community, user_id)
        if (file := message.attachment) is None:
            await self._post_once(channel, message, attempt)
            return
        _, text = render(message, self.clock.now())
        await self._call(
            "files.completeUploadExternal",
            lambda: self.client.files_upload_v2(
                channel=channel, content=file.content, filename=file.filename, title=file.filename, initial_comment=text
            ),
        )

    async def reply(self, community: str, handle: dict[str, Any], message: Message) -> None:
        """Answer privately: through the request's response_url, or as an ephemeral message in a channel (a
        reaction's answer); a handle Slack no longer accepts is Undeliverable, and the outbox sends a DM."""
        blocks, text = render(message, self.clock.now())
        if url := handle.get("response_url"):
            try:
                sent = await AsyncWebhookClient(url, timeout=CALL_TIMEOUT_SECONDS).send(
                    text=text, blocks=blocks, response_type="ephemeral", replace_original=False
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise RetryLater(f"Slack did not answer the response_url ({type(exc).__name__})") from exc
            if sent.status_code == 429:
                raise RateLimited("Slack rate-limited the response_url", after_seconds=retry_after(sent))
            if sent.status_code >= 500:
                raise RetryLater(f"Slack's response_url answered {sent.status_code}")
            if sent.status_code != 200:
                raise Undeliverable(f"Slack's response_url refused the answer ({sent.status_code}: {sent.body[:80]})")
            return
        if place := handle.get("ephemeral"):
            channel, user = str(place["channel"]), str(place["user"])
            await self._call(
                "chat.postEphemeral",
                lambda: self.client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks),
                channel,
            )
            return
        raise Undeliverable("the request left no way to answer it privately")

    async def actor(self, community: str, user_id: str, facts: dict[str, Any]) -> Actor | None:
        try:
            return await self.people.actor(community, user_id)
        except (SlackClientError, aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
            log.warning("users.info failed for %s: %s", user_id, exc)
            return None

    def normalize(self, option: OptionSpec, value: str) -> str:
        return normalize(option, value)

    async def check_channel(self, community: str, channel: str) -> ChannelCheck:
        try:
            answer = await self._call("conversations.info", lambda: self.client.conversations_info(channel=channel))
        except (Undeliverable, RetryLater) as exc:
            return ChannelCheck(channel, missing={"post": _explain(exc)})
        info = answer["channel"]
        public = not info.get("is_private", False)
        if info.get("is_archived"):
            fix = FIXES["is_archived"]
            return ChannelCheck(channel, missing=dict.fromkeys(CHANNEL_ABILITIES, fix), readable_by_everyone=public)
        if not info.get("is_member"):
            fix = FIXES["not_in_channel"].format(bot=self.bot_name)
            return ChannelCheck(channel, missing=dict.fromkeys(CHANNEL_ABILITIES, fix), readable_by_everyone=public)
        granted = _scopes(answer)
        missing = {
            ability: f"add the {scope} scope under OAuth & Permissions, then reinstall the app"
            for ability, scope in ABILITY_SCOPES.items()
            if granted is not None and scope not in granted
        }
        works = tuple(ability for ability in CHANNEL_ABILITIES if ability not in missing)
        return ChannelCheck(channel, works=works, missing=missing, readable_by_everyone=public)

    async def check_direct_message(self, community: str, user_id: str) -> str | None:
        try:
            await self._dm_channel(community, user_id)
        except (Undeliverable, RetryLater) as exc:
            return _explain(exc)
        return None

    async def card_reactions(self, channel: str, ref: str) -> list[tuple[str, str]]:
        """(user id, reaction name) for every reaction on a message, for reconciliation."""
        answer = await self._call(
            "reactions.get", lambda: self.client.reactions_get(channel=channel, timestamp=ref, full=True)
        )
        reactions = answer["message"].get("reactions") or []
        return [(str(user), str(r["name"])) for r in reactions for user in r.get("users", [])]

    async def _dm_channel(self, community: str, user_id: str) -> str:
        """The DM channel with `user_id`: kept from before, or opened now (conversations.open) and kept."""
        if (known := await self.dm_channels.get(community, user_id)) is not None:
            return known
        opened = await self._call("conversations.open", lambda: self.client.conversations_open(users=user_id))
        channel = str(opened["channel"]["id"])
        await self.dm_channels.remember(community, user_id, channel)
        return channel

    async def _call(
        self,
        method: str,
        call: Callable[[], Awaitable[AsyncSlackResponse]],
        channel: str | None = None,
        ok: Collection[str] = (),
    ) -> AsyncSlackResponse:
        """Make one paced Web API call; Slack's refusals become the core's delivery errors."""
        async with self.pacer.slot(method, channel):
            try:
                return await call()
            except SlackApiError as exc:
                if exc.response.get("error") in ok:
                    return exc.response
                raise self._delivery_error(method, exc, channel) from exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise RetryLater(f"Slack did not answer {method} ({type(exc).__name__})") from exc

    def _delivery_error(self, method: str, exc: SlackApiError, channel: str | None = None) -> Exception:
        status, error = exc.response.status_code, str(exc.response.get("error") or "unknown_error")
        if status == 429:
            after = retry_after(exc.response)
            self.pacer.hold(method, after, channel)
            return RateLimited(f"Slack rate-limited {method}", after_seconds=after)
        if status >= 500 or error in PASSING:
            return RetryLater(f"Slack failed {method} (HTTP {status}, {error})")
        if error in GONE:
            return MessageGone(error)
        reason = f"Slack refused {method} ({error})"
        if error == "missing_scope":
            needed = exc.response.get("needed") or "the scope named in Slack's answer"
            return Undeliverable(reason, f"add the {needed} scope under OAuth & Permissions, then reinstall the app")
        return Undeliverable(reason, FIXES.get(error, "").format(bot=self.bot_name))


def _scopes(answer: AsyncSlackResponse) -> set[str] | None:
    """The token's scopes from Slack's X-OAuth-Scopes header; None when the answer does not say."""
    header = next((v for k, v in answer.headers.items() if k.lower() == "x-oauth-scopes"), None)
    return None if header is None else {scope.strip() for scope in str(header).split(",")}


def _explain(exc: Exception) -> str:
    hint = getattr(exc, "hint", "")
    return f"{exc}: {hint}" if hint else str(exc)
