"""Analyses off the event loop: jobs queued in the database, run by a bounded pool.

The job functions run in worker processes (or threads), so they take the sha256-named upload
path and return plain data: the JSON result, the label and the rendered pages, or an error.
`JobRunner` takes queued jobs from the store and records what became of each.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from photoloupe.errors import PhotoloupeError
from photoloupe.io import Limits
from photoloupe.server.storage import CRASHED_MESSAGE, Case, CaseStore, Files, Job, new_id

JobResult = dict[str, Any]
log = logging.getLogger("photoloupe.server")


def _read(path: str, limits: Limits) -> bytes:
    # Read as bytes so that the report carries no server path; the size was bounded at upload.
    data = Path(path).read_bytes()
    return data[: limits.max_bytes + 1]


def _error(exc: BaseException) -> JobResult:
    if isinstance(exc, PhotoloupeError):
        return {"ok": False, "code": exc.code, "message": exc.message}
    # A bug: name it for the log, but send no traceback to the client.
    return {
        "ok": False,
        "code": "internal_error",
        "message": f"Internal error ({type(exc).__name__}).",
    }


def _pages(render: Callable[[str], str]) -> dict[str, bytes]:
    return {lang: gzip.compress(render(lang).encode("utf-8"), 6) for lang in ("en", "ar")}


def check_job(path: str, name: str, max_bytes: int, index: str | None = None) -> JobResult:
    """Examine one upload (and search it in the archive `index`, if any); render its report
    pages now, while the pixels are at hand."""
    from photoloupe.pipeline import Options, check
    from photoloupe.report.html import render_html

    try:
        limits = Limits(max_bytes=max_bytes)
        options = Options(limits=limits, index=index)
        report = check(_read(path, limits), name=name, options=options)
        sha = report.file.sha256

        def link(match: Any) -> str:
            return archive_compare_path(sha, match.sha256)

        pages = _pages(lambda lang: render_html(report, lang, match_link=link))
        return {
            "ok": True,
            "result": report.to_dict(),
            "label": report.verdict.label,
            "pages": pages,
        }
    except Exception as exc:
        return _error(exc)


def archive_compare_path(upload_sha256: str, archived_sha256: str) -> str:
    """The desk's address of the side-by-side view of an upload and an archive match."""
    return f"/archive-compare/{upload_sha256}/{archived_sha256}"


def compare_job(paths: tuple[str, str], names: tuple[str, str], max_bytes: int) -> JobResult:
    from photoloupe.compare import compare
    from photoloupe.report.compare_html import render_compare_html

    try:
        limits = Limits(max_bytes=max_bytes)
        result = compare(
            _read(paths[0], limits), _read(paths[1], limits), names=names, limits=limits
        )
        pages = _pages(lambda lang: render_compare_html(result, lang))
        return {"ok": True, "result": result.to_dict(), "label": result.relation, "pages": pages}
    except Exception as exc:
        return _error(exc)


