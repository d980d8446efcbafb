"""Benchmark of `photoloupe.compare` on pairs generated from ../shared/data/real.

Each photo of `real/camera` and `real/full` (at least 200 px a side; `full` photos are first
shrunk to 1600 px, the base "original") yields pairs of these kinds:

    reencode     JPEG re-save, quality 60-95                               -> same-image
    crop         crop 35-90 % of each side, resize x0.5-1.2, JPEG          -> same-image
    rotate       small rotation (1-12 degrees, corners filled), JPEG       -> same-image
    rotate90     quarter turn, JPEG                                        -> same-image
    flip         mirror, JPEG                                              -> same-image
    screenshot   shrunk, framed by borders and a status bar, PNG           -> same-image
    colour       gamma 0.6-1.6 and channel gains, JPEG                     -> same-image
    added        a patch of another photo pasted (3-15 % of area), JPEG    -> edited
    removed      a textured region inpainted (3-15 % of area), JPEG        -> edited
    unrelated    two different photos                                      -> unrelated

Photos are split in two halves by the parity of the SHA-256 of their path: thresholds were
tuned on `--half tune` and the figures reported come from `--half report`.

`same-scene` comes from ../shared/data/scenes (scenes.json: 10 scenes of 8-10 photos of one
place or object from different viewpoints). Two kinds, from the photos as they are:

    scene        each photo and the next one of its scene, in scenes.json's order -> same-scene
    scene-other  each photo against the photo of the same rank in the next scene
                 (sorted by name), and against a real/web or real/camera photo
                 picked by the SHA-256 of the scene photo's path                   -> not same-scene

The scenes are split by the parity of their rank in name order (fixed before any figure was
seen): even ranks are the development set the epipolar thresholds were tuned on (`dev`), odd
ranks are held out (`held`), and the figure to report is `held`'s. A `scene-other` pair belongs
to its scene photo's set.

The script prints figures and asserts nothing. Files are read from ../shared/data, never copied.

    .venv/bin/python benchmarks/compare.py --half report --scenes held
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from photoloupe.compare import compare, full_size_changed_map

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"
SCENES = ROOT.parent / "shared" / "data" / "scenes"
KINDS = (
    "reencode", "crop", "rotate", "rotate90", "flip", "screenshot", "colour", "added",
    "removed", "unrelated",
)  # fmt: skip
EXPECTED = {"added": "edited", "removed": "edited", "unrelated": "unrelated"}
Array = np.ndarray[Any, Any]


def jpeg(rgb: Array, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png(rgb: Array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def photos(half: str) -> list[Path]:
    files = sorted(REAL.glob("camera/*.jpg")) + sorted(REAL.glob("full/*.jpg"))
    parity = 0 if half == "tune" else 1
    chosen = []
    for f in files:
        digest = hashlib.sha256(str(f.relative_to(REAL)).encode()).digest()
        if digest[0] % 2 != parity:
            continue
        with Image.open(f) as im:
            if min(im.size) >= 200:
                chosen.append(f)
    return chosen


def base(path: Path) -> tuple[bytes, Array]:
    """The original's bytes and pixels; large photos are shrunk to 1600 px and re-saved."""
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        rgb = np.asarray(im.convert("RGB"))
    if max(rgb.shape[:2]) > 1600:
        f = 1600 / max(rgb.shape[:2])
        rgb = cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        data = jpeg(rgb, 95)
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return data, rgb


def region(rng: np.random.Generator, h: int, w: int) -> tuple[int, int, int, int]:
    share = rng.uniform(0.03, 0.15)
    aspect = rng.uniform(0.6, 1.6)
    rh = int(min(h * 0.9, np.sqrt(share * h * w / aspect)))
    rw = int(min(w * 0.9, share * h * w / max(rh, 1)))
    return int(rng.integers(0, h - rh)), int(rng.integers(0, w - rw)), rh, rw


