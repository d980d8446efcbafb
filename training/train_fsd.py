"""Forensic Self-Descriptions: learn the filter bank, describe every view, fit the mixture.

    .venv/bin/python -m training.train_fsd        # filters + descriptions (cached)

1. **Filters** (`learn_filters`): `K` = 8 symmetric constrained 15×15 prediction filters,
   learned on grey patches of the development photos only (`corpus.development_photos`, never
   scored), clean and laundered alike, by minimising the mean squared prediction error minus
   a diversity term on the filter bank's singular values (−λ Σ log(σᵢ + α)): without it every
   filter would converge to the same best predictor.
2. **Descriptions** (`descriptions`): `photoloupe.detect.fsd.describe` of every view of every
   benchmark picture, cached per filter bank.
3. **Mixture** (`fit_mixture`): PCA whitening of real photos' descriptions, then a tied
   Gaussian mixture fitted by EM, and the z-score of its log-likelihood. Fitted per fold by
   the benchmark and on every real photo for the shipped model.
"""

from __future__ import annotations

import hashlib
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt

from photoloupe.detect import fsd
from photoloupe.detect.laundering import launder_wide
from photoloupe.io import load_picture
from training import corpus, dataset, views

FILTERS = 8
STEPS = 600
BATCH = 32
PATCH = 64
LEARNING_RATE = 5e-4
INITIAL_WIDTHS = (0.6, 0.8, 1.0, 1.3, 1.7, 2.2, 3.0, 4.0)
DIVERSITY = 0.05  # λ
DIVERSITY_FLOOR = 0.01  # α
SEED = 0
PCA_DIMENSIONS = 32
MIXTURE_COMPONENTS = 5
EM_ITERATIONS = 200
CODE_VERSION = "1"

F64 = npt.NDArray[np.float64]


def fsd_dir() -> Path:
    return dataset.CACHE / f"fsd-v{CODE_VERSION}"


def _development_planes(rng: np.random.Generator) -> list[npt.NDArray[np.float32]]:
    """Grey planes of the development photos: each as stored and one laundered copy."""
    planes = []
    for item in corpus.development_photos():
        rgb = load_picture(dataset.SHARED / item.path).pixels
        if min(rgb.shape[:2]) < 2 * PATCH:
            continue
        planes.append(fsd.grey(rgb))
        copy = launder_wide(rgb, rng)
        if min(copy.shape[:2]) >= PATCH + fsd.FILTER_SIZE:
            planes.append(fsd.grey(copy))
    return planes


