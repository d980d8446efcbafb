"""The SQL both stores speak, written once with `?` placeholders: the schemas, the case and
job queries, the job queue's claims and accounting, and the case search.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import astuple, replace
from datetime import date, timedelta
from typing import Any

from photoloupe.server.storage.records import CRASHED_MESSAGE, JOB_STATES, Case, Job, Page, T

SQLITE_SCHEMA = """
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
PG_SCHEMA = """
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


class SqlStore:
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
