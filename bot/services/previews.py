"""Previews: every announcement is drafted in the review channel before it goes out.

The preview is the announcement itself (`compose.announcement`: the same renderer, the same escaping, the pen name
applied), posted under the key `preview:<essay id>` the day before the essay's date, or at once when that is
sooner; after it comes a note for the editors (`preview-note:<essay id>`): when and where it goes out, whether its
author confirmed the date, where its live link stands, and how to hold it. Both are composed when they are
delivered and edited in place when the commentary, the title, the pen name or the link changes, so what the
editors last saw is what is announced.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bot import compose, queries, values
from bot.buttons import hold as hold_button
from bot.commands import PreviewEssay
from bot.db.models import Essay, Intent, LiveCheck, OutboxRow, PostedMessage, Symposium
from bot.errors import Refused
from bot.messages import ChannelRef, Link, Message, MessageBuilder, Strong, Time
from bot.outbox import Op, Status
from bot.permissions import require_editor
from bot.uow import UnitOfWork

LEAD = timedelta(days=1)
PREVIEW, NOTE = "preview", "preview-note"
HOLD_EMOJI = frozenset({"⏸️", "⏸", "double_vertical_bar", "pause_button"})


def _keys(essay: Essay) -> list[str]:
    return [f"{PREVIEW}:{essay.id}", f"{NOTE}:{essay.id}"]


async def _posted(uow: UnitOfWork, essay: Essay) -> bool:
    """Whether the preview is posted, or on its way this moment (claimed by a sender)."""
    keys = _keys(essay)
    posted = await uow.session.scalar(select(PostedMessage.id).where(PostedMessage.key.in_(keys)).limit(1))
    if posted is not None:
        return True
    sending = await uow.session.scalar(
        select(OutboxRow.id)
        .where(
            OutboxRow.key.in_(keys),
            OutboxRow.op == Op.POST,
            OutboxRow.status == Status.PENDING,
            OutboxRow.claim.is_not(None),
        )
        .limit(1)
    )
    return sending is not None


async def _drop_unsent(uow: UnitOfWork, essay: Essay) -> None:
    """Preview posts planned for a date that changed are not posted (the new plan replaces them)."""
    await uow.session.execute(
        update(OutboxRow)
        .where(
            OutboxRow.key.in_(_keys(essay)),
            OutboxRow.op == Op.POST,
            OutboxRow.status == Status.PENDING,
            OutboxRow.claim.is_(None),
        )
        .values(status=Status.DROPPED, last_error="its date changed before it was posted")
        .execution_options(synchronize_session=False)
    )


def _post(uow: UnitOfWork, sym: Symposium, essay: Essay, due: datetime) -> None:
    for kind, key in zip((PREVIEW, NOTE), _keys(essay), strict=True):
        uow.outbox(
            Op.POST, sym, channel=sym.review_channel, key=key, compose={"kind": kind, "essay": essay.id}, due_at=due
        )


async def _edit(uow: UnitOfWork, sym: Symposium, essay: Essay, *, announcement: bool, **spec: Any) -> None:
    """Edit the note (and the preview itself, when what the announcement shows changed), composed when the edit
    goes out; an edit already waiting to go covers a later change."""
    for kind, key in zip((PREVIEW, NOTE), _keys(essay), strict=True):
        if (kind == PREVIEW and not announcement) or (uow.writes(Op.EDIT, key) and not spec):
            continue
        waiting = await uow.session.scalar(
            select(OutboxRow.id)
            .where(
                OutboxRow.key == key,
                OutboxRow.op == Op.EDIT,
                OutboxRow.status == Status.PENDING,
                OutboxRow.claim.is_(None),
            )
            .limit(1)
        )
        if waiting is None or spec:
            uow.outbox(Op.EDIT, sym, key=key, compose={"kind": kind, "essay": essay.id, **spec})


async def plan(uow: UnitOfWork, sym: Symposium, essay: Essay, *, held_by: str | None = None) -> None:
    """The essay's date changed, or it has none now (held, withdrawn, no longer approved). A preview posted
    already is edited to say so; else one is planned for the day before the new date (at once when sooner)."""
    await _drop_unsent(uow, essay)
    if await _posted(uow, essay):
        await _edit(uow, sym, essay, announcement=False, **({"held_by": held_by} if held_by else {}))
    elif essay.scheduled_for is not None and essay.status == "approved":
        _post(uow, sym, essay, max(uow.now, essay.scheduled_for - LEAD))


async def changed(uow: UnitOfWork, sym: Symposium, essay: Essay, *, announcement: bool = True) -> None:
    """Something the announcement shows (or, with `announcement=False`, only the note: the date's confirmation,
    where the link stands) changed: a posted preview is edited in place; one not yet posted is composed when it
    goes."""
    if essay.published_at is None and await _posted(uow, essay):
        await _edit(uow, sym, essay, announcement=announcement)


async def show(cmd: PreviewEssay, uow: UnitOfWork) -> Message:
    await require_editor(uow, cmd.actor, "/symposium preview")
    sym = await queries.symposium(uow.session, cmd.actor.community, cmd.symposium)
    essay, _ = await queries.essay_by_number(uow.session, sym, values.integer(cmd.essay or "", "essay"))
    if essay.published_at is not None:
        raise Refused(f"Essay {essay.number} is announced already: the announcement is in the channel.")
    if essay.status != "approved":
        raise Refused(
            f"Essay {essay.number} is {compose.STATUS_WORDS[essay.status]}; only approved essays are previewed."
        )
    await _drop_unsent(uow, essay)
    if await _posted(uow, essay):
        await _edit(uow, sym, essay, announcement=True)
    else:
        _post(uow, sym, essay, uow.now)
    uow.audit(cmd.actor, "preview", f"essay:{essay.id}")
    return (
        MessageBuilder(f"Essay {essay.number}: preview", tag="reply")
        .line("Its announcement, exactly as it will be posted, is in ", ChannelRef(sym.review_channel), ".")
        .build()
    )


# ----- composed when delivered


async def compose_preview(session: Any, row: OutboxRow, base_url: str | None, now: datetime) -> Message | str:
    """The preview or its note, from the database as it is now; or why a preview post should not go out."""
    spec: dict[str, Any] = row.payload["compose"]
    essay = await session.get(Essay, spec["essay"])
    if essay is None:
        return "its essay is gone"
    intent = await session.get(Intent, essay.intent_id)
    sym = await session.get(Symposium, essay.symposium_id)
    assert intent is not None
    assert sym is not None
    if row.op == Op.POST and (
        essay.published_at is not None or essay.status != "approved" or intent.status != "active"
    ):
        return "the essay is announced, or no longer to be announced"
    if spec["kind"] == PREVIEW:
        return compose.announcement(sym, compose.public_view(essay, intent), base_url)
    check = await session.scalar(select(LiveCheck).where(LiveCheck.essay_id == essay.id))
    return note(sym, essay, intent, check, spec.get("held_by"), now)


def note(
    sym: Symposium, essay: Essay, intent: Intent, check: LiveCheck | None, held_by: str | None, now: datetime
) -> Message:
    b = MessageBuilder(f"Preview of essay {essay.number}: {intent.title}", tag="preview")
    if essay.published_at is not None:
        b.line(
            "Announced ",
            Time(essay.published_at, sym.timezone, relative=False),
            " in ",
            ChannelRef(sym.announce_channel),
            ".",
        )
        return b.build()
    if essay.status != "approved" or intent.status != "active":
        b.line(f"Not to be announced: essay {essay.number} is {compose.STATUS_WORDS[essay.status]}.")
        return b.build()
    if essay.scheduled_for is None:
        if held_by:
            b.line(Strong("Held"), f" by {held_by}: it is not announced, and its author is told the date moved.")
        else:
            b.line("It has no date: it is announced only once it is given one.")
        b.line(f"To give it a date: /symposium schedule essay:{essay.number} date:YYYY-MM-DD.")
        return b.build()
    b.line(
        "Above: its announcement, exactly as it will be posted in ",
        ChannelRef(sym.announce_channel),
        " ",
        Time(essay.scheduled_for, sym.timezone),
        ".",
    )
    b.line(Strong("Date: "), *compose.confirmation(sym, essay))
    b.line(Strong("Live link: "), *live_state(essay, intent, check))
    b.line(Strong("To hold it: "), f"react ⏸ here or on the preview, or /symposium hold essay:{essay.number}.")
    b.action(hold_button(sym, essay))
    return b.build()


def live_state(essay: Essay, intent: Intent, check: LiveCheck | None) -> list[Any]:
    """Where an essay's live link stands, for the editors."""
    problem = check.problem if check is not None else None
    if essay.live_url and check is not None and check.verified_url == essay.live_url:
        return [Link(essay.live_url, values.shown_link(essay.live_url)), ", seen live."]
    if essay.live_url:
        tail = f" (last look: {problem})." if problem else ", looked at when its time comes."
        return [Link(essay.live_url, values.shown_link(essay.live_url)), tail]
    if intent.route == "crosspost":
        where = check.feed_url if check is not None and check.feed_url else intent.feed_url
        looking = (
            [f"not yet; I look for it in its author's feed ({values.shown_link(where)}) from the morning of its day"]
            if where
            else ["not yet; its author gives it with /submit live:<link>, or I find it in their site's feed"]
        )
        return [*looking, f" (last look: {problem})." if problem else "."]
    return [
        f"none yet: /symposium schedule essay:{essay.number} url:<link>, or /symposium publish with url: on the day."
    ]
