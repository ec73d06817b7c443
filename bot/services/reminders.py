"""Reminders are outbox rows with a future due time, derived from the symposium's dates and recomputed when
those change. Each row's `dedupe_key` names its recipient, deadline and offset, so a reminder that went out
is never written again; `group` ties the reminders of one recipient and deadline together, so that of several
missed ones only the latest is sent (see bot/delivery.py)."""

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, delete, insert, select

from bot import queries
from bot.db.models import Essay, Intent, OutboxRow, ParticipantPref, Symposium
from bot.messages import Message, MessageBuilder, Strong, Time, dump_message
from bot.uow import OUTBOX, UnitOfWork
from bot.values import zone_info

INTENT_DAYS = (7, 1)
DUE_DAYS = (7, 2, 1)
PUBLICATION_DAYS = 2
MORNING = time(8, 0)
CHUNK = 1000  # participants planned and written at a time
WAITING_TOO_LONG_HOURS = 48


def before(moment: datetime, days: int, zone: str) -> datetime:
    """`days` calendar days earlier at the same wall-clock time in `zone` (exact across daylight-saving changes)."""
    local = moment.astimezone(zone_info(zone))
    return (local - timedelta(days=days)).astimezone(moment.tzinfo)


def morning_of(moment: datetime, zone: str) -> datetime:
    """08:00 on the moment's local day, or an hour before it when it is earlier than that."""
    local = moment.astimezone(zone_info(zone))
    morning = datetime.combine(local.date(), MORNING, local.tzinfo)
    return min(morning, local - timedelta(hours=1)).astimezone(moment.tzinfo)


class Plan:
    """The reminders a symposium should have, as rows not yet added."""

    def __init__(self, sym: Symposium, now: datetime) -> None:
        self.sym, self.now = sym, now
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        key: str,
        due: datetime,
        deadline: datetime,
        message: Message,
        *,
        channel: str | None = None,
        user_id: str | None = None,
    ) -> None:
        if due <= self.now:
            return
        self.rows.append(
            {
                "symposium_id": self.sym.id,
                "op": "dm" if user_id else "post",
                "channel": channel,
                "user_id": user_id,
                "key": None,
                "payload": {"message": dump_message(message)},
                "due_at": due,
                "deadline": deadline,
                "group": key.rsplit(":", 1)[0],
                "dedupe_key": key,
                "scope": scope(self.sym.id, user_id),
                "status": "pending",
                "attempts": 0,
                "last_error": None,
                "claimed_until": None,
                "created_at": self.now,
                "sent_at": None,
            }
        )


def scope(symposium_id: int, user_id: str | None) -> str:
    """What a recompute replaces at once: one participant's reminders, or the channels' (intent, day)."""
    return f"rem:{symposium_id}:" + (f"user:{user_id}" if user_id else "channels")


def _intent_deadline(plan: Plan) -> None:
    sym = plan.sym
    for days in INTENT_DAYS:
        b = MessageBuilder(f"Reminder: Intent to Submit for {sym.title}", tag="reminder")
        b.line(
            "Intents close ",
            Time(sym.intent_deadline, sym.timezone),
            ". Declare yours with /intent title:<working title>.",
        )
        plan.add(
            f"rem:{sym.id}:intent:{sym.intent_deadline:%Y%m%d%H%M}:{days}",
            before(sym.intent_deadline, days, sym.timezone),
            sym.intent_deadline,
            b.build(),
            channel=sym.announce_channel,
        )


def _due_date(plan: Plan, intent: Intent) -> None:
    sym = plan.sym
    due = intent.due_override or sym.due_at
    for days in DUE_DAYS:
        b = MessageBuilder(f"Reminder: your essay for {sym.title}", tag="reminder")
        b.line("“", intent.title, "” is due ", Time(due, sym.timezone), ". Submit it with /submit url:<link>.")
        plan.add(
            f"rem:{sym.id}:due:{intent.user_id}:{due:%Y%m%d%H%M}:{days}",
            before(due, days, sym.timezone),
            due,
            b.build(),
            user_id=intent.user_id,
        )


def _publication(plan: Plan, intent: Intent, essay: Essay) -> None:
    sym, when = plan.sym, essay.scheduled_for
    assert when is not None
    if intent.route == "crosspost":
        step: list[str | Time | Strong] = [
            "Publish it on your own site at ",
            Time(when, sym.timezone),
            ", then give the live link with /submit live:<link>.",
        ]
    else:
        step = ["The editors publish it; nothing to do but share it."]
    for which, due in (("2d", before(when, PUBLICATION_DAYS, sym.timezone)), ("day", morning_of(when, sym.timezone))):
        b = MessageBuilder(
            f"Reminder: “{intent.title}” is published " + ("soon" if which == "2d" else "today"), tag="reminder"
        )
        b.line("Essay ", str(essay.number), " goes live ", Time(when, sym.timezone), ".")
        b.line(*step)
        plan.add(
            f"rem:{sym.id}:pub:{intent.user_id}:{when:%Y%m%d%H%M}:{which}", due, when, b.build(), user_id=intent.user_id
        )


