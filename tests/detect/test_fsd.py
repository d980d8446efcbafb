"""Forensic Self-Descriptions: filters, descriptions, the mixture and what moves its score."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from photoloupe.detect import fsd
from photoloupe.detect.ensemble import load_detector3
from photoloupe.io import load_picture
from tests.conftest import ROOT


def _texture(seed: int, size: tuple[int, int] = (320, 400)) -> np.ndarray:
    """A camera-like picture: smooth structure, fine sensor-like noise."""
    rng = np.random.default_rng(seed)
    h, w = size
    base = cv2.GaussianBlur(rng.normal(0, 1, (h, w, 3)), (0, 0), 6)
    base = (base - base.min()) / (np.ptp(base) + 1e-9) * 180 + 30
    return np.clip(base + rng.normal(0, 2.5, base.shape), 0, 255).astype(np.uint8)


def _bank() -> np.ndarray:
    yy, xx = np.mgrid[:15, :15] - 7
    return fsd.constrain(
        np.stack([np.exp(-(xx**2 + yy**2) / (2 * s * s)) for s in (0.7, 1.2, 2, 3)])
    )


def test_filters_are_symmetric_prediction_filters() -> None:
    bank = fsd.constrain(np.random.default_rng(0).normal(size=(8, 15, 15)))
    assert np.allclose(bank[:, 7, 7], 0.0)
    assert np.allclose(bank.reshape(8, -1).sum(axis=1), 1.0)
    assert np.allclose(bank, bank[:, ::-1]) and np.allclose(bank, bank[:, :, ::-1])


def test_the_description_is_deterministic_and_has_its_size() -> None:
    rgb, bank = _texture(0), _bank()
    first = fsd.describe(rgb, bank)
    assert first.shape == (4 * fsd.DIMENSION_PER_FILTER,)
    np.testing.assert_array_equal(first, fsd.describe(rgb.copy(), bank))
    # Each filter's coefficients sum to one (the least squares' constraint).
    per_filter = first.reshape(4, -1).sum(axis=1)
    np.testing.assert_allclose(per_filter, 1.0, atol=1e-6)


def test_a_picture_and_its_flips_give_close_descriptions() -> None:
    rgb, bank = _texture(1), _bank()
    d = fsd.describe(rgb, bank)
    for flipped in (rgb[:, ::-1], rgb[::-1], rgb[::-1, ::-1]):
        other = fsd.describe(np.ascontiguousarray(flipped), bank)
        np.testing.assert_allclose(other, d, rtol=1e-4, atol=1e-6)
    # ... while another picture's description is not that close.
    assert not np.allclose(fsd.describe(_texture(2), bank), d, rtol=1e-3, atol=1e-3)


def test_the_mixture_log_likelihood_is_that_of_a_tied_gaussian_mixture() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 3))
    weights = np.array([0.2, 0.8])
    means = np.array([[0.0, 0.0, 0.0], [1.0, -1.0, 0.5]])
    cov = np.array([[1.0, 0.3, 0.0], [0.3, 2.0, 0.1], [0.0, 0.1, 0.5]])
    chol = np.linalg.cholesky(np.linalg.inv(cov))
    expected = np.log(
        sum(w * multivariate_normal(m, cov).pdf(x) for w, m in zip(weights, means, strict=True))
    )
    np.testing.assert_allclose(fsd.gmm_log_likelihood(x, weights, means, chol), expected)


def test_a_periodic_upsampling_trace_moves_a_mixture_of_camera_like_pictures() -> None:
    from training.train_fsd import model_from

    bank = _bank()
    real = np.stack([fsd.describe(_texture(s), bank) for s in range(60)])
    # Few pictures, so few dimensions and one component: the shipped model has thousands.
    model = model_from(bank, real, dimensions=6, mixture=1)
    fresh = [fsd.describe(_texture(s), bank) for s in range(100, 106)]
    traced = []
    for s in range(100, 106):
        half = cv2.resize(_texture(s), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        traced.append(
            fsd.describe(cv2.resize(half, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST), bank)
        )
    z_fresh = np.array([model.z_score(d) for d in fresh])
    z_traced = np.array([model.z_score(d) for d in traced])
    assert z_traced.max() < z_fresh.min()


def test_the_shipped_fsd_scores_an_upsampled_copy_as_less_camera_like() -> None:
    model = load_detector3().fsd
    rgb = load_picture(ROOT / "examples" / "harbour.jpg").pixels
    half = cv2.resize(rgb, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    traced = cv2.resize(half, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    assert model.logit(traced) > model.logit(rgb)
    assert np.isfinite(model.logit(np.full((300, 300, 3), 128, np.uint8)))


@pytest.mark.parametrize("value", [0, 255])
def test_flat_pictures_give_finite_descriptions(value: int) -> None:
    d = fsd.describe(np.full((200, 260, 3), value, np.uint8), _bank())
    assert np.isfinite(d).all()
