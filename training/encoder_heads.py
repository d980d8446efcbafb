"""Heads on the frozen encoder's embeddings: data, features, fitting, picture scores.

A head is a logistic regression on one crop's embedding; a picture's score is the mean logit
over its crops (one resized view of the whole picture and up to three crops at its own
resolution), so that every part of the picture counts alike whatever its size.

Two feature sets are compared by inner cross-validation, never on a held-out fold:
`projection` (the 512-number image embedding, as in UnivFD) and `blocks` (the class token
of every transformer block, each normalised like a layer norm would, plus the projection).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from photoloupe.detect.heads import EncoderHead, encoder_features
from training import corpus, embeddings

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
L2_GRID = (1e-3, 1e-2)
TRAINING_VIEWS = ("clean", "train0", "train1", "train2")
TWIN_VIEWS = ("twin", "train0", "train1", "train2")
TWIN_SHARE = 1 / 3  # of the AI class's weight, when twins are used (fixed in advance)


def features(x: npt.NDArray[np.float16], feature_set: str) -> F32:
    return encoder_features(x, feature_set)


@dataclass(frozen=True)
class Rows:
    """Embedding rows with what they belong to."""

    x: npt.NDArray[np.float16]
    path: npt.NDArray[np.str_]  # the corpus picture (a twin: its real source)
    view: npt.NDArray[np.str_]
    kind: npt.NDArray[np.str_]
    side: npt.NDArray[np.int32]
    label: npt.NDArray[np.int64]
    fold: npt.NDArray[np.int64]
    twin: npt.NDArray[np.bool_]


@cache
def load_rows() -> Rows:
    by_path = {i.path: i for i in corpus.benchmark_items()}
    table = embeddings.load("corpus", by_path)
    parts = [
        (
            table,
            np.array([by_path[p].label for p in table.path]),
            np.zeros(len(table.path), bool),
        )
    ]
    from training import twins

    keys = [embeddings.twin_key(p, k) for p, k in twins.jobs()]
    twin_table = embeddings.load("twins", keys)
    if len(twin_table.path):
        source = np.array([k.split(":", 1)[1] for k in twin_table.path])
        twin_table = embeddings.Table(
            twin_table.x, source, twin_table.view, twin_table.kind, twin_table.side
        )
        parts.append((twin_table, np.ones(len(source), np.int64), np.ones(len(source), bool)))
    return Rows(
        x=np.concatenate([t.x for t, _, _ in parts]),
        path=np.concatenate([t.path for t, _, _ in parts]),
        view=np.concatenate([t.view for t, _, _ in parts]),
        kind=np.concatenate([t.kind for t, _, _ in parts]),
        side=np.concatenate([t.side for t, _, _ in parts]),
        label=np.concatenate([lab for _, lab, _ in parts]),
        fold=np.array([by_path[p].fold for p in np.concatenate([t.path for t, _, _ in parts])]),
        twin=np.concatenate([tw for _, _, tw in parts]),
    )


def training_mask(rows: Rows, folds: list[int], with_twins: bool) -> npt.NDArray[np.bool_]:
    own = ~rows.twin & np.isin(rows.view, TRAINING_VIEWS)
    twin = rows.twin & np.isin(rows.view, TWIN_VIEWS) & with_twins
    return np.isin(rows.fold, folds) & (own | twin)


def row_weights(rows: Rows, mask: npt.NDArray[np.bool_]) -> F64:
    """Each picture's source weight (`corpus.source_weights`) spread over its rows; twins
    take TWIN_SHARE of the AI class, each real photo's twins alike."""
    idx = np.flatnonzero(mask)
    items = {i.path: i for i in corpus.benchmark_items()}
    chosen = [items[p] for p in sorted(set(rows.path[idx].tolist()))]
    per_picture = corpus.source_weights(chosen)
    has_twins = bool(rows.twin[idx].any())
    w = np.zeros(len(rows.path))
    for is_twin in (False, True):
        sel = idx[rows.twin[idx] == is_twin]
        if not len(sel):
            continue
        keys = rows.path[sel]
        counts: dict[str, int] = {}
        for k in keys.tolist():
            counts[k] = counts.get(k, 0) + 1
        if is_twin:
            share = np.array([1.0 / counts[k] for k in keys.tolist()])
            w[sel] = TWIN_SHARE * 0.5 * share / share.sum()
        else:
            base = np.array([per_picture[k] / counts[k] for k in keys.tolist()])
            if has_twins:
                base = np.where(rows.label[sel] == 1, base * (1 - TWIN_SHARE), base)
            w[sel] = base
    return w[idx]


Head = EncoderHead


def fit_head(x: F32, y: F64, w: F64, l2: float, feature_set: str) -> Head:
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-4
    z = np.ascontiguousarray((x - mean) / scale, dtype=np.float32)
    coef, b = _logistic(z, y, w, l2)
    return EncoderHead(feature_set, mean, scale, coef.astype(np.float32), b)


def _logistic(x: F32, y: F64, w: F64, l2: float) -> tuple[F64, float]:
    """Weighted L2 logistic regression on float32 rows (L-BFGS, float64 parameters)."""
    d = x.shape[1]
    w = w / w.sum()
    s = 2 * y - 1

    def loss(theta: F64) -> tuple[float, F64]:
        coef = theta[:d].astype(np.float32)
        z = (x @ coef).astype(np.float64) + theta[d]
        margin = s * z
        value = float(np.sum(w * np.logaddexp(0.0, -margin)) + 0.5 * l2 * theta[:d] @ theta[:d])
        g = -(w * s / (1.0 + np.exp(margin)))
        grad = np.concatenate(
            [(x.T @ g.astype(np.float32)).astype(np.float64) + l2 * theta[:d], [g.sum()]]
        )
        return value, grad

    result = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return result.x[:d], float(result.x[d])


def train_head(rows: Rows, folds: list[int], feature_set: str, l2: float, with_twins: bool) -> Head:
    mask = training_mask(rows, folds, with_twins)
    x = features(rows.x[mask], feature_set)
    return fit_head(
        x, rows.label[mask].astype(np.float64), row_weights(rows, mask), l2, feature_set
    )


def crop_scores(
    rows: Rows, head: Head, folds: list[int], views: tuple[str, ...]
) -> dict[tuple[str, str], list[float]]:
    """(view, path) -> the head's logit of each crop (the resized one first), for the corpus
    pictures (not twins) of `folds`; a picture's score is their mean."""
    mask = ~rows.twin & np.isin(rows.fold, folds) & np.isin(rows.view, views)
    idx = np.flatnonzero(mask)
    logits = head.crop_logits(rows.x[idx])
    out: dict[tuple[str, str], list[float]] = {}
    for i, value in zip(idx.tolist(), logits.tolist(), strict=True):
        out.setdefault((str(rows.view[i]), str(rows.path[i])), []).append(value)
    return out
