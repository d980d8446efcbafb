"""Small, dependency-free learning and evaluation helpers (numpy + scipy), shared by the
training script and the benchmark so that both compute every figure the same way."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

Array = npt.NDArray[np.float64]


def fit_logistic(
    x: Array, y: Array, l2: float, weights: Array | None = None
) -> tuple[Array, float]:
    """L2-regularised logistic regression (L-BFGS). Returns (coef, intercept).

    `l2` is the penalty on the coefficients per unit of total sample weight.
    """
    n, d = x.shape
    w = np.ones(n) if weights is None else weights.astype(np.float64)
    w = w / w.sum()

    def loss(theta: Array) -> tuple[float, Array]:
        coef, b = theta[:d], theta[d]
        z = x @ coef + b
        # log(1 + exp(-s z)) with s = 2y - 1, computed stably
        s = 2 * y - 1
        margin = s * z
        value = float(np.sum(w * np.logaddexp(0.0, -margin)) + 0.5 * l2 * coef @ coef)
        p = 1.0 / (1.0 + np.exp(margin))  # d/dz of the loss is -s * p
        g = -(w * s * p)
        grad = np.concatenate([x.T @ g + l2 * coef, [g.sum()]])
        return value, grad

    result = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    return result.x[:d], float(result.x[d])


def balanced_weights(y: Array) -> Array:
    """Weights giving both classes the same total: probabilities then assume even prior odds,
    not the corpus's share of AI images (which says nothing about what a newsroom receives)."""
    pos = max(1, int((y == 1).sum()))
    neg = max(1, int((y == 0).sum()))
    return np.where(y == 1, 0.5 / pos, 0.5 / neg)


def fit_platt(logits: Array, y: Array) -> tuple[float, float]:
    """Platt scaling, probability = sigmoid(a * logit + b), at even prior odds."""
    coef, b = fit_logistic(logits[:, None], y, l2=1e-6, weights=balanced_weights(y))
    return float(coef[0]), b


def sigmoid(z: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-z))


def roc_auc(y: Array, score: Array) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half)."""
    pos, neg = score[y == 1], score[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([neg, pos]), kind="mergesort")
    ranks = np.empty(len(order))
    values = np.concatenate([neg, pos])[order]
    # average ranks for ties
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    rank_pos = ranks[len(neg) :].sum()
    return float((rank_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def tpr_at_fpr(y: Array, score: Array, fpr: float) -> float:
    """True-positive rate at the threshold that lets through at most `fpr` of negatives."""
    neg = np.sort(score[y == 0])
    if len(neg) == 0:
        return float("nan")
    k = int(np.floor(fpr * len(neg)))
    threshold = neg[len(neg) - k - 1] if k < len(neg) else -np.inf
    return float(np.mean(score[y == 1] > threshold))


def threshold_for_fpr(negatives: Array, fpr: float) -> float:
    """Smallest score threshold (strictly above) letting through at most `fpr` of `negatives`."""
    neg = np.sort(negatives)
    k = int(np.floor(fpr * len(neg)))
    return float(neg[len(neg) - k - 1]) if k < len(neg) else float(neg[0])


def expected_calibration_error(y: Array, probability: Array, bins: int = 10) -> float:
    """ECE with equal-width bins, both classes weighted equally (the even prior odds the
    probabilities are calibrated for): the weighted mean |frequency - confidence| gap."""
    w = balanced_weights(y)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(probability, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            weight = float(w[mask].sum())
            frequency = float((w[mask] * y[mask]).sum()) / weight
            confidence = float((w[mask] * probability[mask]).sum()) / weight
            total += weight * abs(frequency - confidence)
    return total


def fit_softmax(
    x: Array, y: npt.NDArray[np.int64], classes: int, l2: float, weights: Array | None = None
) -> tuple[Array, Array]:
    """L2-regularised multinomial logistic regression (L-BFGS). Returns (coef (d, k), intercept
    (k,)); `y` holds class indices 0..classes-1."""
    n, d = x.shape
    w = np.ones(n) if weights is None else weights.astype(np.float64)
    w = w / w.sum()
    onehot = np.eye(classes)[y]

    def loss(theta: Array) -> tuple[float, Array]:
        coef = theta[: d * classes].reshape(d, classes)
        b = theta[d * classes :]
        z = x @ coef + b
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        value = float(-(w[:, None] * onehot * log_p).sum() + 0.5 * l2 * (coef * coef).sum())
        g = w[:, None] * (np.exp(log_p) - onehot)
        grad = np.concatenate([(x.T @ g + l2 * coef).ravel(), g.sum(axis=0)])
        return value, grad

    start = np.zeros(d * classes + classes)
    result = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    return result.x[: d * classes].reshape(d, classes), result.x[d * classes :]
