"""Engine and session factory. SQLite gets WAL, foreign keys, a busy timeout and immediate write transactions."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("postgresql"):
        kwargs.setdefault("pool_pre_ping", True)  # a restarted server's dead connections are replaced, not used
        kwargs.setdefault("connect_args", {"server_settings": {"plan_cache_mode": "force_custom_plan"}})
    # What people typed never reaches a log or an error message through a failed statement's parameters.
    engine = create_async_engine(url, hide_parameters=True, **kwargs)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: AsyncEngine) -> None:
    """Writers queue on SQLite's lock instead of failing: every write transaction begins IMMEDIATE (see
    SQLAlchemy's "Serializable isolation / Savepoints / Transactional DDL" notes for pysqlite); how long one
    waits for the lock is set per transaction (`busy_timeout_ms`)."""

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
        connection.exec_driver_sql("BEGIN" if options.get("read_only", False) else "BEGIN IMMEDIATE")


def make_sessions(
    engine: AsyncEngine, *, read_only: bool = False, busy_timeout_ms: int | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions for the core. `read_only` ones (the public page, delivery's reads) never wait for SQLite's write
    lock and run as read-only transactions on PostgreSQL; `busy_timeout_ms` bounds how long a SQLite writer
    waits for the lock (recording an arrival must not keep a platform waiting for its acknowledgement)."""
    options: dict[str, Any] = {}
    if read_only:
        options |= {"read_only": True}
        if engine.dialect.name == "postgresql":
            options |= {"postgresql_readonly": True}
    if busy_timeout_ms is not None:
        options |= {"busy_timeout_ms": busy_timeout_ms}
    return async_sessionmaker(engine.execution_options(**options) if options else engine, expire_on_commit=False)


def dialect_insert(session: AsyncSession, model: type[Any]) -> Any:
    """INSERT with ON CONFLICT support, in the session's dialect."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return insert(model)
