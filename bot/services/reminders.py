"""Reminders are outbox rows with a future due time, planned from the symposium's dates and its reminder settings
(`remind_intent`, `remind_due`, `remind_at`), and replaced when those change.

A row holds a small spec (`compose`: kind, days), not a message: the message is composed when the row goes out
(`compose`), from the database as it is then, so a renamed title is current and a reminder whose reason went
away (the essay was submitted, the intent withdrawn) is dropped rather than sent. Each row's `dedupe_key` names
its recipient, deadline and offset, so a reminder that went out is never written again (the insert skips a key
that exists); `group` ties the reminders of one recipient and deadline together, so that of several missed ones
only the latest is sent (`superseded`).

Writers' due-date reminders are planned as one row per deadline and offset (`Op.REMIND`), not one per writer:
a recompute for 10,000 participants writes a handful of rows. When a plan falls due, the tick writes it out
(`write_out`): one INSERT … SELECT of a DM row per writer of that deadline, a thousand writers per transaction,
each then composed and delivered like any reminder. Who gets it is decided then, from the database as it is.
"""

import hashlib
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, String, and_, delete, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot import queries
from bot.compose import confirm_reminder, next_step
from bot.db.engine import dialect_insert
from bot.db.models import Essay, Intent, OutboxRow, ParticipantPref, Symposium
from bot.messages import Message, MessageBuilder, Time
from bot.outbox import Op, Status, outbox_row
from bot.uow import UnitOfWork
from bot.values import zone_info

PUBLICATION_DAYS = 2
MODES = ("all", "due-only", "off")
WRITE_OUT_CHUNK = 1000  # writers per transaction when a plan is written out


def before(moment: datetime, days: int, zone: str) -> datetime:
    """`days` calendar days earlier at the same wall-clock time in `zone` (exact across daylight-saving changes)."""
    local = moment.astimezone(zone_info(zone))
    return (local - timedelta(days=days)).astimezone(moment.tzinfo)


def morning(sym: Symposium, moment: datetime) -> datetime:
    """The symposium's reminder time (`remind_at`) on the moment's local day, or an hour before the moment when
    it is earlier than that."""
    local = moment.astimezone(zone_info(sym.timezone))
    hour, minute = (int(x) for x in sym.remind_at.split(":"))
    at = datetime.combine(local.date(), time(hour, minute), local.tzinfo)
    return min(at, local - timedelta(hours=1)).astimezone(moment.tzinfo)


def scope(symposium_id: int, user_id: str | None) -> str:
    """What a recompute replaces at once: one participant's reminders, or the channels' (intent, day)."""
    return f"rem:{symposium_id}:" + (f"user:{user_id}" if user_id else "channels")


def _row(
    sym: Symposium,
    now: datetime,
    key: str,
    due: datetime,
    deadline: datetime,
    spec: dict[str, Any],
    op: Op | None = None,
    **where: Any,
) -> dict[str, Any]:
    return outbox_row(
        now,
        op or (Op.DM if where.get("user_id") else Op.POST),
        community=sym.community,
        symposium_id=sym.id,
        compose=spec,
        due_at=due,
        deadline=deadline,
        group=key.rsplit(":", 1)[0],
        dedupe_key=key,
        scope=scope(sym.id, where.get("user_id")),
        bulk=True,
        **where,
    )


