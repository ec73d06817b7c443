"""A symposium with many writers, for fault tests that need a large fan-out: opened through the core, the
writers' intents added by a small factory (a thousand `/intent`s through the core would be most of a test's time),
then `/symposium notify` through the core, which writes one direct message per writer to the outbox."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from adapters.runtime import symposium_process
from bot.clock import Clock
from bot.commands import Actor
from bot.db.models import Intent, Symposium
from bot.settings import CoreSettings
from tests.doubles import SilentPlatform, ask

EDITOR = "UEDITOR01"


def writer(n: int) -> str:
    return f"UWRITER{n:05d}"


def open_line(review: str, now: datetime) -> str:
    day = now.date()
    dates = [(day + timedelta(days=d)).isoformat() for d in (30, 40, 45, 90)]
    return (
        f"/symposium open title:A large call prompt:Is it? intent_deadline:{dates[0]} due:{dates[1]} "
        f"publish_from:{dates[2]} publish_to:{dates[3]} review_channel:{review}"
    )


async def fan_out(database_url: str, community: str, writers: int, clock: Clock, review: str = "CREVIEW01") -> None:
    """Open a symposium in `community`, add `writers` intents, and notify them all (the rows wait in the outbox)."""
    editor = Actor(community=community, user_id=EDITOR, name="Erin Editor", is_admin=True)
    platform = SilentPlatform({EDITOR: editor})
    settings = CoreSettings(database_url=database_url)
    async with symposium_process(settings, platform, clock, ticking=False, deliver_in_background=False) as bot:
        opened = await ask(bot, editor, open_line(review, clock.now()), "CGENERAL1")
        assert opened is not None
        assert opened.tag == "reply", opened
        async with bot.sessions() as session, session.begin():
            sym_id = await session.scalar(select(Symposium.id).where(Symposium.community == community))
            now = datetime.now(UTC)
            rows = [
                {
                    "symposium_id": sym_id,
                    "user_id": writer(n),
                    "user_name": f"Writer {n}",
                    "title": f"Essay {n}",
                    "prompt_no": 0,
                    "route": "direct",
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(1, writers + 1)
            ]
            await session.execute(insert(Intent), rows)
        notified = await ask(bot, editor, "/symposium notify text:The deadline is near.", "CGENERAL1")
        assert notified is not None
        assert f"{writers} participants" in notified.plain(), notified
