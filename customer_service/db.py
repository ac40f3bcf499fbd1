"""Engine, transactions, and the one edge where database errors become domain errors."""

from __future__ import annotations

import re
import select
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from customer_service import delivery_plan
from customer_service.entities import BY_TABLE, SPECS
from customer_service.errors import (
    AlreadyExistsError,
    CustomerModuleError,
    InvalidDataError,
    NotFoundError,
    QueryTimeoutError,
)
from customer_service.events import use_event_group, write_queued

T = TypeVar("T")

# Every statement is cancelled after STATEMENT_TIMEOUT_MS (a hostile `$re`, a leading-wildcard
# `$like`: a typed, final error, see `translate`); a lock wait is cancelled sooner, as an
# infrastructure error the activity retries (contention passes).
STATEMENT_TIMEOUT_MS = 20_000
LOCK_TIMEOUT_MS = 10_000

# In the SQL of a statement that PostgreSQL is to plan with its values on every call.
PLANNED_PER_CALL = "/* planned per call */"


def create_engine(
    url: str,
    pool_size: int = 10,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    lock_timeout_ms: int = LOCK_TIMEOUT_MS,
) -> AsyncEngine:
    """The pool does not ping a connection at checkout (a round trip before every read or
    write): `_closed_by_server` drops one the server has closed, `read()` retries on one that
    died unnoticed, a write's activity retries (DESIGN rule 6), `pool_recycle` ages them out.

    hide_parameters: a database error's text names its SQL, never the values (emails, names)
    bound to it; those would reach logs and Temporal failures."""
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        hide_parameters=True,
    )
    settings = (
        "SET synchronize_seqscans = off",
        f"SET statement_timeout = {int(statement_timeout_ms)}",
        f"SET lock_timeout = {int(lock_timeout_ms)}",
    )
    event.listen(engine.sync_engine, "connect", lambda conn, _: _session_settings(conn, settings))
    event.listen(engine.sync_engine, "checkout", _closed_by_server)
    event.listen(engine.sync_engine, "do_execute", _planned_per_call)
    return engine


