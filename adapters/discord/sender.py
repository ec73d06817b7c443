"""The core's Platform over Discord's REST API: what the outbox delivers, and the channel checks of open/check.

Every call that carries content passes AllowedMentions.none() itself: discord.py's Message.edit sends the
client's default only along with new content, and its low-level HTTP helpers never do. The client's
max_ratelimit_timeout is low, so a long 429 raises RateLimited here instead of sleeping inside discord.py, and
the outbox reschedules the row (RetryLater).
"""

import io
import logging
from collections.abc import Awaitable, Callable, Collection
from functools import partial
from typing import Any, TypeVar

import aiohttp
import discord
from discord.http import Route
from discord.utils import MISSING
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.discord.buttons import components_of, view_of
from adapters.discord.pacing import Pacer
from adapters.discord.people import actor_from, fetch_actor
from adapters.discord.render import Rendered, pages, render
from adapters.dm_channels import DmChannels
from bot.commands import Actor
from bot.grammar import OptionSpec
from bot.messages import Message, MessageBuilder
from bot.ports import Attempt, ChannelCheck, MessageGone, RateLimited, RetryLater, Undeliverable

log = logging.getLogger(__name__)

T = TypeVar("T")
NO_MENTIONS = discord.AllowedMentions.none()
THREAD_NAME_MAX = 100
THREAD_EXISTS, DMS_CLOSED, MISSING_ACCESS, MISSING_PERMISSIONS = 160004, 50007, 50001, 50013
UNKNOWN_CHANNEL, UNKNOWN_MESSAGE, UNKNOWN_USER, TOO_MANY_PINS = 10003, 10008, 10013, 30003
UNKNOWN_WEBHOOK, INVALID_WEBHOOK_TOKEN = 10015, 50027  # an interaction token that expired or was never valid
EPHEMERAL = 64
# What each ability needs in a channel: (discord.Permissions attribute alternatives, the name to grant).
NEEDS: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "post": ((("view_channel",), "View Channel"), (("send_messages",), "Send Messages"), (("embed_links",), "Embed Links")),
    "edit": ((("view_channel",), "View Channel"), (("read_message_history",), "Read Message History")),
    "pin": ((("pin_messages", "manage_messages"), "Pin Messages"),),
    "react": ((("add_reactions",), "Add Reactions"), (("read_message_history",), "Read Message History")),
    "thread": (
        (("create_public_threads",), "Create Public Threads"),
        (("send_messages_in_threads",), "Send Messages in Threads"),
    ),
}  # fmt: skip
DMS_CLOSED_HINT = (
    "they do not accept direct messages from this server's members: they can allow them in the server's "
    "Privacy Settings (Direct Messages)"
)