def learn_filters() -> F64:
    """The constrained filter bank (cached)."""
    path = fsd_dir() / "filters.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float64)
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    rng = np.random.default_rng(SEED)
    planes = _development_planes(rng)
    size = fsd.FILTER_SIZE
    # Start from smooth predictors of several widths (Gaussians without their centre), so that
    # the filters begin distinct and well scaled; the optimisation shapes them from there.
    yy, xx = np.mgrid[:size, :size] - size // 2
    start = np.stack([np.exp(-(xx**2 + yy**2) / (2 * s * s)) for s in INITIAL_WIDTHS])
    start = fsd.constrain(start + rng.normal(0, 1e-3, start.shape))
    raw = torch.nn.Parameter(torch.from_numpy(start))
    centre = torch.zeros(size * size, dtype=torch.float64)
    centre[(size * size) // 2] = 1.0
    optimiser = torch.optim.Adam([raw], lr=LEARNING_RATE)
    side = PATCH + size - 1

    def constrained() -> torch.Tensor:
        w = (raw + raw.flip(1) + raw.flip(2) + raw.flip(1).flip(2)) / 4
        w = w.reshape(FILTERS, -1) * (1 - centre)
        return (w / w.sum(dim=1, keepdim=True)).reshape(FILTERS, 1, size, size)

    for step in range(STEPS):
        batch = np.empty((BATCH, 1, side, side), np.float32)
        for i in range(BATCH):
            plane = planes[int(rng.integers(len(planes)))]
            y = int(rng.integers(plane.shape[0] - side + 1))
            x = int(rng.integers(plane.shape[1] - side + 1))
            batch[i, 0] = plane[y : y + side, x : x + side] / 255.0
        x_t = torch.from_numpy(batch).double()
        w = constrained()
        predicted = torch.nn.functional.conv2d(x_t, w)
        centre_pixels = x_t[:, :, size // 2 : size // 2 + PATCH, size // 2 : size // 2 + PATCH]
        error = ((centre_pixels - predicted) ** 2).mean() * 1e3  # in units of 10^-3
        singular = torch.linalg.svdvals(w.reshape(FILTERS, -1))
        diversity = -torch.log(singular + DIVERSITY_FLOOR).sum()
        loss = error + DIVERSITY * diversity
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 100 == 0 or step == STEPS - 1:
            print(
                f"filters step {step}: error {error.item():.4f} diversity {diversity.item():.3f}",
                file=sys.stderr,
            )
    filters = fsd.constrain(constrained().detach().numpy()[:, 0])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, filters)
    return filters


def filters_digest(filters: F64) -> str:
    return hashlib.sha256(np.ascontiguousarray(filters).tobytes()).hexdigest()[:12]


_FILTERS: F64 | None = None


def _describe_item(item: corpus.Item) -> tuple[str, dict[str, F64] | None]:
    global _FILTERS
    if _FILTERS is None:
        _FILTERS = learn_filters()
    try:
        rgb = load_picture(dataset.SHARED / item.path).pixels
        named = {
            **views.evaluation_views(item.path, rgb),
            **views.training_views(item.path, item.label, rgb),
        }
        return item.path, {name: fsd.describe(v, _FILTERS) for name, v in named.items()}
    except Exception as exc:
        print(f"skipped {item.path}: {exc}", file=sys.stderr)
        return item.path, None


def descriptions(workers: int = 2) -> dict[str, dict[str, F64]]:
    """path -> view -> description, for every benchmark picture (cached per filter bank)."""
    filters = learn_filters()
    path = fsd_dir() / f"descriptions-{filters_digest(filters)}.npz"
    if path.exists():
        return views.load_by_view(path)
    todo = corpus.benchmark_items()
    out: dict[str, dict[str, F64]] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for n, (p, described) in enumerate(pool.map(_describe_item, todo, chunksize=4), 1):
            if described is not None:
                out[p] = described
            if n % 100 == 0:
                print(f"described {n}/{len(todo)}", file=sys.stderr)
    views.save_by_view(path, out)
    return out


# --- the mixture ---------------------------------------------------------------------------------


def fit_mixture(
    x: F64,
    weights: F64 | None = None,
    seed: int = SEED,
    dimensions: int = PCA_DIMENSIONS,
    components: int = MIXTURE_COMPONENTS,
) -> tuple[F64, F64, F64, F64, F64]:
    """PCA whitening and a tied Gaussian mixture on rows `x` (real photos' descriptions).

    Returns mean, components (d, D), mixture weights, means, precision Cholesky factor.
    """
    w = np.ones(len(x)) if weights is None else np.asarray(weights, float)
    w = w / w.sum()
    mean = (w[:, None] * x).sum(axis=0)
    centred = x - mean
    cov = (w[:, None] * centred).T @ centred
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:dimensions]
    directions = (vectors[:, order] / np.sqrt(values[order] + 1e-12)).T
    z = centred @ directions.T
    rng = np.random.default_rng(seed)
    m = components
    means = z[rng.choice(len(z), m, replace=False)]
    pi = np.full(m, 1.0 / m)
    shared = np.cov(z.T, aweights=w) + 1e-3 * np.eye(z.shape[1])
    for _ in range(EM_ITERATIONS):
        chol = np.linalg.cholesky(np.linalg.inv(shared))
        log_prob = _component_log_prob(z, pi, means, chol)
        top = log_prob.max(axis=1, keepdims=True)
        resp = np.exp(log_prob - top)
        resp /= resp.sum(axis=1, keepdims=True)
        resp *= w[:, None]
        nk = resp.sum(axis=0) + 1e-12
        pi = nk / nk.sum()
        means = (resp.T @ z) / nk[:, None]
        diff = z[:, None, :] - means[None]
        shared = np.einsum("nk,nki,nkj->ij", resp, diff, diff) / resp.sum() + 1e-3 * np.eye(
            z.shape[1]
        )
    chol = np.linalg.cholesky(np.linalg.inv(shared))
    return mean, directions, pi, means, chol


def _component_log_prob(z: F64, pi: F64, means: F64, chol: F64) -> F64:
    y = z @ chol
    centres = means @ chol
    squared = ((y[:, None, :] - centres[None]) ** 2).sum(axis=2)
    log_det = float(np.log(np.abs(np.diag(chol))).sum())
    return np.asarray(
        -0.5 * (z.shape[1] * np.log(2 * np.pi) + squared) + log_det + np.log(pi)[None]
    )


def model_from(
    filters: F64,
    real_descriptions: F64,
    weights: F64 | None = None,
    dimensions: int = PCA_DIMENSIONS,
    mixture: int = MIXTURE_COMPONENTS,
) -> fsd.FsdModel:
    """An `FsdModel` whose mixture and z-score come from `real_descriptions`."""
    mean, components, pi, means, chol = fit_mixture(
        real_descriptions, weights, dimensions=dimensions, components=mixture
    )
    z = (real_descriptions - mean) @ components.T
    ll = fsd.gmm_log_likelihood(z, pi, means, chol)
    return fsd.FsdModel(
        filters=filters,
        mean=mean,
        components=components,
        weights=pi,
        means=means,
        precision_cholesky=chol,
        z_mean=float(np.median(ll)),
        z_std=float(np.subtract(*np.percentile(ll, [75, 25])) / 1.349 + 1e-9),
    )


if __name__ == "__main__":
    bank = learn_filters()
    print(f"filters {filters_digest(bank)}")
    described = descriptions(workers=int(os.environ.get("WORKERS", "2")))
    print(f"{len(described)} pictures described")
