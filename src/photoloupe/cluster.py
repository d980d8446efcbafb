"""Batch work on a Ray cluster: `scan` and `index` with `--ray ADDRESS`.

Ray (an optional extra, `pip install 'photoloupe[cluster]'`) schedules the work; photoloupe
adds no scheduler of its own. `RayRun.imap_unordered` is the cluster's counterpart of
`photoloupe._pool.imap_unordered`, with the same contract: `(item, result)` for every item,
as items finish, or `(item, CRASHED)` for an item whose worker kept dying.

- **Batches.** Items go out in batches of `batch_size` (one Ray task each), so the task
  overhead (milliseconds) stays small beside the analyses (about a second a picture).
- **Bounded memory.** At most `in_flight_per_cpu` batches per cluster CPU are in flight, and
  items are drawn from the input only as batches leave, so the driver's memory does not grow
  with the number of pictures.
- **Workers keep their models.** Ray reuses a worker process for the tasks of one job, so
  photoloupe is imported, and its models loaded, once per worker process.
- **Faults.** A worker process or node that dies mid-batch costs a retry of that batch (Ray
  retries it on another worker, `max_tries` in all). A batch that fails every time is split
  into single items, each with its own tries; an item that still kills its worker is given
  back as `CRASHED`, so one hostile file costs a bounded number of tries and never stalls
  the run. Only the driver writes results, once per item, so no line is lost or doubled.
- **Inputs.** Items are paths on a filesystem every node sees; or, with `ship_bytes`, the
  driver reads each file and its bytes travel through Ray's object store (`Shipped`).
"""

from __future__ import annotations

import os
import resource
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

from photoloupe._onnx import THREADS_ENV
from photoloupe._pool import CRASHED, Crashed
from photoloupe.errors import PhotoloupeError
from photoloupe.io import Limits, read_file_within

T = TypeVar("T")
R = TypeVar("R")

LOCAL = "local"


class ClusterUnavailable(Exception):
    """Ray is not installed, or the cluster cannot be reached."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how to run on Ray. `address` is a Ray address (`127.0.0.1:6379`,
    `ray://host:10001`) or `local`, a throw-away cluster on this machine with `workers`
    worker processes (on a real cluster the number of its CPUs counts instead)."""

    address: str
    workers: int | None = None
    batch_size: int = 4
    in_flight_per_cpu: int = 2
    ship_bytes: bool = False
    max_tries: int = 3


@dataclass(frozen=True)
class Shipped:
    """A file sent by value (`--ship-bytes`): its path as the reports show it, and its bytes,
    or the error reading it gave on the driver (the same error a worker would give)."""

    path: str
    data: bytes | None
    error: tuple[str, str] | None = None


def ship(path: str, limits: Limits) -> Shipped:
    try:
        return Shipped(path, read_file_within(path, limits))
    except PhotoloupeError as exc:
        return Shipped(path, None, (exc.code, exc.message))


@dataclass
class NodeTally:
    """What one node did: items, batches, and the seconds its workers spent on them."""

    host: str
    items: int = 0
    batches: int = 0
    busy_seconds: float = 0.0
    workers: set[int] = field(default_factory=set)
    peak_rss_mib: float = 0.0


@dataclass(frozen=True)
class _BatchResult:
    node: str
    host: str
    pid: int
    seconds: float
    results: list[Any]
    peak_rss_mib: float  # the worker process's own peak, for sizing a node's memory


def _run_batch(
    fn: Callable[[Any], Any], items: list[Any], initializer: Callable[[], None] | None
) -> _BatchResult:
    """Runs in a Ray worker process."""
    import ray

    started = time.perf_counter()
    # One network thread per CPU this task was given: the workers are the parallelism, and a
    # Ray worker is no multiprocessing child, so photoloupe cannot tell that by itself.
    context = ray.get_runtime_context()
    given = context.get_assigned_resources()  # type: ignore[no-untyped-call]
    os.environ[THREADS_ENV] = str(max(1, int(given.get("CPU", 1))))
    if initializer is not None:
        initializer()
    results = [fn(item) for item in items]
    node = context.get_node_id()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return _BatchResult(node, socket.gethostname(), os.getpid(), time.perf_counter() - started,
                        results, peak)  # fmt: skip


