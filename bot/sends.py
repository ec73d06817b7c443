"""What the dispatcher (bot/delivery.py) and the core (bot/composer.py) agree on: a `Send` is one message as the
platform sees it, and the `Composer` says what a row stands for when it goes out."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import OutboxRow
from bot.messages import Message, load_message
from bot.outbox import Op


@dataclass(frozen=True)
class Send:
    """One message to send, as the platform sees it. A keyed post is posted once and remembered; with `upsert`,
    a key already posted is edited instead (the Essay Index's pages)."""

    op: Op
    community: str
    message: Message
    channel: str | None = None
    user_id: str | None = None
    key: str | None = None
    reactions: tuple[str, ...] = ()
    pin: bool = False
    upsert: bool = False
    handle: dict[str, Any] | None = None
    until: datetime | None = None


def stored_send(row: OutboxRow) -> Send:
    """The one send of a row that carries its message."""
    payload = row.payload
    until = payload.get("until")
    return Send(
        op=Op(row.op),
        community=row.community or "",
        message=load_message(payload["message"]),
        channel=row.channel,
        user_id=row.user_id,
        key=row.key,
        reactions=tuple(payload.get("reactions", ())),
        pin=bool(payload.get("pin")),
        handle=payload.get("handle"),
        until=datetime.fromisoformat(until) if until else None,
    )


class Composer(Protocol):
    """The core's side of delivery: what composed rows say, and what happens when a row cannot be delivered."""

    async def sends(self, session: AsyncSession, row: OutboxRow, now: datetime) -> list[Send] | str:
        """What a row stands for now (`stored_send` for a stored message), or why it should be dropped."""
        ...

    async def undeliverable(
        self, session: AsyncSession, row: OutboxRow, error: str, hint: str, now: datetime
    ) -> list[dict[str, Any]]:
        """Outbox rows that tell someone a row was given up on (none for such notices themselves)."""
        ...
