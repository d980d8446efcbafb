"""The desk under load over real HTTP: a burst of 200 concurrent uploads, and a crash.

`photoloupe serve` runs as its own process (tests/server/live.py), once per database. These
are correctness tests; they never assert on timing (benchmarks/serve.py prints the figures).
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from photoloupe.server.storage import open_store
from tests.server.live import (
    EXAMPLES,
    DeskProcess,
    Item,
    follow,
    good_pictures,
    hostile_files,
    interleave,
)

BURST = 200


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Any:
    server = DeskProcess(tmp_path / "data", db_url if db_url.startswith("postgres") else None)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def post(base: str, item: Item, gate: threading.Barrier | None = None) -> httpx.Response:
    name, data, _ = item
    if gate is not None:
        gate.wait(60)  # all at once
    return httpx.post(f"{base}/api/v1/check", files={"file": (name, data)}, timeout=300)


def test_a_burst_of_200_uploads_no_5xx_and_every_file_accounted_for(desk: DeskProcess) -> None:
    # 48 good uploads (24 distinct pictures, each sent twice) and 152 hostile files.
    good = good_pictures(24)
    uploads = interleave(good + good + hostile_files(BURST - 48))
    assert len(uploads) == BURST
    gate = threading.Barrier(BURST)
    with ThreadPoolExecutor(BURST) as ex:
        answers = list(ex.map(lambda item: post(desk.base, item, gate), uploads))
    codes = Counter(r.status_code for r in answers)
    assert not [c for c in codes if c >= 500], codes
    finals: list[dict[str, Any]] = []
    with ThreadPoolExecutor(16) as ex:
        pending = [
            (item, r) for item, r in zip(uploads, answers, strict=True) if r.status_code == 202
        ]
        followed = ex.map(lambda pair: follow(desk.base, pair[1].json()["job"]), pending)
        finals = list(followed)
    by_job = {id(r): body for (_, r), body in zip(pending, finals, strict=True)}
    case_of: dict[str, str] = {}
    for (name, data, is_good), r in zip(uploads, answers, strict=True):
        if r.status_code != 202:
            assert not is_good, (name, r.status_code, r.text[:300])
            assert 400 <= r.status_code < 500, (name, r.status_code)
            error = r.json()["error"]
            assert error["code"] and error["message"], name
            continue
        body = by_job[id(r)]
        if is_good:
            assert body["job"]["state"] == "done", (name, body["job"])
            sha = hashlib.sha256(data).hexdigest()
            assert body["report"]["file"]["sha256"] == sha
            assert case_of.setdefault(sha, body["id"]) == body["id"]  # one case per picture
        else:
            assert body["job"]["state"] == "failed", (name, body["job"])
            assert body["job"]["error"]["code"] and body["job"]["error"]["message"], name
    assert len(case_of) == 24
    cases = httpx.get(f"{desk.base}/api/v1/cases", params={"per_page": 100}).json()
    assert cases["total"] == 24 and {c["sha256"] for c in cases["items"]} == set(case_of)
    health = desk.health()
    assert health["jobs"]["queued"] == 0 and health["jobs"]["running"] == 0


def test_kill_9_while_jobs_run_loses_nothing(tmp_path: Path, db_url: str) -> None:
    data = tmp_path / "data"
    postgres = db_url if db_url.startswith("postgres") else None
    server = DeskProcess(data, postgres, workers=2)
    server.start()
    # Six distinct files that pass the intake but fail in a worker: a photo cut short.
    harbour = (EXAMPLES / "harbour.jpg").read_bytes()
    failing = [(f"cut-{n}.jpg", harbour[: len(harbour) * n // 8], False) for n in range(1, 7)]
    uploads = interleave(good_pictures(24, offset=100) + failing)
    assert len(uploads) == 30
    try:
        jobs = []
        for item in uploads:
            r = post(server.base, item)
            assert r.status_code in (202, 422), r.text[:300]
            if r.status_code == 202:
                jobs.append((item, r.json()["job"]))
        assert len(jobs) == 30  # every one of these passes the intake
        # Kill while some jobs run and others still wait.
        for _ in range(600):
            counts = server.health()["jobs"]
            if counts["done"] + counts["failed"] >= 2 and counts["running"] >= 1:
                break
            threading.Event().wait(0.1)
        left = server.health()["jobs"]
        server.kill()
        assert left["queued"] + left["running"] > 0, "killed too late to test anything"
        server.start()  # the same data folder and database: a restart
        finals = [follow(server.base, job) for _, job in jobs]
    finally:
        server.stop()
    for (name, content, is_good), body in zip((i for i, _ in jobs), finals, strict=True):
        if is_good:
            assert body["job"]["state"] == "done", (name, body["job"])
            assert body["report"]["file"]["sha256"] == hashlib.sha256(content).hexdigest()
        else:
            assert body["job"]["state"] == "failed", (name, body["job"])
            assert body["job"]["error"]["code"], name
    store = open_store(postgres, data)
    try:
        assert store.integrity_check() == "ok"
        counts = store.job_counts()
        assert counts["queued"] == counts["running"] == 0
        assert counts["done"] + counts["failed"] == 30
    finally:
        store.close()
