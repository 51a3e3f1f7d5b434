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

from leads import metrics
from leads.queries import QUERIES


class DatabaseUnavailable(Exception):
    """The database cannot be reached (or no pooled connection freed up in time)."""


class ConnectionPool:
    """A bounded, thread-safe pool that waits for a free connection instead of failing.

    Connections open on demand and stay open between requests. They must not cross a fork:
    gunicorn workers build their own app, hence their own pool, after forking.

    Each checkout starts a transaction with SET LOCAL statements only (a statement timeout,
    the isolation level), never session state, so that the pool works behind pgbouncer in
    transaction pooling mode. That first statement doubles as a liveness check: when the
    server dropped an idle connection (a restart, a failover), it fails before anything ran;
    then every idle connection as old as that one is dropped too, a new one is opened, and
    the request goes on unaware.
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

    @contextmanager
    def connection(self, *, read_only: bool = False) -> Iterator[psycopg2.extensions.connection]:
        """A connection in a new transaction (REPEATABLE READ, READ ONLY when read_only),
        returned to the pool afterwards; DatabaseUnavailable when none can be had in time."""
        waited_since = time.perf_counter()
        if not self._slots.acquire(timeout=self._wait_timeout):
            raise DatabaseUnavailable("no database connection became free in time")
        metrics.POOL_WAIT.observe(time.perf_counter() - waited_since)
        metrics.POOL_IN_USE.inc()
        try:
            connection, generation = self._checkout(read_only)
            try:
                yield connection
            finally:
                self._checkin(connection, generation)
        finally:
            metrics.POOL_IN_USE.dec()
            self._slots.release()

    def _checkout(self, read_only: bool) -> tuple[psycopg2.extensions.connection, int]:
        begin = self._begin_statement(read_only)
        while True:
            connection, generation = self._take_idle()
            if connection is None:
                connection, generation = self._open(), self._generation
                try:
                    self._begin(connection, begin)
                except psycopg2.Error as error:
                    connection.close()
                    raise DatabaseUnavailable(str(error)) from error
                return connection, generation
            try:
                self._begin(connection, begin)
            except psycopg2.Error as error:
                lost = _lost(error, connection)
                connection.close()
                if not lost:
                    raise DatabaseUnavailable(str(error)) from error
                self._invalidate(generation)
                continue  # nothing ran on it: try the next idle one or a new connection
            return connection, generation

    def _begin_statement(self, read_only: bool) -> str:
        statements = []
        if read_only:
            # A read-only transaction sees one snapshot: a page and its total agree.
            statements.append("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        if self._statement_timeout_ms:
            statements.append(f"SET LOCAL statement_timeout = {self._statement_timeout_ms:d}")
        return "; ".join(statements) or "SELECT 1"

    @staticmethod
    def _begin(connection: psycopg2.extensions.connection, statement: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(statement)

    def _open(self) -> psycopg2.extensions.connection:
        try:
            return psycopg2.connect(
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

    def _take_idle(self) -> tuple[psycopg2.extensions.connection | None, int]:
        with self._lock:
            while self._idle:
                connection, generation = self._idle.pop()
                if generation == self._generation and not connection.closed:
                    return connection, generation
                connection.close()
            return None, self._generation

    def _checkin(self, connection: psycopg2.extensions.connection, generation: int) -> None:
        if not connection.closed and connection.status != psycopg2.extensions.STATUS_READY:
            try:
                connection.rollback()
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

    def close(self) -> None:
        """Close the idle connections (the pool opens new ones when used again)."""
        with self._lock:
            stale, self._idle = self._idle, []
        for connection, _ in stale:
            connection.close()


def _lost(error: psycopg2.Error, connection: psycopg2.extensions.connection) -> bool:
    """Whether the error means the server is gone, rather than a statement failed."""
    return bool(connection.closed) or isinstance(error, psycopg2.InterfaceError)


class Transaction:
    """One database transaction: run named queries, then commit or roll back as a whole."""

    def __init__(self, cursor: psycopg2.extras.RealDictCursor) -> None:
        self._cursor = cursor
        self._depth = 0

    def execute(self, query_name: str, params: dict[str, Any] | None = None) -> None:
        self._cursor.execute(QUERIES[query_name], params or {})

    def fetch_one(self, query_name: str, params: dict[str, Any] | None = None) -> dict | None:
        self.execute(query_name, params)
        return self._cursor.fetchone()

    def fetch_all(self, query_name: str, params: dict[str, Any] | None = None) -> list[dict]:
        self.execute(query_name, params)
        return self._cursor.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @contextmanager
    def savepoint(self, name: str) -> Iterator[None]:
        """Undo only what the block did when it raises a database error; go on after it."""
        self._cursor.execute(f"SAVEPOINT {name}")
        try:
            yield
        except psycopg2.DatabaseError:
            self._cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
            raise
        self._cursor.execute(f"RELEASE SAVEPOINT {name}")

    @contextmanager
    def nested(self, *, commit: bool) -> Iterator[None]:
        """A block inside this transaction that is undone when it raises or commit=False."""
        self._depth += 1
        name = f"nested_{self._depth}"
        self._cursor.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            try:
                self._cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
            except psycopg2.Error:
                pass  # the connection itself failed: the enclosing transaction rolls back
            raise
        finally:
            self._depth -= 1
        if commit:
            self._cursor.execute(f"RELEASE SAVEPOINT {name}")
        else:
            self._cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")


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
    with pool.connection(read_only=read_only) as connection:
        try:
            with connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
                tx = Transaction(cursor)
                token = _current_transaction.set(tx)
                try:
                    yield tx
                finally:
                    _current_transaction.reset(token)
            if commit:
                connection.commit()
            else:
                connection.rollback()
        except psycopg2.OperationalError as error:
            _rollback_quietly(connection)
            raise DatabaseUnavailable(str(error)) from error
        except psycopg2.InterfaceError as error:
            raise DatabaseUnavailable(str(error)) from error
        except BaseException:
            _rollback_quietly(connection)
            raise


def _rollback_quietly(connection: psycopg2.extensions.connection) -> None:
    try:
        if not connection.closed:
            connection.rollback()
    except psycopg2.Error:
        pass
