"""Work that runs after Slack has its answer.

Listeners acknowledge and return at once (the app runs with `process_before_response=True`, so the answer goes
out when the listener returns, without bolt's 10 ms polling for `ack()`), and hand the real work here. At most
WORKERS pieces of work run at a time: asyncio runs ready tasks in turn, so fifty commands' database work in flight
would put fifty steps of it between every two steps of the next request's ack, while a few at a time keep acks as
prompt as a bare app's (bench/slack.py measures it). On shutdown, `drain()` lets work under way finish before the
database engine closes.

Serving many workspaces, the WORKERS are per workspace (`per`: the context variable naming the request's
workspace), so a flood of one workspace's commands never keeps another's waiting.
"""

import asyncio
import logging
from collections.abc import Coroutine
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

WORKERS = 4


class AfterAck:
    def __init__(self, workers: int = WORKERS, per: ContextVar[str] | None = None) -> None:
        self._workers, self._per = workers, per
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._tasks: set[asyncio.Future[Any]] = set()

    def start(self, work: Coroutine[Any, Any, Any], *, now: bool = False) -> None:
        """Run `work` when a worker (of the request's workspace) is free (`now`: at once, e.g. for a trigger_id
        that expires in 3 s)."""
        key = self._per.get("") if self._per is not None else ""
        slots = self._slots.get(key) or self._slots.setdefault(key, asyncio.Semaphore(self._workers))
        self.keep(asyncio.ensure_future(work if now else self._in_turn(work, slots)))

    def keep(self, task: "asyncio.Future[Any]") -> None:
        """Work already under way (a form's handling, which the ack waited on for a while) to drain too."""
        self._tasks.add(task)
        task.add_done_callback(self._done)

    @staticmethod
    async def _in_turn(work: Coroutine[Any, Any, T], slots: asyncio.Semaphore) -> T:
        async with slots:
            return await work

    def _done(self, task: "asyncio.Future[Any]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("work after an ack failed", exc_info=error)

    async def drain(self) -> None:
        """Wait for all work under way, including work it starts."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