async def recompute(uow: UnitOfWork, sym: Symposium, user_id: str | None = None) -> None:
    """Replace the symposium's pending reminders (only one participant's, and the channels', when `user_id`)."""
    if user_id is None:
        in_scope = and_(OutboxRow.symposium_id == sym.id, OutboxRow.scope.is_not(None))
    else:
        in_scope = OutboxRow.scope.in_([scope(sym.id, None), scope(sym.id, user_id)])
    # Only plans are replaced. A row already due is in the delivery queue (claimed and being sent right now, or
    # waiting to be tried again): it is composed from the database when it goes out, or dropped if moot then.
    planned = and_(OutboxRow.status == Status.PENDING, OutboxRow.claim.is_(None), OutboxRow.due_at > uow.now)
    await uow.session.execute(delete(OutboxRow).where(in_scope, planned))
    if sym.status != "open":
        return
    now = uow.now
    rows: list[dict[str, Any]] = []
    for days in sym.remind_intent:
        due = before(sym.intent_deadline, days, sym.timezone)
        if due > now:
            key = f"rem:{sym.id}:intent:{sym.intent_deadline:%Y%m%d%H%M}:{days}"
            spec = {"kind": "intent", "days": days}
            rows.append(_row(sym, now, key, due, sym.intent_deadline, spec, channel=sym.announce_channel))
    scheduled = list(await queries.coming_up(uow.session, sym.id, after=now))
    rows += _publication_days(sym, now, scheduled)
    quiet = await _quiet(uow, sym.community)
    for essay, intent in scheduled:
        if intent.user_id not in quiet and (user_id is None or intent.user_id == user_id):
            rows += _publication(sym, now, intent, essay)
    overrides = await uow.session.scalars(
        select(Intent.due_override)
        .where(Intent.symposium_id == sym.id, Intent.due_override.is_not(None), Intent.status == "active")
        .distinct()
    )
    rows += _due_plans(sym, now, [due for due in overrides if due is not None])
    await uow.write_now(rows)


async def _quiet(uow: UnitOfWork, community: str) -> set[str]:
    """Writers who want no reminders but the due date's (due-only), or none (off)."""
    return set(
        await uow.session.scalars(
            select(ParticipantPref.user_id).where(ParticipantPref.community == community, ParticipantPref.mode != "all")
        )
    )


def _due_plans(sym: Symposium, now: datetime, overrides: list[datetime]) -> list[dict[str, Any]]:
    """One row per deadline (the symposium's, and each extension given) and offset, written out to the writers
    of that deadline when it falls due (`write_out`): planning costs the same for ten writers or ten thousand."""
    rows = []
    for due in sorted({sym.due_at, *overrides}):
        for days in sym.remind_due:
            at = before(due, days, sym.timezone)
            if at > now:
                key = f"rem:{sym.id}:dues:{due:%Y%m%d%H%M}:{days}"
                spec = {"kind": "due", "days": days}
                rows.append(_row(sym, now, key, at, due, spec, op=Op.REMIND))
    return rows


def _writers(sym: Symposium) -> ColumnElement[bool]:
    """Who a due-date reminder is for: active intents without an essay, unless their writer turned reminders off."""
    return and_(
        Intent.symposium_id == sym.id,
        Intent.status == "active",
        ~exists().where(Essay.intent_id == Intent.id),
        ~exists().where(
            ParticipantPref.community == sym.community,
            ParticipantPref.user_id == Intent.user_id,
            ParticipantPref.mode == "off",
        ),
    )


