"""Load the desk over real HTTP: a burst of concurrent uploads, then a soak with a restart.

For each database (SQLite, and a throw-away PostgreSQL when its binaries are installed) it
starts `photoloupe serve` on a free loopback port with a temporary --data folder
(tests/server/live.py), and:

- **burst**: sends 200 uploads at once (48 good pictures, 24 of them distinct; 152 hostile
  files), follows every accepted job to its end, and prints the status counts of the first
  answers and of the jobs, p50/p95 time to the first answer and to the report, jobs per second,
  the server's RSS (start, peak, end) and the jobs lost (accepted but never done or failed);
- **soak**: four clients upload for `--soak` seconds (distinct pictures, some repeats and some
  hostile files), each following its job; half-way the server is killed (`kill -9`, workers
  included) and started again on the same data and database. It prints the same figures.

It asserts nothing (the tests do); it measures.

    .venv/bin/python benchmarks/serve.py            # burst + 10-minute soak, both databases
    .venv/bin/python benchmarks/serve.py --quick    # burst + 1-minute soak
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.postgres_fixture import find_bin_dir, fresh_database, throwaway_cluster  # noqa: E402
from tests.server.live import (  # noqa: E402
    DeskProcess,
    Item,
    good_pictures,
    hostile_files,
    interleave,
)

FINAL = ("done", "failed")


class Tally:
    """What one run saw, from the clients' side."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.first: Counter[str] = Counter()  # status of the upload's own answer
        self.ends: Counter[str] = Counter()  # how accepted jobs ended
        self.to_answer: list[float] = []
        self.to_report: list[float] = []
        self.accepted: set[str] = set()
        self.finished: set[str] = set()

    def add_first(self, status: str, seconds: float) -> None:
        with self.lock:
            self.first[status] += 1
            self.to_answer.append(seconds)

    def add_end(self, job_id: str, state: str, seconds: float) -> None:
        with self.lock:
            self.finished.add(job_id)
            self.ends[state] += 1
            if state == "done":
                self.to_report.append(seconds)


class Memory(threading.Thread):
    """Samples the server's RSS (process and workers) every `every` seconds."""

    def __init__(self, server: DeskProcess, every: float) -> None:
        super().__init__(daemon=True)
        self.server, self.every = server, every
        self.samples: list[tuple[float, int]] = []
        self.halt = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while not self.halt.is_set():
            rss = self.server.rss_bytes()
            if rss:
                self.samples.append((time.monotonic() - self.t0, rss))
            self.halt.wait(self.every)


def upload(base: str, item: Item, tally: Tally, gate: threading.Barrier | None = None) -> None:
    """Send one file, then follow its job to the end (through a restart, if one comes)."""
    name, data, _ = item
    if gate is not None:
        gate.wait(120)
    t0 = time.perf_counter()
    while True:
        try:
            r = httpx.post(f"{base}/api/v1/check", files={"file": (name, data)}, timeout=300)
            break
        except httpx.TransportError:  # the server is restarting: the upload did not land
            time.sleep(0.5)
    tally.add_first(str(r.status_code), time.perf_counter() - t0)
    if r.status_code not in (200, 202):
        return
    job = r.json()["job"]
    with tally.lock:
        tally.accepted.add(job["id"])
    state = job["state"]
    deadline = time.monotonic() + 1800
    while state not in FINAL and time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base}{job['location']}", params={"wait": 20}, timeout=60)
            state = answer.json()["job"]["state"]
        except (httpx.TransportError, ValueError):
            time.sleep(0.5)
    if state in FINAL:
        tally.add_end(job["id"], state, time.perf_counter() - t0)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(title: str, tally: Tally, wall: float, memory: Memory) -> None:
    lost = len(tally.accepted - tally.finished)
    rss = [r for _, r in memory.samples] or [0]
    print(f"  {title}")
    print(f"    first answers: {dict(sorted(tally.first.items()))}")
    print(f"    jobs: {dict(sorted(tally.ends.items()))}, lost {lost}")
    print(
        f"    time to first answer p50 {statistics.median(tally.to_answer) * 1000:.0f} ms,"
        f" p95 {pct(tally.to_answer, 0.95) * 1000:.0f} ms"
    )
    if tally.to_report:
        print(
            f"    time to report p50 {statistics.median(tally.to_report):.1f} s,"
            f" p95 {pct(tally.to_report, 0.95):.1f} s"
        )
    print(f"    {len(tally.finished) / wall:.2f} jobs/s over {wall:.0f} s")
    print(
        f"    server RSS (with workers): start {rss[0] / 2**20:.0f} MB, peak"
        f" {max(rss) / 2**20:.0f} MB, end {rss[-1] / 2**20:.0f} MB ({len(rss)} samples)"
    )


