"""Where the desk keeps its cases and jobs (SQLite or PostgreSQL) and its uploads (by sha256).

`CaseStore` is the only code that speaks SQL: `SqliteCaseStore` (the default, a file under
`--data`) and `PostgresCaseStore` (`--db postgresql://...`, psycopg 3) share one SQL text
(`SqlStore`), behave the same and are tested against the same cases. The job queue lives in
the same database as the cases, so a job's state and the case it made change in one
transaction, and a crash loses neither. Uploads are named by the sha256 of their content, never by
the client's file name, and are only ever looked up by that hash.
"""

from __future__ import annotations

from pathlib import Path

from photoloupe.server.storage.files import Files, sha256_file
from photoloupe.server.storage.postgres import PostgresCaseStore
from photoloupe.server.storage.records import (
    CRASHED_MESSAGE,
    ID_PATTERN,
    JOB_STATES,
    LANGS,
    SHA256_PATTERN,
    Case,
    CaseStore,
    Job,
    JobState,
    Kind,
    Page,
    UnsupportedDatabase,
    check_key,
    clean_name,
    compare_key,
    new_id,
    valid_id,
)
from photoloupe.server.storage.sql import ACTIVE, search_filter
from photoloupe.server.storage.sqlite import SqliteCaseStore

__all__ = [
    "ACTIVE",
    "CRASHED_MESSAGE",
    "ID_PATTERN",
    "JOB_STATES",
    "LANGS",
    "SHA256_PATTERN",
    "Case",
    "CaseStore",
    "Files",
    "Job",
    "JobState",
    "Kind",
    "Page",
    "PostgresCaseStore",
    "SqliteCaseStore",
    "UnsupportedDatabase",
    "check_key",
    "clean_name",
    "compare_key",
    "new_id",
    "open_store",
    "search_filter",
    "sha256_file",
    "valid_id",
]


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
