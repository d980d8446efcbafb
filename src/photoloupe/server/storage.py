"""Where the desk keeps its cases and jobs (SQLite or PostgreSQL) and its uploads (by sha256).

`CaseStore` is the only code that speaks SQL: `SqliteCaseStore` (the default, a file under
`--data`) and `PostgresCaseStore` (`--db postgresql://...`, psycopg 3) share one SQL text
(`_SqlStore`), behave the same and are tested against the same cases. The job queue lives in
the same database as the cases, so a job's state and the case it made change in one
transaction, and a crash loses neither. Uploads are named by the sha256 of their content, never by
the client's file name, and are only ever looked up by that hash.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import secrets
import sqlite3
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import astuple, dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

ID_PATTERN = r"^[0-9a-f]{32}$"
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(ID_PATTERN)
LANGS = ("en", "ar")
Kind = Literal["check", "compare"]
JobState = Literal["queued", "running", "done", "failed"]
JOB_STATES: tuple[JobState, ...] = ("queued", "running", "done", "failed")
CRASHED_MESSAGE = (
    "The analysis of this file stopped its worker process every time it was tried; the file "
    "may be built to crash decoders."
)
T = TypeVar("T")


class UnsupportedDatabase(ValueError):
    """A `--db` URL the desk cannot use: an unknown scheme, or a database it cannot reach."""


@dataclass(frozen=True)
class Case:
    id: str
    kind: Kind
    sha256: str
    name: str
    label: str
    created: str
    suspect_sha256: str | None = None
    suspect_name: str | None = None
    # Which `--token` created it: the first 16 hex digits of the token's sha256 (never the
    # token); None on an open desk.
    token_id: str | None = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "created": self.created,
            "label": self.label,
            "name": self.name,
            "sha256": self.sha256,
            "token_id": self.token_id,
        }
        if self.kind == "compare":
            out["suspect_name"] = self.suspect_name
            out["suspect_sha256"] = self.suspect_sha256
        return out


@dataclass(frozen=True)
class Job:
    """One analysis asked for: queued, running (attempt `attempts`), then done (`case_id`) or
    failed (`error_*`). The fields are the `jobs` table's columns, in order."""

    id: str
    kind: Kind
    key: str  # the case key: one analysis per input
    state: JobState
    sha256: str
    name: str
    suspect_sha256: str | None
    suspect_name: str | None
    # The original's path when it is an archived picture, not an upload.
    source: str | None
    token_id: str | None
    size: int  # bytes of upload it holds
    attempts: int
    case_id: str | None
    error_code: str | None
    error_message: str | None
    error_status: int | None
    created: str
    updated: str

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "created": self.created,
            "updated": self.updated,
            "attempts": self.attempts,
            "case_id": self.case_id,
            "token_id": self.token_id,
            "location": f"/api/v1/jobs/{self.id}",
        }
        if self.state == "failed":
            out["error"] = {"code": self.error_code, "message": self.error_message}
        return out


@dataclass(frozen=True)
class Page:
    items: list[Case]
    total: int


class CaseStore(Protocol):
    def find(self, key: str) -> Case | None: ...
    def get(self, case_id: str) -> tuple[Case, dict[str, Any]] | None: ...
    def add(self, key: str, case: Case, result: dict[str, Any]) -> Case: ...
    def search(
        self, *, q: str | None, start: date | None, end: date | None, page: int, per_page: int
    ) -> Page: ...
    def delete_case(self, case_id: str) -> Case | None: ...
    def cases_before(self, created: str, limit: int = 500) -> list[str]: ...
    def in_use(self, sha256: str) -> bool: ...
    def enqueue(self, job: Job) -> Job: ...
    def claim(self, now: str) -> Job | None: ...
    def complete(self, job: Job, case: Case, result: dict[str, Any], now: str) -> Case: ...
    def fail(self, job_id: str, code: str, message: str, status: int, now: str) -> None: ...
    def requeue(self, job_id: str, now: str, *, refund: bool = False) -> None: ...
    def recover(self, max_attempts: int, now: str) -> tuple[int, int]: ...
    def job(self, job_id: str) -> Job | None: ...
    def job_counts(self) -> dict[str, int]: ...
    def purge_jobs(self, updated_before: str) -> int: ...
    def integrity_check(self) -> str: ...
    def close(self) -> None: ...