def make_pair(
    kind: str, rgb: Array, other: Array, rng: np.random.Generator
) -> tuple[bytes, dict[str, Any]]:
    """The suspect's bytes and the truth (mask of the edit, crop box)."""
    h, w = rgb.shape[:2]
    truth: dict[str, Any] = {}
    q = int(rng.integers(75, 96))
    if kind == "reencode":
        return jpeg(rgb, int(rng.integers(60, 96))), truth
    if kind == "crop":
        cw, ch = int(w * rng.uniform(0.35, 0.9)), int(h * rng.uniform(0.35, 0.9))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        s = rng.uniform(0.5, 1.2)
        size = (max(8, round(cw * s)), max(8, round(ch * s)))
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
        out = cv2.resize(rgb[y : y + ch, x : x + cw], size, interpolation=interp)
        truth["crop"] = (x, y, cw, ch)
        return jpeg(out, q), truth
    if kind == "rotate":
        angle = rng.uniform(1, 12) * rng.choice([-1, 1])
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        out = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255))
        return jpeg(out, q), truth
    if kind == "rotate90":
        return jpeg(np.ascontiguousarray(np.rot90(rgb, int(rng.choice([1, 3])))), q), truth
    if kind == "flip":
        return jpeg(np.ascontiguousarray(rgb[:, ::-1]), q), truth
    if kind == "screenshot":
        s = rng.uniform(0.6, 1.0)
        small = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        sh, sw = small.shape[:2]
        top, side, bottom = 60, int(rng.integers(0, 40)), int(rng.integers(40, 160))
        canvas = np.full((sh + top + bottom, sw + 2 * side, 3), int(rng.choice([0, 30, 245])),
                         np.uint8)  # fmt: skip
        canvas[:40] = (20, 20, 20)
        cv2.putText(canvas, "12:45  4G  87%", (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                    (255, 255, 255), 2)  # fmt: skip
        canvas[top : top + sh, side : side + sw] = small
        cv2.putText(canvas, "Like  Comment  Share", (10, top + sh + 30),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.7, (120, 120, 120), 2)  # fmt: skip
        return png(canvas), truth
    if kind == "colour":
        gamma = rng.uniform(0.6, 1.6)
        gains = rng.uniform(0.85, 1.15, size=3)
        out = 255.0 * (rgb / 255.0) ** gamma * gains
        return jpeg(np.clip(out, 0, 255).astype(np.uint8), q), truth
    if kind in ("added", "removed"):
        y, x, rh, rw = region(rng, h, w)
        out = rgb.copy()
        mask = np.zeros((h, w), np.uint8)
        if kind == "added":
            oh, ow = other.shape[:2]
            patch = cv2.resize(other, (rw, rh)) if (oh < rh or ow < rw) else other[
                (oy := int(rng.integers(0, oh - rh + 1))) : oy + rh,
                (ox := int(rng.integers(0, ow - rw + 1))) : ox + rw,
            ]  # fmt: skip
            out[y : y + rh, x : x + rw] = patch
            mask[y : y + rh, x : x + rw] = 255
        else:
            # Remove the most textured of a few candidate regions, as one would remove an object.
            gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            best = max(
                (region(rng, h, w) for _ in range(6)),
                key=lambda r: float(gray[r[0] : r[0] + r[2], r[1] : r[1] + r[3]].std()),
            )
            y, x, rh, rw = best
            cv2.ellipse(mask, (x + rw // 2, y + rh // 2), (rw // 2, rh // 2), 0, 0, 360, 255, -1)
            out = cv2.inpaint(rgb, mask, 5, cv2.INPAINT_TELEA)
        truth["mask"] = mask > 0
        return jpeg(out, q), truth
    if kind == "unrelated":
        return jpeg(other, q), truth
    raise ValueError(kind)


def iou(a: Array, b: Array) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def run(half: str, per_photo: int, seed: int, verbose: bool, kinds: tuple[str, ...]) -> None:
    files = photos(half)
    rng = np.random.default_rng(seed)
    bases = {f: base(f) for f in files}
    hits: dict[str, list[bool]] = defaultdict(list)
    confusions: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    ious: list[float] = []
    crop_err: list[float] = []
    times: list[float] = []
    dump = Path(os.environ["COMPARE_DUMP"]) if os.environ.get("COMPARE_DUMP") else None
    for i, f in enumerate(files):
        data, rgb = bases[f]
        chosen = rng.choice(kinds, size=min(per_photo, len(kinds)), replace=False)
        for kind in chosen:
            other_file = files[(i + 1 + int(rng.integers(0, len(files) - 1))) % len(files)]
            other = bases[other_file][1]
            suspect, truth = make_pair(str(kind), rgb, other, rng)
            start = time.perf_counter()
            result = compare(data, suspect, names=(f.name, f"{kind}.jpg"))
            times.append(time.perf_counter() - start)
            expected = EXPECTED.get(str(kind), "same-image")
            ok = result.relation == expected
            hits[str(kind)].append(ok)
            confusions[str(kind)][result.relation] += 1
            if "mask" in truth:
                pred = full_size_changed_map(result) > 0
                ious.append(iou(pred, truth["mask"]) if result.relation == "edited" else 0.0)
            if "crop" in truth and result.transform.crop_box is not None:
                oh, ow = rgb.shape[:2]
                box, true = result.transform.crop_box, truth["crop"]
                sizes = (ow, oh, ow, oh)
                crop_err.append(
                    max(abs(b - t) / s for b, t, s in zip(box, true, sizes, strict=True))
                )
            elif "crop" in truth:
                crop_err.append(1.0)
            if dump is not None and not ok:
                (dump / f"{f.stem}.{kind}.orig.jpg").write_bytes(data)
                (dump / f"{f.stem}.{kind}.susp").write_bytes(suspect)
            if verbose and not ok:
                print(f"  miss {f.name} {kind}: {result.relation} ({result.transform.inliers} "
                      f"inliers, changed {result.changed_fraction})")  # fmt: skip
    total = sum(len(v) for v in hits.values())
    right = sum(sum(v) for v in hits.values())
    print(f"half={half} seed={seed} photos={len(files)} pairs={total}")
    for kind in KINDS:
        if hits[kind]:
            got = dict(confusions[kind])
            print(f"  {kind:<11} {100 * np.mean(hits[kind]):5.1f} %  n={len(hits[kind]):<3} {got}")
    print(f"relation accuracy: {100 * right / max(1, total):.1f} %")
    if ious:
        print(f"edited-region IoU: mean {np.mean(ious):.3f}, median {np.median(ious):.3f} "
              f"(n={len(ious)}; a missed edit counts 0)")  # fmt: skip
    if crop_err:
        print(f"crop-box error (max side, % of original; 100 when not found): "
              f"median {100 * np.median(crop_err):.2f}, mean {100 * np.mean(crop_err):.2f}, "
              f"max {100 * np.max(crop_err):.2f}, within 2 %: "
              f"{100 * np.mean(np.array(crop_err) <= 0.02):.1f} % (n={len(crop_err)})")  # fmt: skip
    print(f"time per pair (corpus sizes): median {1000 * statistics.median(times):.0f} ms, "
          f"max {1000 * max(times):.0f} ms")  # fmt: skip


def scene_sets() -> dict[str, list[list[str]]]:
    """{"dev": [...], "held": [...]}: each scene's files (relative to SCENES), by name rank."""
    scenes = sorted(
        json.loads((SCENES / "scenes.json").read_text("utf-8")), key=lambda s: s["scene"]
    )
    out: dict[str, list[list[str]]] = {"dev": [], "held": []}
    for rank, scene in enumerate(scenes):
        out["dev" if rank % 2 == 0 else "held"].append(list(scene["files"]))
    return out


def scene_pairs(split: str) -> list[tuple[str, Path, Path]]:
    """(kind, original, suspect) of the `scene` and `scene-other` pairs of one set."""
    everything = sorted(
        json.loads((SCENES / "scenes.json").read_text("utf-8")), key=lambda s: s["scene"]
    )
    ranked = [list(s["files"]) for s in everything]
    others = sorted(REAL.glob("web/*.jpg")) + sorted(REAL.glob("camera/*.jpg"))
    pairs: list[tuple[str, Path, Path]] = []
    for files in scene_sets()[split]:
        rank = ranked.index(files)
        following = ranked[(rank + 1) % len(ranked)]
        for k, name in enumerate(files):
            if k + 1 < len(files):
                pairs.append(("scene", SCENES / name, SCENES / files[k + 1]))
            pairs.append(("scene-other", SCENES / name, SCENES / following[k % len(following)]))
            pick = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")
            pairs.append(("scene-other", SCENES / name, others[pick % len(others)]))
    return pairs


def run_scenes(split: str, verbose: bool) -> None:
    hits: dict[str, list[bool]] = defaultdict(list)
    per_scene: dict[str, list[bool]] = defaultdict(list)
    confusions: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    times: list[float] = []
    for kind, first, second in scene_pairs(split):
        start = time.perf_counter()
        result = compare(first, second)
        times.append(time.perf_counter() - start)
        ok = (result.relation == "same-scene") == (kind == "scene")
        hits[kind].append(ok)
        confusions[kind][result.relation] += 1
        if kind == "scene":
            per_scene[first.parent.name].append(ok)
        if verbose and not ok:
            t = result.transform
            print(f"  miss {first.relative_to(SCENES)} {second.name} {kind}: {result.relation} "
                  f"({t.inliers} inliers, {t.matches} matches)")  # fmt: skip
    label = "development set (thresholds tuned here)" if split == "dev" else "held-out set"
    print(f"scenes={split}: {label}")
    for scene, ok in per_scene.items():
        print(f"  {scene:<24} {sum(ok)}/{len(ok)}")
    scene_ok = hits["scene"]
    print(f"  scene        same-scene {100 * np.mean(scene_ok):5.1f} %  n={len(scene_ok):<3} "
          f"{dict(confusions['scene'])}")  # fmt: skip
    other = hits["scene-other"]
    wrong = len(other) - sum(other)
    print(f"  scene-other  false same-scene {100 * wrong / max(1, len(other)):5.1f} %  "
          f"({wrong}/{len(other)}) {dict(confusions['scene-other'])}")  # fmt: skip
    print(f"  time per pair: median {1000 * statistics.median(times):.0f} ms, "
          f"max {1000 * max(times):.0f} ms")  # fmt: skip


def time_12mp(repeats: int) -> None:
    """A 12 MP original against an edited, re-encoded 12 MP copy, decoding included."""
    # The most detailed `full` photo (one of them is a moon on black, which has no detail to
    # register at all), enlarged to 12 MP.
    chosen = max(sorted(REAL.glob("full/*.jpg")), key=_detail)
    rgb = np.asarray(Image.open(chosen).convert("RGB"))
    rgb = cv2.resize(rgb, (4000, 3000), interpolation=cv2.INTER_AREA)
    original = jpeg(rgb, 92)
    edited = rgb.copy()
    edited[1000:1600, 1500:2300] = edited[200:800, 200:1000]
    suspect = jpeg(edited, 80)
    measure: Callable[[], float] = lambda: _timed(original, suspect)  # noqa: E731
    runs = sorted(measure() for _ in range(repeats))
    print(f"12 MP pair (4000x3000 both, decode included): median {1000 * runs[len(runs) // 2]:.0f}"
          f" ms, best {1000 * runs[0]:.0f} ms over {repeats} runs")  # fmt: skip


def _detail(path: Path) -> float:
    with Image.open(path) as im:
        im.draft("L", (400, 400))
        return float(np.asarray(im.convert("L"), np.float64).std())


def _timed(original: bytes, suspect: bytes) -> float:
    start = time.perf_counter()
    result = compare(original, suspect)
    elapsed = time.perf_counter() - start
    print(f"  {result.relation}, {len(result.changed_regions)} region(s), {result.timings_ms}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=("tune", "report"), default="report")
    parser.add_argument("--per-photo", type=int, default=4, help="pair kinds per photo")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--timing-runs", type=int, default=3)
    parser.add_argument("--no-pairs", action="store_true", help="only time the 12 MP pair")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated pair kinds")
    parser.add_argument("--scenes", choices=("dev", "held", "both", "none"), default="both",
                        help="which scene set to run (same-scene and its negatives)")  # fmt: skip
    parser.add_argument("--no-generated", action="store_true", help="only the scene pairs")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every miss")
    args = parser.parse_args()
    if not REAL.is_dir():
        raise SystemExit(f"{REAL} not found: lay ../shared beside the checkout")
    if not args.no_pairs and not args.no_generated:
        run(args.half, args.per_photo, args.seed, args.verbose, tuple(args.kinds.split(",")))
    if not args.no_pairs and args.scenes != "none" and SCENES.is_dir():
        for split in ("dev", "held") if args.scenes == "both" else (args.scenes,):
            run_scenes(split, args.verbose)
    if args.no_generated:
        return
    time_12mp(args.timing_runs)


if __name__ == "__main__":
    main()
