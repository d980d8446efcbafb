"""Detector 3's corpus: every AI picture and every real photograph in ../shared/data, with the
held-out unit each belongs to, its fold and its source.

AI pictures keep the folds of `training.dataset` (whole generators; the modern generators are
a fold of their own). On the real side a fold holds whole *units*:

- a camera make (real/camera, camera and phone originals of real/camera2, real/full, the
  metadata samples, the wallpapers that name one), so that no camera make straddles folds;
- a web repository (real/web: each repository's own resizing and re-encoding pipeline);
- a same-scene set (scenes/);
- for BSDS500 (500 scanned Corel photos in one repository), one of five buckets by file, since
  a single unit of 500 would leave one fold with little else. Its photos come from many Corel
  discs and photographers; this is the one place where the real side is split within a
  source, and the model card says so.
- a real photo that names no make and belongs to none of the above is grouped with its turned
  and mirrored copies (`dataset.scene_groups`), as in detector 2.

The whole camera originals of real/full and the metadata samples (79 photos) are development
photos (fold -1): the FSD filter bank and the project's autoencoders are learned on them
alone, so that nothing the benchmark scores ever shaped those unsupervised parts. They are
neither trained on by the heads nor scored.

`source` is what weighting balances: the make, the web repository, the scene set, BSDS500 or
the wallpaper set, so that one source cannot dominate the real class.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from training import dataset

SCENES_DIR = "scenes"
DEVELOPMENT_PREFIXES = ("real/full/", "metadata/")
DEVELOPMENT_FOLD = -1


@dataclass(frozen=True)
class Item:
    path: str  # relative to ../shared/data
    label: int  # 1 AI-generated, 0 real photograph
    group: str  # generator, or the real unit (make:…, web:…, scene:…, bsds:…, picture:…)
    fold: int
    source: str  # what weighting balances


def _real_item(entry: dict[str, str], scenes: dict[str, str]) -> Item:
    path = entry["path"]
    repo = entry.get("source_repo") or ""
    make = dataset.camera_group(entry.get("exif_make") or "")
    if path.startswith("real/web/"):
        unit, source = "web:" + repo, "web:" + repo
    elif repo == "BIDS/BSDS500":
        bucket = dataset._fold_of("bsds:" + path)
        unit, source = f"bsds:{bucket}", "bsds500"
    elif make is not None:
        unit, source = "make:" + make, "make:" + make
    else:
        unit = "picture:" + scenes[path]
        source = "wallpapers" if path.startswith("real/processed/") else "unnamed-camera"
    # The same hash as detector 2's folds, so that a make sits in the same fold in both.
    fold = bucket if repo == "BIDS/BSDS500" else dataset._fold_of(unit)
    if path.startswith(DEVELOPMENT_PREFIXES):
        fold = DEVELOPMENT_FOLD
    return Item(path, 0, unit, fold, source)


def development_photos() -> list[Item]:
    return [i for i in items() if i.fold == DEVELOPMENT_FOLD]


def benchmark_items() -> list[Item]:
    """The pictures the heads are trained on and the benchmark scores (not development)."""
    return [i for i in items() if i.fold != DEVELOPMENT_FOLD]


@cache
def items() -> tuple[Item, ...]:
    """Every usable picture, sorted by path."""
    entries = json.loads((dataset.SHARED / "manifest.json").read_text("utf-8"))
    real = [
        e
        for e in entries
        if e["label"] == "real" and e["source_path"] not in dataset.NOT_PHOTOGRAPHS
    ]
    nameless = sorted(
        e["path"]
        for e in real
        if dataset.camera_group(e.get("exif_make") or "") is None
        and not e["path"].startswith("real/web/")
        and e.get("source_repo") != "BIDS/BSDS500"
    )
    scenes = dataset.scene_groups(nameless)
    out = [
        Item(
            e["path"],
            1,
            e["path"].split("/")[1],
            dataset.GENERATOR_FOLDS[e["path"].split("/")[1]],
            e["path"].split("/")[1],
        )
        for e in entries
        if e["label"] == "ai"
    ]
    out += [_real_item(e, scenes) for e in real]
    for scene in json.loads((dataset.SHARED / SCENES_DIR / "scenes.json").read_text("utf-8")):
        unit = "scene:" + scene["scene"]
        for name in scene["files"]:
            out.append(
                Item(
                    f"{SCENES_DIR}/{name}",
                    0,
                    unit,
                    dataset._fold_of(unit),
                    "scene:" + scene["scene"],
                )
            )
    return tuple(sorted(out, key=lambda i: i.path))


def source_weights(chosen: list[Item]) -> dict[str, float]:
    """Path -> weight: within each class the weights sum to one half; inside the real class a
    source of n pictures weighs sqrt(n) in all, so that BSDS500's 500 photos count for about
    four times a source of 30, not seventeen times."""
    weights: dict[str, float] = {}
    for label in (0, 1):
        members = [i for i in chosen if i.label == label]
        by_source: dict[str, int] = {}
        for i in members:
            by_source[i.source] = by_source.get(i.source, 0) + 1
        raw = {i.path: (by_source[i.source] ** -0.5 if label == 0 else 1.0) for i in members}
        total = sum(raw.values()) or 1.0
        weights.update({p: 0.5 * w / total for p, w in raw.items()})
    return weights
