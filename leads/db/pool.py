"""The connection pool and the one-transaction-per-request context manager."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import psycopg2
import psycopg2.extras
import psycopg2.pool
from flask import current_app

from leads.db.queries import QUERIES
from leads.web import metrics


class DictRowCursor(psycopg2.extensions.cursor):
    """A cursor whose rows are plain dicts keyed by column name.

    Built with dict(zip()) in C: psycopg2.extras.RealDictCursor sets every value through a
    Python method, which cost more than the query on a page of 200 leads.
    """

    def fetchone(self) -> dict | None:
        row = super().fetchone()
        return None if row is None else dict(zip(self._column_names(), row, strict=True))

    def fetchall(self) -> list[dict]:
        names = self._column_names()
        return [dict(zip(names, row, strict=True)) for row in super().fetchall()]

    def fetchall_tuples(self) -> list[tuple]:
        """The rows as psycopg2 reads them: tuples in the query's column order."""
        return super().fetchall()

    def _column_names(self) -> list[str]:
        return [column.name for column in self.description]


class DatabaseUnavailable(Exception):
    """The database cannot be reached (or no pooled connection freed up in time)."""


class ConnectionPool:
    """A bounded, thread-safe pool that waits for a free connection instead of failing.

    Connections open on demand and stay open between requests. They must not cross a fork:
    gunicorn workers build their own app, hence their own pool, after forking.

    Connections are in autocommit mode and the pool writes BEGIN itself, together with the
    transaction's SET LOCAL statements (the isolation level, a statement timeout) and its
    first statement, in one round trip: psycopg2 would send its own BEGIN as a round trip
    of its own. Only SET LOCAL, never session state, so that the pool works behind
    pgbouncer in transaction pooling mode. That first message doubles as a liveness check:
    when the server dropped an idle connection (a restart, a failover), it fails before
    anything committed (it holds no COMMIT); then every idle connection as old as that one
    is dropped too, the message goes again on a new connection, and the request goes on
    unaware.
    """

    def __init__(
        self,
        dsn: str,
        size: int,
        connect_timeout: int,
        wait_timeout: int,
        statement_timeout: int = 0,
    ) -> None:
        self._dsn = dsn
        self._size = size
        self._connect_timeout = connect_timeout
        self._wait_timeout = wait_timeout
        self._statement_timeout_ms = statement_timeout * 1000
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[tuple[psycopg2.extensions.connection, int]] = []
        # Bumped when the server is found to have dropped a connection: connections of an
        # older generation are closed instead of reused.
        self._generation = 0
        metrics.POOL_SIZE.set(size)

    def run_alone(
        self, query_name: str, params: dict[str, Any], *, as_tuples: bool = False
    ) -> list[dict] | list[tuple]:
        """The rows of one query run on its own in a single round trip: the statement
        timeout and the query go as one multi-statement message, which PostgreSQL runs as
        one implicit transaction (SET LOCAL applies to it, the query sees one snapshot).
        No BEGIN, no COMMIT. Only for a query that writes nothing."""
        statement = f"{self._timeout_statement()}; {QUERIES[query_name]}"
        with self.slot():
            connection, generation, cursor = self._run_first(statement, params)
            with cursor:
                if cursor.description is None:
                    rows = []
                else:
                    rows = cursor.fetchall_tuples() if as_tuples else cursor.fetchall()
            self._checkin(connection, generation)
            return rows

    def begin_with(
        self, statement: str, params: dict[str, Any] | None, *, read_only: bool
    ) -> tuple[psycopg2.extensions.connection, int, DictRowCursor]:
        """Open a transaction with its first statement, in one round trip (BEGIN, the SET
        LOCAL statements and the statement as one message); return the connection, its
        generation (for `release`) and the cursor holding the statement's result. Call
        within `slot()`."""
        return self._run_first(f"{self._begin_statement(read_only)}; {statement}", params)

    def release(self, connection: psycopg2.extensions.connection, generation: int) -> None:
        """Give back a connection of `begin_with` (an open transaction is rolled back)."""
        self._checkin(connection, generation)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """One of the pool's `size` connections, waited for up to wait_timeout seconds."""
        waited_since = time.perf_counter()
        if not self._slots.acquire(timeout=self._wait_timeout):
            raise DatabaseUnavailable("no database connection became free in time")
        metrics.POOL_WAIT.observe(time.perf_counter() - waited_since)
        metrics.POOL_IN_USE.inc()
        try:
            yield
        finally:
            metrics.POOL_IN_USE.dec()
            self._slots.release()

    def _run_first(
        self, statement: str, params: dict[str, Any] | None = None
    ) -> tuple[psycopg2.extensions.connection, int, DictRowCursor]:
        """Run a checkout's first statement on an idle connection, or a new one when none is
        idle; return the connection, its generation and the cursor holding the result.

        A connection the server dropped while idle fails before anything ran on it: it is
        closed with its idle siblings (`_checkin` bumps the generation) and the statement
        goes to the next connection, so the request goes on unaware.
        """
        while True:
            connection, generation = self._take_idle()
            fresh = connection is None
            if fresh:
                connection, generation = self._open(), self._generation
            cursor = connection.cursor(cursor_factory=DictRowCursor)
            try:
                cursor.execute(statement, params)
            except psycopg2.Error as error:
                cursor.close()
                lost = _lost(error, connection)
                if lost:
                    connection.close()
                self._checkin(connection, generation)  # rolls back what ran, if anything
                if lost and not fresh:
                    continue
                if lost or isinstance(error, psycopg2.OperationalError):
                    raise DatabaseUnavailable(str(error)) from error
                raise
            return connection, generation, cursor

    def _begin_statement(self, read_only: bool) -> str:
        # A read-only transaction sees one snapshot: a page and its total agree.
        begin = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY" if read_only else "BEGIN"
        return f"{begin}; {self._timeout_statement()}"

    def _timeout_statement(self) -> str:
        # Always set, 0 included: behind pgbouncer the server's session may carry anything.
        return f"SET LOCAL statement_timeout = {self._statement_timeout_ms:d}"

    def _open(self) -> psycopg2.extensions.connection:
        try:
            connection = psycopg2.connect(
                self._dsn,
                connect_timeout=self._connect_timeout,
                # Notice a dead server on an idle connection within a minute, and give up
                # on a request the server does not acknowledge within 10 seconds (a network
                # partition): no request hangs on a server that went away.
                keepalives=1,
                keepalives_idle=30,
                keepalives_interval=10,
                keepalives_count=3,
                tcp_user_timeout=10_000,
            )
        except psycopg2.Error as error:
            self._invalidate(self._generation)
            raise DatabaseUnavailable(str(error)) from error
        connection.autocommit = True  # BEGIN, COMMIT and ROLLBACK are the pool's to send
        return connection

    def _take_idle(self) -> tuple[psycopg2.extensions.connection | None, int]:
        with self._lock:
            while self._idle:
                connection, generation = self._idle.pop()
                if generation == self._generation and not connection.closed:
                    return connection, generation
                connection.close()
            return None, self._generation

    def _checkin(self, connection: psycopg2.extensions.connection, generation: int) -> None:
        if not connection.closed and _in_transaction(connection):
            try:
                _end_transaction(connection, "ROLLBACK")
            except psycopg2.Error:
                connection.close()
        with self._lock:
            if connection.closed or generation != self._generation:
                connection.close()
            else:
                self._idle.append((connection, generation))
        if connection.closed:
            self._invalidate(generation)

    def _invalidate(self, generation: int) -> None:
        """The server dropped a connection of this generation: drop its idle siblings."""
        with self._lock:
            if generation != self._generation:
                return  # already done
            self._generation += 1
            stale, self._idle = self._idle, []
        for connection, _ in stale:
            connection.close()

    @property
    def dsn(self) -> str:
        return self._dsn

    def with_size(self, size: int) -> ConnectionPool:
        """A new pool like this one, for up to `size` connections: for a process whose
        threads need a number of their own (the webhook worker)."""
        return ConnectionPool(
            self._dsn,
            size,
            self._connect_timeout,
            self._wait_timeout,
            self._statement_timeout_ms // 1000,
        )

    def close(self) -> None:
        """Close the idle connections (the pool opens new ones when used again)."""
        with self._lock:
            stale, self._idle = self._idle, []
        for connection, _ in stale:
            connection.close()


