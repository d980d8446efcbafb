"""Scan throughput through Ray against a local scan (issue 16's figures).

    python benchmarks/scale.py [--runs N] [--skip-memory] [--only quick|full]

On 200 pictures of 512x512 (centre crops of 100 generated pictures from 10 generators and 100
camera photos, from `../shared/data`), for `scan --quick` and for a full scan, it prints:
- the throughput of a local `scan --workers 2`;
- the throughput through `--ray local` with 1 and with 2 worker processes, and the ratio of
  the second to the local scan (the target: at least 90 %);
- the scaling efficiency: throughput with 2 Ray workers over twice that with 1;
- the overhead per batch: of a batch that does nothing (`len`), and, in the scan itself, the
  wall time the worker did not spend in its batches, per batch.

Then the driver's peak memory (its own VmHWM, not the workers') for a `--ray local` quick
scan of 200 and of 2,000 pictures (the 200 repeated under other names), and for a local one.

Throughput is pictures per second of the whole run, start-up included (for Ray: starting the
throw-away cluster), and "after start-up" counts from the moment the scan had its list of
files until the last line. Every driver runs in a fresh process, as `photoloupe scan` would.
Every figure is the median of `--runs` runs (1 by default).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SIDE = 512
GENERATORS = (
    "stable-diffusion-v1-4",
    "stable-diffusion-v2-1",
    "midjourney",
    "dall-e-2",
    "latent-diffusion",
    "glide",
    "gpt-4o-image",
    "craiyon",
    "disco-diffusion",
    "nano-banana",
)

# The driver, run in its own process: one scan, then what it measured, as JSON on stdout.
DRIVER = """
import json, resource, sys, time
from photoloupe import batch
from photoloupe.pipeline import Options
folder, out, mode, engine, workers, batch_size = sys.argv[1:7]
options = Options(preview=False, localise=(mode == "full"))
ray = None
if engine == "ray":
    from photoloupe.cluster import RayOptions
    ray = RayOptions("local", workers=int(workers), batch_size=int(batch_size))
marks = {}
started = time.perf_counter()
summary = batch.scan(
    folder, out, workers=int(workers), options=options, ray=ray,
    on_start=lambda n: marks.setdefault("listed", time.perf_counter()),
    on_line=lambda _: marks.__setitem__("last", time.perf_counter()),
)
wall = time.perf_counter() - started
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({
    "wall": wall, "after_start": marks["last"] - marks["listed"],
    "examined": summary.examined, "errors": summary.errors, "nodes": list(summary.nodes),
    "driver_peak_mib": hwm / 1024,
}))
"""

# Batches that do nothing: what Ray costs per batch on top of the work.
NOOP = """
import json, sys, time
from photoloupe.cluster import RayOptions, RayRun
n, batch_size = int(sys.argv[1]), int(sys.argv[2])
with RayRun(RayOptions("local", workers=1, batch_size=batch_size)) as run:
    list(run.imap_unordered(len, ["warm"] * 8))
    started = time.perf_counter()
    done = sum(1 for _ in run.imap_unordered(len, ["x"] * n))
    wall = time.perf_counter() - started