class DiscordPlatform:
    """Delivers rendered messages; a message's ref is its id (a thread on it has the same id).

    Every message carries its outbox row as Discord's `nonce` (discord.py sends `enforce_nonce` with it), so a
    row sent again after its process died mid-send returns the message already posted instead of a second one,
    within Discord's window for nonces (a few minutes; the outbox's lease is shorter).

    Args:
        editor_role: the role whose holders are editors (with Manage Server), for members learned over REST.
    """

    name = "discord"
    # The core sizes Essay Index pages by plain text; Discord's forms (timestamps with the zone, bold, escapes) are
    # longer, and 3,400 keeps each page inside one embed's 4,096 characters (tests/adapters/test_discord_render.py).
    index_page_chars = 3400

    def __init__(self, client: discord.Client, pacer: Pacer, editor_role: str = "Editor") -> None:
        self.client, self.pacer, self.editor_role = client, pacer, editor_role
        self.dm_channels = DmChannels()

    def use_database(self, engine: AsyncEngine) -> None:
        """Keep the DM channels opened in the database, so a restart or the next fan-out opens none again."""
        self.dm_channels.use_database(engine)

    async def flush(self) -> None:
        await self.dm_channels.flush()

    async def post(self, community: str, channel: str, message: Message, attempt: Attempt) -> str:
        out, view = render(message), view_of(community, message)
        place = self._place(channel)
        sent = await self._call(
            "post",
            channel,
            lambda: place.send(
                content=out.content,
                embeds=out.embeds,
                allowed_mentions=NO_MENTIONS,
                nonce=attempt.nonce,
                view=view if view is not None else MISSING,
            ),
            place=channel,
        )
        return str(sent.id)

    async def edit(self, community: str, channel: str, ref: str, message: Message) -> None:
        """Edit in place; the buttons are replaced too (none: any the message had are removed)."""
        out, view = render(message), view_of(community, message)
        target = self._place(channel).get_partial_message(_id(ref))
        await self._call(
            "edit",
            channel,
            lambda: target.edit(content=out.content, embeds=out.embeds, allowed_mentions=NO_MENTIONS, view=view),
        )

    async def pin(self, community: str, channel: str, ref: str) -> None:
        await self._call("pin", channel, self._place(channel).get_partial_message(_id(ref)).pin)

    async def unpin(self, community: str, channel: str, ref: str) -> None:
        await self._call("pin", channel, self._place(channel).get_partial_message(_id(ref)).unpin)

    async def add_reactions(self, community: str, channel: str, ref: str, emojis: tuple[str, ...]) -> None:
        target = self._place(channel).get_partial_message(_id(ref))
        for emoji in emojis:
            await self._call("react", channel, partial(target.add_reaction, emoji))

    async def reply_in_thread(self, community: str, channel: str, ref: str, message: Message, attempt: Attempt) -> str:
        """Post in the thread on message `ref`, starting it first (a thread started on a message has its id)."""
        name = (message.title or "Running commentary")[:THREAD_NAME_MAX]
        await self._call(
            "thread",
            channel,
            lambda: self.client.http.start_thread_with_message(
                _id(channel), _id(ref), name=name, auto_archive_duration=10080
            ),
            ok={THREAD_EXISTS},
        )
        return await self.post(community, ref, message, attempt)

    async def direct_message(self, community: str, user_id: str, message: Message, attempt: Attempt) -> None:
        channel = await self._dm_channel(community, user_id)
        dm = self.client.get_partial_messageable(int(channel), type=discord.ChannelType.private)
        out, view = pages(message), view_of(community, message)
        for n, page in enumerate(out):
            last = n == len(out) - 1
            attachment = message.attachment if last else None
            file = discord.File(io.BytesIO(attachment.content.encode()), attachment.filename) if attachment else None
            await self._call(
                "dm",
                None,
                partial(
                    dm.send,
                    content=page.content,
                    embeds=page.embeds,
                    file=file,
                    allowed_mentions=NO_MENTIONS,
                    nonce=attempt.nonce if n == 0 else f"{attempt.nonce}-{n}",
                    view=view if view is not None and last else MISSING,
                ),
                place=channel,
            )

    async def _dm_channel(self, community: str, user_id: str) -> str:
        """The DM channel with `user_id`: kept from before, or opened now (POST /users/@me/channels) and kept."""
        if (known := await self.dm_channels.get(community, user_id)) is not None:
            return known
        dm = await self._call("dm", None, lambda: self.client.create_dm(discord.Object(_id(user_id))))
        await self.dm_channels.remember(community, user_id, str(dm.id))
        return str(dm.id)

    async def reply(self, community: str, handle: dict[str, Any], message: Message) -> None:
        """Replace an interaction's "thinking…" message with the answer; more pages follow as private followups.
        Through the interaction's webhook routes, so it works after a restart too (no Interaction object then)."""
        first, *more = pages(message)
        buttons = components_of(view_of(community, message))  # under the last page
        app, token = handle["application_id"], handle["token"]
        original = Route(
            "PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", webhook_id=app, webhook_token=token
        )
        body = _payload(first) | ({"components": buttons} if buttons and not more else {})
        await self._call("reply", None, lambda: self.client.http.request(original, json=body))
        followup = Route("POST", "/webhooks/{webhook_id}/{webhook_token}", webhook_id=app, webhook_token=token)
        for n, page in enumerate(more, 1):
            extra = {"components": buttons} if buttons and n == len(more) else {}
            await self._call(
                "reply", None, partial(self.client.http.request, followup, json=_payload(page, True) | extra)
            )

    async def actor(self, community: str, user_id: str, facts: dict[str, Any]) -> Actor | None:
        """From the facts recorded with an interaction; a reaction's member is fetched over REST when absent."""
        if facts:
            return actor_from(community, user_id, facts)
        return await fetch_actor(self.client, int(community), int(user_id), self.editor_role)

    def normalize(self, option: OptionSpec, value: str) -> str:
        return value  # Discord's typed options arrive as ids and plain values already

    async def check_channel(self, community: str, channel: str) -> ChannelCheck:
        """What the bot may do in `channel`, from its computed permissions there (nothing is posted)."""
        try:
            place = self.client.get_channel(_id(channel)) or await self._call(
                "check", channel, lambda: self.client.fetch_channel(_id(channel))
            )
        except (Undeliverable, RetryLater) as exc:
            return ChannelCheck(channel, missing={"post": _explain(exc)})
        if not isinstance(place, discord.TextChannel):
            return ChannelCheck(channel, missing={"post": "choose a text channel of this server"})
        granted = place.permissions_for(place.guild.me)
        works, missing = [], {}
        for ability, needs in NEEDS.items():
            if lacking := _lacking(granted, needs):
                missing[ability] = f"grant the bot {_listed(lacking)} in #{place.name}"
            else:
                works.append(ability)
        everyone = place.permissions_for(place.guild.default_role).view_channel
        return ChannelCheck(channel, works=tuple(works), missing=missing, readable_by_everyone=everyone)

    async def check_direct_message(self, community: str, user_id: str) -> str | None:
        """Discord tells whether a DM arrives only by sending one, so this sends a short one."""
        probe = MessageBuilder("Checking direct messages", tag="note")
        probe.line("This is /symposium check making sure I can reach you here. Nothing to do.")
        try:
            await self.direct_message(community, user_id, probe.build(), Attempt(f"check-{user_id}"[:25]))
        except (Undeliverable, RetryLater) as exc:
            return _explain(exc)
        return None

    def _place(self, channel: str) -> discord.PartialMessageable:
        return self.client.get_partial_messageable(_id(channel))

    async def _call(
        self,
        what: str,
        channel: str | None,
        call: Callable[[], Awaitable[T]],
        *,
        place: str | None = None,
        ok: Collection[int] = (),
    ) -> T:
        """One paced REST call (a message also waits for its `place`'s slot); Discord's refusals become the
        core's delivery errors. A refusal whose code is in `ok` is no error; the call then returns None."""
        async with self.pacer.slot(place):
            try:
                return await call()
            except discord.RateLimited as exc:
                raise RateLimited(f"Discord rate-limited {what} for {exc.retry_after:.0f} s", exc.retry_after) from exc
            except discord.HTTPException as exc:
                if exc.code in ok:
                    return None  # type: ignore[return-value]
                raise self._refusal(what, channel, exc) from exc
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise RetryLater(f"Discord did not answer ({what}: {type(exc).__name__})") from exc

    def _refusal(self, what: str, channel: str | None, exc: discord.HTTPException) -> Exception:
        reason = f"Discord refused ({exc.status}, code {exc.code}: {exc.text or 'no reason given'})"
        if exc.status == 429 or exc.status >= 500:
            return RetryLater(reason)
        where = self._name(channel)
        if exc.code == UNKNOWN_MESSAGE:
            return MessageGone(reason)
        if exc.code in (UNKNOWN_WEBHOOK, INVALID_WEBHOOK_TOKEN):
            return Undeliverable(reason, "the interaction expired")
        if exc.code == DMS_CLOSED:
            return Undeliverable(reason, DMS_CLOSED_HINT)
        if exc.code == MISSING_ACCESS:
            return Undeliverable(reason, f"grant the bot View Channel in {where}")
        if exc.code == MISSING_PERMISSIONS:
            needs = [name for _, name in NEEDS.get(what, NEEDS["post"])]
            return Undeliverable(reason, f"grant the bot {_listed(needs)} in {where}")
        if exc.code == UNKNOWN_CHANNEL:
            return Undeliverable(reason, "the channel was deleted: choose another with /symposium edit")
        if exc.code == UNKNOWN_USER:
            return Undeliverable(reason, "that Discord account no longer exists")
        if exc.code == TOO_MANY_PINS:
            return Undeliverable(reason, f"{where} has Discord's 250 pins: unpin older messages")
        return Undeliverable(reason)

    def _name(self, channel: str | None) -> str:
        found = self.client.get_channel(int(channel)) if channel and channel.isdigit() else None
        return f"#{found.name}" if isinstance(found, discord.abc.GuildChannel) else "that channel"


def _payload(page: Rendered, ephemeral: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "content": page.content or None,
        "embeds": [embed.to_dict() for embed in page.embeds],
        "allowed_mentions": NO_MENTIONS.to_dict(),
    }
    return body | ({"flags": EPHEMERAL} if ephemeral else {})


def _lacking(granted: discord.Permissions, needs: tuple[tuple[tuple[str, ...], str], ...]) -> list[str]:
    """The permissions to grant. Without View Channel nothing else counts, and without Send Messages discord.py
    (like Discord) clears Embed Links: only the root cause is named."""
    lacking = [name for names, name in needs if not any(getattr(granted, n) for n in names)]
    if "View Channel" in lacking:
        return ["View Channel"]
    return [n for n in lacking if not (n == "Embed Links" and "Send Messages" in lacking)]


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _id(value: str) -> int:
    if not value.isdigit():
        raise Undeliverable(f"“{value}” is not a Discord id", "choose a channel or member from Discord's list")
    return int(value)


def _explain(exc: Exception) -> str:
    hint = getattr(exc, "hint", "")
    return f"{exc}: {hint}" if hint else str(exc)
