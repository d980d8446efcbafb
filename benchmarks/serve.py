"""Load the desk over real HTTP: 50 concurrent uploads, good and hostile files mixed.

Starts `photoloupe serve` on a free loopback port with a temporary --data folder, fires the
uploads at once, and prints how many got each status code and the p50/p95 latency. It asserts
nothing: 429 (rate limit) and 503 (pool full) are the desk protecting itself, not failures.

    .venv/bin/python benchmarks/serve.py [--rate 6000] [--workers 2] [--db postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def uploads() -> list[tuple[str, bytes]]:
    good = [(p.name, p.read_bytes()) for p in sorted(EXAMPLES.glob("*.jpg"))]
    good += [(p.name, p.read_bytes()) for p in sorted(EXAMPLES.glob("*.png"))]
    harbour = (EXAMPLES / "harbour.jpg").read_bytes()
    hostile = [
        ("random.jpg", os.urandom(20_000)),
        ("truncated.jpg", harbour[: len(harbour) // 2]),
        ("empty.png", b""),
        ("fake.png", b"\x89PNG\r\n\x1a\n" + os.urandom(500)),
    ]
    mixed = good + hostile
    return [mixed[i % len(mixed)] for i in range(50)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=6000.0, help="server --rate (per minute)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", default=None, help="server --db (default: SQLite under --data)")
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        cmd = [
            sys.executable, "-m", "photoloupe.cli", "serve", "--port", str(port),
            "--data", data, "--rate", str(args.rate), "--workers", str(args.workers),
        ]  # fmt: skip
        if args.db:
            cmd += ["--db", args.db]
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            else:
                raise SystemExit("the server did not start")

            def post(item: tuple[str, bytes]) -> tuple[str, float]:
                t0 = time.perf_counter()
                try:
                    r = httpx.post(f"{base}/api/v1/check", files={"file": item}, timeout=300)
                    status = str(r.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                return status, time.perf_counter() - t0

            batch = uploads()
            started = time.perf_counter()
            with ThreadPoolExecutor(len(batch)) as pool:
                results = list(pool.map(post, batch))
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
    counts = Counter(status for status, _ in results)
    latencies = sorted(t for _, t in results)
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    backend = "PostgreSQL" if args.db and args.db.startswith("postgres") else "SQLite"
    print(
        f"{len(results)} concurrent uploads, {args.workers} workers, rate {args.rate:g}/min,"
        f" {backend}"
    )
    for status, n in sorted(counts.items()):
        print(f"  {status}: {n}")
    print(f"latency p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, wall {wall:.1f} s")


if __name__ == "__main__":
    main()
