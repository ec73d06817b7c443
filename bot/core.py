"""SymposiumBot: the one entry point adapters call. Commands in, private replies out; the outbox does the rest."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import commands as c
from bot.clock import Clock
from bot.db.models import Essay, OutboxRow
from bot.delivery import Dispatcher
from bot.errors import UserError
from bot.messages import Message, MessageBuilder, Part
from bot.ports import Platform
from bot.services import (
    intents,
    outreach,
    publishing,
    reconcile,
    reminders,
    reviews,
    submissions,
    symposia,
    views,
)
from bot.settings import CoreSettings
from bot.uow import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[Any, UnitOfWork], Awaitable[Message]]
HANDLERS: dict[type[c.Command], Handler] = {
    c.DeclareIntent: intents.declare_intent,
    c.Submit: submissions.submit,
    c.Withdraw: intents.withdraw,
    c.ShowEssays: views.show_essays,
    c.ShowStatus: views.show_status,
    c.SetReminders: intents.set_reminders,
    c.ShowHelp: views.show_help,
    c.OpenSymposium: symposia.open_symposium,
    c.EditSymposium: symposia.edit_symposium,
    c.CheckChannels: symposia.check_channels,
    c.Decide: reviews.decide,
    c.ScheduleEssay: publishing.schedule,
    c.PublishEssay: publishing.publish,
    c.CommentEssay: publishing.comment,
    c.Extend: outreach.extend,
    c.Notify: outreach.notify,
    c.Export: outreach.export,
    c.ManageEditors: symposia.manage_editors,
    c.CloseSymposium: symposia.close_symposium,
}


def error_reply(*parts: str | Part) -> Message:
    return MessageBuilder("That didn't work", tag="error").line(*parts).build()


class SymposiumBot:
    """Build one per process with its database sessions, clock and platform.

    Args:
        deliver_in_background: deliver right after each change in a background task (a running bot);
            the console and tests leave it off and call `tick()` themselves, so transcripts are deterministic.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        platform: Platform,
        settings: CoreSettings,
        *,
        deliver_in_background: bool = False,
    ) -> None:
        self.sessions, self.clock, self.platform, self.settings = sessions, clock, platform, settings
        self.dispatcher = Dispatcher(sessions, clock, platform, settings)
        self.deliver_in_background = deliver_in_background
        self._tick_lock = asyncio.Lock()
        self._background: set[asyncio.Task[int]] = set()

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.clock, self.platform, self.settings)

    async def handle(self, command: c.Command) -> Message:
        """Run a command; always answers with a private message (an error explains itself, nothing changed)."""
        try:
            async with self.unit_of_work() as uow:
                if not await uow.first_time(command.origin.event_id):
                    return MessageBuilder("Already done", tag="reply").line("That request was handled before.").build()
                reply = await HANDLERS[type(command)](command, uow)
                await uow.commit()
        except UserError as exc:
            return error_reply(*exc.parts)
        except Exception:
            log.exception("command %s failed", type(command).__name__)
            return error_reply("Something went wrong on my side and nothing was changed. Please try again.")
        self._changed(uow)
        return reply

    async def react(self, reaction: c.ReactOnCard) -> Message | None:
        """A reaction added or removed; returns a private note for the reactor, or None."""
        try:
            async with self.unit_of_work() as uow:
                if not await uow.first_time(reaction.event_id):
                    return None
                reply = await reviews.react(reaction, uow)
                await uow.commit()
        except UserError as exc:
            return error_reply(*exc.parts)
        except Exception:  # e.g. a race with reconciliation on the same card: one of them decided
            log.exception("reaction on %s in %s failed", reaction.message_ref, reaction.channel)
            return None
        self._changed(uow)
        return reply

    async def suggest(
        self, actor: c.Actor, option: str, typed: str, symposium: str | None = None
    ) -> list[tuple[str, str]]:
        """Autocomplete choices (label, value) for an option while a person types (Discord)."""
        async with self.unit_of_work() as uow:
            return await views.suggestions(uow, actor, option, typed, symposium)

    async def pending_cards(self) -> list[tuple[str, str]]:
        """Review cards still waiting for a decision, as (channel, ref): adapters re-read their reactions."""
        async with self.unit_of_work() as uow:
            return await reconcile.pending_cards(uow)

    async def reconcile(self, card: c.ReconcileCard) -> None:
        """Apply what a card's listed reactions decide (see bot/services/reconcile.py)."""
        try:
            async with self.unit_of_work() as uow:
                await reconcile.reconcile(card, uow)
                await uow.commit()
        except Exception:  # the next start or reconnection reads the card again
            log.exception("reconciling card %s in %s failed", card.message_ref, card.channel)
            return
        self._changed(uow)

    def _changed(self, uow: UnitOfWork) -> None:
        if self.deliver_in_background and uow.delivery_due:
            task = asyncio.create_task(self.tick())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def tick(self) -> int:
        """What the clock makes due: announce essays whose time came, the editors' digest, then deliver."""
        async with self._tick_lock:
            async with self.unit_of_work() as uow:
                await publishing.publish_due(uow)
                await reminders.daily_digests(uow)
                await uow.commit()
            return await self.dispatcher.deliver_due()

    async def close(self) -> None:
        """Let deliveries under way finish (background rounds, and a tick in progress)."""
        for task in list(self._background):
            await task
        async with self._tick_lock:
            pass

    async def next_due(self) -> datetime | None:
        """The earliest future moment something may fall due: an outbox row, an essay going live by itself,
        a digest check. The console steps its simulated clock through these."""
        async with self.unit_of_work() as uow:
            row = await uow.session.scalar(
                select(func.min(OutboxRow.due_at)).where(OutboxRow.status == "pending", OutboxRow.due_at > uow.now)
            )
            essay = await uow.session.scalar(
                select(func.min(Essay.scheduled_for)).where(
                    Essay.published_at.is_(None), Essay.live_url.is_not(None), Essay.scheduled_for > uow.now
                )
            )
            digest = await reminders.next_digest_check(uow)
        return min((t for t in (row, essay, digest) if t is not None), default=None)