def valid_id(case_id: str) -> bool:
    return bool(_ID.match(case_id))


def new_id() -> str:
    return secrets.token_hex(16)


def check_key(sha256: str) -> str:
    return f"check:{sha256}"


def compare_key(original: str, suspect: str) -> str:
    return f"compare:{original}:{suspect}"


def clean_name(name: str | None, fallback: str = "upload") -> str:
    """A client's file name made safe to keep and show: no folders, no control characters."""
    if not name:
        return fallback
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    name = name.lstrip(".") or fallback
    return name[:200]


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    suspect_sha256 TEXT,
    suspect_name TEXT,
    label TEXT NOT NULL,
    created TEXT NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_created ON cases (created);
CREATE INDEX IF NOT EXISTS cases_sha256 ON cases (sha256);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    suspect_sha256 TEXT,
    suspect_name TEXT,
    source TEXT,
    token_id TEXT,
    size INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    case_id TEXT,
    error_code TEXT,
    error_message TEXT,
    error_status INTEGER,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_active_key ON jobs (key)
    WHERE state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created);
CREATE INDEX IF NOT EXISTS jobs_case ON jobs (case_id);
"""
# PostgreSQL: `seq` takes the place of SQLite's rowid as the tie-break between rows created in
# the same microsecond; `created` compares byte by byte ("C"), as SQLite's text does.
_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    seq BIGSERIAL UNIQUE,
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    suspect_sha256 TEXT,
    suspect_name TEXT,
    label TEXT NOT NULL,
    created TEXT COLLATE "C" NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_created ON cases (created);
CREATE INDEX IF NOT EXISTS cases_sha256 ON cases (sha256);
CREATE TABLE IF NOT EXISTS jobs (
    seq BIGSERIAL UNIQUE,
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    suspect_sha256 TEXT,
    suspect_name TEXT,
    source TEXT,
    token_id TEXT,
    size BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    case_id TEXT,
    error_code TEXT,
    error_message TEXT,
    error_status INTEGER,
    created TEXT COLLATE "C" NOT NULL,
    updated TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_active_key ON jobs (key)
    WHERE state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created);
CREATE INDEX IF NOT EXISTS jobs_case ON jobs (case_id)
"""
_COLUMNS = "id, kind, sha256, name, label, created, suspect_sha256, suspect_name, token_id"
_JOB_COLUMNS = (
    "id, kind, key, state, sha256, name, suspect_sha256, suspect_name, source, token_id, size,"
    " attempts, case_id, error_code, error_message, error_status, created, updated"
)
ACTIVE = ("queued", "running")

Exec = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


