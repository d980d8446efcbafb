"""The PostgreSQL store (`--db postgresql://...`, psycopg 3)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from photoloupe.server.storage.records import T, UnsupportedDatabase
from photoloupe.server.storage.sql import PG_SCHEMA, Exec, SqlStore

# Any constant: two desks starting at once on one database create the schema one at a time.
_PG_SCHEMA_LOCK = 0x70686F746F


class PostgresCaseStore(SqlStore):
    """Cases and jobs in a PostgreSQL database (psycopg 3); one connection behind a lock.

    The columns match the SQLite store's (ISO 8601 text for `created`, the result as JSON
    text), so both stores answer the same queries the same way. Name search is
    case-insensitive (ILIKE), as SQLite's LIKE is for ASCII. A job is claimed with `FOR UPDATE
    SKIP LOCKED`, so two desks on one database never take the same job. A dropped connection
    (the server restarted) is opened again once before the request fails.
    """

    _order = "seq"
    _ilike = "ILIKE"
    _skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - psycopg is a declared dependency
            raise UnsupportedDatabase("PostgreSQL needs psycopg: pip install psycopg") from exc
        self._psycopg = psycopg
        self._url = url
        self._lock = threading.Lock()
        with self._lock:
            self._conn = self._connect()
            with self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_SCHEMA_LOCK,))
                for statement in filter(str.strip, PG_SCHEMA.split(";")):
                    self._conn.execute(statement)
                self._conn.execute("ALTER TABLE cases ADD COLUMN IF NOT EXISTS token_id TEXT")

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(self._url, autocommit=True, connect_timeout=10)
        except self._psycopg.Error as exc:
            # libpq's message names the host and the reason, never the password.
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UnsupportedDatabase(f"Cannot connect to PostgreSQL: {reason}") from None

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def _run(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._atomic(lambda run: run(sql, args), transaction=False)

    def _atomic(self, work: Callable[[Exec], T], *, transaction: bool = True) -> T:
        """Run `work` under the lock (in a transaction); reconnect once if the connection was
        lost before it began."""

        def run(sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
            cur = self._conn.execute(self._sql(sql), tuple(args))
            return list(cur.fetchall()) if cur.description else []

        with self._lock:
            for attempt in (1, 2):
                try:
                    if not transaction:
                        return work(run)
                    with self._conn.transaction():
                        return work(run)
                except self._psycopg.OperationalError:
                    if attempt == 2 or not self._conn.closed:
                        raise
                    self._conn = self._connect()
        raise AssertionError("unreachable")  # pragma: no cover

    def integrity_check(self) -> str:
        """PostgreSQL keeps its own files sound; the job accounting is checked ("ok")."""
        return self._job_accounting()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
