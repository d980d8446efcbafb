"""Aligned synthetic twins of real photos: the same picture, passed through a latent decoder.

    .venv/bin/python -m training.twins                       # make the twins
    .venv/bin/python -m training.twins --own-autoencoders    # train ours first, and use those
                                                             # that reach MIN_PSNR

A twin differs from its real source only by the traces an up-sampling decoder leaves: same
scene, same composition, and (in `training.views`) exactly the same laundering draws, since
the twin's views are seeded by its source's path. Real photos paired with such reconstructions
teach a detector generation traces instead of content, size or history (AutoGAN, Zhang et al.
2019; Rajan et al., ICLR 2025).

Two kinds of decoder:

- `taef2`: the tiny FLUX.2 autoencoder in ../shared/models/taef2 (MIT; a distilled stand-in
  for the FLUX.2 VAE). Loaded by our own module below from its state dicts; used here only, to
  make training data, never shipped or loaded by `photoloupe check`.
- `ae-*`: four small autoencoders trained here on the development photos only (never on a
  photo the benchmark scores), each with another
  up-sampler and latent shape (transposed convolution, nearest + conv, pixel shuffle,
  bilinear + conv), so that no single decoder's fingerprint is what the twins teach.

Every real photo gets a taef2 twin and, when `--own-autoencoders` trained them, one of the
project autoencoders that reconstruct held-out development photos at MIN_PSNR or better
(chosen by a hash of its path). None has reached it yet, so `make train` does not train them
(about 40 minutes on 2 cores); the experiment stays one flag away. Twins are
made from a centre crop of at most `TWIN_SIDE` pixels (on the 8-pixel grid, as the decoders
need) to bound the CPU time, and cached as PNG (lossless) under training/.cache/twins-v1/;
they are training data only and never scored by the benchmark.
"""

from __future__ import annotations

import hashlib
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from photoloupe.io import load_picture
from training import corpus, dataset

TAEF2 = dataset.ROOT.parent / "shared" / "models" / "taef2"
TAEF2_SHA256 = {
    "encoder": "10a4e1021e89d7551eaf161352da8dbd0b1aa83872ae28b150c1df1ce2f147b6",
    "decoder": "0a44a31e1ae59eb9dbf9359d24942fd3ef5928162c1800d97a28c61d51be0ab5",
}
TWIN_SIDE = 384
# The project's own autoencoders: (name, up-sampler, down-sampling factor, latent channels).
# A first set (400 steps, two of them at 1/8 size) reconstructed at a median 19-24 dB PSNR:
# blurred copies, not twins that differ only by a decoder's traces. These are wider, train
# longer, and must reach MIN_PSNR on held-out development patches to be used at all.
OWN_AUTOENCODERS = (
    ("ae2-transposed", "transposed", 4, 8),
    ("ae2-nearest", "nearest", 4, 6),
    ("ae2-shuffle", "pixelshuffle", 4, 12),
    ("ae2-bilinear", "bilinear", 8, 24),
)
AE_STEPS = 1500
AE_BATCH = 16
AE_PATCH = 64
AE_WIDTH = 64
AE_LEARNING_RATE = 2e-3
AE_SEED = 0
MIN_PSNR = 26.0  # median over held-out development patches (fixed before any detector figure)
CODE_VERSION = "1"

U8 = npt.NDArray[np.uint8]


def twin_dir() -> Path:
    return dataset.CACHE / f"twins-v{CODE_VERSION}"


def _torch() -> Any:
    import torch

    torch.set_num_threads(1)
    return torch


# --- taef2 ------------------------------------------------------------------------------------


