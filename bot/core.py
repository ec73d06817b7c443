"""SymposiumBot: the one entry point adapters call.

An adapter records what arrived (`receive`, one short insert), acknowledges it to the platform, then asks the core
to `handle` it: the core learns who acts from the platform, asks the platform what a command needs to know first
(channel checks) with no transaction open, runs the command in one unit of work that also marks the arrival done
and writes the private reply to the outbox, and delivers that reply at once. Everything else the command causes
goes out through the outbox (bot/delivery.py); what the clock makes due runs on `tick`.
"""

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import buttons, grammar, inbox
from bot import commands as c
from bot.clock import Clock
from bot.composer import CoreComposer
from bot.db.engine import make_sessions
from bot.db.models import Essay, Intent, OutboxRow, Symposium
from bot.delivery import Dispatcher
from bot.errors import NotYet, UserError
from bot.inbox import Arrival, Kind, Ticket
from bot.live import LiveChecks
from bot.matching import EssayFetcher
from bot.messages import Line, Message, MessageBuilder, Part, Text
from bot.outbox import Status
from bot.permissions import is_editor
from bot.ports import Platform
from bot.services import (
    communities,
    dates,
    digests,
    history,
    intents,
    live,
    outreach,
    previews,
    publishing,
    reactions,
    reconcile,
    reminders,
    reviews,
    submissions,
    symposia,
    views,
)
from bot.settings import CoreSettings
from bot.uow import Checks, UnitOfWork
from bot.waking import Waker

log = logging.getLogger(__name__)

Handler = Callable[[Any, UnitOfWork], Awaitable[Message | None]]
HANDLERS: dict[type[c.Command] | type[c.ReactOnCard], Handler] = {
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
    c.ScheduleEssay: dates.schedule,
    c.ConfirmDate: dates.confirm,
    c.ProposeDate: dates.propose,
    c.AcceptDate: dates.accept,
    c.HoldEssay: dates.hold,
    c.PreviewEssay: previews.show,
    c.RenameEssay: publishing.rename,
    c.PublishEssay: publishing.publish,
    c.CommentEssay: publishing.comment,
    c.Extend: outreach.extend,
    c.Notify: outreach.notify,
    c.Export: outreach.export,
    c.ManageEditors: symposia.manage_editors,
    c.CloseSymposium: symposia.close_symposium,
    c.ReopenSymposium: symposia.reopen_symposium,
    c.ShowHistory: history.show_history,
    c.ReactOnCard: reactions.react,
}
Look = Callable[[Any, async_sessionmaker[AsyncSession], Platform], Awaitable[Checks]]
LOOK_FIRST: dict[type[c.Command], Look] = {
    c.OpenSymposium: symposia.look_before_open,
    c.EditSymposium: symposia.look_before_edit,
    c.CheckChannels: symposia.look_before_check,
}
"""Commands that need the platform's word before their transaction (can the bot post there?)."""

WHO_FAILED = "{platform} did not tell me who you are just now, so nothing was changed. Please try again in a moment."
BROKE = "Something went wrong on my side and nothing was changed. Please try again."
RECOVER_AFTER = timedelta(minutes=2)  # an arrival pending this long lost its handler (its process died)
ANSWERED_LATE = timedelta(seconds=30)
WAIT_FOR_TURN = timedelta(seconds=30)
GIVE_UP_WAITING = timedelta(minutes=10)  # longer than any claim in doubt (the delivery lease)

Inline = Callable[[Message], bool]
"""Offered the reply before it is written; True when the adapter shows it itself (an error inside a form)."""


def error_reply(*parts: str | Part) -> Message:
    return MessageBuilder("That didn't work", tag="error").line(*parts).build()