def _publication_days(plan: Plan, scheduled: list[tuple[Essay, Intent]]) -> None:
    sym = plan.sym
    by_day: dict[date, list[tuple[Essay, Intent]]] = defaultdict(list)
    for essay, intent in scheduled:
        assert essay.scheduled_for is not None
        by_day[essay.scheduled_for.astimezone(zone_info(sym.timezone)).date()].append((essay, intent))
    for day, essays in sorted(by_day.items()):
        first = min(e.scheduled_for for e, _ in essays if e.scheduled_for)
        b = MessageBuilder(f"Publication day: {sym.title}", tag="reminder")
        b.line("Due today:")
        for essay, intent in essays:
            assert essay.scheduled_for is not None
            if essay.live_url:
                b.item(f"essay {essay.number} goes live by itself ", Time(essay.scheduled_for, sym.timezone))
            elif intent.route == "crosspost":
                b.item(f"cross-post essay {essay.number} once its author gives the live link")
            else:
                b.item(f"publish essay {essay.number}: /symposium publish essay:{essay.number} url:<live link>")
        end = datetime.combine(day, time(23, 59, 59), zone_info(sym.timezone))
        plan.add(
            f"rem:{sym.id}:day:{day:%Y%m%d}:{'-'.join(str(e.number) for e, _ in essays)}",
            morning_of(first, sym.timezone),
            end.astimezone(first.tzinfo),
            b.build(),
            channel=sym.review_channel,
        )


async def _muted(uow: UnitOfWork, community: str) -> set[str]:
    return set(
        await uow.session.scalars(
            select(ParticipantPref.user_id).where(
                ParticipantPref.community == community, ParticipantPref.reminders_on.is_(False)
            )
        )
    )


async def recompute(uow: UnitOfWork, sym: Symposium, user_id: str | None = None) -> None:
    """Replace the symposium's pending reminders (only one participant's, and the editors', when `user_id`)."""
    plan = Plan(sym, uow.now)
    if user_id is None:
        in_scope = and_(OutboxRow.symposium_id == sym.id, OutboxRow.scope.is_not(None))
    else:
        in_scope = OutboxRow.scope.in_([scope(sym.id, None), scope(sym.id, user_id)])
    await uow.session.execute(delete(OutboxRow).where(in_scope, OutboxRow.status == "pending"))
    done = set(await uow.session.scalars(select(OutboxRow.dedupe_key).where(in_scope)))
    if sym.status != "open":
        return
    muted = await _muted(uow, sym.community)
    _intent_deadline(plan)
    _publication_days(plan, list(await queries.coming_up(uow.session, sym.id)))
    participants = (
        select(Intent, Essay)
        .outerjoin(Essay, Essay.intent_id == Intent.id)
        .where(Intent.symposium_id == sym.id, Intent.status == "active")
        .execution_options(yield_per=CHUNK)
    )
    if user_id is not None:
        participants = participants.where(Intent.user_id == user_id)
    async for chunk in (await uow.session.stream(participants)).partitions():
        for intent, essay in chunk:
            if intent.user_id in muted:
                continue
            if essay is None:
                _due_date(plan, intent)
            elif essay.status == "approved" and essay.scheduled_for and essay.published_at is None:
                _publication(plan, intent, essay)
        await _write(uow, plan, done)
    await _write(uow, plan, done)


async def _write(uow: UnitOfWork, plan: Plan, done: set[str | None]) -> None:
    """Insert the planned rows not sent before, in bulk, and forget them (memory stays bounded)."""
    fresh = [row for row in plan.rows if row["dedupe_key"] not in done]
    if fresh:
        await uow.session.execute(insert(OUTBOX), fresh)
    plan.rows = []


async def daily_digests(uow: UnitOfWork) -> None:
    """Each day after 08:00 (symposium time), while a submission has waited over 48 hours, tell the editors."""
    for sym in await uow.session.scalars(select(Symposium).where(Symposium.status == "open")):
        local = uow.now.astimezone(zone_info(sym.timezone))
        key = f"digest:{sym.id}:{local:%Y%m%d}"
        if local.time() < MORNING or await uow.session.scalar(select(OutboxRow.id).where(OutboxRow.dedupe_key == key)):
            continue
        waiting = await queries.waiting_for_review(uow.session, sym.id)
        overdue = [(n, at) for n, at in waiting if uow.now - at > timedelta(hours=WAITING_TOO_LONG_HOURS)]
        if not overdue:
            continue
        b = MessageBuilder(f"Daily digest: {sym.title}", tag="reminder")
        b.line(f"{len(overdue)} submission{'s' if len(overdue) != 1 else ''} waited more than 48 hours:")
        for number, at in overdue:
            b.item(f"essay {number}, since ", Time(at, sym.timezone))
        for row in await queries.undelivered(uow.session, sym.id):
            b.item(f"undelivered {row.op} to {row.channel or row.user_id}: {row.last_error or 'failed'}")
        uow.schedule(
            OutboxRow(
                symposium_id=sym.id,
                op="post",
                channel=sym.review_channel,
                payload={"message": dump_message(b.build())},
                due_at=uow.now,
                dedupe_key=key,
                status="pending",
                attempts=0,
                created_at=uow.now,
            )
        )
        uow.delivery_due = True


async def next_digest_check(uow: UnitOfWork) -> datetime | None:
    """The next 08:00 (symposium time) at which a digest could be due: only while submissions wait."""
    zones = await uow.session.scalars(
        select(Symposium.timezone)
        .join(Essay, Essay.symposium_id == Symposium.id)
        .where(Symposium.status == "open", Essay.status == "pending")
        .distinct()
    )
    moments = []
    for zone in zones:
        local = uow.now.astimezone(zone_info(zone))
        morning = datetime.combine(local.date(), MORNING, local.tzinfo)
        moments.append((morning if morning > local else morning + timedelta(days=1)).astimezone(uow.now.tzinfo))
    return min(moments, default=None)
