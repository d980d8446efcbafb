"""Nested leave-source-out fitting of detector 3's branches, their stack and its threshold.

Folds hold out whole generators (the modern ones form a fold of their own) and whole real
units (camera makes, web repositories, scene sets; `training.corpus`). For an outer fold k:

1. each branch fits every one of its configurations on the other folds minus one inner fold j,
   and scores j (inner out-of-fold scores); the configuration with the best inner AUC is
   chosen, and fitted on all the other folds to score k;
2. the stack (a logistic regression on the branches' logits, both classes weighed equally)
   is fitted on the chosen configurations' inner out-of-fold scores, and the threshold is
   set on the inner real photos, which come from sources the scoring models never saw;
3. fold k is scored by models, a stack and a threshold that never saw it.

The shipped detector is made the same way with every fold as "other folds".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from training import corpus, dataset
from training.metrics import balanced_weights, fit_logistic, roc_auc, sigmoid, threshold_for_fpr

Scores = dict[tuple[str, str], float]  # (view, path) -> logit, positive towards AI
T = TypeVar("T")
F64 = npt.NDArray[np.float64]
FOLDS = (0, 1, 2, 3, 4)
EVALUATION_VIEWS = ("clean", "repost", "sized")
# The shipped threshold lets through at most this share of held-out real photos. Set to 2 %
# before any figure of detector 3 was seen, to leave room under the 3 % for sources
# the threshold never saw.
TARGET_FPR = 0.02


class Branch(Protocol):
    name: str

    def configs(self) -> tuple[str, ...]: ...

    def cost(self, config: str) -> float: ...

    def fit_and_score(
        self, config: str, train: tuple[int, ...], score: tuple[int, ...]
    ) -> Scores: ...


def cache_file(branch: str, key: str) -> Path:
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return dataset.CACHE / "nested" / branch / f"{digest}.json"


def cached(
    branch: str, key: str, compute: Callable[[], dict[tuple[str, str], T]]
) -> dict[tuple[str, str], T]:
    """Scores computed once per (branch, key); the key must name everything they depend on."""
    path = cache_file(branch, key)
    if path.exists():
        data = json.loads(path.read_text("utf-8"))
        return {(v, p): s for v, p, s in data}
    scores = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([[v, p, s] for (v, p), s in sorted(scores.items())]), "utf-8")
    tmp.replace(path)
    return scores


def labels() -> dict[str, int]:
    return {i.path: i.label for i in corpus.benchmark_items()}


def auc_of(scores: Scores, views: tuple[str, ...] = EVALUATION_VIEWS) -> float:
    y_of = labels()
    keys = [k for k in scores if k[0] in views]
    return roc_auc(np.array([y_of[p] for _, p in keys], float), np.array([scores[k] for k in keys]))


def inner_scores(branch: Branch, config: str, folds: tuple[int, ...]) -> Scores:
    """Each of `folds` scored by the branch fitted on the others."""
    out: Scores = {}
    for j in folds:
        rest = tuple(f for f in folds if f != j)
        out.update(branch.fit_and_score(config, rest, (j,)))
    return out


@dataclass(frozen=True)
class Chosen:
    config: str
    inner: Scores  # out-of-fold scores over the training folds
    inner_auc: dict[str, float]


# A configuration within this much inner AUC of the best, and cheaper, is preferred (fixed in
# advance: run time is a target too).
COST_TOLERANCE = 0.005


def choose(branch: Branch, folds: tuple[int, ...]) -> Chosen:
    """The cheapest configuration whose inner out-of-fold AUC over `folds` is within
    COST_TOLERANCE of the best one's (ties: the higher AUC)."""
    candidates = {c: inner_scores(branch, c, folds) for c in branch.configs()}
    aucs = {c: auc_of(s) for c, s in candidates.items()}
    top = max(aucs.values())
    near = [c for c in aucs if aucs[c] >= top - COST_TOLERANCE]
    best = min(near, key=lambda c: (branch.cost(c), -aucs[c]))
    return Chosen(best, candidates[best], aucs)


@dataclass(frozen=True)
class Stack:
    """How the branches' logits become the reported probability, and its threshold."""

    branches: tuple[str, ...]
    coef: tuple[float, ...]
    bias: float
    threshold: float

    def probability(self, logits: F64) -> F64:
        """`logits`: (n, len(branches))."""
        return sigmoid(logits @ np.asarray(self.coef) + self.bias)