def _taef2_modules() -> tuple[Any, Any]:
    """The encoder and decoder as `nn.Sequential`s whose indices match the state dicts."""
    torch = _torch()
    nn = torch.nn

    class Block(nn.Module):  # type: ignore[misc]
        def __init__(self, pool: bool) -> None:
            super().__init__()
            self.conv = nn.Sequential(
                nn.Conv2d(64, 64, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(64, 64, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(64, 64, 3, padding=1),
            )
            self.pool = (
                nn.Sequential(
                    nn.Conv2d(64, 256, 1, bias=False),
                    nn.GroupNorm(4, 256),
                    nn.ReLU(),
                    nn.Conv2d(256, 64, 1, bias=False),
                )
                if pool
                else None
            )

        def forward(self, x: Any) -> Any:
            if self.pool is not None:
                x = x + self.pool(x)
            return torch.relu(self.conv(x) + x)

    class Clamp(nn.Module):  # type: ignore[misc]
        def forward(self, x: Any) -> Any:
            return torch.tanh(x / 3) * 3

    def down() -> Any:
        return nn.Conv2d(64, 64, 3, stride=2, padding=1, bias=False)

    encoder = nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1),
        Block(False),
        down(), Block(False), Block(False), Block(False),
        down(), Block(False), Block(False), Block(False),
        down(), Block(True), Block(True), Block(True),
        nn.Conv2d(64, 32, 3, padding=1),
    )  # fmt: skip

    def up() -> list[Any]:
        return [nn.Upsample(scale_factor=2), nn.Conv2d(64, 64, 3, padding=1, bias=False)]

    decoder = nn.Sequential(
        Clamp(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        Block(True), Block(True), Block(True),
        *up(), Block(False), Block(False), Block(False),
        *up(), Block(False), Block(False), Block(False),
        *up(), Block(False),
        nn.Conv2d(64, 3, 3, padding=1),
    )  # fmt: skip
    return encoder, decoder


def load_taef2() -> tuple[Any, Any]:
    torch = _torch()
    encoder, decoder = _taef2_modules()
    for part, module in (("encoder", encoder), ("decoder", decoder)):
        path = TAEF2 / f"taef2_{part}.pth"
        if hashlib.sha256(path.read_bytes()).hexdigest() != TAEF2_SHA256[part]:
            raise RuntimeError(f"{path} is not the taef2 {part} recorded in ../shared/models")
        module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        module.eval()
    return encoder, decoder


# --- the project's own autoencoders ------------------------------------------------------------


def own_autoencoder(upsampler: str, factor: int, channels: int) -> Any:
    """A small convolutional autoencoder: stride-2 convolutions down to H/`factor` with
    `channels` latent channels, and back up with `upsampler` at every step."""
    torch = _torch()
    nn = torch.nn
    steps = {4: 2, 8: 3}[factor]
    width = AE_WIDTH
    down: list[Any] = [nn.Conv2d(3, width, 3, padding=1), nn.ReLU()]
    for _ in range(steps):
        down += [nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU()]
    down += [nn.Conv2d(width, channels, 1)]
    up: list[Any] = [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
    for _ in range(steps):
        if upsampler == "transposed":
            up += [nn.ConvTranspose2d(width, width, 4, stride=2, padding=1)]
        elif upsampler == "nearest":
            up += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(width, width, 3, padding=1),
            ]
        elif upsampler == "pixelshuffle":
            up += [nn.Conv2d(width, width * 4, 3, padding=1), nn.PixelShuffle(2)]
        elif upsampler == "bilinear":
            up += [
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(width, width, 3, padding=1),
            ]
        else:
            raise ValueError(upsampler)
        up += [nn.ReLU()]
    up += [nn.Conv2d(width, 3, 3, padding=1)]
    return nn.Sequential(nn.Sequential(*down), nn.Sequential(*up))


def _patches(rng: np.random.Generator, photos: list[U8], n: int) -> Any:
    torch = _torch()
    out = np.empty((n, AE_PATCH, AE_PATCH, 3), np.uint8)
    for i in range(n):
        rgb = photos[int(rng.integers(len(photos)))]
        h, w = rgb.shape[:2]
        y, x = int(rng.integers(h - AE_PATCH + 1)), int(rng.integers(w - AE_PATCH + 1))
        out[i] = rgb[y : y + AE_PATCH, x : x + AE_PATCH]
    return torch.from_numpy(out).permute(0, 3, 1, 2).float() / 255.0


def _development_photos() -> tuple[list[U8], list[U8]]:
    """Development photos for the autoencoders: every fifth held out to measure them."""
    photos = []
    for item in corpus.development_photos():
        rgb = load_picture(dataset.SHARED / item.path).pixels
        if min(rgb.shape[:2]) >= 2 * AE_PATCH:
            photos.append(rgb)
    return [p for i, p in enumerate(photos) if i % 5], photos[::5]


def psnr(a: U8, b: U8) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def _held_out_crops(photos: list[U8]) -> list[U8]:
    out = []
    for rgb in photos:
        h, w = rgb.shape[:2]
        for y, x in ((h // 4, w // 4), (h // 2, w // 2)):
            crop = rgb[y : y + 128, x : x + 128]
            if crop.shape[:2] == (128, 128):
                out.append(np.ascontiguousarray(crop))
    return out


def train_own_autoencoders() -> dict[str, Path]:
    """Train (or find cached) the four autoencoders on patches of development photos, and
    record each one's median PSNR on the held-out development photos."""
    import json

    torch = _torch()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    out_dir = twin_dir() / "autoencoders"
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = {name: out_dir / f"{name}.pt" for name, *_ in OWN_AUTOENCODERS}
    if all(p.exists() for p in wanted.values()):
        return wanted
    photos, held_out = _development_photos()
    for (name, upsampler, factor, channels), path in zip(
        OWN_AUTOENCODERS, wanted.values(), strict=True
    ):
        if path.exists():
            continue
        torch.manual_seed(AE_SEED)
        rng = np.random.default_rng(AE_SEED)
        net = own_autoencoder(upsampler, factor, channels)
        optimiser = torch.optim.Adam(net.parameters(), lr=AE_LEARNING_RATE)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, AE_STEPS)
        for step in range(AE_STEPS):
            x = _patches(rng, photos, AE_BATCH)
            loss = (net(x) - x).abs().mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            if step % 250 == 0:
                print(f"{name} step {step}: L1 {loss.item():.4f}", file=sys.stderr)
        net.eval()
        scores = [psnr(c, reconstruct(net, c)) for c in _held_out_crops(held_out)]
        quality = {"median_psnr_db": round(float(np.median(scores)), 2)}
        print(f"{name}: median PSNR {quality['median_psnr_db']} dB", file=sys.stderr)
        path.with_suffix(".json").write_text(json.dumps(quality), "utf-8")
        torch.save(net.state_dict(), path)
    return wanted


def usable_autoencoders() -> tuple[str, ...]:
    """The project autoencoders whose held-out median PSNR reaches MIN_PSNR, among those
    trained (`--own-autoencoders`); none when they were not trained."""
    import json

    out = []
    for name, *_ in OWN_AUTOENCODERS:
        report = twin_dir() / "autoencoders" / f"{name}.json"
        if report.exists() and json.loads(report.read_text("utf-8"))["median_psnr_db"] >= MIN_PSNR:
            out.append(name)
    return tuple(out)


# --- making twins --------------------------------------------------------------------------------


def twin_source(rgb: U8) -> U8:
    """The centre crop a twin is made from: at most TWIN_SIDE a side, on the 8-pixel grid."""
    h, w = rgb.shape[:2]
    ch, cw = min(h, TWIN_SIDE) // 8 * 8, min(w, TWIN_SIDE) // 8 * 8
    y, x = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(rgb[y : y + ch, x : x + cw])


def reconstruct(net: Any, rgb: U8) -> U8:
    """Pass `rgb` (H, W multiples of 8) through an (encoder, decoder) pair or a Sequential."""
    torch = _torch()
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0
    with torch.no_grad():
        y = net[1](net[0](x))
    y = y.clamp(0, 1)[0].permute(1, 2, 0).numpy()
    return np.asarray(np.round(y * 255), dtype=np.uint8)


def own_choice(path: str, usable: tuple[str, ...]) -> str | None:
    """The project autoencoder that makes this photo's second twin (by a hash of its path)."""
    if not usable:
        return None
    return usable[int(hashlib.sha256(path.encode()).hexdigest(), 16) % len(usable)]


_NETS: dict[str, Any] = {}


def _net(name: str) -> Any:
    if name not in _NETS:
        torch = _torch()
        if name == "taef2":
            _NETS[name] = load_taef2()
        else:
            spec = next(s for s in OWN_AUTOENCODERS if s[0] == name)
            net = own_autoencoder(*spec[1:])
            net.load_state_dict(
                torch.load(twin_dir() / "autoencoders" / f"{name}.pt", weights_only=True)
            )
            net.eval()
            _NETS[name] = net
    return _NETS[name]


def twin_file(path: str, kind: str) -> Path:
    return twin_dir() / kind / (hashlib.sha256(path.encode()).hexdigest()[:24] + ".png")


def _make(job: tuple[str, str]) -> str | None:
    import cv2

    path, kind = job
    out = twin_file(path, kind)
    try:
        source = twin_source(load_picture(dataset.SHARED / path).pixels)
        twin = reconstruct(_net(kind), source)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp.png")
        cv2.imwrite(str(tmp), cv2.cvtColor(twin, cv2.COLOR_RGB2BGR))
        tmp.replace(out)
        return None
    except Exception as exc:
        return f"{path} ({kind}): {exc}"


def jobs() -> list[tuple[str, str]]:
    """(real photo, twin kind) for every twin of every real photo."""
    usable = usable_autoencoders()
    out = []
    for item in corpus.benchmark_items():
        if item.label == 0:
            out.append((item.path, "taef2"))
            own = own_choice(item.path, usable)
            if own is not None:
                out.append((item.path, own))
    return out


def load_twin(path: str, kind: str) -> U8:
    import cv2

    bgr = cv2.imread(str(twin_file(path, kind)), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(twin_file(path, kind))
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def build(workers: int = 2, own_autoencoders: bool = False) -> None:
    """Make every twin that is not cached. The project's own autoencoders are trained only
    when asked: none has reached MIN_PSNR (20-22 dB, see the model card), so `make train`
    spends their 40 minutes on nothing that ships, and leaves them out."""
    if own_autoencoders:
        train_own_autoencoders()
    todo = [j for j in jobs() if not twin_file(*j).exists()]
    print(f"{len(todo)} twins to make", file=sys.stderr)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for n, problem in enumerate(pool.map(_make, todo, chunksize=4), 1):
            if problem:
                print("skipped " + problem, file=sys.stderr)
            if n % 100 == 0:
                print(f"{n}/{len(todo)} twins", file=sys.stderr)


if __name__ == "__main__":
    build(int(os.environ.get("WORKERS", "2")), own_autoencoders="--own-autoencoders" in sys.argv)