def _planned_per_call(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    """psycopg prepares a statement it has run 5 times, and PostgreSQL may then settle on one
    generic plan for it, planned once for every call. That suits the statements whose rows are
    named by id (an at-once write plans in about as long as it runs: 0.2-0.3 ms saved per call),
    but not one built on a caller's filter: for `q` (ILIKE on the trigram indexes) a generic plan
    is off by an order of magnitude for some terms, and a generic one-token plan scans the whole
    table. Such a statement carries `PLANNED_PER_CALL` (`filters.compile_filter`) and is sent
    unprepared, so PostgreSQL plans it with its values every time."""
    if PLANNED_PER_CALL not in statement:
        return False
    connection = context.root_connection.connection.driver_connection
    threshold = connection.prepare_threshold
    connection.prepare_threshold = None  # client-side: no round trip
    try:
        cursor.execute(statement, parameters)
    finally:
        connection.prepare_threshold = threshold
    return True


def _closed_by_server(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """An idle connection in the pool has nothing to read; one the server closed (a restart, a
    terminated backend, an idle timeout) has its goodbye or an end of file waiting. A poll of the
    socket, no round trip: a readable one is replaced with a fresh connection before use."""
    connection = record.driver_connection
    if connection.closed or connection.broken:
        raise sa_exc.DisconnectionError("connection closed")
    poll = select.poll()  # not select(): a process may hold descriptors past FD_SETSIZE
    poll.register(connection.fileno(), select.POLLIN)
    if poll.poll(0):
        raise sa_exc.DisconnectionError("connection closed by the server")


def _session_settings(dbapi_connection: Any, statements: tuple[str, ...]) -> None:
    """Each new connection's settings: the timeouts above, and no synchronised scans. Large
    sequential scans start at block 0 rather than joining one under way elsewhere in the table:
    the estimated count (`queries._bounded_count`) reads how far a scan got."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    for statement in statements:
        cursor.execute(statement)
    cursor.close()
    dbapi_connection.autocommit = autocommit


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


# Unique index / constraint → how Medusa words the violation (SPEC §2.4).
_UNIQUE_MESSAGES = {
    "IDX_customer_email_has_account_unique": "Customer with email: {0}, has_account: {1}, already exists.",
    "IDX_customer_auth_identity_id_unique": "Customer with auth_identity_id: {0}, already exists.",
    "IDX_customer_address_unique_customer_billing": "Customer address with customer_id: {0}, already exists.",
    "IDX_customer_address_unique_customer_shipping": "Customer address with customer_id: {0}, already exists.",
    "IDX_customer_group_name_unique": "Customer group with name: {0}, already exists.",
    "IDX_customer_group_customer_pair_unique": (
        "Customer group customer with customer_id: {0}, customer_group_id: {1}, already exists."
    ),
    **{
        f"{s.table.name}_pkey": f"{s.words} with id: {{0}}, already exists." for s in SPECS.values()
    },
}
_UNIQUE_FIELDS = {
    "IDX_customer_email_has_account_unique": "email",
    "IDX_customer_auth_identity_id_unique": "auth_identity_id",
    "IDX_customer_address_unique_customer_billing": "is_default_billing",
    "IDX_customer_address_unique_customer_shipping": "is_default_shipping",
    "IDX_customer_group_name_unique": "name",
}
_KEY = re.compile(r"Key \((?P<cols>.*)\)=\((?P<vals>.*)\)")


def _key_values(detail: str | None) -> tuple[list[str], list[str]]:
    match = _KEY.search(detail or "")
    if not match:
        return [], []
    cols = [c.strip() for c in match.group("cols").split(", ")]
    raw = match.group("vals")
    vals = [raw] if len(cols) == 1 else [v.strip() for v in raw.rsplit(", ", len(cols) - 1)]
    return cols, [{"t": "true", "f": "false"}.get(v, v) for v in vals]


def _as_typed(value: str, params: Any) -> str:
    """`value` as the statement's parameters spell it. An expression index reports the value it
    indexed (`lower(email)`): decision 12 echoes the email the caller typed instead."""
    wanted = value.lower()
    stack = [params]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if item.lower() == wanted:
                return item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return value


def _entity_name(table: str | None) -> str:
    spec = BY_TABLE.get(table or "")
    return spec.name if spec else "Entity"


def translate(error: sa_exc.DBAPIError) -> CustomerModuleError | None:
    """The domain error for a database error, or None when it is not a business error (retry)."""
    diag: Any = getattr(error.orig, "diag", None)
    code = getattr(error.orig, "sqlstate", None)
    if diag is None or code is None:
        return None
    constraint = diag.constraint_name or ""
    if constraint == "operation_log_pkey":
        return None  # two attempts of one operation raced: retry, and find the recorded result
    if code == "23505":
        cols, vals = _key_values(diag.message_detail)
        vals = [_as_typed(v, error.params) for v in vals]
        template = _UNIQUE_MESSAGES.get(constraint)
        message = (
            template.format(*vals, *([""] * 2))
            if template
            else f"{_entity_name(diag.table_name)} with "
            + ", ".join(f"{c}: {v}" for c, v in zip(cols, vals, strict=False))
            + ", already exists."
        )
        return AlreadyExistsError(
            message, field=_UNIQUE_FIELDS.get(constraint, cols[0] if cols else None)
        )
    if code == "23503":
        cols, vals = _key_values(diag.message_detail)
        if cols:
            return NotFoundError(
                f"You tried to set relationship {cols[0]}: {vals[0]}, but such entity does not exist",
                field=cols[0],
            )
        return NotFoundError("A related entity does not exist")
    if code == "23502":
        column = diag.column_name or "?"
        table = _entity_name(diag.table_name)
        return InvalidDataError(f"Cannot set field '{column}' of {table} to null", field=column)
    if code == "57014":  # statement_timeout: the same statement would time out again
        return QueryTimeoutError(
            "The query was cancelled: it ran longer than the statement timeout. "
            "Narrow the filter (fewer conditions, anchored patterns)."
        )
    if code in ("22P02", "22023", "2201B", "22001", "22021", "54000"):
        # Bad values PostgreSQL itself rejects (invalid regex, bad encoding, too long, ...).
        return InvalidDataError(f"Invalid data: {diag.message_primary}")
    return None


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession], event_group_id: str | None = None
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block finishes, rolls back on any exception, and turns
    constraint violations into domain errors. Infrastructure errors pass through (they retry).
    With `event_group_id`, the events it writes are staged for that workflow run."""
    async with sessions() as session:
        use_event_group(session, event_group_id)
        try:
            async with session.begin():
                yield session
                if await write_queued(session):
                    delivery_plan.left_unplanned()
        except (
            sa_exc.IntegrityError,
            sa_exc.DataError,
            sa_exc.ProgrammingError,
            sa_exc.OperationalError,
        ) as exc:
            domain = translate(exc)
            if domain is None:
                raise
            # The database error (its SQL, its DETAIL quoting the row) stays here: it is neither
            # the cause nor the context of the domain error that travels on to logs and Temporal.
            raise domain from None


async def read(engine: AsyncEngine, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """A read on one pooled connection in autocommit (`engine` as `autocommit_engine` makes
    it): each statement is one round trip, no BEGIN / COMMIT. Database errors become domain
    errors as in `transaction`. A connection found dead on first use (the server went away
    since it was pooled) is dropped and the read runs once more on a fresh one: a read has no
    effect to repeat."""
    for attempt in (1, 2):
        try:
            async with engine.connect() as connection:
                return await work(connection)
        except sa_exc.DBAPIError as exc:
            if exc.connection_invalidated and attempt == 1:
                continue
            domain = translate(exc)
            if domain is None:
                raise
            raise domain from None
    raise AssertionError("unreachable")


async def write_once(engine: AsyncEngine, sql: str, params: dict[str, Any]) -> Any:
    """One statement, sent as written (no SQLAlchemy compile), on `engine` in autocommit (as
    `autocommit_engine` makes it): its own transaction, one round trip. Returns its one row.
    Database errors become domain errors as in `transaction`; a write is never run again here
    (its activity retries)."""
    try:
        async with engine.connect() as connection:
            return (await connection.exec_driver_sql(sql, params)).one()
    except sa_exc.DBAPIError as exc:
        domain = translate(exc)
        if domain is None:
            raise
        raise domain from None


def autocommit_engine(engine: AsyncEngine) -> AsyncEngine:
    """`engine`'s pool, its connections in autocommit while checked out (set and reset
    client-side by psycopg: no round trip)."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")
