"""Shared test helpers: where ../shared/data is, and how tests that need it behave.

Locally a missing ../shared/data skips those tests with a clear reason; in CI (CI=true) it
fails them instead, because CI must run them.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.postgres_fixture import postgres_server, postgres_url  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
HAVE_SHARED = SHARED.is_dir()

if not HAVE_SHARED and os.environ.get("CI"):
    raise RuntimeError(
        f"CI must run the corpus tests, but {SHARED} is missing: lay ../shared beside the checkout"
    )

needs_shared = pytest.mark.skipif(
    not HAVE_SHARED, reason="../shared/data is not beside the checkout"
)


@cache
def manifest() -> dict[str, dict[str, Any]]:
    """Corpus manifest, keyed by path relative to ../shared/data."""
    entries = json.loads((SHARED / "manifest.json").read_text("utf-8"))
    return {e["path"]: e for e in entries}


def shared_files(folder: str) -> list[Path]:
    """Files under ../shared/data/<folder>, sorted; empty when the corpus is absent."""
    base = SHARED / folder
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob("*") if p.is_file())


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A `--db` URL for each backend: a SQLite file, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cases.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