def matrix(
    per_branch: dict[str, Scores], keys: list[tuple[str, str]], branches: tuple[str, ...]
) -> F64:
    return np.array([[per_branch[b][k] for b in branches] for k in keys], dtype=np.float64)


def common_keys(per_branch: dict[str, Scores], views: tuple[str, ...]) -> list[tuple[str, str]]:
    sets = [set(k for k in s if k[0] in views) for s in per_branch.values()]
    return sorted(set.intersection(*sets)) if sets else []


def fit_stack(per_branch: dict[str, Scores], branches: tuple[str, ...]) -> Stack:
    """Logistic stack on out-of-fold scores (even prior odds) and the TARGET_FPR threshold."""
    keys = common_keys({b: per_branch[b] for b in branches}, EVALUATION_VIEWS)
    y_of = labels()
    y = np.array([y_of[p] for _, p in keys], float)
    x = matrix(per_branch, keys, branches)
    coef, bias = fit_logistic(x, y, l2=1e-4, weights=balanced_weights(y))
    stack = Stack(branches, tuple(float(c) for c in coef), bias, 0.5)
    p = stack.probability(x)
    threshold = max(0.5, threshold_for_fpr(p[y == 0], TARGET_FPR))
    return Stack(branches, stack.coef, bias, threshold)


# A branch joins the stack only if it raises the stack's inner out-of-fold AUC by this much
# (fixed in advance; the encoder head is always in), and lowers it in no condition. The second
# rule was added after the second benchmark run: FSD joined on the pooled gain (its clean and
# sized scores see who was never saved as JPEG) while it lowered the repost AUC in each of the
# four outer folds it joined, and in those folds' inner scores too; a repost is what users bring.
JOIN_GAIN = 0.002


def stack_auc(
    per_branch: dict[str, Scores],
    branches: tuple[str, ...],
    views: tuple[str, ...] = EVALUATION_VIEWS,
) -> float:
    stack = fit_stack(per_branch, branches)
    keys = common_keys({b: per_branch[b] for b in branches}, views)
    y_of = labels()
    y = np.array([y_of[p] for _, p in keys], float)
    return roc_auc(y, stack.probability(matrix(per_branch, keys, branches)))


def _loses_a_condition(per_branch: dict[str, Scores], members: tuple[str, ...], b: str) -> bool:
    return any(
        stack_auc(per_branch, (*members, b), (view,)) < stack_auc(per_branch, members, (view,))
        for view in EVALUATION_VIEWS
    )


def choose_stack(per_branch: dict[str, Scores], first: str = "encoder") -> tuple[str, ...]:
    """Greedy: start from `first`, add the branch that raises the inner AUC most, while the
    gain is at least JOIN_GAIN and no condition's AUC falls."""
    members = (first,)
    score = stack_auc(per_branch, members)
    while True:
        gains = {
            b: stack_auc(per_branch, (*members, b)) - score
            for b in per_branch
            if b not in members and not _loses_a_condition(per_branch, members, b)
        }
        if not gains:
            return members
        best = max(gains, key=lambda b: gains[b])
        if gains[best] < JOIN_GAIN:
            return members
        members, score = (*members, best), score + gains[best]


@dataclass(frozen=True)
class Outer:
    """Everything the benchmark needs from one outer fold."""

    fold: int
    chosen: dict[str, Chosen]
    scores: dict[str, Scores]  # branch -> the outer fold's scores
    stack: Stack


def outer_fold(branches: list[Branch], k: int, stackable: tuple[str, ...]) -> Outer:
    """Outer fold `k`: every branch is chosen and scores k; the stack's members are chosen by
    `choose_stack` among `stackable` (the branches the shipped detector can run)."""
    rest = tuple(f for f in FOLDS if f != k)
    chosen = {b.name: choose(b, rest) for b in branches}
    scores = {b.name: b.fit_and_score(chosen[b.name].config, rest, (k,)) for b in branches}
    inner = {n: c.inner for n, c in chosen.items() if n in stackable}
    return Outer(k, chosen, scores, fit_stack(inner, choose_stack(inner)))
