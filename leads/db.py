"""The connection pool and the one-transaction-per-request context manager."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import psycopg2
import psycopg2.extras
import psycopg2.pool

from leads.queries import QUERIES


class DatabaseUnavailable(Exception):
    """The database cannot be reached (or no pooled connection freed up in time)."""


class ConnectionPool:
    """A bounded, thread-safe pool that waits for a free connection instead of failing.

    It is created lazily in each process, so that gunicorn workers never share sockets
    inherited across fork.
    """

    def __init__(self, dsn: str, size: int, connect_timeout: int, wait_timeout: int) -> None:
        self._dsn = dsn
        self._size = size
        self._connect_timeout = connect_timeout
        self._wait_timeout = wait_timeout
        self._free = threading.BoundedSemaphore(size)
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._lock = threading.Lock()

    def _get_pool(self) -> psycopg2.pool.ThreadedConnectionPool:
        with self._lock:
            if self._pool is None:
                self._pool = psycopg2.pool.ThreadedConnectionPool(
                    0,
                    self._size,
                    self._dsn,
                    connect_timeout=self._connect_timeout,
                    # Notice a dead server on an idle connection within a minute.
                    keepalives=1,
                    keepalives_idle=30,
                    keepalives_interval=10,
                    keepalives_count=3,
                )
            return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        if not self._free.acquire(timeout=self._wait_timeout):
            raise DatabaseUnavailable("no database connection became free in time")
        try:
            pool = self._get_pool()
            try:
                connection = pool.getconn()
            except psycopg2.OperationalError as error:
                raise DatabaseUnavailable(str(error)) from error
            broken = False
            try:
                yield connection
            except (psycopg2.OperationalError, psycopg2.InterfaceError, DatabaseUnavailable):
                broken = True
                raise
            finally:
                if connection.closed or broken:
                    pool.putconn(connection, close=True)
                else:
                    if connection.status != psycopg2.extensions.STATUS_READY:
                        connection.rollback()
                    pool.putconn(connection)
        finally:
            self._free.release()

    @property
    def dsn(self) -> str:
        return self._dsn

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.closeall()
                self._pool = None


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

    Inside an enclosing transaction (an idempotent request records its response in the
    transaction of its write) the block joins it as a savepoint: its work commits with
    the enclosing transaction, and `commit=False` or an error undoes only the block.
    """
    outer = _current_transaction.get()
    if outer is not None:
        with outer.nested(commit=commit):
            yield outer
        return
    with pool.connection() as connection:
        try:
            with connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
                if read_only:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
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
