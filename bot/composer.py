"""The core's side of delivery (bot/delivery.py `Composer`): what a row says when it goes out, whether it is
still worth sending, and who is told when it cannot be delivered."""

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose import notice
from bot.db.models import OutboxRow, Symposium
from bot.index import index_pages, public_essays, upcoming_essays
from bot.messages import ChannelRef, Mention
from bot.outbox import Op, outbox_row
from bot.sends import Send, stored_send
from bot.services import previews, reminders
from bot.settings import CoreSettings

WHAT = {
    Op.DM: "A direct message",
    Op.REPLY: "A private answer",
    Op.INDEX: "The Essay Index",
    Op.EDIT: "An edit",
    Op.THREAD: "Running commentary",
}


class CoreComposer:
    """Args:
    index_page_chars: how much plain text one page of the Essay Index may hold on this platform.
    """

    def __init__(self, settings: CoreSettings, index_page_chars: int) -> None:
        self.settings, self.index_page_chars = settings, index_page_chars

    async def sends(self, session: AsyncSession, row: OutboxRow, now: datetime) -> list[Send] | str:
        if reason := await reminders.superseded(session, row, now):
            return reason
        if row.op == Op.INDEX:
            return await self._index(session, row, now)
        if "compose" in row.payload:
            if row.payload["compose"]["kind"] in (previews.PREVIEW, previews.NOTE):
                composed = await previews.compose_preview(session, row, self.settings.public_base_url, now)
            else:
                composed = await reminders.compose(session, row, now)
            if isinstance(composed, str):
                return composed
            return [
                Send(Op(row.op), row.community or "", composed, channel=row.channel, user_id=row.user_id, key=row.key)
            ]
        return [stored_send(row)]

    async def _index(self, session: AsyncSession, row: OutboxRow, now: datetime) -> list[Send] | str:
        sym = await session.get(Symposium, row.symposium_id)
        if sym is None:
            return "its symposium is gone"
        pages = index_pages(
            sym,
            await public_essays(session, sym),
            await upcoming_essays(session, sym, now),
            self.settings.public_base_url,
            self.index_page_chars,
        )
        return [
            Send(
                Op.POST,
                sym.community,
                page,
                channel=sym.announce_channel,
                key=f"index:{sym.id}:{number}",
                pin=True,
                upsert=True,
            )
            for number, page in enumerate(pages)
        ]

    async def undeliverable(
        self, session: AsyncSession, row: OutboxRow, error: str, hint: str, now: datetime
    ) -> list[dict[str, Any]]:
        """A notice in the review channel, or to the opener when the review channel is what fails."""
        sym = await session.get(Symposium, row.symposium_id) if row.symposium_id else None
        if sym is None or row.payload.get("failure"):
            return []
        where = Mention(row.user_id, row.user_id) if row.user_id else ChannelRef(row.channel or sym.announce_channel)
        message = notice(WHAT.get(Op(row.op), "A message"), where, error, hint)
        review_failed = row.channel == sym.review_channel or (row.op == Op.EDIT and (row.key or "").startswith("card:"))
        common: dict[str, Any] = {
            "community": sym.community,
            "symposium_id": sym.id,
            "message": message,
            "extra": {"failure": True},
        }
        if review_failed:
            return [outbox_row(now, Op.DM, user_id=sym.opened_by, **common)]
        return [outbox_row(now, Op.POST, channel=sym.review_channel, **common)]
