"""User text is literal everywhere and pings no one; a pen name never reveals its author in public."""

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.models import OutboxRow
from bot.messages import Mention, Text, load_message
from tests.conftest import OPEN, START, Harness, blocks

HOSTILE = "@everyone @here <!channel> <@123> **bold** _it_ `code`"


async def public_messages(engine: AsyncEngine, channel: str = "general") -> list:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(OutboxRow.payload).where(OutboxRow.channel == channel))).scalars().all()
    return [load_message(p["message"]) for p in rows if "message" in p]


async def test_hostile_title_and_pen_name_are_literal_text(harness: Harness, engine: AsyncEngine) -> None:
    out = await harness.run(f"""
{OPEN}
mallory: /intent title:{HOSTILE} pen_name:{HOSTILE}
mallory: /submit https://example.com/x
erin: react ✅ last
erin: /symposium publish essay:1 url:https://example.com/x commentary:{HOSTILE}
clock: +2m
""")
    assert f"New essay: {HOSTILE}" in out
    assert f"by {HOSTILE}" in out
    announcement = next(
        m for m in await public_messages(engine) if m.tag == "announcement" and "New essay" in (m.title or "")
    )
    assert announcement.title == f"New essay: {HOSTILE}"
    parts = [p for line in announcement.lines for p in line.parts]
    assert not any(isinstance(p, Mention) for p in parts)
    assert any(isinstance(p, Text) and p.text == HOSTILE for p in parts)


async def test_a_pen_named_essay_never_reveals_its_author_in_public(harness: Harness, engine: AsyncEngine) -> None:
    out = await harness.run(f"""
{OPEN}
zoe_account: /intent title:Limits of the Event-Driven Orchestrator pen_name:Harry Flow route:crosspost
zoe_account: /submit https://zoe.example/limits
erin: react ✅ last
erin: /symposium schedule essay:1 date:2023-03-14 url:https://zoe.example/limits-live
clock: 2023-03-15T00:00+00:00
erin: /symposium comment essay:1 text:A bracing read.
clock: +2m
""")
    assert "New essay: Limits of the Event-Driven Orchestrator" in out
    index = out[out.rindex("[#general] Essay Index") :]
    assert "Limits of the Event-Driven Orchestrator by Harry Flow" in index
    assert "A bracing read." in index
    public = await public_messages(engine)
    assert any(m.tag == "announcement" and "Limits" in (m.title or "") for m in public)
    for message in public:
        assert "zoe_account" not in message.plain()
        assert "Harry Flow" in message.plain() or "Limits" not in message.plain()
    general = [b for b in blocks(out) if "[#general" in b.split("\n")[0]]
    assert len(general) >= 3
    for block in general:
        assert "zoe_account" not in block


async def test_a_failed_statement_does_not_carry_what_people_typed_into_errors_and_logs(engine: AsyncEngine) -> None:
    """Engines hide statement parameters: a database error names the statement, never a participant's text."""
    from bot.db.models import Editor

    secret = "my-real-name-is-Ada-Lovelace"
    row = {"community": secret, "user_id": "u1", "added_by": secret, "added_at": START}
    async with engine.begin() as conn:
        await conn.execute(Editor.__table__.insert(), row)
    with pytest.raises(IntegrityError) as failed:
        async with engine.begin() as conn:
            await conn.execute(Editor.__table__.insert(), row)  # the same (community, user) twice
    assert secret not in str(failed.value)
    assert "hidden due to hide_parameters" in str(failed.value)
