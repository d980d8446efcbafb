"""The job queue in the database (both backends) and the runner that works it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest

from photoloupe.server import jobs as jobs_module
from photoloupe.server.jobs import MAX_ATTEMPTS
from photoloupe.server.storage import Case, CaseStore, Job, check_key, new_id, open_store
from tests.server.test_server import HARBOUR, make_client

SHA = "d" * 64


def job(sha: str = SHA, created: str = "2026-01-01T00:00:00.000001+00:00") -> Job:
    return Job(
        new_id(), "check", check_key(sha), "queued", sha, "a.jpg", None, None, None, None,
        10, 0, None, None, None, None, created, created,
    )  # fmt: skip


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Any:
    opened = open_store(db_url, tmp_path)
    yield opened
    opened.close()


def test_one_active_job_per_input_and_a_done_job_once_the_case_exists(store: CaseStore) -> None:
    first = store.enqueue(job())
    assert first.state == "queued"
    assert store.enqueue(job()).id == first.id  # the same input joins the queued job
    claimed = store.claim("t1")
    assert claimed is not None and claimed.id == first.id
    assert (claimed.state, claimed.attempts) == ("running", 1)
    assert store.claim("t2") is None
    assert store.enqueue(job()).id == first.id  # and the running one
    assert store.in_use(SHA)
    case = Case(new_id(), "check", SHA, "a.jpg", "no_evidence", "t3")
    stored = store.complete(claimed, case, {"r": 1}, "t3")
    assert stored == case and store.get(case.id) == (case, {"r": 1})
    done = store.job(first.id)
    assert done is not None and (done.state, done.case_id) == ("done", case.id)
    # Once the case exists, the job that made it answers: repeated uploads add no rows.
    again = store.enqueue(job())
    assert again.id == first.id and (again.state, again.case_id) == ("done", case.id)
    assert store.job_counts() == {"queued": 0, "running": 0, "done": 1, "failed": 0}
    assert store.integrity_check() == "ok"


def test_claims_take_the_oldest_first(store: CaseStore) -> None:
    late = store.enqueue(job("e" * 64, "2026-01-02T00:00:00+00:00"))
    early = store.enqueue(job("f" * 64, "2026-01-01T00:00:00+00:00"))
    assert [store.claim("t").id, store.claim("t").id] == [early.id, late.id]  # type: ignore[union-attr]


def test_recover_requeues_running_jobs_and_fails_those_that_crashed_too_often(
    store: CaseStore,
) -> None:
    queued = store.enqueue(job("1" * 64))
    crasher = store.enqueue(job("2" * 64, "2025-12-31T00:00:00+00:00"))
    for _ in range(MAX_ATTEMPTS):
        claimed = store.claim("t")
        assert claimed is not None and claimed.id == crasher.id
        if claimed.attempts < MAX_ATTEMPTS:
            store.requeue(claimed.id, "t")
    assert store.claim("t") is not None  # `queued` is running too now
    assert store.recover(MAX_ATTEMPTS, "t") == (1, 1)
    failed = store.job(crasher.id)
    assert failed is not None and (failed.state, failed.error_code) == ("failed", "worker_crashed")
    back = store.job(queued.id)
    assert back is not None and back.state == "queued"
    assert not store.in_use("2" * 64) and store.in_use("1" * 64)
    store.fail(queued.id, "truncated", "cut short", 422, "t")
    assert store.purge_jobs("u") == 2 and store.job_counts()["failed"] == 0


def test_two_desks_on_one_database_never_take_the_same_job(db_url: str, tmp_path: Path) -> None:
    stores = [open_store(db_url, tmp_path) for _ in range(2)]
    try:
        ids = {stores[0].enqueue(job(f"{n:064x}")).id for n in range(40)}

        def drain(store: CaseStore) -> list[str]:
            taken = []
            while (claimed := store.claim("t")) is not None:
                taken.append(claimed.id)
            return taken

        with ThreadPoolExecutor(2) as ex:
            a, b = ex.map(drain, stores)
        assert sorted(a + b) == sorted(ids) and not set(a) & set(b)
    finally:
        for store in stores:
            store.close()


def test_a_file_that_kills_its_worker_fails_after_a_bounded_number_of_tries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries = []

    def crash(*args: Any) -> Any:
        tries.append(args[0])
        raise BrokenProcessPool("the worker died")

    monkeypatch.setattr(jobs_module, "check_job", crash)
    with make_client(tmp_path) as client:
        r = client.post("/api/v1/check?wait=60", files={"file": ("bomb.jpg", HARBOUR)})
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["error"]["code"] == "worker_crashed"
        assert body["job"]["attempts"] == MAX_ATTEMPTS == len(tries)
        assert not any(p.is_file() for p in (tmp_path / "uploads").rglob("*"))
        # The desk goes on: the next file is examined as usual.
        monkeypatch.undo()
        ok = client.post("/api/v1/check?wait=120", files={"file": ("a.jpg", HARBOUR)})
        assert ok.status_code == 200, ok.text


def test_a_crash_is_charged_only_to_a_job_that_ran_alone(tmp_path: Path) -> None:
    """Every job in flight in a pool hears of its worker's death; only one can have caused
    it. Those that were not alone go back without paying an attempt, to be run alone."""
    from concurrent.futures import Future

    from photoloupe.server.jobs import JobRunner
    from photoloupe.server.storage import Files

    store = open_store(None, tmp_path)
    runner = JobRunner(store, Files(tmp_path), workers=2, pool="thread", max_bytes=1 << 20)
    try:
        a, b = store.enqueue(job("a" * 64)), store.enqueue(job("b" * 64))
        claimed = [store.claim("t"), store.claim("t")]
        assert [c.id for c in claimed if c] == [a.id, b.id]
        pool = runner._executor
        for c in claimed:
            assert c is not None
            runner._running[c.id] = (c, pool)
            runner._slots.acquire()
        broken: Future[Any] = Future()
        broken.set_exception(BrokenProcessPool("a worker died"))
        for c in claimed:
            assert c is not None
            runner._done(c, pool, broken)
        for original in (a, b):
            back = store.job(original.id)
            assert back is not None and (back.state, back.attempts) == ("queued", 0)
        assert runner._suspects == {a.id, b.id}
        # Alone, a suspect that crashes again pays, up to the bound.
        lone = store.claim("t")
        assert lone is not None and lone.id == a.id
        alone_pool = runner._new_executor()
        runner._running[lone.id] = (lone, alone_pool)
        runner._slots.acquire()
        runner._done(lone, alone_pool, broken)
        after = store.job(a.id)
        assert after is not None and (after.state, after.attempts) == ("queued", 1)
        alone_pool.shutdown()
    finally:
        runner.stop()
        store.close()
