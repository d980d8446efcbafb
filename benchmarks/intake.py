"""Intake + provenance time per whole camera original, and `scan` throughput.

    .venv/bin/python benchmarks/intake.py [--repeat 3]

Prints measured figures; asserts nothing (timings are never test assertions). Goal from issue 2:
under 0.5 s per camera original on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from photoloupe import check

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_timer import time_scan

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
STAGES = ("intake", "metadata", "c2pa", "ai_markers")


def bench_originals(repeat: int) -> None:
    files = sorted((SHARED / "real" / "full").glob("*"))
    print(f"== check() on whole camera originals ({len(files)} files, best of {repeat})")
    print(f"{'file':44} {'MP':>5} {'intake+prov ms':>15} {'total ms':>9}  stages (ms)")
    bests = []
    for path in files:
        runs = []
        for _ in range(repeat):
            report = check(path)
            prov = sum(report.timings_ms[s] for s in STAGES)
            runs.append((prov, report.timings_ms["total"], dict(report.timings_ms)))
        prov, total, stages = min(runs)
        bests.append(prov)
        mp = report.file.width * report.file.height / 1e6
        detail = ", ".join(f"{k}={v:.0f}" for k, v in stages.items() if k != "total")
        print(f"{path.name:44} {mp:5.1f} {prov:15.0f} {total:9.0f}  {detail}")
    print(
        f"intake+provenance: median {statistics.median(bests):.0f} ms, "
        f"max {max(bests):.0f} ms (goal < 500 ms)"
    )


def bench_scan(workers: int) -> None:
    folder = SHARED / "metadata"
    count = sum(1 for p in folder.rglob("*") if p.is_file())
    lines, elapsed = time_scan(folder, workers)
    print(
        f"== scan {folder.relative_to(SHARED.parent.parent)} --workers {workers}: {lines} lines "
        f"for {count} files in {elapsed:.1f} s = {count / elapsed:.1f} files/s "
        "(process start-up included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit("../shared/data is not beside the checkout; nothing to measure")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    check(sorted((SHARED / "real" / "full").glob("*"))[0])  # warm imports and caches
    bench_originals(args.repeat)
    for workers in (1, 2):
        bench_scan(workers)


if __name__ == "__main__":
    main()
