"""The desk's records (a case, a job), their ids and keys, and the `CaseStore` protocol the
two databases implement.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date
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
