"""The index's SQLite catalogue: one row per distinct picture (by SHA-256), the paths it was
found at, its hashes, descriptor, capture facts, thumbnail and (in their own table, read only
to verify a candidate) its local features; plus the files that could not be read.

The catalogue is the index's source of truth: the search structures beside it
(`structures.py`) are rebuilt from it whenever they are missing or stale.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from photoloupe.archive.entry import CaptureFacts, Entry
from photoloupe.archive.features import LocalFeatures
from photoloupe.errors import IndexFolderError

INDEX_FORMAT = "photoloupe.index"
INDEX_VERSION = 1
CATALOGUE_NAME = "catalogue.sqlite"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE pictures (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    format TEXT NOT NULL,
    pdq BLOB NOT NULL,
    pdq_quality INTEGER NOT NULL,
    descriptor BLOB NOT NULL,
    captured TEXT,
    camera TEXT,
    latitude REAL,
    longitude REAL,
    thumbnail BLOB
);
CREATE TABLE features (
    picture_id INTEGER PRIMARY KEY REFERENCES pictures(id) ON DELETE CASCADE,
    points BLOB NOT NULL,
    descriptors BLOB NOT NULL
);
CREATE TABLE files (
    path TEXT PRIMARY KEY,
    picture_id INTEGER NOT NULL REFERENCES pictures(id) ON DELETE CASCADE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL
);
CREATE INDEX files_picture ON files(picture_id);
CREATE TABLE failures (
    path TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class Archived:
    """What a search reports about one archived picture."""

    id: int
    path: str
    sha256: str
    width: int
    height: int
    facts: CaptureFacts


@dataclass(frozen=True)
class FileState:
    size: int
    mtime_ns: int


class Catalogue:
    """The catalogue of the index folder `folder`.

    Opening checks that the folder holds a catalogue this version can read, and raises
    `IndexFolderError` (code `index_not_found`, `index_damaged` or `index_version`) otherwise.
    """

    def __init__(self, folder: Path, *, create: bool, vocabulary: str) -> None:
        self.folder = folder
        path = folder / CATALOGUE_NAME
        if not path.is_file():
            if not create:
                raise IndexFolderError(
                    f"No photoloupe index in {folder}: run `photoloupe index` first.",
                    code="index_not_found",
                )
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise IndexFolderError(
                    f"The index folder {folder} cannot be created: {exc.strerror or exc}.",
                    code="index_not_writable",
                ) from exc
        try:
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA foreign_keys = ON")
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master")}
            if not tables and create:
                self._create(vocabulary)
            else:
                self._check(tables, vocabulary)
        except sqlite3.DatabaseError as exc:
            raise IndexFolderError(
                f"The index in {folder} is damaged ({exc}); index the archive again into a "
                "new folder.",
                code="index_damaged",
            ) from exc

    def _create(self, vocabulary: str) -> None:
        self.db.execute("PRAGMA journal_mode = WAL")
        meta = {
            "format": INDEX_FORMAT,
            "version": str(INDEX_VERSION),
            "vocabulary": vocabulary,
            "generation": "0",
        }
        values = ", ".join(f"('{k}', '{v}')" for k, v in meta.items())  # our own constants
        # One script, one transaction: a crash leaves either no tables or a complete index.
        self.db.executescript(f"BEGIN; {_SCHEMA} INSERT INTO meta VALUES {values}; COMMIT;")

    def _check(self, tables: set[str], vocabulary: str) -> None:
        if not {"meta", "pictures", "features", "files", "failures"} <= tables:
            raise sqlite3.DatabaseError("tables are missing")
        meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != INDEX_FORMAT:
            raise sqlite3.DatabaseError("not a photoloupe index")
        try:
            version = int(meta.get("version", ""))
        except ValueError as exc:
            raise sqlite3.DatabaseError("unreadable version") from exc
        if version > INDEX_VERSION:
            raise IndexFolderError(
                f"The index in {self.folder} was written by a newer photoloupe (index version "
                f"{version}; this one reads version {INDEX_VERSION}). Upgrade photoloupe.",
                code="index_version",
            )
        if version < INDEX_VERSION or meta.get("vocabulary") != vocabulary:
            raise IndexFolderError(
                f"The index in {self.folder} was built with another descriptor vocabulary or "
                "an older version; index the archive again into a new folder.",
                code="index_version",
            )

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ writing

    def transaction(self) -> sqlite3.Connection:
        return _Transaction(self.db)  # type: ignore[return-value]

    def file_states(self) -> dict[str, FileState]:
        """Every indexed or failed path with the size and time it had then."""
        rows = self.db.execute(
            "SELECT path, size, mtime_ns FROM files UNION ALL "
            "SELECT path, size, mtime_ns FROM failures"
        )
        return {p: FileState(s, m) for p, s, m in rows}

    def picture_of(self, sha256: str) -> int | None:
        row = self.db.execute("SELECT id FROM pictures WHERE sha256 = ?", (sha256,)).fetchone()
        return int(row[0]) if row else None

    def add(self, entry: Entry, path: str, state: FileState) -> int:
        """Record `entry` found at `path` (or only the path, when its picture is known)."""
        with self.transaction():
            picture_id = self.picture_of(entry.sha256)
            if picture_id is None:
                cur = self.db.execute(
                    "INSERT INTO pictures (sha256, width, height, format, pdq, pdq_quality, "
                    "descriptor, captured, camera, latitude, longitude, thumbnail) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        entry.sha256, entry.width, entry.height, entry.format, entry.pdq,
                        entry.pdq_quality, entry.descriptor.astype(np.float32).tobytes(),
                        entry.facts.captured, entry.facts.camera, entry.facts.latitude,
                        entry.facts.longitude, entry.thumbnail,
                    ),
                )  # fmt: skip
                picture_id = int(cur.lastrowid or 0)
                points, descriptors = entry.features.to_bytes()
                self.db.execute(
                    "INSERT INTO features VALUES (?, ?, ?)", (picture_id, points, descriptors)
                )
            self._set_path(path, picture_id, state)
        return picture_id

    def add_path(self, path: str, picture_id: int, state: FileState) -> None:
        with self.transaction():
            self._set_path(path, picture_id, state)

    def _set_path(self, path: str, picture_id: int, state: FileState) -> None:
        self.db.execute("DELETE FROM failures WHERE path = ?", (path,))
        self.db.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
            (path, picture_id, state.size, state.mtime_ns),
        )
        self._drop_orphans()
        self._bump()

    def fail(self, path: str, code: str, message: str, state: FileState) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM files WHERE path = ?", (path,))
            self.db.execute(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?)",
                (path, code, message, state.size, state.mtime_ns),
            )
            self._drop_orphans()
            self._bump()

    def prune(self, exists: Any) -> int:
        """Drop the paths for which `exists(path)` is false, and the pictures left without a
        path. Returns the number of paths dropped."""
        gone = [p for (p,) in self.db.execute("SELECT path FROM files") if not exists(p)]
        gone_failed = [p for (p,) in self.db.execute("SELECT path FROM failures") if not exists(p)]
        with self.transaction():
            self.db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in gone])
            self.db.executemany("DELETE FROM failures WHERE path = ?", [(p,) for p in gone_failed])
            self._drop_orphans()
            if gone or gone_failed:
                self._bump()
        return len(gone)

    def _drop_orphans(self) -> None:
        self.db.execute("DELETE FROM pictures WHERE id NOT IN (SELECT picture_id FROM files)")

    def _bump(self) -> None:
        self.db.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
        )

    # ------------------------------------------------------------------ reading

    @property
    def generation(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM pictures").fetchone()[0])

    def failures(self) -> list[tuple[str, str, str]]:
        return list(self.db.execute("SELECT path, code, message FROM failures ORDER BY path"))

    def iter_vectors(
        self, batch: int = 10_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(ids int64, descriptors float32, pdq uint8 x 32) in batches."""
        last = -1
        while True:
            rows = self.db.execute(
                "SELECT id, descriptor, pdq FROM pictures WHERE id > ? ORDER BY id LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            ids = np.array([r[0] for r in rows], np.int64)
            vectors = np.stack([np.frombuffer(r[1], np.float32) for r in rows])
            hashes = np.stack([np.frombuffer(r[2], np.uint8) for r in rows])
            yield ids, vectors, hashes

    def sample_vectors(self, limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, descriptors, pdq) of up to `limit` pictures drawn at random (training)."""
        rows = self.db.execute(
            "SELECT id, descriptor, pdq FROM pictures ORDER BY random() LIMIT ?", (limit,)
        ).fetchall()
        ids = np.array([r[0] for r in rows], np.int64)
        vectors = np.stack([np.frombuffer(r[1], np.float32) for r in rows])
        hashes = np.stack([np.frombuffer(r[2], np.uint8) for r in rows])
        return ids, vectors, hashes

    def archived(self, picture_id: int) -> Archived | None:
        row = self.db.execute(
            "SELECT p.id, (SELECT MIN(path) FROM files WHERE picture_id = p.id), p.sha256, "
            "p.width, p.height, p.captured, p.camera, p.latitude, p.longitude "
            "FROM pictures p WHERE p.id = ?",
            (picture_id,),
        ).fetchone()
        if row is None or row[1] is None:
            return None
        facts = CaptureFacts(row[5], row[6], row[7], row[8])
        return Archived(int(row[0]), str(row[1]), str(row[2]), int(row[3]), int(row[4]), facts)

    def path_of(self, sha256: str) -> str | None:
        """The first path the picture with this SHA-256 was indexed at, or None."""
        row = self.db.execute(
            "SELECT MIN(f.path) FROM files f JOIN pictures p ON p.id = f.picture_id "
            "WHERE p.sha256 = ?",
            (sha256,),
        ).fetchone()
        return str(row[0]) if row and row[0] is not None else None

    def features(self, picture_id: int) -> LocalFeatures | None:
        row = self.db.execute(
            "SELECT f.points, f.descriptors, p.width, p.height FROM features f "
            "JOIN pictures p ON p.id = f.picture_id WHERE f.picture_id = ?",
            (picture_id,),
        ).fetchone()
        if row is None:
            return None
        return LocalFeatures.from_bytes(row[0], row[1], int(row[2]), int(row[3]))

    def thumbnail(self, sha256: str) -> bytes | None:
        row = self.db.execute(
            "SELECT thumbnail FROM pictures WHERE sha256 = ?", (sha256,)
        ).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def stats(self) -> dict[str, Any]:
        return {
            "pictures": self.count(),
            "files": int(self.db.execute("SELECT COUNT(*) FROM files").fetchone()[0]),
            "failures": int(self.db.execute("SELECT COUNT(*) FROM failures").fetchone()[0]),
            "meta": json.dumps(dict(self.db.execute("SELECT key, value FROM meta").fetchall())),
        }


class _Transaction:
    """`with`: BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception; nested uses join the
    outer transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.outer = False

    def __enter__(self) -> sqlite3.Connection:
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
            self.outer = True
        return self.db

    def __exit__(self, kind: object, *_: object) -> None:
        if self.outer:
            self.db.execute("ROLLBACK" if kind is not None else "COMMIT")
