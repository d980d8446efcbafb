"""The aligned twins: the decoders that make them, and that a twin is laundered like its source."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import ROOT, needs_shared

torch = pytest.importorskip("torch", reason="the twins need the `train` extra (torch)")

from training import twins, views  # noqa: E402

from photoloupe.io import load_picture  # noqa: E402

TAEF2_PRESENT = (twins.TAEF2 / "taef2_decoder.pth").is_file()


def _photo() -> np.ndarray:
    return load_picture(ROOT / "examples" / "harbour.jpg").pixels


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(float) - b.astype(float)) ** 2).mean())
    return 10 * np.log10(255**2 / max(mse, 1e-9))


@pytest.mark.parametrize(("name", "upsampler", "factor", "channels"), twins.OWN_AUTOENCODERS)
def test_each_project_autoencoder_gives_back_a_picture_of_its_size(
    name: str, upsampler: str, factor: int, channels: int
) -> None:
    torch.manual_seed(0)
    net = twins.own_autoencoder(upsampler, factor, channels)
    net.eval()
    rgb = _photo()[:96, :128]
    out = twins.reconstruct(net, rgb)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, twins.reconstruct(net, rgb))  # deterministic
    latent = net[0](torch.zeros(1, 3, 96, 128))
    assert latent.shape == (1, channels, 96 // factor, 128 // factor)


def test_the_twin_source_is_a_centre_crop_on_the_decoders_grid() -> None:
    crop = twins.twin_source(_photo())
    assert crop.shape[0] % 8 == 0 and crop.shape[1] % 8 == 0
    assert max(crop.shape[:2]) <= twins.TWIN_SIDE
    small = twins.twin_source(np.zeros((101, 203, 3), np.uint8))
    assert small.shape == (96, 200, 3)


@needs_shared
@pytest.mark.skipif(not TAEF2_PRESENT, reason="../shared/models/taef2 is not beside the checkout")
def test_taef2_reconstructs_a_photo_closely_and_its_twin_is_laundered_like_the_source() -> None:
    source = twins.twin_source(_photo())[:256, :256]
    twin = twins.reconstruct(twins.load_taef2(), source)
    assert twin.shape == source.shape
    assert 28 < _psnr(source, twin) < 60  # close, but not the same pixels
    a = views.training_views("some/photo.jpg", 0, source)
    b = views.training_views("some/photo.jpg", 0, twin)
    assert a.keys() == b.keys()
    for name in a:
        # Same crop, blur, resize and JPEG draws: same shapes, nearly the same pixels.
        assert a[name].shape == b[name].shape
        assert _psnr(a[name], b[name]) > 25


def test_a_taef2_file_that_is_not_the_recorded_one_is_refused(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    for part in ("encoder", "decoder"):
        (folder / f"taef2_{part}.pth").write_bytes(b"not the weights")
    monkeypatch.setattr(twins, "TAEF2", folder)
    with pytest.raises(RuntimeError, match="not the taef2"):
        twins.load_taef2()