def burst(data: Path, db_url: str | None, size: int, workers: int) -> None:
    server = DeskProcess(data, db_url, workers=workers)
    server.start()
    memory = Memory(server, 0.5)
    memory.start()
    good = good_pictures(24)
    items = interleave(good + good + hostile_files(size - 48))
    tally = Tally()
    gate = threading.Barrier(len(items))
    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(len(items)) as pool:
            list(pool.map(lambda item: upload(server.base, item, tally, gate), items))
    finally:
        wall = time.perf_counter() - t0
        memory.halt.set()
        server.stop()
    report(f"burst: {len(items)} concurrent uploads, {workers} workers", tally, wall, memory)


def soak(data: Path, db_url: str | None, seconds: float, workers: int, clients: int) -> None:
    server = DeskProcess(data, db_url, workers=workers)
    server.start()
    memory = Memory(server, 5.0)
    memory.start()
    tally = Tally()
    counter = itertools.count()
    hostile = hostile_files(60, seed=7)
    stop_at = time.monotonic() + seconds
    restarted: list[float] = []

    def client() -> None:
        while time.monotonic() < stop_at:
            n = next(counter)
            if n % 10 == 9:
                item = hostile[n % len(hostile)]
            elif n % 10 == 8:
                item = good_pictures(1, offset=1000 + n // 50)[0]  # a repeat now and then
            else:
                item = good_pictures(1, offset=10_000 + n)[0]
            upload(server.base, item, tally)

    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(client) for _ in range(clients)]
            time.sleep(seconds / 2)
            server.kill()  # kill -9, workers included
            t_kill = time.monotonic()
            server.start()
            restarted.append(time.monotonic() - t_kill)
            for future in futures:
                future.result()
    finally:
        wall = time.perf_counter() - t0
        memory.halt.set()
        server.stop()
    title = (
        f"soak: {seconds:.0f} s, {clients} clients, {workers} workers, kill -9 and restart at"
        f" {seconds / 2:.0f} s (back in {restarted[0] if restarted else float('nan'):.1f} s)"
    )
    report(title, tally, wall, memory)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a 60-second soak")
    parser.add_argument("--soak", type=float, default=600.0, help="soak seconds")
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    soak_seconds = 60.0 if args.quick else args.soak
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if "postgresql" in backends and find_bin_dir() is None:
        print("PostgreSQL binaries not found: SQLite only")
        backends.remove("postgresql")
    with ExitStack() as stack:
        cluster = None
        if "postgresql" in backends:
            cluster = stack.enter_context(throwaway_cluster(lambda why: sys.exit(why)))
        for backend in backends:
            print(f"{backend}:")
            for phase in ("burst", "soak"):
                with tempfile.TemporaryDirectory() as tmp, ExitStack() as db:
                    url: str | None = None
                    if backend == "postgresql":
                        assert cluster is not None
                        url = db.enter_context(fresh_database(cluster))
                    if phase == "burst":
                        burst(Path(tmp) / "data", url, args.burst, args.workers)
                    else:
                        soak(Path(tmp) / "data", url, soak_seconds, args.workers, args.clients)
                    sys.stdout.flush()


if __name__ == "__main__":
    main()