async def write_out(uow: UnitOfWork, chunk: int = WRITE_OUT_CHUNK) -> bool:
    """Write out the longest-due plan's reminders for its next `chunk` writers (one INSERT … SELECT; a writer
    whose reminder exists is skipped), so that no transaction holds the database for long; True while there is
    more to do. A plan whose deadline passed, or that a later one for the same deadline replaces, is dropped."""
    plan = await uow.session.scalar(
        select(OutboxRow)
        .where(OutboxRow.op == Op.REMIND, OutboxRow.status == Status.PENDING, OutboxRow.due_at <= uow.now)
        .order_by(OutboxRow.due_at, OutboxRow.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if plan is None:
        return False
    sym = await uow.session.get(Symposium, plan.symposium_id)
    if sym is None or sym.status != "open":
        reason: str | None = "its symposium is closed"
    else:
        reason = await superseded(uow.session, plan, uow.now)
    if reason is not None or sym is None:
        plan.status, plan.last_error = Status.DROPPED, reason
        return True
    writers = and_(
        _writers(sym),
        func.coalesce(Intent.due_override, sym.due_at) == plan.deadline,
        Intent.id > plan.payload.get("after", 0),
    )
    last = await uow.session.scalar(select(Intent.id).where(writers).order_by(Intent.id).offset(chunk - 1).limit(1))
    if last is not None:
        writers = and_(writers, Intent.id <= last)
    await uow.session.execute(_reminders_from(uow, plan, sym, writers))
    if last is None:
        plan.status, plan.sent_at = Status.SENT, uow.now
    else:
        plan.payload = {**plan.payload, "after": last}
    uow.delivery_due = True
    return True


def _reminders_from(uow: UnitOfWork, plan: OutboxRow, sym: Symposium, writers: ColumnElement[bool]) -> Any:
    """INSERT … SELECT of a plan's reminder to each of `writers`, named as one participant's reminders are."""
    due, days = plan.deadline, plan.payload["compose"]["days"]
    assert due is not None
    group, tail = f"rem:{sym.id}:due:", f":{due:%Y%m%d%H%M}"
    values: dict[str, ColumnElement[Any]] = {
        "community": literal(sym.community, String()),
        "symposium_id": literal(sym.id),
        "op": literal(Op.DM.value, String()),
        "user_id": Intent.user_id.expression,
        "destination": literal("user:", String()) + Intent.user_id,  # as bot/outbox.py names a person
        "payload": literal({"compose": {"kind": "due", "days": days}}, JSON()),
        "due_at": literal(plan.due_at, DateTime(timezone=True)),
        "deadline": literal(due, DateTime(timezone=True)),
        "group": literal(group, String()) + Intent.user_id + literal(tail, String()),
        "dedupe_key": literal(group, String()) + Intent.user_id + literal(f"{tail}:{days}", String()),
        "scope": literal(f"rem:{sym.id}:user:", String()) + Intent.user_id,
        "bulk": literal(True, Boolean()),
        "status": literal(Status.PENDING.value, String()),
        "attempts": literal(0),
        "created_at": literal(uow.now, DateTime(timezone=True)),
    }
    rows = select(*(v.label(k) for k, v in values.items())).where(writers)
    return dialect_insert(uow.session, OutboxRow).from_select(list(values), rows).on_conflict_do_nothing()


async def superseded(session: AsyncSession, row: OutboxRow, now: datetime) -> str | None:
    """Why a reminder should not go out any more: its deadline passed, or a later one for it is due too."""
    if row.deadline is not None and row.deadline <= now:
        return "its deadline passed before it could be sent"
    if row.group is not None:
        later = await session.scalar(
            select(OutboxRow.id)
            .where(
                OutboxRow.group == row.group,
                OutboxRow.status == Status.PENDING,
                OutboxRow.due_at <= now,
                OutboxRow.due_at > row.due_at,
            )
            .limit(1)
        )
        if later is not None:
            return "a later reminder for the same deadline replaces it"
    return None


def _publication(sym: Symposium, now: datetime, intent: Intent, essay: Essay) -> list[dict[str, Any]]:
    when = essay.scheduled_for
    assert when is not None
    rows = []
    for which, due in (("2d", before(when, PUBLICATION_DAYS, sym.timezone)), ("day", morning(sym, when))):
        if due > now:
            key = f"rem:{sym.id}:pub:{intent.user_id}:{when:%Y%m%d%H%M}:{which}"
            spec = {"kind": "publication", "which": which}
            rows.append(_row(sym, now, key, due, when, spec, user_id=intent.user_id))
    return rows


def _publication_days(sym: Symposium, now: datetime, scheduled: list[tuple[Essay, Intent]]) -> list[dict[str, Any]]:
    by_day: dict[date, list[Essay]] = defaultdict(list)
    for essay, _ in scheduled:
        assert essay.scheduled_for is not None
        by_day[essay.scheduled_for.astimezone(zone_info(sym.timezone)).date()].append(essay)
    rows = []
    for day, essays in sorted(by_day.items()):
        first = min(e.scheduled_for for e in essays if e.scheduled_for)
        end = datetime.combine(day, time(23, 59, 59), zone_info(sym.timezone)).astimezone(first.tzinfo)
        due = morning(sym, first)
        if due > now:
            # The day's essays name the reminder (a new essay that day makes a new one); hashed, as a busy day's
            # list of numbers would outgrow the key's column.
            numbers = "-".join(str(e.number) for e in sorted(essays, key=lambda e: e.number))
            key = f"rem:{sym.id}:day:{day:%Y%m%d}:{hashlib.sha256(numbers.encode()).hexdigest()[:16]}"
            spec = {"kind": "day", "day": day.isoformat()}
            rows.append(_row(sym, now, key, due, end, spec, channel=sym.review_channel))
    return rows


# ----- composed when they go out


async def compose(session: AsyncSession, row: OutboxRow, now: datetime) -> Message | str:
    """The reminder a row stands for, from the database as it is now; or why it should not go out."""
    spec: dict[str, Any] = row.payload["compose"]
    sym = await session.get(Symposium, row.symposium_id)
    if sym is None or sym.status != "open":
        return "its symposium is closed"
    match spec["kind"]:
        case "intent":
            b = MessageBuilder(f"Reminder: Intent to Submit for {sym.title}", tag="reminder")
            b.line(
                "Intents close ",
                Time(sym.intent_deadline, sym.timezone),
                ". Declare yours with /intent title:<working title>.",
            )
            return b.build()
        case "due":
            intent = await queries.intent_of(session, sym.id, row.user_id or "")
            if intent is None or intent.status != "active" or await queries.essay_of(session, intent.id):
                return "its essay was submitted, or its intent withdrawn"
            mode = await session.scalar(
                select(ParticipantPref.mode).where(
                    ParticipantPref.community == sym.community, ParticipantPref.user_id == intent.user_id
                )
            )
            if mode == "off":
                return "its writer turned reminders off"
            due = intent.due_override or sym.due_at
            b = MessageBuilder(f"Reminder: your essay for {sym.title}", tag="reminder")
            b.line("“", intent.title, "” is due ", Time(due, sym.timezone), ". Submit it with /submit url:<link>.")
            return b.build()
        case "publication":
            return await _publication_text(session, sym, row, spec["which"], now)
        case "day":
            return await _day_text(session, sym, date.fromisoformat(spec["day"]), now)
    return f"unknown reminder {spec['kind']}"


async def _publication_text(
    session: AsyncSession, sym: Symposium, row: OutboxRow, which: str, now: datetime
) -> Message | str:
    intent = await queries.intent_of(session, sym.id, row.user_id or "")
    essay = await queries.essay_of(session, intent.id) if intent else None
    if intent is None or essay is None or essay.published_at is not None or essay.scheduled_for is None:
        return "the essay is published, or no longer scheduled"
    if which == "2d" and essay.date_confirmed_at is None:  # the one reminder to confirm the date
        return confirm_reminder(sym, essay, intent, await queries.other_days(session, sym, essay, now))
    when = essay.scheduled_for
    b = MessageBuilder(
        f"Reminder: “{intent.title}” is published " + ("soon" if which == "2d" else "today"), tag="reminder"
    )
    b.line("Essay ", str(essay.number), " goes live ", Time(when, sym.timezone), ".")
    if intent.route == "crosspost":
        b.line(*next_step(sym, essay, intent))
    else:
        b.line("The editors publish it; nothing to do but share it.")
    return b.build()


async def _day_text(session: AsyncSession, sym: Symposium, day: date, now: datetime) -> Message | str:
    zone = zone_info(sym.timezone)
    start = datetime.combine(day, time(0, 0), zone)
    due = [
        (e, i)
        for e, i in await queries.coming_up(session, sym.id)
        if e.scheduled_for is not None and start <= e.scheduled_for < start + timedelta(days=1)
    ]
    if not due:
        return "nothing is due that day any more"
    b = MessageBuilder(f"Publication day: {sym.title}", tag="reminder")
    b.line("Due today:")
    for essay, intent in due:
        assert essay.scheduled_for is not None
        if essay.live_url:
            b.item(f"essay {essay.number} goes live by itself ", Time(essay.scheduled_for, sym.timezone))
        elif intent.route == "crosspost":
            b.item(
                f"cross-post essay {essay.number}: announced when it appears in its author's feed or they give the link"
            )
        else:
            b.item(f"publish essay {essay.number}: /symposium publish essay:{essay.number} url:<live link>")
    return b.build()
