"""Train the archive's visual vocabulary and PCA (`src/photoloupe/archive/weights/
vocabulary.npz`) on the CPU in about a minute.

Training photos: the 500 BSDS500 photos of ../shared/data/real/camera2 (scanned Corel
stock: landscapes, people, animals, buildings). Nothing else, so that the pictures the
corroboration benchmark queries with (camera, web and AI pictures) and every same-scene set
stay unseen by the vocabulary.

1. SIFT on the archive's own working copy (`archive.features.local_features`), RootSIFT.
2. k-means (FAISS) into `K` centroids over up to 300 descriptors per photo.
3. VLAD of each photo and of two random crops of it (crops are what a copy query often is).
4. PCA of those VLADs to `DIMENSION`, whitened with a floor on the eigenvalues (plain
   whitening would blow up the noise of the last components), folded into one projection.

    .venv/bin/python -m training.train_vocabulary
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import faiss
import numpy as np

from photoloupe.archive.features import local_features, root_sift, vlad
from photoloupe.archive.vocabulary import SHIPPED
from photoloupe.io import load_picture

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
K = 64
DIMENSION = 256
PER_PHOTO = 300
CROPS = 2
WHITEN_FLOOR = 0.1  # eigenvalues below this share of the mean kept one count as this


def training_photos(data: Path = DATA) -> list[Path]:
    manifest = json.loads((data / "manifest.json").read_text())
    entries = manifest if isinstance(manifest, list) else manifest.get("files", [])
    return sorted(data / e["path"] for e in entries if e.get("source_repo") == "BIDS/BSDS500")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SHIPPED)
    parser.add_argument("--limit", type=int, default=None, help="first N photos only (tests)")
    args = parser.parse_args()
    start = time.time()
    photos = training_photos()[: args.limit]
    if not photos:
        raise SystemExit(f"no BSDS500 photos under {DATA}")
    rng = np.random.default_rng(20261202)
    pixels = [load_picture(p).pixels for p in photos]
    descriptors = [root_sift(local_features(px).descriptors) for px in pixels]
    sample = np.concatenate(
        [d[rng.permutation(len(d))[:PER_PHOTO]] for d in descriptors if len(d)]
    ).astype(np.float32)
    kmeans = faiss.Kmeans(128, K, niter=30, seed=1, verbose=False)
    kmeans.train(sample)
    centroids = np.asarray(kmeans.centroids, np.float32)
    print(f"{len(photos)} photos, {len(sample)} descriptors, k={K} ({time.time() - start:.0f} s)")

    views = []
    for px, des in zip(pixels, descriptors, strict=True):
        views.append(vlad(des, centroids))
        h, w = px.shape[:2]
        for _ in range(CROPS):
            keep = rng.uniform(0.5, 0.85)
            ch, cw = int(h * keep), int(w * keep)
            y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            crop = np.ascontiguousarray(px[y : y + ch, x : x + cw])
            views.append(vlad(root_sift(local_features(crop).descriptors), centroids))
    matrix = np.stack(views).astype(np.float64)
    mean = matrix.mean(axis=0)
    _, singular, vt = np.linalg.svd(matrix - mean, full_matrices=False)
    eig = singular[:DIMENSION] ** 2 / (len(matrix) - 1)
    scale = 1.0 / np.sqrt(np.maximum(eig, WHITEN_FLOOR * eig.mean()))
    projection = (vt[:DIMENSION].T * scale).astype(np.float32)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        centroids=centroids,
        mean=mean.astype(np.float32),
        projection=projection.astype(np.float16),
    )
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"{len(matrix)} VLADs -> {DIMENSION} dims; wrote {args.out.name} sha256 {digest}")
    print(f"done in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