def _in_transaction(connection: psycopg2.extensions.connection) -> bool:
    return connection.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE


def _end_transaction(connection: psycopg2.extensions.connection, statement: str) -> None:
    """COMMIT or ROLLBACK: in autocommit mode psycopg2's commit() and rollback() do nothing."""
    with connection.cursor() as cursor:
        cursor.execute(statement)


def _lost(error: psycopg2.Error, connection: psycopg2.extensions.connection) -> bool:
    """Whether the error means the server is gone, rather than a statement failed."""
    return bool(connection.closed) or isinstance(error, psycopg2.InterfaceError)


class Transaction:
    """One database transaction: run named queries, then commit or roll back as a whole."""

    def __init__(self, cursor: psycopg2.extensions.cursor | None) -> None:
        self._cursor = cursor
        self._depth = 0

    def _run(self, statement: str, params: dict[str, Any] | None = None) -> None:
        self._cursor.execute(statement, params)

    def execute(self, query_name: str, params: dict[str, Any] | None = None) -> None:
        self._run(QUERIES[query_name], params or {})

    def fetch_one(self, query_name: str, params: dict[str, Any] | None = None) -> dict | None:
        self.execute(query_name, params)
        return self._cursor.fetchone()

    def fetch_all(
        self, query_name: str, params: dict[str, Any] | None = None, *, as_tuples: bool = False
    ) -> list[dict] | list[tuple]:
        self.execute(query_name, params)
        return self._cursor.fetchall_tuples() if as_tuples else self._cursor.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @contextmanager
    def savepoint(self, name: str) -> Iterator[None]:
        """Undo only what the block did when it raises a database error; go on after it."""
        self._run(f"SAVEPOINT {name}")
        try:
            yield
        except psycopg2.DatabaseError:
            self._run(f"ROLLBACK TO SAVEPOINT {name}")
            raise
        self._run(f"RELEASE SAVEPOINT {name}")

    @contextmanager
    def nested(self, *, commit: bool) -> Iterator[None]:
        """A block inside this transaction that is undone when it raises or commit=False."""
        self._depth += 1
        name = f"nested_{self._depth}"
        self._run(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            try:
                self._run(f"ROLLBACK TO SAVEPOINT {name}")
            except psycopg2.Error:
                pass  # the connection itself failed: the enclosing transaction rolls back
            raise
        finally:
            self._depth -= 1
        if commit:
            self._run(f"RELEASE SAVEPOINT {name}")
        else:
            self._run(f"ROLLBACK TO SAVEPOINT {name}")


class PoolTransaction(Transaction):
    """A transaction on a connection of the pool, which sends BEGIN with the first
    statement, in one round trip (see ConnectionPool.begin_with): psycopg2, or a BEGIN of
    our own, would cost one more per write. Nothing reaches the server before that."""

    def __init__(self, pool: ConnectionPool, *, read_only: bool) -> None:
        super().__init__(None)
        self._pool = pool
        self._read_only = read_only
        self._connection: psycopg2.extensions.connection | None = None
        self._generation = 0
        self._begun = False

    def _run(self, statement: str, params: dict[str, Any] | None = None) -> None:
        if self._cursor is not None:
            self._cursor.execute(statement, params)
            return
        if self._begun:
            # The first statement failed and its connection went back rolled back: going on
            # would run the rest outside the transaction.
            raise psycopg2.InterfaceError("the transaction's first statement failed")
        self._begun = True
        self._connection, self._generation, self._cursor = self._pool.begin_with(
            statement, params, read_only=self._read_only
        )

    @property
    def connection(self) -> psycopg2.extensions.connection | None:
        return self._connection

    def end(self, statement: str) -> None:
        """COMMIT or ROLLBACK, when anything was sent."""
        if self._connection is not None:
            _end_transaction(self._connection, statement)

    def release(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
        if self._connection is not None:
            self._pool.release(self._connection, self._generation)
            self._connection = self._cursor = None


# The transaction the current request already runs in, if any (see `transaction`).
_current_transaction: ContextVar[Transaction | None] = ContextVar(
    "current_transaction", default=None
)


@contextmanager
def transaction(
    pool: ConnectionPool, *, read_only: bool = False, commit: bool = True
) -> Iterator[Transaction]:
    """Run a block in one transaction: commit when it returns, roll back when it raises.

    `commit=False` rolls back even on success (a dry run). A read-only transaction is
    REPEATABLE READ so that its statements see one snapshot (a page and its total agree).
    A database that is down or too slow (the pool's statement timeout) raises
    DatabaseUnavailable.

    Inside an enclosing transaction (an idempotent request records its response in the
    transaction of its write) the block joins it as a savepoint: its work commits with
    the enclosing transaction, and `commit=False` or an error undoes only the block.
    """
    outer = _current_transaction.get()
    if outer is not None:
        with outer.nested(commit=commit):
            yield outer
        return
    with pool.slot():
        tx = PoolTransaction(pool, read_only=read_only)
        try:
            token = _current_transaction.set(tx)
            try:
                yield tx
            finally:
                _current_transaction.reset(token)
            tx.end("COMMIT" if commit else "ROLLBACK")
        except psycopg2.OperationalError as error:
            _rollback_quietly(tx.connection)
            raise DatabaseUnavailable(str(error)) from error
        except psycopg2.InterfaceError as error:
            raise DatabaseUnavailable(str(error)) from error
        except BaseException:
            _rollback_quietly(tx.connection)
            raise
        finally:
            tx.release()


def read_all(
    pool: ConnectionPool, query_name: str, params: dict[str, Any], *, as_tuples: bool = False
) -> list[dict] | list[tuple]:
    """The rows of one read-only query: in the request's transaction when it has one (an
    idempotent write), else on its own in one round trip (ConnectionPool.run_alone).

    Dicts keyed by column name, or with `as_tuples` tuples in the query's column order:
    for a caller that builds many rows of its own (a page of leads), where dict(zip())
    per row costs more than the dict the caller builds anyway.
    """
    outer = _current_transaction.get()
    if outer is not None:
        return outer.fetch_all(query_name, params, as_tuples=as_tuples)
    return pool.run_alone(query_name, params, as_tuples=as_tuples)


def read_one(pool: ConnectionPool, query_name: str, params: dict[str, Any]) -> dict | None:
    """The first row of read_all, or None."""
    rows = read_all(pool, query_name, params)
    return rows[0] if rows else None


def _rollback_quietly(connection: psycopg2.extensions.connection | None) -> None:
    try:
        if connection is not None and not connection.closed and _in_transaction(connection):
            _end_transaction(connection, "ROLLBACK")
    except psycopg2.Error:
        pass


def current_pool() -> ConnectionPool:
    """The pool of the app at hand, which create_app made: for a request's view or hook
    and for an operator command."""
    return current_app.extensions["leads_pool"]
