"""A round trip through TAEF2, a tiny autoencoder of the FLUX.2 latent space, for training data.

The weights are `../shared/models/taef2` (MIT, from madebyollin/taesd); they are read here only
to make training and benchmark composites, never shipped nor loaded by `photoloupe check`.
A region of a camera photo encoded and decoded again keeps its scene but loses the camera's
traces for a latent decoder's: a stand-in for diffusion inpainting. The modules follow the
README beside the weights (a block is three 3x3 convolutions with ReLUs and a skip; the
encoder's last and the decoder's first stage add a pooled branch).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt

from training import dataset

MODELS = dataset.ROOT.parent / "shared" / "models" / "taef2"


def _modules():  # type: ignore[no-untyped-def]
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, width: int, pool: bool) -> None:
            super().__init__()
            self.conv = nn.Sequential(
                nn.Conv2d(width, width, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(width, width, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(width, width, 3, padding=1),
            )
            self.pool = (
                nn.Sequential(
                    nn.Conv2d(width, 256, 1, bias=False),
                    nn.GroupNorm(4, 256),
                    nn.ReLU(),
                    nn.Conv2d(256, width, 1, bias=False),
                )
                if pool
                else None
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.pool is not None:
                x = x + self.pool(x)
            return torch.relu(self.conv(x) + x)

    class Clamp(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.tanh(x / 3) * 3

    def conv(a: int, b: int, **kw: object) -> nn.Conv2d:
        return nn.Conv2d(a, b, 3, padding=1, **kw)  # type: ignore[arg-type]

    encoder = nn.Sequential(
        conv(3, 64),
        Block(64, False),
        conv(64, 64, stride=2, bias=False),
        *[Block(64, False) for _ in range(3)],
        conv(64, 64, stride=2, bias=False),
        *[Block(64, False) for _ in range(3)],
        conv(64, 64, stride=2, bias=False),
        *[Block(64, True) for _ in range(3)],
        conv(64, 32),
    )
    decoder = nn.Sequential(
        Clamp(),
        conv(32, 64),
        nn.ReLU(),
        *[Block(64, True) for _ in range(3)],
        nn.Upsample(scale_factor=2),
        conv(64, 64, bias=False),
        *[Block(64, False) for _ in range(3)],
        nn.Upsample(scale_factor=2),
        conv(64, 64, bias=False),
        *[Block(64, False) for _ in range(3)],
        nn.Upsample(scale_factor=2),
        conv(64, 64, bias=False),
        Block(64, False),
        conv(64, 3),
    )
    return encoder, decoder


@cache
def autoencoder():  # type: ignore[no-untyped-def]
    """(encoder, decoder), loaded, in eval mode."""
    import torch

    encoder, decoder = _modules()
    encoder.load_state_dict(torch.load(MODELS / "taef2_encoder.pth", map_location="cpu"))
    decoder.load_state_dict(torch.load(MODELS / "taef2_decoder.pth", map_location="cpu"))
    return encoder.eval(), decoder.eval()


def available() -> bool:
    return (MODELS / "taef2_encoder.pth").exists() and (MODELS / "taef2_decoder.pth").exists()


def round_trip(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """`rgb` (sides multiples of 8) encoded to the latent and decoded again."""
    import torch

    encoder, decoder = autoencoder()
    x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))[None]).float() / 255
    with torch.no_grad():
        y = decoder(encoder(x)).clamp(0, 1)
    out = (y[0].numpy().transpose(1, 2, 0) * 255).round()
    return np.ascontiguousarray(out, dtype=np.uint8)