class SymposiumBot:
    """Build one per process (adapters/runtime.py does) with its database, clock and platform.

    Args:
        deliver_in_background: deliver right after each change in a background task (a running bot);
            the console and tests leave it off and call `deliver()`/`tick()` themselves, so transcripts are
            deterministic.
        workers: rows delivered at once (default: the settings'; the console uses 1, in order).
        fetcher: looks for essays live on their day (adapters/fetch); without one, an essay with a live link is
            announced at its time unchecked and cross-posts wait for `/submit live:`.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        platform: Platform,
        settings: CoreSettings,
        *,
        deliver_in_background: bool = False,
        workers: int | None = None,
        fetcher: EssayFetcher | None = None,
    ) -> None:
        self.engine, self.clock, self.platform, self.settings = engine, clock, platform, settings
        self.sessions = make_sessions(engine)
        self.reads = make_sessions(engine, read_only=True)
        quick = make_sessions(engine, busy_timeout_ms=int(settings.receive_within_seconds * 1000), urgent=True)
        self._recorder = inbox.Recorder(quick, clock.now, settings.receive_within_seconds * 1.5)
        self.composer = CoreComposer(settings, platform.index_page_chars)
        self.dispatcher = Dispatcher(
            self.sessions,
            self.reads,
            clock,
            platform,
            settings,
            self.composer,
            workers=workers,
            commands_busy=lambda: self._in_flight > 0,
        )
        self.live = (
            LiveChecks(
                self.unit_of_work,
                fetcher,
                timedelta(minutes=settings.live_poll_minutes),
                concurrency=settings.live_concurrency,
            )
            if fetcher is not None
            else None
        )
        self.deliver_in_background = deliver_in_background
        self.started_at = clock.now()
        self._turns: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._tick_lock = asyncio.Lock()
        self.waker = Waker(self.dispatcher, clock, settings.delivery_interval_seconds, background=deliver_in_background)
        self._in_flight = 0
        self._settled = asyncio.Event()
        self._settled.set()

    def unit_of_work(self, community: str = "", checks: Checks | None = None) -> UnitOfWork:
        return UnitOfWork(
            self.sessions, self.clock, self.settings, surface=self.platform.name, community=community, checks=checks
        )

    # ----- arrivals: recorded, acknowledged by the adapter, then handled

    async def receive(self, arrival: Arrival) -> Ticket:
        """Record what arrived before the adapter acknowledges it. Bounded by `receive_within_seconds`: past it the
        arrival is handled from memory (logged: it was not made durable), so a busy database never delays an ack.
        Its turn among the same person's arrivals is taken at once, before the insert, so two sent a moment apart
        are handled in the order they came even when their inserts finish the other way round."""
        ticket = Ticket(arrival, None)
        self._queue(ticket)
        try:
            recorded = await self._recorder.record(arrival)
            ticket.id, ticket.duplicate, ticket.received_at = recorded.id, recorded.duplicate, recorded.received_at
        except (TimeoutError, DBAPIError) as exc:
            log.warning("%s %s was not made durable (%s): handling it from memory", arrival.kind, arrival.key, exc)
        if ticket.duplicate:  # it takes no turn: whoever queued behind it waits for the one before it
            if ticket.after is not None and not ticket.after.done():
                ticket.after.add_done_callback(lambda _: self._done(ticket))
            else:
                self._done(ticket)
        return ticket

    def _queue(self, ticket: Ticket) -> None:
        """One person's arrivals are handled in the order they arrived."""
        who = (ticket.arrival.community, ticket.arrival.user_id)
        ticket.after = self._turns.get(who)
        ticket.turn = self._turns[who] = asyncio.get_running_loop().create_future()

    def _done(self, ticket: Ticket) -> None:
        if ticket.turn is not None and not ticket.turn.done():
            ticket.turn.set_result(None)
            who = (ticket.arrival.community, ticket.arrival.user_id)
            if self._turns.get(who) is ticket.turn:
                del self._turns[who]

    async def handle(self, ticket: Ticket, *, inline: Inline | None = None) -> Message | None:
        """Handle a received arrival; returns the private reply (already on its way), or None."""
        if ticket.duplicate:
            return None
        self._in_flight += 1
        self._settled.clear()
        try:
            if ticket.after is not None:
                with contextlib.suppress(TimeoutError):  # a predecessor never handled holds nobody up for long
                    await asyncio.wait_for(asyncio.shield(ticket.after), WAIT_FOR_TURN.total_seconds())
            return await self._handle(ticket, inline)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._settled.set()
            self._done(ticket)

    async def _handle(self, ticket: Ticket, inline: Inline | None) -> Message | None:
        arrival = ticket.arrival
        try:
            actor = await self.platform.actor(arrival.community, arrival.user_id, arrival.facts)
        except Exception:
            log.exception("could not tell who %s is", arrival.user_id)
            actor = None
        if actor is None:
            who_failed = WHO_FAILED.format(platform=self.platform.name.title())
            return await self._answer(ticket, error_reply(who_failed), inline)
        try:
            request = self._interpret(arrival, actor)
            look = LOOK_FIRST.get(type(request))  # type: ignore[arg-type]
            checks = await look(request, self.reads, self.platform) if look else None
            async with self.unit_of_work(arrival.community, checks) as uow:
                if not await inbox.take(uow.session, ticket, uow.now):
                    return None
                if isinstance(request, c.Press):
                    request = await buttons.command_for(uow.session, request)
                reply = await HANDLERS[type(request)](request, uow)
                await self._reply(uow, ticket, reply, inline, actor)
                await uow.commit()
        except UserError as exc:
            return await self._answer(ticket, error_reply(*exc.parts), inline)
        except NotYet as exc:
            await self._postpone(ticket, exc)
            return None
        except Exception:
            log.exception("%s %s failed", arrival.kind, arrival.key)
            return await self._answer(ticket, error_reply(BROKE), inline)
        await self._sent(uow)
        return reply

    def _interpret(self, arrival: Arrival, actor: c.Actor) -> c.Command | c.ReactOnCard | c.Press:
        body, normalize = arrival.body, self.platform.normalize
        origin = c.Origin(channel=str(body.get("channel", "")))
        match arrival.kind:
            case Kind.COMMAND:
                return grammar.parse(str(body["text"]), actor, origin, normalize)
            case Kind.FORM:
                spec = grammar.BY_PATH[str(body["command"])]
                return grammar.build(spec, dict(body["values"]), actor, origin, normalize)
            case Kind.REACTION:
                return c.ReactOnCard(
                    actor=actor,
                    channel=str(body["channel"]),
                    message_ref=str(body["ref"]),
                    emoji=str(body["emoji"]),
                    added=bool(body["added"]),
                )
            case Kind.ACTION:
                return c.Press(actor=actor, origin=origin, value=str(body["value"]))
        raise UserError(f"I don't know what to do with a {arrival.kind}.")

    async def _reply(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        reply: Message | None,
        inline: Inline | None,
        actor: c.Actor | None = None,
    ) -> None:
        if reply is None or (inline is not None and inline(reply)):
            return
        arrival = ticket.arrival
        if arrival.reply is None and not await self._welcomes_direct_messages(uow, arrival, actor):
            return
        if ticket.received_at is not None and uow.now - ticket.received_at > ANSWERED_LATE:
            late = Line((Text("(Answered late: I was restarting when this arrived.)"),))
            reply = dataclasses.replace(reply, lines=(*reply.lines, late))
        uow.reply(arrival.user_id, reply, arrival.reply, arrival.reply_until, self.dispatcher.lease)

    @staticmethod
    async def _welcomes_direct_messages(uow: UnitOfWork, arrival: Arrival, actor: c.Actor | None) -> bool:
        """An answer with no private way back (a reaction on Discord) goes by DM only to an editor or someone who
        takes part in a symposium here: a DM from a bot one never wrote to is not welcome. A command always gets
        its answer."""
        if arrival.kind is not Kind.REACTION or (actor is not None and await is_editor(uow, actor)):
            return True
        taking_part = await uow.session.scalar(
            select(Intent.id)
            .join(Symposium, Intent.symposium_id == Symposium.id)
            .where(
                Symposium.community == arrival.community,
                Intent.user_id == arrival.user_id,
                Intent.status == "active",
            )
            .limit(1)
        )
        return taking_part is not None

    async def _answer(self, ticket: Ticket, message: Message | None, inline: Inline | None) -> Message | None:
        """Mark the arrival handled with nothing changed but an answer (an error), or none."""
        try:
            async with self.unit_of_work(ticket.arrival.community) as uow:
                if not await inbox.take(uow.session, ticket, uow.now):
                    return None
                await self._reply(uow, ticket, message, inline)
                await uow.commit()
        except Exception:  # the database is away: the arrival stays pending and is handled on a later tick
            log.exception("could not record the answer to %s %s", ticket.arrival.kind, ticket.arrival.key)
            return None
        await self._sent(uow)
        return message

    async def _postpone(self, ticket: Ticket, wait: NotYet) -> None:
        """Leave the arrival in the inbox to be handled again shortly; one that has waited too long is dropped."""
        now = self.clock.now()
        if ticket.received_at is not None and now - ticket.received_at > GIVE_UP_WAITING:
            log.info("%s %s: gave up waiting (%s)", ticket.arrival.kind, ticket.arrival.key, wait)
            await self._answer(ticket, None, None)
            return
        log.info("%s %s waits: %s", ticket.arrival.kind, ticket.arrival.key, wait)
        async with self.unit_of_work(ticket.arrival.community) as uow:
            await inbox.postpone(uow.session, ticket, now, now + timedelta(seconds=wait.after_seconds))
            await uow.commit()

    async def _sent(self, uow: UnitOfWork) -> None:
        if uow.replied is not None:
            await self.dispatcher.deliver_claimed(uow.replied.id, uow.replied.claim)
        if uow.delivery_due:
            self.wake()
        if uow.due_later is not None:
            self.waker.wake_at(uow.due_later)

    async def recover(self, received_before: datetime | None = None) -> int:
        """Handle arrivals left pending by a process that stopped (by default: all received before this one
        started); their replies go through the reply handle while it is valid, else as a direct message."""
        before = received_before or self.started_at
        seen: set[int | None] = set()
        while True:
            async with self.reads() as session:
                tickets = [t for t in await inbox.waiting(session, before, self.clock.now()) if t.id not in seen]
            for ticket in tickets:
                await self.handle(ticket)
            seen |= {t.id for t in tickets}
            if len(tickets) < inbox.BATCH:  # a full batch may hide more behind it
                return len(seen)

    # ----- reads for adapters

    @staticmethod
    def heeds(emoji: str) -> bool:
        """Whether a reaction with this emoji can do anything (✅ ❌ ✏️ on cards, ⏸ on previews): adapters record
        only those."""
        return reactions.heeded(emoji)

    @staticmethod
    def decides(emoji: str) -> bool:
        """Whether a reaction on a review card decides anything (✅ ❌ ✏️): what reconciling a card reads."""
        return reviews.decision_of(emoji) is not None

    async def suggest(
        self, actor: c.Actor, option: str, typed: str, symposium: str | None = None
    ) -> list[tuple[str, str]]:
        """Autocomplete choices (label, value) for an option while a person types (Discord)."""
        async with self.unit_of_work(actor.community) as uow:
            return await views.suggestions(uow, actor, option, typed, symposium)

    async def pending_cards(self, communities: Callable[[str], bool] | None = None) -> list[tuple[str, str]]:
        """Review cards still waiting for a decision, as (channel, ref): adapters re-read their reactions. With
        `communities`, only those of the communities it accepts (a Discord shard's servers)."""
        async with self.reads() as session:
            return await reconcile.pending_cards(session, communities)

    async def reconcile(self, card: c.ReconcileCard) -> None:
        """Apply what a card's listed reactions decide (see bot/services/reconcile.py)."""
        try:
            async with self.unit_of_work() as uow:
                await reconcile.reconcile(card, uow)
                await uow.commit()
        except Exception:  # the next start or reconnection reads the card again
            log.exception("reconciling card %s in %s failed", card.message_ref, card.channel)
            return
        await self._sent(uow)

    # ----- communities the app left (bot/services/communities.py)

    async def pause_community(self, community: str, reason: str) -> bool:
        """Send nothing more to `community` (the app was uninstalled there): what waits stays in the outbox.
        False when it was paused already."""
        async with self.sessions() as session, session.begin():
            return await communities.pause(session, community, reason, self.clock.now())

    async def resume_community(self, community: str) -> bool:
        """Deliver to `community` again (the app was installed again), what waited first; False when it was not
        paused."""
        async with self.sessions() as session, session.begin():
            resumed = await communities.resume(session, community)
        if resumed:
            self.wake()
        return resumed

    async def paused_communities(self) -> dict[str, str]:
        """Paused communities, with why."""
        async with self.reads() as session:
            return await communities.paused(session)

    # ----- delivery and the clock

    def wake(self) -> None:
        """Deliver what is due, in the background (a running bot); calls while a round runs start one more."""
        self.waker.wake()

    async def deliver(self) -> int:
        """Deliver every row due now; returns how many were sent."""
        return await self.waker.deliver()

    async def tick(self) -> int:
        """What the clock makes due: looks for essays live (fetched with no transaction open), reminders to write
        out, essays whose time came, days missed, the editors' digest, arrivals whose handler vanished; then
        deliver."""
        async with self._tick_lock:
            if self.live is not None:
                await self.live.round()
            async with self.unit_of_work() as uow:
                more = await reminders.write_out(uow)
                await publishing.publish_due(uow, seen_live=self.live is not None)
                await live.report_missed(uow)
                await digests.daily_digests(uow)
                await inbox.prune(uow.session, uow.now)
                await uow.commit()
            while more:  # a reminder to every writer of a deadline: the rest of its writers, a chunk a transaction
                async with self.unit_of_work() as uow:
                    more = await reminders.write_out(uow)
                    await uow.commit()
            await self.recover(self.clock.now() - RECOVER_AFTER)
            if self.deliver_in_background:  # a long round (a fan-out at the platform's pace) never holds the clock
                self.wake()
                return 0
            return await self.deliver()

    async def close(self, within_seconds: float = 10.0, delivery_grace_seconds: float = 3.0) -> None:
        """Let work under way finish: arrivals being handled (an adapter's tasks may outlive its connection) and a
        tick in progress, then the delivery round: it claims nothing more, and a row still waiting for the
        platform's pace after the grace is left to its claim (nothing is lost: it is sent after the next start)."""
        self.dispatcher.stop()
        self.waker.stop()
        try:
            async with asyncio.timeout(within_seconds):
                await self._settled.wait()
                async with self._tick_lock:
                    pass
        except TimeoutError:
            log.warning("requests under way did not finish in %s s; the inbox keeps them", within_seconds)
        await self.waker.finish(delivery_grace_seconds)

    async def next_due(self) -> datetime | None:
        """The earliest future moment something may fall due: an outbox row, an essay going live by itself,
        a digest check. The console steps its simulated clock through these."""
        now = self.clock.now()
        async with self.reads() as session:
            row = await session.scalar(
                select(func.min(OutboxRow.due_at)).where(OutboxRow.status == Status.PENDING, OutboxRow.due_at > now)
            )
            essay = await session.scalar(
                select(func.min(Essay.scheduled_for)).where(
                    Essay.published_at.is_(None), Essay.live_url.is_not(None), Essay.scheduled_for > now
                )
            )
            digest = await digests.next_digest_check(session, now)
        async with self.unit_of_work() as uow:
            look = await live.next_due(uow, looking=self.live is not None)
        return min((t for t in (row, essay, digest, look) if t is not None), default=None)
