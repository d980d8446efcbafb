"""The default store: one SQLite file under `--data`."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from photoloupe.server.storage.records import T
from photoloupe.server.storage.sql import SQLITE_SCHEMA, Exec, SqlStore


class SqliteCaseStore(SqlStore):
    """Cases and jobs in one SQLite file (WAL); one connection behind a lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # A crash may lose the last commits' fsync only with synchronous=OFF; FULL makes
            # every committed job state survive a power cut, at a small cost per write.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA busy_timeout=10000")
            self._conn.executescript(SQLITE_SCHEMA)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(cases)")}
            if "token_id" not in columns:  # a database from before sign-in
                self._conn.execute("ALTER TABLE cases ADD COLUMN token_id TEXT")

    def _run(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, tuple(args)).fetchall()

    def _atomic(self, work: Callable[[Exec], T]) -> T:
        def run(sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
            return self._conn.execute(sql, tuple(args)).fetchall()

        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                value = work(run)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return value

    def integrity_check(self) -> str:
        """SQLite's own check of the file, then the job accounting ("ok" when both hold)."""
        sound = str(self._run("PRAGMA integrity_check")[0][0])
        return sound if sound != "ok" else self._job_accounting()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
