"""Engine and session factory. SQLite gets WAL, foreign keys, a busy timeout and immediate write transactions,
taken in turn by the process's writers."""

import asyncio
import contextlib
import sqlite3
import weakref
from collections import deque
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_

from bot.db.sqlite_driver import OneTripDBAPI

BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("postgresql"):
        kwargs.setdefault("pool_pre_ping", True)  # a restarted server's dead connections are replaced, not used
        kwargs.setdefault("connect_args", {"server_settings": {"plan_cache_mode": "force_custom_plan"}})
    elif url.startswith("sqlite+aiosqlite"):
        kwargs.setdefault("module", OneTripDBAPI())  # one trip to aiosqlite's thread a statement, not four
    # What people typed never reaches a log or an error message through a failed statement's parameters.
    engine = create_async_engine(url, hide_parameters=True, **kwargs)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: AsyncEngine) -> None:
    """Writers queue on SQLite's lock instead of failing: every write transaction begins IMMEDIATE (see
    SQLAlchemy's "Serializable isolation / Savepoints / Transactional DDL" notes for pysqlite); how long one
    waits for the lock is set per transaction (`busy_timeout_ms`).

    The process's own writers queue for the lock in turn (`Turns`, first come first served, arrivals first)
    before they ask SQLite for it: SQLite's busy handler lets a waiter sleep and retry (up to 100 ms a step), so
    with ten commands and the delivery workers at once an unlucky one lost its turn again and again (seen: a
    single insert waiting a second). Another process (a second bot on the same file, a maintenance script) still
    meets the busy timeout."""
    turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Turns] = weakref.WeakKeyDictionary()
    holding: dict[int, Turns] = {}  # by the driver's connection, whichever layer hands it over

    def take_turn(connection: Any, timeout_ms: int, urgent: bool) -> None:
        loop = asyncio.get_running_loop()
        lock = turns.get(loop) or turns.setdefault(loop, Turns())
        try:  # inside SQLAlchemy's greenlet: waits on the event loop, in arrival order, as long as SQLite would
            await_(_acquire(lock, timeout_ms / 1000, urgent))
        except TimeoutError:
            locked = sqlite3.OperationalError("database is locked (this process's other writers held it)")
            raise OperationalError("BEGIN IMMEDIATE", None, locked) from None
        holding[id(_driver(connection.connection))] = lock

    def end_turn(connection: Any) -> None:
        if (lock := holding.pop(id(_driver(connection)), None)) is not None:
            lock.release()

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        timeout = int(options.get("busy_timeout_ms", BUSY_TIMEOUT_MS))
        if connection.info.get("busy_timeout_ms") != timeout:  # set per connection only when it changes
            connection.exec_driver_sql(f"PRAGMA busy_timeout={timeout}")
            connection.info["busy_timeout_ms"] = timeout
        if options.get("read_only", False):
            connection.exec_driver_sql("BEGIN")
            return
        take_turn(connection, timeout, bool(options.get("urgent", False)))
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            end_turn(connection.connection)
            raise

    dialect = engine.sync_engine.dialect
    for name in ("do_commit", "do_rollback"):  # the turn ends once SQLite let the lock go, not before
        setattr(dialect, name, _then(getattr(dialect, name), end_turn))
    for name in ("reset", "checkin", "invalidate", "close"):  # a transaction ended by the pool, not the session
        event.listen(engine.sync_engine.pool, name, lambda dbapi_connection, *_: end_turn(dbapi_connection))


class Turns:
    """This process's turns at SQLite's write lock: first come first served, except that urgent writers (an
    arrival recorded before the platform gets its acknowledgement) go before the others waiting, so an ack waits
    for the transaction under way, not for every command and delivery queued behind it."""

    def __init__(self) -> None:
        self._held = False
        self._waiting: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (deque(), deque())

    async def acquire(self, urgent: bool = False) -> None:
        if not self._held:
            self._held = True
            return
        waiter = asyncio.get_running_loop().create_future()
        queue = self._waiting[0 if urgent else 1]
        queue.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the turn was handed over as the wait was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    queue.remove(waiter)
            raise

    def release(self) -> None:
        """Hand the turn to the next waiter (the lock stays held), or free it."""
        for queue in self._waiting:
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._held = False


async def _acquire(turns: Turns, seconds: float, urgent: bool) -> None:
    """Take a turn within `seconds`; cancelled or timed out, it is not left taken."""
    async with asyncio.timeout(seconds):
        await turns.acquire(urgent)


def _driver(connection: Any) -> Any:
    """The driver's connection, under the pool's proxy if it is one."""
    return getattr(connection, "dbapi_connection", connection)


def _then(step: Any, after: Any) -> Any:
    def run(dbapi_connection: Any) -> None:
        try:
            step(dbapi_connection)
        finally:
            after(dbapi_connection)

    return run


def make_sessions(
    engine: AsyncEngine, *, read_only: bool = False, busy_timeout_ms: int | None = None, urgent: bool = False
) -> async_sessionmaker[AsyncSession]:
    """Sessions for the core. `read_only` ones (the public page, delivery's reads) never wait for SQLite's write
    lock and run as read-only transactions on PostgreSQL; `busy_timeout_ms` bounds how long a SQLite writer
    waits for the lock, and `urgent` writers take it before the others of the process waiting (recording an
    arrival must not keep a platform waiting for its acknowledgement)."""
    options: dict[str, Any] = {"urgent": True} if urgent else {}
    if read_only:
        options |= {"read_only": True}
        if engine.dialect.name == "postgresql":
            options |= {"postgresql_readonly": True}
    if busy_timeout_ms is not None:
        options |= {"busy_timeout_ms": busy_timeout_ms}
    return async_sessionmaker(engine.execution_options(**options) if options else engine, expire_on_commit=False)


def dialect_insert(session: AsyncSession, model: type[Any]) -> Any:
    """INSERT with ON CONFLICT support, in the session's dialect: a Core statement on the model's table, which
    skips the ORM's bulk-insert machinery (rows inserted this way are not objects of the session)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return insert(model.__table__)