MAX_ATTEMPTS = 3  # a file that kills its worker this many times fails instead of looping
POLL_SECONDS = 1.0  # how often an idle runner looks for jobs another desk process queued


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class JobRunner:
    """Runs the jobs queued in the database, at most `workers` at once, in a process pool.

    A dispatcher thread claims the oldest queued job whenever a worker is free, so the queue
    is as long as the database allows, not as long as memory does. A finished analysis is
    stored (its pages, then its case and the job's state in one transaction) before anyone is
    told. A worker process that dies (a native decoder crash) costs its jobs one attempt each;
    after `MAX_ATTEMPTS` the job fails with `worker_crashed` and the pool is replaced.
    """

    def __init__(
        self,
        store: CaseStore,
        files: Files,
        *,
        workers: int,
        pool: str = "process",
        max_bytes: int,
        index: str | None = None,
    ) -> None:
        self.store = store
        self.files = files
        self.workers = max(1, workers)
        self.pool = pool
        self.max_bytes = max_bytes
        self.index = index
        self.started = 0  # analyses submitted to the pool (tests and health read it)
        self._slots = threading.BoundedSemaphore(self.workers)
        self._running: dict[str, tuple[Job, Executor]] = {}
        # Jobs that were in flight when a worker died: each runs alone until it ends, so that
        # the one that kills its worker is found and the others are not blamed.
        self._suspects: set[str] = set()
        self._crash_peers: dict[int, set[str]] = {}
        self._pending: list[tuple[Job, Callable[[], None]]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]] = {}
        self._executor = self._new_executor()
        self._thread: threading.Thread | None = None

    def _new_executor(self) -> Executor:
        if self.pool == "thread":
            return ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="analysis")
        # spawn: the server has threads, and forking a threaded process is unsafe; recycling
        # workers bounds what a leak in a native decoder can cost.
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            max_tasks_per_child=200,
        )

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def start(self) -> tuple[int, int]:
        """Put back the jobs a crash left running, then start taking jobs. Returns how many
        went back to the queue and how many failed (they had crashed a worker too often)."""
        recovered = self.store.recover(MAX_ATTEMPTS, now())
        self._thread = threading.Thread(target=self._dispatch, name="job-dispatcher", daemon=True)
        self._thread.start()
        return recovered

    @property
    def alive(self) -> bool:
        """Whether the dispatcher is taking jobs (health reports it)."""
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Stop taking jobs; the jobs still running go back to the queue for the next start,
        without counting the attempt against them."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        with self._lock:
            running = [job for job, _ in self._running.values()]
            self._running.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)
        for job in running:
            with suppress(Exception):
                self.store.requeue(job.id, now(), refund=True)

    # -- the dispatcher

    def _dispatch(self) -> None:
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=POLL_SECONDS):
                continue
            job: Job | None = None
            try:
                self._record_pending()
                if self._suspect_running():
                    raise _Wait  # a suspect of a crash runs alone
                self._wake.clear()
                job = self.store.claim(now())
                if job is None:
                    raise _Wait
                if job.id in self._suspects:
                    self._drain_others()
                self._submit(job)
            except _Wait:
                self._slots.release()
                self._wake.wait(POLL_SECONDS)
            except Exception as exc:  # the database or the pool failed: try again shortly
                log.warning("dispatcher: %s (%s)", type(exc).__name__, exc)
                self._slots.release()
                if job is not None:
                    with suppress(Exception):
                        self.store.requeue(job.id, now(), refund=True)
                self._stop.wait(POLL_SECONDS)

    def _suspect_running(self) -> bool:
        with self._lock:
            return any(job_id in self._suspects for job_id in self._running)

    def _drain_others(self) -> None:
        """Wait until no other job runs, so that the next one runs alone."""
        while self.in_flight and not self._stop.is_set():
            self._stop.wait(0.05)

    def _submit(self, job: Job) -> None:
        fn, args = self._work(job)
        with self._lock:
            try:
                executor = self._executor
                inner = executor.submit(fn, *args)
            except BrokenProcessPool:
                self._executor = executor = self._new_executor()
                inner = executor.submit(fn, *args)
            self._running[job.id] = (job, executor)
            self.started += 1
        inner.add_done_callback(lambda f: self._done(job, executor, f))

    def _work(self, job: Job) -> tuple[Callable[..., JobResult], tuple[Any, ...]]:
        if job.kind == "check":
            path = str(self.files.upload_path(job.sha256))
            return check_job, (path, job.name, self.max_bytes, self.index)
        assert job.suspect_sha256 is not None and job.suspect_name is not None
        original = job.source or str(self.files.upload_path(job.sha256))
        suspect = str(self.files.upload_path(job.suspect_sha256))
        return compare_job, ((original, suspect), (job.name, job.suspect_name), self.max_bytes)

    def _done(self, job: Job, executor: Executor, inner: Future[JobResult]) -> None:
        try:
            if inner.cancelled():
                return  # stopping: stop() puts the job back in the queue
            exc = inner.exception()
            if isinstance(exc, BrokenProcessPool):
                self._crashed(job, executor)
            elif exc is not None:
                message = f"Internal error ({type(exc).__name__})."
                self._record(job, lambda: self._failed(job, "internal_error", message))
            else:
                res = inner.result()
                self._record(job, lambda: self._finish(job, res))
        finally:
            with self._lock:
                self._running.pop(job.id, None)
            self._slots.release()
            self._wake.set()
            self._notify(job.id)

    def _record(self, job: Job, write: Callable[[], None]) -> None:
        """Store what became of a job; if the database is away, keep it and try again from
        the dispatcher, so that the job does not stay `running` until a restart."""
        try:
            write()
        except Exception as err:
            log.warning("job %s: result not stored yet (%s)", job.id, type(err).__name__)
            with self._lock:
                self._pending.append((job, write))

    def _record_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for job, write in pending:
            self._record(job, write)
            self._notify(job.id)

    def _finish(self, job: Job, res: JobResult) -> None:
        if not res["ok"]:
            self._failed(job, res["code"], res["message"])
            return
        case = Case(
            new_id(), job.kind, job.sha256, job.name, res["label"], now(),
            suspect_sha256=job.suspect_sha256, suspect_name=job.suspect_name,
            token_id=job.token_id,
        )  # fmt: skip
        # Pages first: a crash between the two leaves pages without a case (never shown),
        # never a case without its pages.
        for lang, html_gz in res["pages"].items():
            self.files.write_page(case.id, lang, html_gz)
        stored = self.store.complete(job, case, res["result"], now())
        if stored.id != case.id:  # the same input was stored meanwhile: keep that one
            self.files.remove_case(case.id)
        self._suspects.discard(job.id)

    def _failed(self, job: Job, code: str, message: str, status: int = 422) -> None:
        self.store.fail(job.id, code, message, status, now())
        self._suspects.discard(job.id)
        self.release_uploads(job)

    def _crashed(self, job: Job, executor: Executor) -> None:
        """A worker process died. Every job in flight in that pool gets this, but only one of
        them (or none) killed it: a job that was not alone goes back to the queue without
        paying an attempt, marked as a suspect to be run alone; a job that ran alone pays."""
        with self._lock:
            peers = self._crash_peers.setdefault(
                id(executor), {j for j, (_, ex) in self._running.items() if ex is executor}
            )
            if self._executor is executor:
                self._executor = self._new_executor()
                executor.shutdown(wait=False, cancel_futures=True)
        if len(peers) > 1:
            self._suspects.add(job.id)
            self._record(job, lambda: self.store.requeue(job.id, now(), refund=True))
        elif job.attempts >= MAX_ATTEMPTS:
            self._record(job, lambda: self._failed(job, "worker_crashed", CRASHED_MESSAGE))
        else:
            self._suspects.add(job.id)
            self._record(job, lambda: self.store.requeue(job.id, now()))

    def release_uploads(self, job: Job) -> None:
        """Delete the uploads of a failed job that no case and no other job still needs."""
        shas = [job.suspect_sha256] if job.source is not None else [job.sha256, job.suspect_sha256]
        with self.files.lock:
            for sha in shas:
                if sha is not None and not self.store.in_use(sha):
                    self.files.forget(sha)

    # -- waiting for a job (the API's ?wait=)

    async def wait(self, job_id: str, seconds: float) -> Job | None:
        """The job once finished, or as it stands after `seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            future: asyncio.Future[None] = loop.create_future()
            with self._lock:
                self._waiters.setdefault(job_id, []).append((loop, future))
            try:
                job = await asyncio.to_thread(self.store.job, job_id)
                left = deadline - loop.time()
                if job is None or job.finished or left <= 0:
                    return job
                # Woken by our own runner; polled too, for a job another desk process runs.
                with suppress(TimeoutError):
                    await asyncio.wait_for(future, min(left, 2.0))
            finally:
                with self._lock:
                    waiting = self._waiters.get(job_id, [])
                    if (loop, future) in waiting:
                        waiting.remove((loop, future))
                    if not waiting:
                        self._waiters.pop(job_id, None)

    def _notify(self, job_id: str) -> None:
        with self._lock:
            waiting = list(self._waiters.get(job_id, []))
        for loop, future in waiting:
            with suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(_resolve, future)


class _Wait(Exception):
    """Nothing to start now: wait for a wake-up or the next poll."""


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
