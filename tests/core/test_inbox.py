"""Arrivals are recorded in batches: what arrives at once is one write, each arrival once."""

import asyncio

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import make_sessions
from bot.db.models import InboxEntry
from bot.inbox import Arrival, Kind, Recorder
from tests.conftest import START


async def test_fifty_arrivals_at_once_are_one_write_and_a_replay_among_them_is_seen(engine: AsyncEngine) -> None:
    writes: list[object] = []
    event.listen(engine.sync_engine, "begin", writes.append)
    recorder = Recorder(make_sessions(engine, urgent=True), lambda: START, within=5)
    arrivals = [Arrival(f"trigger-{n}", "T1", f"U{n}", Kind.COMMAND, {"text": "/submit"}) for n in range(50)]
    replay = Arrival("trigger-7", "T1", "U7", Kind.COMMAND, {"text": "/submit"})

    tickets = await asyncio.gather(*(recorder.record(a) for a in [*arrivals, replay]))

    assert len(writes) == 1
    assert [t.duplicate for t in tickets] == [False] * 50 + [True]
    assert len({t.id for t in tickets[:50]}) == 50
    async with make_sessions(engine, read_only=True)() as session:
        assert await session.scalar(select(func.count()).select_from(InboxEntry)) == 50
    again = await recorder.record(replay)  # a later batch sees it too
    assert again.duplicate
