"""Time `photoloupe scan` over a folder, as a user runs it (a fresh process each time)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path


def time_scan(folder: Path, workers: int, *extra: str) -> tuple[int, float]:
    """(lines written, seconds) for `photoloupe scan folder --workers N [extra options]`,
    start-up included."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scan.jsonl"
        cmd = [sys.executable, "-m", "photoloupe.cli", "scan", str(folder), "--out", str(out)]
        cmd += ["--workers", str(workers), *extra]
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        elapsed = time.perf_counter() - started
        return out.read_text("utf-8").count("\n"), elapsed