print(json.dumps({"items": done, "seconds_per_batch": wall / (n / batch_size)}))
"""


def make_folder(folder: Path) -> int:
    """200 pictures of 512x512: 100 generated ones, taken in turn from 10 generators, and 100
    camera photos."""
    pools = [sorted(p for p in (SHARED / "ai" / g).iterdir() if p.is_file()) for g in GENERATORS]
    sources: list[Path] = []
    while len(sources) < 100 and any(pools):
        sources += [pool.pop(0) for pool in pools if pool][: 100 - len(sources)]
    sources += sorted((SHARED / "real" / "camera").glob("*.jpg"))[:100]
    folder.mkdir(parents=True, exist_ok=True)
    for n, source in enumerate(sources):
        with Image.open(source) as opened:
            img = opened.convert("RGB")
        if min(img.size) < SIDE:
            scale = SIDE / min(img.size)
            size = (max(SIDE, round(img.width * scale)), max(SIDE, round(img.height * scale)))
            img = img.resize(size, Image.Resampling.BILINEAR)
        x, y = (img.width - SIDE) // 2, (img.height - SIDE) // 2
        img.crop((x, y, x + SIDE, y + SIDE)).save(folder / f"{n:03d}.png")
    return len(sources)


def repeat_folder(folder: Path, into: Path, times: int) -> int:
    into.mkdir(parents=True, exist_ok=True)
    n = 0
    for copy in range(times):
        for picture in sorted(folder.iterdir()):
            target = into / f"{copy:02d}-{picture.name}"
            if not target.exists():
                target.hardlink_to(picture)
            n += 1
    return n


def drive(folder: Path, mode: str, engine: str, workers: int, batch_size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scan.jsonl"
        args = [str(folder), str(out), mode, engine, str(workers), str(batch_size)]
        done = subprocess.run(
            [sys.executable, "-c", DRIVER, *args], capture_output=True, text=True, cwd=ROOT
        )
        if done.returncode != 0:
            raise SystemExit(f"the driver failed:\n{done.stderr[-3000:]}")
        measured: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        measured["lines"] = out.read_text("utf-8").count("\n")
    return measured


def median_run(runs: int, *args: Any) -> dict[str, Any]:
    results = [drive(*args) for _ in range(runs)]
    results.sort(key=lambda r: r["wall"])
    return results[len(results) // 2]


def noop_overhead(batch_size: int) -> float:
    done = subprocess.run(
        [sys.executable, "-c", NOOP, "400", str(batch_size)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"the no-op run failed:\n{done.stderr[-3000:]}")
    measured: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return measured["seconds_per_batch"]


def in_scan_overhead(result: dict[str, Any], workers: int, batch_size: int) -> float:
    """Seconds per batch that the workers were not in a batch, after start-up."""
    busy = sum(float(node["busy_seconds"]) for node in result["nodes"])
    batches = int(result["examined"]) / batch_size
    return max(0.0, float(result["after_start"]) * workers - busy) / batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--only", choices=("quick", "full"))
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    if not (SHARED / "real" / "camera").is_dir():
        sys.exit("../shared/data is not beside the checkout; nothing to measure")
    try:
        import ray  # noqa: F401
    except ImportError:
        sys.exit("ray is not installed: pip install 'photoloupe[cluster]'")
    work = Path(tempfile.mkdtemp(prefix="plscale-"))
    try:
        folder = work / "pictures"
        n = make_folder(folder)
        print(
            f"{n} pictures of {SIDE}x{SIDE}; batches of {args.batch_size}; "
            f"median of {args.runs} run(s); pictures/s, start-up included (after start-up)"
        )
        drive(folder, "quick", "local", 1, args.batch_size)  # warm the page cache, untimed
        for mode in ("quick", "full"):
            if args.only not in (None, mode):
                continue
            local = median_run(args.runs, folder, mode, "local", 2, args.batch_size)
            ray1 = median_run(args.runs, folder, mode, "ray", 1, args.batch_size)
            ray2 = median_run(args.runs, folder, mode, "ray", 2, args.batch_size)
            for r in (local, ray1, ray2):
                assert r["lines"] == n, f"{r['lines']} lines for {n} pictures"

            def rate(r: dict[str, Any]) -> str:
                return f"{n / r['wall']:6.2f} ({n / r['after_start']:.2f})"

            print(f"\n== scan{' --quick' if mode == 'quick' else ''}")
            print(f"local --workers 2      {rate(local)}")
            print(f"--ray local, 1 worker  {rate(ray1)}")
            print(f"--ray local, 2 workers {rate(ray2)}")
            ratio = local["wall"] / ray2["wall"]
            ratio_steady = local["after_start"] / ray2["after_start"]
            print(
                f"Ray 2 workers / local 2 workers: {ratio:.1%} ({ratio_steady:.1%}); "
                f"target >= 90%: {'met' if ratio >= 0.9 else 'NOT met'}"
            )
            efficiency = ray1["wall"] / (2 * ray2["wall"])
            efficiency_steady = ray1["after_start"] / (2 * ray2["after_start"])
            print(
                f"scaling efficiency (2 workers over twice 1): {efficiency:.1%} "
                f"({efficiency_steady:.1%})"
            )
            print(
                "overhead per batch in the scan: "
                f"{in_scan_overhead(ray1, 1, args.batch_size) * 1000:.0f} ms (1 worker), "
                f"{in_scan_overhead(ray2, 2, args.batch_size) * 1000:.0f} ms (2 workers)"
            )
            for r, label in ((ray2, "2 workers"),):
                for node in r["nodes"]:
                    print(
                        f"  {label}: node {node['node']} {node['items']} pictures by "
                        f"{node['workers']} processes, {node['busy_seconds']:.1f} s busy, "
                        f"worker peak {node['worker_peak_rss_mib']} MiB"
                    )
        print("\n== overhead per batch of a batch that does nothing (1 worker)")
        for size in (1, args.batch_size):
            print(f"batch of {size}: {noop_overhead(size) * 1000:.1f} ms")
        if not args.skip_memory:
            many = work / "many"
            m = repeat_folder(folder, many, 10)
            print("\n== driver peak memory (VmHWM of the driver process), scan --quick")
            small = drive(folder, "quick", "ray", 2, args.batch_size)
            large = drive(many, "quick", "ray", 2, args.batch_size)
            local_small = drive(folder, "quick", "local", 2, args.batch_size)
            local_large = drive(many, "quick", "local", 2, args.batch_size)
            growth = large["driver_peak_mib"] / small["driver_peak_mib"] - 1
            print(
                f"--ray local, 2 workers: {n} pictures {small['driver_peak_mib']:.0f} MiB, "
                f"{m} pictures {large['driver_peak_mib']:.0f} MiB ({growth:+.1%}; "
                f"target within 10%: {'met' if abs(growth) <= 0.10 else 'NOT met'})"
            )
            print(
                f"local --workers 2:      {n} pictures {local_small['driver_peak_mib']:.0f} "
                f"MiB, {m} pictures {local_large['driver_peak_mib']:.0f} MiB"
            )
            print(f"({m} pictures through Ray: {m / large['wall']:.2f} pictures/s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
