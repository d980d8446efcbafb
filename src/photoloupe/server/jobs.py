"""Analyses off the event loop: a bounded pool, one analysis per distinct input.

The job functions run in worker processes (or threads), so they take the sha256-named upload
path and return plain data: the JSON result, the label and the rendered pages, or an error.
"""

from __future__ import annotations

import gzip
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Generic, TypeVar

from photoloupe.errors import PhotoloupeError
from photoloupe.io import Limits

T = TypeVar("T")
JobResult = dict[str, Any]


class Busy(Exception):
    """Every worker is busy and the queue is full."""


class JobFailed(Exception):
    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


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


class _Job(Generic[T]):
    def __init__(self, key: str, finish: Callable[[JobResult], T]) -> None:
        self.key = key
        self.finish = finish
        self.future: Future[T] = Future()


class Analyser:
    """At most `workers` analyses at once and `queue` waiting; identical inputs share one run.

    `finish` (storing the result) runs before the shared future resolves and before the key
    leaves the in-flight table, so a request that arrives meanwhile finds either the running
    job or the stored case, never neither.
    """

    def __init__(self, workers: int, queue: int, pool: str = "process") -> None:
        self.workers = max(1, workers)
        self.capacity = self.workers + max(0, queue)
        self.pool = pool
        self.started = 0  # analyses actually submitted (tests and health read it)
        self._slots = threading.BoundedSemaphore(self.capacity)
        self._inflight: dict[str, _Job[Any]] = {}
        self._lock = threading.Lock()
        self._executor = self._new_executor()

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
        return len(self._inflight)

    def submit(
        self,
        key: str,
        fn: Callable[..., JobResult],
        args: tuple[Any, ...],
        finish: Callable[[JobResult], T],
    ) -> Future[T]:
        with self._lock:
            running = self._inflight.get(key)
            if running is not None:
                return running.future
            if not self._slots.acquire(blocking=False):
                raise Busy
            job: _Job[T] = _Job(key, finish)
            try:
                inner = self._executor.submit(fn, *args)
            except (BrokenProcessPool, RuntimeError):
                self._slots.release()
                self._executor = self._new_executor()
                inner = None
            if inner is None:
                raise Busy
            self._inflight[key] = job
            self.started += 1
        inner.add_done_callback(lambda f: self._done(job, f))
        return job.future

    def _done(self, job: _Job[Any], inner: Future[JobResult]) -> None:
        try:
            exc = inner.exception()
            if isinstance(exc, BrokenProcessPool):
                self._restart(inner)
                raise JobFailed(
                    "worker_crashed",
                    "The process examining this file stopped unexpectedly; try again later.",
                    503,
                )
            if exc is not None:
                raise JobFailed("internal_error", f"Internal error ({type(exc).__name__}).", 500)
            job.future.set_result(job.finish(inner.result()))
        except BaseException as err:
            job.future.set_exception(err)
        finally:
            with self._lock:
                self._inflight.pop(job.key, None)
            self._slots.release()

    def _restart(self, failed: Future[JobResult]) -> None:
        with self._lock:
            old = self._executor
            if isinstance(old, ProcessPoolExecutor) and getattr(old, "_broken", False):
                self._executor = self._new_executor()
                old.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
