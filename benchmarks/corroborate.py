"""Benchmark of the archive (`photoloupe.Archive`): copies and same-scene photos found in an
index of ../shared/data.

Archive: every file of ../shared/data (manifest.json) and of scenes/, minus one held-back
photo per scene (the middle one of its list) and minus the *unrelated* queries. Queries:

    copy         a transformed copy of an archived camera, web or AI picture (BSDS500 photos,
                 which trained the vocabulary, are not used as sources); kinds:
                 jpeg (quality 50-90), crop (40-90 % of the frame kept), resize (0.25-1x),
                 mirror, rotate (+-10 degrees), rotate90, screenshot (borders, status bar and
                 caption), colour (gamma, gains), added (a patch of another photo pasted),
                 double (two of the above in a row)       -> the source, copy or edited-copy
    same-scene   the held-back photo of each scene       -> another photo of that scene
    unrelated    web, BSDS500 and AI pictures left out of the archive -> nothing

Figures: copy recall@1 and @10, precision of copy/edited-copy, same-scene recall@5 and mAP,
false matches per unrelated query, indexing throughput on about 1 MP pictures, query latency
with and without verification, and the search step at 1 M entries (FAISS filled with random
unit vectors of the real dimension plus the real archive: scale only, not accuracy).

Nothing here was tuned on these queries; the thresholds come from `photoloupe.compare` and
Meta's PDQ threshold. Prints figures, asserts nothing; files are read from ../shared/data,
never copied.

    .venv/bin/python benchmarks/corroborate.py [--sources 30] [--index-dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import resource
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from photoloupe.archive import Archive
from photoloupe.archive.structures import Structures

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
KINDS = (
    "jpeg", "crop", "resize", "mirror", "rotate", "rotate90", "screenshot", "colour", "added",
    "double",
)  # fmt: skip
Array = np.ndarray[Any, Any]


def _h(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def corpus() -> tuple[list[str], list[str], dict[str, list[str]], list[str], list[str]]:
    """(archive files, copy sources, scene -> archived files, held-back scene photos,
    unrelated queries), paths relative to DATA."""
    manifest = json.loads((DATA / "manifest.json").read_text())
    entries = [e for e in manifest if (DATA / e["path"]).is_file()]
    unrelated: list[str] = []
    for prefix, count in (("real/web/", 20), ("bsds", 10), ("ai/", 20)):
        if prefix == "bsds":
            pool = [e["path"] for e in entries if e.get("source_repo") == "BIDS/BSDS500"]
        else:
            pool = [e["path"] for e in entries if e["path"].startswith(prefix)]
        unrelated += sorted(pool, key=lambda p: _h("unrelated:" + p))[:count]
    left_out = set(unrelated)
    archive = [e["path"] for e in entries if e["path"] not in left_out]
    scenes = json.loads((DATA / "scenes" / "scenes.json").read_text())
    by_scene: dict[str, list[str]] = {}
    held: list[str] = []
    for scene in scenes:
        files = ["scenes/" + f for f in scene["files"]]
        query = files[len(files) // 2]
        held.append(query)
        by_scene[scene["scene"]] = [f for f in files if f != query]
        archive += by_scene[scene["scene"]]
    sources = [
        e["path"]
        for e in entries
        if e["path"] not in left_out
        and e.get("source_repo") != "BIDS/BSDS500"
        and e["path"].startswith(("real/camera/", "real/web/", "ai/"))
        and e["path"].lower().endswith((".jpg", ".jpeg", ".png", ".webp"))
    ]
    return archive, sources, by_scene, held, unrelated


def jpeg(rgb: Array, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def transform(kind: str, rgb: Array, other: Array, rng: np.random.Generator) -> Array:
    h, w = rgb.shape[:2]
    if kind == "jpeg":
        return rgb
    if kind == "crop":
        keep = rng.uniform(0.4, 0.9)
        aspect = rng.uniform(0.8, 1.25)
        cw = int(min(w, w * np.sqrt(keep) * aspect))
        ch = int(min(h, keep * h * w / max(cw, 1)))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        return rgb[y : y + ch, x : x + cw]
    if kind == "resize":
        s = rng.uniform(0.25, 1.0)
        size = (max(16, round(w * s)), max(16, round(h * s)))
        return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    if kind == "mirror":
        return rgb[:, ::-1]
    if kind == "rotate":
        angle = rng.uniform(2, 10) * rng.choice([-1, 1])
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        return cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    if kind == "rotate90":
        return np.rot90(rgb, int(rng.choice([1, 3])))
    if kind == "screenshot":
        s = rng.uniform(0.6, 1.0)
        small = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        sh, sw = small.shape[:2]
        top, side, bottom = 60, int(rng.integers(0, 40)), int(rng.integers(60, 160))
        shade = int(rng.choice([0, 30, 245]))
        canvas = np.full((sh + top + bottom, sw + 2 * side, 3), shade, np.uint8)
        canvas[:40] = (20, 20, 20)
        cv2.putText(canvas, "12:45  4G  87%", (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                    (255, 255, 255), 2)  # fmt: skip
        canvas[top : top + sh, side : side + sw] = small
        ink = (255 - shade,) * 3
        cv2.putText(canvas, "Huge crowd at the rally tonight!", (side + 8, top + sh + 40),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.7, ink, 2)  # fmt: skip
        return canvas
    if kind == "colour":
        gamma = rng.uniform(0.6, 1.6)
        gains = rng.uniform(0.85, 1.15, 3)
        out = 255.0 * (rgb / 255.0) ** gamma * gains
        return np.clip(out, 0, 255).astype(np.uint8)
    if kind == "added":
        share = rng.uniform(0.03, 0.15)
        rh = int(min(h * 0.9, np.sqrt(share * h * w)))
        rw = int(min(w * 0.9, share * h * w / max(rh, 1)))
        y, x = int(rng.integers(0, h - rh)), int(rng.integers(0, w - rw))
        patch = cv2.resize(other, (rw, rh), interpolation=cv2.INTER_AREA)
        out = rgb.copy()
        out[y : y + rh, x : x + rw] = patch
        return out
    if kind == "double":
        first, second = rng.choice([k for k in KINDS if k not in ("double", "added")], 2, False)
        return transform(str(second), transform(str(first), rgb, other, rng), other, rng)
    raise ValueError(kind)


def load_rgb(path: Path) -> Array:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def build_index(index_dir: Path, archive_files: list[str]) -> float:
    start = time.perf_counter()
    with Archive(index_dir, create=True) as archive:
        summary = archive.add([DATA / p for p in archive_files], workers=2)
    took = time.perf_counter() - start
    print(
        f"archive: {summary.total} pictures indexed ({summary.added} new, {summary.skipped} "
        f"unchanged, {summary.duplicates} duplicate files, {summary.failed} unreadable) "
        f"in {took:.0f} s"
    )
    return took


def run_copies(archive: Archive, sources: list[str], n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    chosen = sorted(sources, key=lambda p: _h("copy:" + p))[:n]
    others = sorted(sources, key=lambda p: _h("other:" + p))
    hits1: dict[str, int] = defaultdict(int)
    hits10: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    copy_claims = copy_right = 0
    latencies: list[float] = []
    misses: list[str] = []
    for i, rel in enumerate(chosen):
        rgb = load_rgb(DATA / rel)
        sha = hashlib.sha256((DATA / rel).read_bytes()).hexdigest()
        other = load_rgb(DATA / others[i % len(others)])
        for kind in KINDS:
            query = np.ascontiguousarray(transform(kind, rgb, other, rng))
            data = jpeg(query, int(rng.integers(50, 91)))
            t0 = time.perf_counter()
            found = archive.search(data)
            latencies.append(time.perf_counter() - t0)
            total[kind] += 1
            copies = [m for m in found.matches if m.relation in ("copy", "edited-copy")]
            copy_claims += len(copies)
            copy_right += sum(1 for m in copies if m.sha256 == sha)
            if found.matches and found.matches[0].sha256 == sha and copies:
                hits1[kind] += 1
            else:
                misses.append(f"{kind}:{rel}")
            if any(m.sha256 == sha for m in found.matches[:10]):
                hits10[kind] += 1
    n_all = sum(total.values())
    print(f"\ncopy queries: {n_all} ({n} sources x {len(KINDS)} kinds)")
    print(f"{'kind':<11} {'n':>4} {'recall@1':>9} {'recall@10':>10}")
    for kind in KINDS:
        print(
            f"{kind:<11} {total[kind]:>4} {hits1[kind] / total[kind]:>9.3f} "
            f"{hits10[kind] / total[kind]:>10.3f}"
        )
    print(
        f"{'all':<11} {n_all:>4} {sum(hits1.values()) / n_all:>9.3f} "
        f"{sum(hits10.values()) / n_all:>10.3f}"
    )
    precision = copy_right / copy_claims if copy_claims else float("nan")
    print(f"precision of copy/edited-copy: {precision:.3f} ({copy_right}/{copy_claims})")
    print(f"query latency with verification: {_lat(latencies)}")
    if misses:
        print("misses at @1:", ", ".join(misses[:20]) + (" ..." if len(misses) > 20 else ""))


def run_scenes(archive: Archive, by_scene: dict[str, list[str]], held: list[str]) -> None:
    hits5 = 0
    aps = []
    for query, (scene, files) in zip(held, by_scene.items(), strict=True):
        relevant = {hashlib.sha256((DATA / f).read_bytes()).hexdigest() for f in files}
        found = archive.search(DATA / query, top=20)
        ranked = [m.sha256 in relevant for m in found.matches]
        if any(ranked[:5]):
            hits5 += 1
        hits, precisions = 0, []
        for rank, ok in enumerate(ranked, 1):
            if ok:
                hits += 1
                precisions.append(hits / rank)
        aps.append(sum(precisions) / len(relevant))
        rel = [m.relation for m, ok in zip(found.matches, ranked, strict=True) if ok]
        print(f"  {scene:<26} {sum(ranked):>2}/{len(relevant)} found, relations {rel[:5]}")
    print(f"same-scene: recall@5 {hits5 / len(held):.3f} ({hits5}/{len(held)}), "
          f"mAP {statistics.mean(aps):.3f}")  # fmt: skip


def run_unrelated(archive: Archive, unrelated: list[str]) -> None:
    false = copies = 0
    for rel in unrelated:
        found = archive.search(DATA / rel)
        false += len(found.matches)
        copies += sum(1 for m in found.matches if m.relation != "same-scene")
        for m in found.matches:
            print(f"  false match: {rel} -> {m.path} ({m.relation}, {m.inliers} inliers)")
    print(
        f"unrelated: {len(unrelated)} queries, {false / len(unrelated):.3f} false matches per "
        f"query ({copies} false copies)"
    )


def run_latency(archive: Archive, queries: list[Path]) -> None:
    without, with_ = [], []
    for q in queries:
        t0 = time.perf_counter()
        archive.search(q, verify=0)
        without.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        archive.search(q, verify=20)
        with_.append(time.perf_counter() - t0)
    print(f"query latency without verification: {_lat(without)}")
    print(f"query latency with verification of the top 20: {_lat(with_)}")


def run_indexing(sources: list[str], n: int = 60) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        photos = sorted((DATA / "real" / "camera2").glob("*.jpg"))
        photos = [p for p in photos if min(Image.open(p).size) >= 600][:n]
        for i, p in enumerate(photos):
            rgb = load_rgb(p)
            s = np.sqrt(1.0e6 / (rgb.shape[0] * rgb.shape[1]))
            rgb = cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)),
                             interpolation=cv2.INTER_AREA)  # fmt: skip
            (folder / f"{i:03d}.jpg").write_bytes(jpeg(rgb, 90))
        t0 = time.perf_counter()
        with Archive(Path(tmp) / "index", create=True) as archive:
            summary = archive.add([folder], workers=2)
        took = time.perf_counter() - t0
        print(
            f"indexing: {summary.added} pictures of about 1 MP in {took:.1f} s on 2 workers = "
            f"{summary.added / took:.1f} pictures/s"
        )


def run_scale(archive: Archive, entries: int = 1_000_000) -> None:
    """The search step at `entries` pictures: the real archive plus random unit vectors and
    random hashes, in the inverted-file structures an archive of that size gets."""
    dim = archive.vocabulary.dimension
    rng = np.random.default_rng(1)
    real = list(archive.catalogue.iter_vectors())
    n_real = sum(len(ids) for ids, _, _ in real)
    t0 = time.perf_counter()
    sample = rng.standard_normal((200_000, dim)).astype(np.float32)
    sample /= np.linalg.norm(sample, axis=1, keepdims=True)
    structures = Structures.inverted(
        sample, rng.integers(0, 256, (200_000, 32), dtype=np.uint8), entries
    )
    for ids, vec, pdq in real:
        structures.add(ids, vec, pdq)
    offset, step = 10_000_000, 100_000
    for start in range(0, entries - n_real, step):
        n = min(step, entries - n_real - start)
        vec = rng.standard_normal((n, dim)).astype(np.float32)
        vec /= np.linalg.norm(vec, axis=1, keepdims=True)
        pdq = rng.integers(0, 256, (n, 32), dtype=np.uint8)
        structures.add(np.arange(offset + start, offset + start + n, dtype=np.int64), vec, pdq)
    build = time.perf_counter() - t0
    ids, vec, pdq = real[0]
    times, found = [], 0
    for i in range(min(50, len(ids))):
        q = np.stack([vec[i], vec[i]])
        hq = np.repeat(pdq[i : i + 1], 8, axis=0)
        t0 = time.perf_counter()
        _, near = structures.nearest(q, 50)
        _, near_h = structures.near_hashes(hq, 4)
        times.append(time.perf_counter() - t0)
        found += int(ids[i] in near[0]) + int(ids[i] in near_h[0])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"search step at {len(structures):,} entries (inverted files): median "
        f"{statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms; the archived "
        f"picture itself found {found}/{2 * len(times)} times; built in {build:.0f} s; peak "
        f"RSS of this process {rss:.0f} MiB"
    )


def _lat(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return f"median {statistics.median(values):.2f} s, p95 {p95:.2f} s, max {values[-1]:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=30, help="copy sources (x 10 kinds)")
    parser.add_argument("--index-dir", type=Path, default=None, help="reuse this index folder")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--skip-scale", action="store_true")
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is missing")
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    archive_files, sources, by_scene, held, unrelated = corpus()
    index_dir = args.index_dir or Path(tempfile.mkdtemp(prefix="corroborate-index-"))
    build_index(index_dir, archive_files)
    with Archive(index_dir) as archive:
        run_scenes(archive, by_scene, held)
        run_unrelated(archive, unrelated)
        run_copies(archive, sources, args.sources, args.seed)
        run_latency(archive, [DATA / q for q in held[:5]] + [DATA / u for u in unrelated[:5]])
        if not args.skip_scale:
            run_scale(archive)
    run_indexing(sources)


if __name__ == "__main__":
    main()
