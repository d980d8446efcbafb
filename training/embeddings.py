"""Encoder embeddings of every view of every corpus picture (and of the aligned twins), cached.

    .venv/bin/python -m training.embeddings          # build or complete the cache

One shard per picture under training/.cache/embed-<encoder>/, so an interrupted run resumes
where it stopped. Each row is one 224-pixel crop: `resized` (the whole view shrunk to 224)
or `native` (a crop at the view's own resolution; three on clean and repost views, one on the
others). The rows hold what `photoloupe.detect.encoder.Encoder.embed` returns, as float16.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from photoloupe.detect import encoder
from photoloupe.io import load_picture
from training import corpus, dataset, views

NATIVE_CROPS = {"clean": 3, "repost": 3}  # other views: one native crop
CODE_VERSION = "2"  # 2: one crop per encoder run (batch-independent embeddings)


def cache_dir(kind: str = "corpus") -> Path:
    tag = encoder.CLIP_VIT_B16_INT8.sha256[:10]
    return dataset.CACHE / f"embed-{tag}-v{CODE_VERSION}" / kind


def shard_name(path: str) -> str:
    return hashlib.sha256(path.encode()).hexdigest()[:24] + ".npz"


def rows_of(
    enc: encoder.Encoder, named_views: dict[str, npt.NDArray[np.uint8]]
) -> dict[str, np.ndarray]:
    crops, view_of, kind_of, side_of = [], [], [], []
    for name, rgb in named_views.items():
        native = encoder.native_crops(rgb, NATIVE_CROPS.get(name, 1))
        batch = [encoder.resized_crop(rgb), *native]
        crops += batch
        view_of += [name] * len(batch)
        kind_of += ["resized"] + ["native"] * len(native)
        side_of += [min(rgb.shape[:2])] * len(batch)
    x = np.concatenate([enc.embed(np.stack(crops[i : i + 8])) for i in range(0, len(crops), 8)])
    return {
        "x": x.astype(np.float16),
        "view": np.asarray(view_of),
        "kind": np.asarray(kind_of),
        "side": np.asarray(side_of, dtype=np.int32),
    }


def corpus_views(item: corpus.Item) -> dict[str, npt.NDArray[np.uint8]]:
    rgb = load_picture(dataset.SHARED / item.path).pixels
    return {
        **views.evaluation_views(item.path, rgb),
        **views.training_views(item.path, item.label, rgb),
    }


_ENCODER: encoder.Encoder | None = None


def _shard(job: tuple[str, Path, Callable[[], dict[str, npt.NDArray[np.uint8]]]]) -> str | None:
    global _ENCODER
    path, out, make_views = job
    try:
        if _ENCODER is None:
            _ENCODER = encoder.packaged_encoder(threads=1)
        rows = rows_of(_ENCODER, make_views())
        tmp = out.with_suffix(".tmp.npz")
        np.savez(tmp, **rows)
        tmp.replace(out)
        return None
    except Exception as exc:  # a file that cannot be used is reported and left out
        return f"{path}: {exc}"


@dataclass(frozen=True)
class _CorpusJob:
    item: corpus.Item

    def __call__(self) -> dict[str, npt.NDArray[np.uint8]]:
        return corpus_views(self.item)


def build(
    jobs: Iterable[tuple[str, Path, Callable[[], dict[str, npt.NDArray[np.uint8]]]]],
    workers: int,
) -> None:
    todo = [j for j in jobs if not j[1].exists()]
    print(f"{len(todo)} shards to compute", file=sys.stderr)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for n, problem in enumerate(pool.map(_shard, todo, chunksize=1), 1):
            if problem:
                print("skipped " + problem, file=sys.stderr)
            if n % 50 == 0:
                print(f"{n}/{len(todo)}", file=sys.stderr)


@dataclass(frozen=True)
class _TwinJob:
    """The twin's own pixels and the laundered copies its source gets (same draws)."""

    path: str
    kind: str

    def __call__(self) -> dict[str, npt.NDArray[np.uint8]]:
        from training import twins

        rgb = twins.load_twin(self.path, self.kind)
        return {"twin": rgb, **views.training_views(self.path, 0, rgb)}


def twin_key(path: str, kind: str) -> str:
    return f"{kind}:{path}"


def build_twins(workers: int = 2) -> Path:
    from training import twins

    out = cache_dir("twins")
    out.mkdir(parents=True, exist_ok=True)
    build(
        (
            (twin_key(p, k), out / shard_name(twin_key(p, k)), _TwinJob(p, k))
            for p, k in twins.jobs()
            if twins.twin_file(p, k).exists()
        ),
        workers,
    )
    return out


def build_corpus(workers: int = 2) -> Path:
    out = cache_dir("corpus")
    out.mkdir(parents=True, exist_ok=True)
    build(((i.path, out / shard_name(i.path), _CorpusJob(i)) for i in corpus.items()), workers)
    return out


@dataclass(frozen=True)
class Table:
    """Every cached row, with the picture it belongs to."""

    x: npt.NDArray[np.float16]
    path: npt.NDArray[np.str_]
    view: npt.NDArray[np.str_]
    kind: npt.NDArray[np.str_]
    side: npt.NDArray[np.int32]


def load(kind: str = "corpus", paths: Iterable[str] | None = None) -> Table:
    base = cache_dir(kind)
    chosen = [i.path for i in corpus.items()] if paths is None else list(paths)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("x", "path", "view", "kind", "side")}
    for p in chosen:
        shard = base / shard_name(p)
        if not shard.exists():
            continue
        with np.load(shard) as d:
            n = len(d["view"])
            parts["x"].append(d["x"])
            parts["view"].append(d["view"])
            parts["kind"].append(d["kind"])
            parts["side"].append(d["side"])
            parts["path"].append(np.full(n, p))
    if not parts["x"]:
        empty = np.zeros((0, encoder.Encoder.dim), np.float16)
        return Table(empty, *(np.zeros(0, dtype) for dtype in (str, str, str, np.int32)))
    return Table(**{k: np.concatenate(v) for k, v in parts.items()})  # type: ignore[arg-type]


if __name__ == "__main__":
    workers = int(os.environ.get("WORKERS", "2"))
    print(build_corpus(workers))
    if "--twins" in sys.argv:
        print(build_twins(workers))
