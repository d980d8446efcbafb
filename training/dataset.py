"""The detector's data: which files, which labels, which held-out folds, and their features.

    .venv/bin/python -m training.dataset        # (re)build the feature cache

Reads ../shared/data (never copied), decodes pixels with photoloupe's own intake (metadata never
reaches the features), and caches features per variant in training/.cache/features.npz.

Folds hold out *whole generators* on the AI side and *whole camera makes* on the real side,
so that every score in the benchmark comes from a model that never saw that generator or make.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from photoloupe.detect.features import MIN_SIDE, TILE, extract_features
from photoloupe.detect.laundering import jpeg, launder, resize
from photoloupe.io import load_picture

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CACHE = ROOT / "training" / ".cache"

# Leave-generator-out folds. The modern generators (GPT-4o / gpt-image-1 / ChatGPT, Nano Banana,
# Gemini, Seedream) form one fold of their own, as the research notes advise.
GENERATOR_FOLDS: dict[str, int] = {
    # 0: Stable Diffusion family and its latent-diffusion ancestor
    "stable-diffusion-v1-4": 0,
    "stable-diffusion-v1-5": 0,
    "stable-diffusion-v2-1": 0,
    "stable-diffusion": 0,
    "stable-diffusion-beta": 0,
    "latent-diffusion": 0,
    # 1: modern commercial generators (2024-2026)
    "gpt-4o-image": 1,
    "gpt-image-1": 1,
    "chatgpt": 1,
    "nano-banana": 1,
    "nano-banana-pro": 1,
    "gemini": 1,
    "gemini-image-prompted-from-paired-real-p": 1,
    "seedream-5-0-pro": 1,
    # 2: OpenAI's early models and their open re-implementations
    "dall-e-2": 2,
    "dall-e-mini": 2,
    "craiyon": 2,
    "glide": 2,
    "glid-3-xl": 2,
    # 3: CLIP-guided diffusion and VQGAN art generators
    "disco-diffusion": 3,
    "majesty-diffusion": 3,
    "simulacra-pixray-vqgan": 3,
    # 4: Midjourney, unattributed web images, GAN
    "midjourney": 4,
    "unspecified": 4,
    "progan-gan": 4,
}
N_FOLDS = 5
AUGMENTS = {1: 4, 0: 8}  # laundered training copies per image: AI, real (balances the classes)
EVAL_QUALITY = (70, 95)


@dataclass(frozen=True)
class Item:
    path: str  # relative to ../shared/data
    label: int  # 1 AI-generated, 0 camera photograph
    group: str  # generator, or camera make
    fold: int


# Files labelled real in the corpus that are not camera photographs (plots, drawings,
# synthetic test patterns): they say nothing about cameras, so they are left out.
NOT_PHOTOGRAPHS = frozenset(
    {
        "formats/png/density_plot.png",
        "jpg/xmp/BlueSquare.jpg",
        "jpg/PaintTool_sample.jpg",
        "jpg/Canon_40D_photoshop_import.jpg",
    }
)
# One maker under several spellings must stay in one fold.
MAKE_ALIASES = {
    "eastman": "kodak",
    "jk": "kodak",
    "asahi": "pentax",
    "fuji": "fujifilm",
    "olympus": "olympus",
    "konica": "konicaminolta",
    "minolta": "konicaminolta",
    "samsung": "samsung",
}


def camera_group(make: str) -> str | None:
    """A normalised maker name, or None when the file names none."""
    words = "".join(c if c.isalnum() else " " for c in make).lower().split()
    if not words:
        return None
    return MAKE_ALIASES.get(words[0], words[0])


def _signature(path: Path) -> list[np.ndarray]:
    """16×16 grey thumbnails of the picture in its 8 turns and mirrors, zero-mean, unit-norm."""
    rgb = load_picture(path).pixels
    grey = np.asarray(
        cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (16, 16), interpolation=cv2.INTER_AREA),
        dtype=np.float64,
    )
    out = []
    for turned in (grey, grey.T):
        for k in range(4):
            v = np.rot90(turned, k).ravel()
            v = v - v.mean()
            out.append(v / (np.linalg.norm(v) + 1e-9))
    return out


def scene_groups(paths: list[str], threshold: float = 0.95) -> dict[str, str]:
    """Path -> a representative path of its scene: pictures that match another one turned or
    mirrored (correlation of 16×16 thumbnails >= `threshold`) share a representative. The
    corpus holds orientation test sets: one scene stored eight ways must not straddle folds."""
    signatures = {p: _signature(SHARED / p) for p in paths}
    parent = {p: p for p in paths}

    def root(p: str) -> str:
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    for i, a in enumerate(paths):
        for b in paths[i + 1 :]:
            best = max(float(signatures[a][0] @ v) for v in signatures[b])
            if best >= threshold:
                ra, rb = root(a), root(b)
                parent[max(ra, rb)] = min(ra, rb)
    return {p: root(p) for p in paths}


def _fold_of(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % N_FOLDS


def items() -> list[Item]:
    entries = json.loads((SHARED / "manifest.json").read_text("utf-8"))
    nameless = [
        e["path"]
        for e in entries
        if e["label"] == "real"
        and e["source_path"] not in NOT_PHOTOGRAPHS
        and camera_group(e.get("exif_make") or "") is None
    ]
    scenes = scene_groups(sorted(nameless))
    out = []
    for e in entries:
        if e["label"] == "ai":
            generator = e["path"].split("/")[1]
            out.append(Item(e["path"], 1, generator, GENERATOR_FOLDS[generator]))
        elif e["label"] == "real" and e["source_path"] not in NOT_PHOTOGRAPHS:
            make = camera_group(e.get("exif_make") or "")
            if make is not None:
                out.append(Item(e["path"], 0, make, _fold_of("make:" + make)))
            else:
                # No maker named: group by scene, so that copies of one picture stay together.
                scene = scenes[e["path"]]
                out.append(Item(e["path"], 0, "unknown", _fold_of("scene:" + scene)))
    return sorted(out, key=lambda i: i.path)


def _seed(path: str, salt: str) -> int:
    return int(hashlib.sha256(f"{salt}:{path}".encode()).hexdigest()[:8], 16)


def evaluation_views(item: Item, rgb: np.ndarray) -> dict[str, np.ndarray]:
    """The benchmark's views of one file: clean, laundered, small and laundered_pillow.

    Deterministic per file, so that every model (features, CNN) is measured on the same pixels.
    """
    rng_eval = np.random.default_rng(_seed(item.path, "eval"))
    factor = float(rng_eval.uniform(0.5, 1.0))
    quality = int(rng_eval.integers(EVAL_QUALITY[0], EVAL_QUALITY[1] + 1))
    h, w = rgb.shape[:2]
    # Never shrink below what the detector reads at all (as `launder` does for training).
    factor = min(1.0, max(factor, MIN_SIDE / min(h, w)))
    y, x = max(0, (h - TILE) // 2), max(0, (w - TILE) // 2)
    return {
        "clean": rgb,
        "laundered": jpeg(resize(rgb, factor), quality),
        "laundered_pillow": _pillow_repost(rgb, factor, quality),
        "small": rgb[y : y + TILE, x : x + TILE],
    }


def training_copies(item: Item, rgb: np.ndarray, salt: str = "train") -> list[np.ndarray]:
    """Laundered training copies of one file (AUGMENTS[label] of them), deterministic per file."""
    rng_train = np.random.default_rng(_seed(item.path, salt))
    copies = []
    for _ in range(AUGMENTS[item.label]):
        source = rgb
        if item.label == 1 and rng_train.random() < 0.5:
            # Every camera photo here carries its camera's JPEG history; give half the AI
            # copies one too, so that "was once a JPEG" stops telling the classes apart.
            source = jpeg(rgb, int(rng_train.integers(85, 99)))
        copies.append(launder(source, rng_train))
    return copies


def variants(item: Item) -> dict[str, list[np.ndarray]]:
    """Feature vectors of one file: clean, laundered and small (evaluation), and training copies."""
    rgb = load_picture(SHARED / item.path).pixels
    out = {name: [extract_features(view)] for name, view in evaluation_views(item, rgb).items()}
    out["train"] = [extract_features(copy) for copy in training_copies(item, rgb)]
    return out


def _pillow_repost(rgb: np.ndarray, factor: float, quality: int) -> np.ndarray:
    """The evaluation repost again, but with another resampler (Lanczos) and another JPEG
    encoder (Pillow's libjpeg, 4:2:0): training never saw these, so this tests generalisation
    beyond the exact laundering used in training."""
    import io

    from PIL import Image

    h, w = rgb.shape[:2]
    img = Image.fromarray(rgb)
    if factor < 0.999:
        img = img.resize((max(1, round(w * factor)), max(1, round(h * factor))), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, subsampling=2)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _work(item: Item) -> tuple[Item, dict[str, list[np.ndarray]] | None]:
    try:
        return item, variants(item)
    except Exception as exc:  # a file that cannot be used is reported and left out
        print(f"skipped {item.path}: {exc}", file=sys.stderr)
        return item, None


def build(workers: int = 2) -> Path:
    """Compute every variant's tile features for every item and save them in one .npz.

    One row per tile; `instance` numbers the (file, variant, copy) a tile belongs to, so that
    scores can be averaged per picture as the detector does at run time.
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    rows: list[np.ndarray] = []
    meta: dict[str, list[object]] = {
        k: [] for k in ("path", "label", "group", "fold", "variant", "instance")
    }
    instance = 0
    todo = items()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for n, (item, result) in enumerate(pool.map(_work, todo, chunksize=4), 1):
            if result is None:
                continue
            for variant, copies in result.items():
                for tiles in copies:
                    for tile in tiles:
                        rows.append(tile)
                        meta["path"].append(item.path)
                        meta["label"].append(item.label)
                        meta["group"].append(item.group)
                        meta["fold"].append(item.fold)
                        meta["variant"].append(variant)
                        meta["instance"].append(instance)
                    instance += 1
            if n % 100 == 0:
                print(f"{n}/{len(todo)} files", file=sys.stderr)
    out = CACHE / "features.npz"
    np.savez_compressed(out, features=np.stack(rows), **{k: np.asarray(v) for k, v in meta.items()})
    return out


if __name__ == "__main__":
    print(build(workers=int(os.environ.get("WORKERS", "2"))))
