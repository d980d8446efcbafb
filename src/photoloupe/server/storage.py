"""Where the desk keeps its cases (SQLite or PostgreSQL) and its uploads (by sha256).

`CaseStore` is the only code that speaks SQL: `SqliteCaseStore` (the default, a file under
`--data`) and `PostgresCaseStore` (`--db postgresql://...`, psycopg 3) behave the same and
are tested against the same cases. Uploads are named by the sha256 of their content, never by
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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

ID_PATTERN = r"^[0-9a-f]{32}$"
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(ID_PATTERN)
LANGS = ("en", "ar")
Kind = Literal["check", "compare"]


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

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "created": self.created,
            "label": self.label,
            "name": self.name,
            "sha256": self.sha256,
        }
        if self.kind == "compare":
            out["suspect_name"] = self.suspect_name
            out["suspect_sha256"] = self.suspect_sha256
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


_SCHEMA = """
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
"""
_COLUMNS = "id, kind, sha256, name, label, created, suspect_sha256, suspect_name"


class SqliteCaseStore:
    """Cases in one SQLite file; one connection behind a lock (the desk's writes are few)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)

    def _case(self, row: tuple[Any, ...]) -> Case:
        return Case(*row)

    def find(self, key: str) -> Case | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM cases WHERE key = ?", (key,)
            ).fetchone()
        return self._case(row) if row else None

    def get(self, case_id: str) -> tuple[Case, dict[str, Any]] | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS}, result FROM cases WHERE id = ?", (case_id,)
            ).fetchone()
        if not row:
            return None
        result: dict[str, Any] = json.loads(row[-1])
        return self._case(row[:-1]), result

    def add(self, key: str, case: Case, result: dict[str, Any]) -> Case:
        """Store `case` unless one with the same key exists; return the stored one."""
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO cases (id, key, kind, sha256, name, suspect_sha256,"
                " suspect_name, label, created, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _case_row(case, key, result),
            )
        stored = self.find(key)
        assert stored is not None
        return stored

    def search(
        self, *, q: str | None, start: date | None, end: date | None, page: int, per_page: int
    ) -> Page:
        sql_where, args = search_filter(q, start, end, mark="?", ilike="LIKE")
        with self._lock:
            total = self._conn.execute(f"SELECT COUNT(*) FROM cases {sql_where}", args).fetchone()
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM cases {sql_where} ORDER BY created DESC, rowid DESC"
                " LIMIT ? OFFSET ?",
                [*args, per_page, (page - 1) * per_page],
            ).fetchall()
        return Page(items=[self._case(r) for r in rows], total=int(total[0]))

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
"""
# Any constant: two desks starting at once on one database create the schema one at a time.
_PG_SCHEMA_LOCK = 0x70686F746F


class PostgresCaseStore:
    """Cases in a PostgreSQL database (psycopg 3); one connection behind a lock, like SQLite.

    The columns match the SQLite store's (ISO 8601 text for `created`, the result as JSON
    text), so both stores answer the same queries the same way. `seq` takes the place of
    SQLite's rowid as the tie-break between cases created in the same microsecond. Name search
    is case-insensitive (ILIKE), as SQLite's LIKE is for ASCII. A dropped connection (the
    server restarted) is opened again once before the request fails.
    """

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

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(self._url, autocommit=True, connect_timeout=10)
        except self._psycopg.Error as exc:
            # libpq's message names the host and the reason, never the password.
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UnsupportedDatabase(f"Cannot connect to PostgreSQL: {reason}") from None

    def _run(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement under the lock; reconnect once if the connection was lost."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    cur = self._conn.execute(sql, args)
                    return list(cur.fetchall()) if cur.description else []
                except self._psycopg.OperationalError:
                    if attempt == 2 or not self._conn.closed:
                        raise
                    self._conn = self._connect()
        raise AssertionError("unreachable")  # pragma: no cover

    def find(self, key: str) -> Case | None:
        rows = self._run(f"SELECT {_COLUMNS} FROM cases WHERE key = %s", (key,))
        return Case(*rows[0]) if rows else None

    def get(self, case_id: str) -> tuple[Case, dict[str, Any]] | None:
        rows = self._run(f"SELECT {_COLUMNS}, result FROM cases WHERE id = %s", (case_id,))
        if not rows:
            return None
        result: dict[str, Any] = json.loads(rows[0][-1])
        return Case(*rows[0][:-1]), result

    def add(self, key: str, case: Case, result: dict[str, Any]) -> Case:
        """Store `case` unless one with the same key exists; return the stored one."""
        self._run(
            "INSERT INTO cases (id, key, kind, sha256, name, suspect_sha256, suspect_name,"
            " label, created, result) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            _case_row(case, key, result),
        )
        stored = self.find(key)
        assert stored is not None
        return stored

    def search(
        self, *, q: str | None, start: date | None, end: date | None, page: int, per_page: int
    ) -> Page:
        sql_where, args = search_filter(q, start, end, mark="%s", ilike="ILIKE")
        # `created` is ISO 8601 in UTC with the "C" collation (byte order, as in SQLite), so
        # text order is time order whatever the database's locale.
        total = self._run(f"SELECT COUNT(*) FROM cases {sql_where}", args)
        rows = self._run(
            f"SELECT {_COLUMNS} FROM cases {sql_where}"
            " ORDER BY created DESC, seq DESC LIMIT %s OFFSET %s",
            [*args, per_page, (page - 1) * per_page],
        )
        return Page(items=[Case(*r) for r in rows], total=int(total[0][0]))

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
    PDFs by case id. Nothing else writes into the data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.uploads = data_dir / "uploads"
        self.pages = data_dir / "pages"
        self.pdfs = data_dir / "pdf"
        self.incoming = data_dir / "incoming"
        for folder in (self.uploads, self.pages, self.pdfs, self.incoming):
            folder.mkdir(parents=True, exist_ok=True)

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
        os.replace(temp, dest)
        return dest

    def forget(self, sha256: str) -> None:
        self.upload_path(sha256).unlink(missing_ok=True)

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
    )
