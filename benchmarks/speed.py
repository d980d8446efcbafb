"""How fast a check is, against how fast the file decodes (issue 12's speed and memory figures).

    python benchmarks/speed.py [--baseline SRC_DIR] [--runs N] [--no-scan]

For the 15.9-megapixel photo in `../shared/data/real/full` it prints:
- the wall time of `photoloupe check --json` as a whole process (start-up included);
- the time of a bare Pillow decode of the same file to a float32 array, in the same run;
- their ratio, the time of each analysis (from the report's `timings_ms`) and the peak RSS;
- `scan --quick --workers 2` and full `scan --workers 2` throughput on 60 pictures of 512x512.

`--baseline SRC_DIR` measures another checkout's `src/` (for example a `git worktree` of the
commit before a change) in the same run, alternating the two, so that "before" and "after" come
from the same state of the machine. Both run with this checkout's virtual environment.
Every figure is the median of `--runs` runs (3 by default).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PHOTO = SHARED / "real" / "full" / "metadata-extractor-image-8362319187.jpg"


def _env(src: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src)
    return env


def run_measured(cmd: list[str], src: Path) -> tuple[float, float, bytes]:
    """(wall seconds, peak RSS in MiB, stdout) of one child process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=_env(src))
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - started
        out.seek(0)
        data = out.read()
    if proc.returncode not in (0, 1, 2):
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}")
    return elapsed, usage.ru_maxrss / 1024, data


def bare_decode_seconds() -> float:
    started = time.perf_counter()
    with Image.open(PHOTO) as img:
        pixels = np.asarray(img.convert("RGB"), dtype=np.float32)
    assert pixels.shape[0] * pixels.shape[1] > 15_000_000
    return time.perf_counter() - started


def check_once(src: Path) -> tuple[float, float, dict[str, float]]:
    cmd = [sys.executable, "-m", "photoloupe.cli", "check", str(PHOTO), "--json"]
    elapsed, rss, out = run_measured(cmd, src)
    report = json.loads(out.decode("utf-8").splitlines()[0])
    return elapsed, rss, report["timings_ms"]


def make_scan_folder(folder: Path) -> int:
    """60 pictures of 512x512: centre crops of 30 generated pictures and 30 camera photos."""
    sources = sorted((SHARED / "ai" / "stable-diffusion-v1-4").glob("*.jpg"))[:30]
    sources += sorted((SHARED / "real" / "camera").glob("*.jpg"))[:30]
    for n, source in enumerate(sources):
        with Image.open(source) as img:
            img = img.convert("RGB")
            if min(img.size) < 512:
                img = img.resize((512, 512), Image.Resampling.BILINEAR)
            x, y = (img.width - 512) // 2, (img.height - 512) // 2
            img.crop((x, y, x + 512, y + 512)).save(folder / f"{n:03d}.png")
    return len(sources)


def scan_once(src: Path, folder: Path, *extra: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scan.jsonl"
        cmd = [sys.executable, "-m", "photoloupe.cli", "scan", str(folder), "--out", str(out)]
        cmd += ["--workers", "2", *extra]
        elapsed, _, _ = run_measured(cmd, src)
        lines = out.read_text("utf-8").count("\n")
    return lines / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout's src/ to measure too")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-scan", action="store_true")
    args = parser.parse_args()
    if not PHOTO.is_file():
        sys.exit("../shared/data is not beside the checkout; nothing to measure")
    trees = {"this checkout": ROOT / "src"}
    if args.baseline is not None:
        trees = {"baseline": args.baseline.resolve(), **trees}

    # Warm the page cache and the models' files once for each tree, untimed.
    for src in trees.values():
        check_once(src)
    decode: list[float] = []
    checks: dict[str, list[tuple[float, float, dict[str, float]]]] = {k: [] for k in trees}
    for _ in range(args.runs):
        for label, src in trees.items():
            decode.append(bare_decode_seconds())
            checks[label].append(check_once(src))
    decode_s = statistics.median(decode)
    print(f"== {PHOTO.name}: {Image.open(PHOTO).size[0]}x{Image.open(PHOTO).size[1]}")
    print(f"bare Pillow decode to float32: {decode_s:.3f} s (median of {len(decode)})")
    for label, runs in checks.items():
        wall = statistics.median(r[0] for r in runs)
        rss = statistics.median(r[1] for r in runs)
        print(f"\n-- {label} ({trees[label]})")
        print(f"check --json, whole process: {wall:.2f} s = {wall / decode_s:.1f}x the decode")
        print(f"peak RSS: {rss:.0f} MiB")
        keys = sorted({k for r in runs for k in r[2]})
        for key in keys:
            values = [r[2][key] for r in runs if key in r[2]]
            print(f"  {key:32s} {statistics.median(values):9.1f} ms")

    if args.no_scan:
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        n = make_scan_folder(folder)
        print(f"\n== scan --workers 2 on {n} pictures of 512x512 (pictures/s, start-up included)")
        for label, src in trees.items():
            quick = statistics.median(scan_once(src, folder, "--quick") for _ in range(args.runs))
            full = statistics.median(scan_once(src, folder) for _ in range(args.runs))
            print(f"-- {label}: --quick {quick:.1f}/s, full {full:.1f}/s")


if __name__ == "__main__":
    main()
