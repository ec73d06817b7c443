"""Sending one outbox row: its calls to the platform in order, with no transaction open (bot/delivery.py claims
the row before and records the outcome after). A post under a key already posted is not posted again; an edit
the platform refuses (the message was deleted, or is too old) becomes a new post, pinned where the old one was."""

import contextlib
import logging
from dataclasses import dataclass, field

from bot.clock import Clock
from bot.outbox import Op
from bot.ports import Attempt, MessageGone, Platform, Undeliverable
from bot.sends import Send

log = logging.getLogger(__name__)


@dataclass
class Posted:
    channel: str
    ref: str
    pinned: bool


@dataclass
class Outcome:
    """What sending did: refs posted under keys (recorded even when a later step failed), and the error if any."""

    posted: dict[str, Posted] = field(default_factory=dict)
    error: Exception | None = None
    dropped: str | None = None


class Sender:
    def __init__(self, platform: Platform, clock: Clock) -> None:
        self.platform, self.clock = platform, clock

    async def send(self, attempt: Attempt, sends: list[Send], known: dict[str, Posted]) -> Outcome:
        """Make the row's calls in order; `known` holds what its keys posted already, and learns what they post."""
        outcome = Outcome()
        try:
            for send in sends:
                await self._one(send, attempt, known, outcome)
        except Exception as exc:  # recorded below: retried, or given up on and said
            outcome.error = exc
        return outcome

    async def _one(self, send: Send, attempt: Attempt, known: dict[str, Posted], outcome: Outcome) -> None:
        p, c = self.platform, send.community
        match send.op:
            case Op.DM:
                assert send.user_id
                await p.direct_message(c, send.user_id, send.message, attempt)
            case Op.REPLY:
                assert send.user_id
                if send.handle and (send.until is None or self.clock.now() < send.until):
                    try:
                        await p.reply(c, send.handle, send.message)
                        return
                    except Undeliverable as exc:
                        log.info("the reply handle was refused (%s): answering by direct message", exc)
                # the reply handle expired (the bot was down) or was refused: a direct message instead
                await p.direct_message(c, send.user_id, send.message, attempt)
            case Op.POST:
                assert send.channel
                posted = known.get(send.key) if send.key else None
                if posted is None:
                    posted = Posted(send.channel, await p.post(c, send.channel, send.message, attempt), False)
                    self._remember(send.key, posted, known, outcome)
                elif send.upsert:
                    await self._edit(send, posted, attempt, known, outcome)
                if send.reactions:
                    await p.add_reactions(c, posted.channel, posted.ref, send.reactions)
                if send.pin and not posted.pinned:
                    await p.pin(c, posted.channel, posted.ref)
                    posted.pinned = True
                    self._remember(send.key, posted, known, outcome)
            case Op.EDIT:
                await self._edit(send, self._posted(send, known), attempt, known, outcome)
            case Op.THREAD:
                posted = self._posted(send, known)
                await p.reply_in_thread(c, posted.channel, posted.ref, send.message, attempt)
            case _:
                raise Undeliverable(f"unknown outbox operation {send.op}")

    @staticmethod
    def _posted(send: Send, known: dict[str, Posted]) -> Posted:
        posted = known.get(send.key or "")
        if posted is None:
            raise Undeliverable(f"the message it refers to ({send.key}) was never posted")
        return posted

    @staticmethod
    def _remember(key: str | None, posted: Posted, known: dict[str, Posted], outcome: Outcome) -> None:
        if key:
            known[key] = outcome.posted[key] = posted

    async def _edit(
        self, send: Send, posted: Posted, attempt: Attempt, known: dict[str, Posted], outcome: Outcome
    ) -> None:
        """Edit in place; when the platform refuses (deleted, too old), post anew, pin it and unpin the old one."""
        p, c = self.platform, send.community
        try:
            await p.edit(c, posted.channel, posted.ref, send.message)
        except MessageGone:
            old = posted
            fresh = Posted(old.channel, await p.post(c, old.channel, send.message, attempt), False)
            self._remember(send.key, fresh, known, outcome)
            if old.pinned:
                await p.pin(c, fresh.channel, fresh.ref)
                fresh.pinned = True
                with contextlib.suppress(MessageGone, Undeliverable):
                    await p.unpin(c, old.channel, old.ref)