class _SqlStore:
    """The SQL both stores speak, written once with `?` placeholders.

    A backend gives `_run` (one statement under its lock), `_atomic` (a function of an
    executor, run in one transaction under the lock) and `_order` (its insertion order)."""

    _order = "rowid"

    def _run(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _atomic(self, work: Callable[[Exec], T]) -> T:
        raise NotImplementedError

    # -- cases

    def find(self, key: str) -> Case | None:
        rows = self._run(f"SELECT {_COLUMNS} FROM cases WHERE key = ?", (key,))
        return Case(*rows[0]) if rows else None

    def get(self, case_id: str) -> tuple[Case, dict[str, Any]] | None:
        rows = self._run(f"SELECT {_COLUMNS}, result FROM cases WHERE id = ?", (case_id,))
        if not rows:
            return None
        result: dict[str, Any] = json.loads(rows[0][-1])
        return Case(*rows[0][:-1]), result

    def add(self, key: str, case: Case, result: dict[str, Any]) -> Case:
        """Store `case` unless one with the same key exists; return the stored one."""
        return self._atomic(lambda run: _insert_case(run, key, case, result))

    def search(
        self, *, q: str | None, start: date | None, end: date | None, page: int, per_page: int
    ) -> Page:
        sql_where, args = search_filter(q, start, end, mark="?", ilike=self._ilike)
        total = self._run(f"SELECT COUNT(*) FROM cases {sql_where}", args)
        rows = self._run(
            f"SELECT {_COLUMNS} FROM cases {sql_where}"
            f" ORDER BY created DESC, {self._order} DESC LIMIT ? OFFSET ?",
            [*args, per_page, (page - 1) * per_page],
        )
        return Page(items=[Case(*r) for r in rows], total=int(total[0][0]))

    _ilike = "LIKE"

    def delete_case(self, case_id: str) -> Case | None:
        """Remove a case and the jobs that made it; return it (for its files), or None."""

        def work(run: Exec) -> Case | None:
            rows = run(f"SELECT {_COLUMNS} FROM cases WHERE id = ?", (case_id,))
            if not rows:
                return None
            run("DELETE FROM jobs WHERE case_id = ?", (case_id,))
            run("DELETE FROM cases WHERE id = ?", (case_id,))
            return Case(*rows[0])

        return self._atomic(work)

    def cases_before(self, created: str, limit: int = 500) -> list[str]:
        """Ids of the oldest cases created before `created` (ISO 8601 UTC), at most `limit`."""
        rows = self._run(
            f"SELECT id FROM cases WHERE created < ? ORDER BY created, {self._order} LIMIT ?",
            (created, limit),
        )
        return [r[0] for r in rows]

    def in_use(self, sha256: str) -> bool:
        """Whether a case or an unfinished job still needs the upload with this sha256."""
        rows = self._run(
            "SELECT 1 FROM cases WHERE sha256 = ? OR suspect_sha256 = ?"
            " UNION ALL SELECT 1 FROM jobs WHERE state IN ('queued', 'running')"
            " AND ((sha256 = ? AND source IS NULL) OR suspect_sha256 = ?) LIMIT 1",
            (sha256, sha256, sha256, sha256),
        )
        return bool(rows)

    # -- jobs

    def enqueue(self, job: Job) -> Job:
        """Record `job` and return it; or, when a job for the same case key is already queued
        or running, return that one (one analysis per input); or, when the case exists, record
        `job` as done with it."""

        def work(run: Exec) -> Job:
            for _ in range(3):
                case = run("SELECT id FROM cases WHERE key = ?", (job.key,))
                if case:
                    # The input has its case: answer with the job that made it (or one job
                    # recorded for it now), so that repeated uploads add no rows.
                    made = run(
                        f"SELECT {_JOB_COLUMNS} FROM jobs WHERE case_id = ? AND state = 'done'"
                        f" ORDER BY created, {self._order} LIMIT 1",
                        (case[0][0],),
                    )
                    if made:
                        return Job(*made[0])
                    done = replace(job, state="done", case_id=case[0][0])
                    _insert_job(run, done)
                    return done
                active = run(
                    f"SELECT {_JOB_COLUMNS} FROM jobs WHERE key = ?"
                    " AND state IN ('queued', 'running')",
                    (job.key,),
                )
                if active:
                    return Job(*active[0])
                if _insert_job(run, job, if_free=True):
                    return job
            raise RuntimeError("could not enqueue the job")  # pragma: no cover

        return self._atomic(work)

    def claim(self, now: str) -> Job | None:
        """Take the oldest queued job: mark it running (one more attempt) and return it."""
        lock = self._skip_locked

        def work(run: Exec) -> Job | None:
            rows = run(
                f"SELECT id FROM jobs WHERE state = 'queued'"
                f" ORDER BY created, {self._order} LIMIT 1{lock}",
                (),
            )
            if not rows:
                return None
            run(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated = ?"
                " WHERE id = ?",
                (now, rows[0][0]),
            )
            return Job(*run(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (rows[0][0],))[0])

        return self._atomic(work)

    _skip_locked = ""

    def _job_accounting(self) -> str:
        """ "ok" when every job is in one of the four states and every done job points at a
        stored case; otherwise how many do not."""
        bad = self._run(
            "SELECT COUNT(*) FROM jobs LEFT JOIN cases ON cases.id = jobs.case_id"
            " WHERE jobs.state NOT IN ('queued', 'running', 'done', 'failed')"
            " OR (jobs.state = 'done' AND cases.id IS NULL)"
        )
        return "ok" if int(bad[0][0]) == 0 else f"{bad[0][0]} inconsistent jobs"

    def complete(self, job: Job, case: Case, result: dict[str, Any], now: str) -> Case:
        """Store the case a job made and mark the job done, in one transaction."""

        def work(run: Exec) -> Case:
            stored = _insert_case(run, job.key, case, result)
            run(
                "UPDATE jobs SET state = 'done', case_id = ?, updated = ? WHERE id = ?",
                (stored.id, now, job.id),
            )
            return stored

        return self._atomic(work)

    def fail(self, job_id: str, code: str, message: str, status: int, now: str) -> None:
        self._run(
            "UPDATE jobs SET state = 'failed', error_code = ?, error_message = ?,"
            " error_status = ?, updated = ? WHERE id = ?",
            (code, message, status, now, job_id),
        )

    def requeue(self, job_id: str, now: str, *, refund: bool = False) -> None:
        """Put a running job back in the queue; with `refund`, its attempt is not counted
        (it was stopped, or shared a crashed pool, through no fault of its file)."""
        self._run(
            "UPDATE jobs SET state = 'queued', updated = ?,"
            f" attempts = attempts - {1 if refund else 0} WHERE id = ? AND state = 'running'",
            (now, job_id),
        )

    def recover(self, max_attempts: int, now: str) -> tuple[int, int]:
        """After a crash: jobs left running go back to the queue, except those that have had
        `max_attempts` already (they may be what crashed it), which fail. Returns the counts."""

        def work(run: Exec) -> tuple[int, int]:
            running = run("SELECT id, attempts FROM jobs WHERE state = 'running'", ())
            failed = [job_id for job_id, attempts in running if attempts >= max_attempts]
            for job_id in failed:
                run(
                    "UPDATE jobs SET state = 'failed', error_code = 'worker_crashed',"
                    " error_message = ?, error_status = 422, updated = ? WHERE id = ?",
                    (CRASHED_MESSAGE, now, job_id),
                )
            run("UPDATE jobs SET state = 'queued', updated = ? WHERE state = 'running'", (now,))
            return len(running) - len(failed), len(failed)

        return self._atomic(work)

    def job(self, job_id: str) -> Job | None:
        rows = self._run(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return Job(*rows[0]) if rows else None

    def job_counts(self) -> dict[str, int]:
        rows = self._run("SELECT state, COUNT(*) FROM jobs GROUP BY state", ())
        counts: dict[str, int] = dict.fromkeys(JOB_STATES, 0)
        counts.update({state: int(n) for state, n in rows})
        return counts

    def purge_jobs(self, updated_before: str) -> int:
        """Forget finished jobs last touched before `updated_before`; return how many."""

        def work(run: Exec) -> int:
            rows = run(
                "SELECT COUNT(*) FROM jobs WHERE state IN ('done', 'failed') AND updated < ?",
                (updated_before,),
            )
            run(
                "DELETE FROM jobs WHERE state IN ('done', 'failed') AND updated < ?",
                (updated_before,),
            )
            return int(rows[0][0])

        return self._atomic(work)


def _insert_case(run: Exec, key: str, case: Case, result: dict[str, Any]) -> Case:
    run(
        "INSERT INTO cases (id, key, kind, sha256, name, suspect_sha256, suspect_name, label,"
        " created, result, token_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        _case_row(case, key, result),
    )
    rows = run(f"SELECT {_COLUMNS} FROM cases WHERE key = ?", (key,))
    return Case(*rows[0])


def _insert_job(run: Exec, job: Job, *, if_free: bool = False) -> bool:
    """Insert `job`; with `if_free`, only if no other job of its key is active (the partial
    unique index says so). True when the row went in."""
    run(
        f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES ({', '.join('?' * 18)})"
        + (" ON CONFLICT DO NOTHING" if if_free else ""),
        astuple(job),
    )
    return bool(run("SELECT 1 FROM jobs WHERE id = ?", (job.id,)))


class SqliteCaseStore(_SqlStore):
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
            self._conn.executescript(_SQLITE_SCHEMA)
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


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _sha_prefix(q: str) -> str | None:
    prefix = q.strip().lower()
    return prefix if re.fullmatch(r"[0-9a-f]{4,64}", prefix) else None


def search_filter(
    q: str | None, start: date | None, end: date | None, *, mark: str, ilike: str
) -> tuple[str, list[Any]]:
    """The WHERE clause and arguments of a case search, for either database: `mark` is the
    driver's placeholder and `ilike` its case-insensitive LIKE (SQLite's LIKE already is)."""
    where: list[str] = []
    args: list[Any] = []
    if q:
        like = _like(q)
        clause = f"name {ilike} {mark} ESCAPE '\\' OR suspect_name {ilike} {mark} ESCAPE '\\'"
        args += [like, like]
        if (prefix := _sha_prefix(q)) is not None:
            clause += f" OR sha256 LIKE {mark} OR suspect_sha256 LIKE {mark}"
            args += [prefix + "%", prefix + "%"]
        where.append(f"({clause})")
    # `created` is ISO 8601 in UTC, so text order is time order.
    if start is not None:
        where.append(f"created >= {mark}")
        args.append(start.isoformat())
    if end is not None:
        where.append(f"created < {mark}")
        args.append((end + timedelta(days=1)).isoformat())
    return (f"WHERE {' AND '.join(where)}" if where else ""), args


# Any constant: two desks starting at once on one database create the schema one at a time.
_PG_SCHEMA_LOCK = 0x70686F746F


class PostgresCaseStore(_SqlStore):
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
                for statement in filter(str.strip, _PG_SCHEMA.split(";")):
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


def open_store(db_url: str | None, data_dir: Path) -> CaseStore:
    """The case store for `db_url`: None means `data_dir/photoloupe.db`; `sqlite:///path`, or
    `postgresql://user:password@host:port/dbname` (any libpq URL, `?host=/socket/dir` too)."""
    if db_url is None:
        return SqliteCaseStore(data_dir / "photoloupe.db")
    if db_url.startswith("sqlite:///"):
        path = db_url[len("sqlite:///") :]
        if not path or path == ":memory:":
            raise UnsupportedDatabase("A sqlite:/// URL needs a file path.")
        return SqliteCaseStore(Path(path))
    if db_url.startswith(("postgresql://", "postgres://")):
        return PostgresCaseStore(db_url)
    raise UnsupportedDatabase(f"Unsupported database URL scheme: {db_url.split(':', 1)[0]!r}.")


class Files:
    """The desk's files under `data_dir`: uploads by sha256, rendered report pages and their
    PDFs by case id. Nothing else writes into the data folder.

    `uploads_bytes` is the size of the kept uploads (counted once at start, then kept up to
    date), which the store's quota is measured against. `lock` makes "is this upload still
    needed? then delete it" one step against "keep this upload and queue its job".
    """

    def __init__(self, data_dir: Path) -> None:
        self.uploads = data_dir / "uploads"
        self.pages = data_dir / "pages"
        self.pdfs = data_dir / "pdf"
        self.incoming = data_dir / "incoming"
        for folder in (self.uploads, self.pages, self.pdfs, self.incoming):
            folder.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.uploads_bytes = sum(p.stat().st_size for p in self.uploads.glob("*/*"))

    def clear_incoming(self) -> int:
        """Remove uploads that were still streaming when the desk stopped (no job names
        them: their clients never got an answer). Only at start, with no request running."""
        removed = 0
        for leftover in self.incoming.glob("up-*"):
            with suppress(OSError):
                leftover.unlink()
                removed += 1
        return removed

    def upload_path(self, sha256: str) -> Path:
        if not SHA256_PATTERN.match(sha256):
            raise ValueError("not a sha256")
        return self.uploads / sha256[:2] / sha256

    def temp_file(self) -> tuple[int, str]:
        return tempfile.mkstemp(dir=self.incoming, prefix="up-")

    def keep(self, temp: str, sha256: str) -> Path:
        """Move a finished temp upload to its sha256 name (a no-op when already there)."""
        dest = self.upload_path(sha256)
        dest.parent.mkdir(exist_ok=True)
        with self.lock:
            if dest.exists():
                os.unlink(temp)
            else:
                size = os.path.getsize(temp)
                os.replace(temp, dest)
                self.uploads_bytes += size
        return dest

    def forget(self, sha256: str) -> None:
        path = self.upload_path(sha256)
        with self.lock:
            try:
                size = path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                return
            self.uploads_bytes -= size

    def page_path(self, case_id: str, lang: str) -> Path:
        if not valid_id(case_id) or lang not in LANGS:
            raise ValueError("bad page key")
        return self.pages / f"{case_id}.{lang}.html.gz"

    def write_page(self, case_id: str, lang: str, html_gz: bytes) -> None:
        dest = self.page_path(case_id, lang)
        fd, tmp = tempfile.mkstemp(dir=self.pages, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(html_gz)
        os.replace(tmp, dest)

    def read_page(self, case_id: str, lang: str) -> str | None:
        try:
            return gzip.decompress(self.page_path(case_id, lang).read_bytes()).decode("utf-8")
        except FileNotFoundError:
            return None

    def pdf_path(self, case_id: str, lang: str) -> Path:
        if not valid_id(case_id) or lang not in LANGS:
            raise ValueError("bad page key")
        return self.pdfs / f"{case_id}.{lang}.pdf"

    def read_pdf(self, case_id: str, lang: str) -> bytes | None:
        """A report's PDF rendered before, or None."""
        try:
            return self.pdf_path(case_id, lang).read_bytes()
        except FileNotFoundError:
            return None

    def write_pdf(self, case_id: str, lang: str, data: bytes) -> None:
        """Keep a rendered PDF (written whole, then renamed: a reader never sees half)."""
        dest = self.pdf_path(case_id, lang)
        fd, tmp = tempfile.mkstemp(dir=self.pdfs, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, dest)

    def remove_case(self, case_id: str) -> None:
        """A deleted case's pages and PDFs, in every language."""
        for lang in LANGS:
            self.page_path(case_id, lang).unlink(missing_ok=True)
            self.pdf_path(case_id, lang).unlink(missing_ok=True)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _case_row(case: Case, key: str, result: object) -> tuple[object, ...]:
    """The values of a `cases` row, in the column order both stores insert."""
    return (
        case.id,
        key,
        case.kind,
        case.sha256,
        case.name,
        case.suspect_sha256,
        case.suspect_name,
        case.label,
        case.created,
        # ASCII escapes: SQLite and PostgreSQL text take no lone surrogate, PostgreSQL no NUL.
        json.dumps(result, ensure_ascii=True),
        case.token_id,
    )