class RayRun:
    """A connection to a Ray cluster for one batch run; `close()` (or `with`) ends it, and
    stops the cluster when it was `local`."""

    def __init__(self, options: RayOptions) -> None:
        try:
            import ray
        except ImportError:
            raise ClusterUnavailable(
                "--ray needs the cluster extra: pip install 'photoloupe[cluster]'"
            ) from None
        self.ray = ray
        self.options = options
        self.nodes: dict[str, NodeTally] = {}
        self.batches = 0
        self.started = time.perf_counter()
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "ignore_reinit_error": True,
            "logging_level": "ERROR",
        }
        try:
            if options.address == LOCAL:
                ray.init(num_cpus=options.workers or os.cpu_count() or 1, **kwargs)
            else:
                ray.init(address=options.address, **kwargs)
        except Exception as exc:  # ConnectionError, ValueError, RuntimeError, ...
            raise ClusterUnavailable(
                f"Cannot reach the Ray cluster at {options.address}: {exc}"
            ) from None
        resources = ray.cluster_resources()  # type: ignore[no-untyped-call]
        self.cpus = max(1, int(resources.get("CPU", 1)))

    def __enter__(self) -> RayRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.ray.shutdown()

    def imap_unordered(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        initializer: Callable[[], None] | None = None,
    ) -> Iterator[tuple[T, R | Crashed]]:
        """(item, fn(item)) for every item as batches finish, or (item, CRASHED)."""
        ray, opts = self.ray, self.options
        remote = ray.remote(_run_batch).options(
            num_cpus=1, max_retries=max(0, opts.max_tries - 1), retry_exceptions=False
        )
        fn_ref = ray.put(fn)
        source = iter(items)
        retry: deque[list[T]] = deque()  # single items split from a batch that kept failing
        pending: dict[Any, list[T]] = {}
        limit = self.cpus * max(1, opts.in_flight_per_cpu)

        def next_batch() -> list[T]:
            if retry:
                return retry.popleft()
            return list(islice(source, max(1, opts.batch_size)))

        while True:
            while len(pending) < limit and (batch := next_batch()):
                pending[remote.remote(fn_ref, batch, initializer)] = batch
            if not pending:
                return
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                batch = pending.pop(ref)
                try:
                    result: _BatchResult = ray.get(ref)
                except ray.exceptions.RayError:
                    if len(batch) > 1:
                        retry.extend([item] for item in batch)
                        continue
                    yield batch[0], CRASHED
                    continue
                self._tally(result, len(batch))
                yield from zip(batch, result.results, strict=True)

    def _tally(self, result: _BatchResult, n: int) -> None:
        self.batches += 1
        node = self.nodes.setdefault(result.node, NodeTally(result.host))
        node.items += n
        node.batches += 1
        node.busy_seconds += result.seconds
        node.workers.add(result.pid)
        node.peak_rss_mib = max(node.peak_rss_mib, result.peak_rss_mib)

    def throughput(self) -> list[dict[str, Any]]:
        """Per node: host, id, worker processes seen, items, busy seconds, items per wall
        second of the run so far, and the largest peak RSS of one of its worker processes."""
        wall = max(time.perf_counter() - self.started, 1e-9)
        return [
            {
                "node": node_id[:12],
                "host": tally.host,
                "workers": len(tally.workers),
                "items": tally.items,
                "busy_seconds": round(tally.busy_seconds, 2),
                "items_per_second": round(tally.items / wall, 3),
                "worker_peak_rss_mib": round(tally.peak_rss_mib),
            }
            for node_id, tally in sorted(self.nodes.items(), key=lambda kv: kv[1].host)
        ]
