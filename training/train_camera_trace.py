"""Learn the camera-trace extractor (`photoloupe.forensics.camera_trace`) from camera photos.

    .venv/bin/python -m training.train_camera_trace      # or: make train (about 15 min, 2 cores)

In the spirit of Noiseprint (Cozzolino & Verdoliva, 2019) and of learned self-consistency
(Huh et al., 2018): a small fully-convolutional network reads the pixels and leaves a map of
the traces a camera's pipeline writes (demosaicing, denoising, sharpening, its JPEG), with the
scene's content suppressed. Averaged over a 64-pixel window and projected, the map gives a
unit vector that must agree for windows of one camera model and differ across models.

- **Real photos only**: the camera and phone originals of `real/camera`, `real/camera2` and
  `metadata/exif-samples` that name their maker in EXIF, in the development folds
  (`composites.DEV_FOLDS`): the camera makes of the test folds, which the localisation
  benchmark measures on, are never read.
- **Labels**: one per camera model (EXIF make and model). Windows sit on the stored picture's
  8-pixel grid, so that windows of one label share their position in the JPEG grid.
- **Laundering**, one draw per batch, applied alike to every photo in it: nothing, or a mild
  downscale (0.85-1) and JPEG at quality 70-100, once or twice. Since every label in a batch
  went through the same laundering, only the camera's own traces tell them apart: this is
  what a splice looks like after the final save (host and donor share the last JPEG, not
  their history).
- **Loss**: supervised contrastive (Khosla et al., 2020) over the window vectors, temperature
  `TEMPERATURE`.

Writes `src/photoloupe/forensics/weights/camera_trace.onnx` and `camera_trace.json` (its
sha256, the architecture and what it learned from). Deterministic given the seed, up to
torch's CPU kernels.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from photoloupe.detect.laundering import jpeg, resize
from photoloupe.forensics.camera_trace import (
    MODEL_RESOURCE,
    SIDECAR_RESOURCE,
    STRIDE,
    WINDOW,
    CameraTraceModel,
    read_traces,
)
from training import composites, dataset

VERSION = "1.0.0"
WIDTH = 24  # channels of the hidden layers
DEPTH = 7  # 3x3 convolutions, so the receptive field is 15 pixels
TRACE_CHANNELS = 16
EMBED = 32
TEMPERATURE = 0.1
LABELS_PER_BATCH = 24
WINDOWS_PER_LABEL = 4
STEPS = 600
LEARNING_RATE = 2e-3
CROP = 256  # each photo of a batch is cut to this (on the 8-pixel grid) before laundering
MIN_STD = 3.0  # windows flatter than this (grey levels) hold no trace worth learning from
OUT = dataset.ROOT / "src" / "photoloupe" / Path(*MODEL_RESOURCE)
SIDECAR = dataset.ROOT / "src" / "photoloupe" / Path(*SIDECAR_RESOURCE)

RGB = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Source:
    label: int
    model: str  # "make model" as EXIF names it
    path: str
    pixels: RGB


def sources(folds: tuple[int, ...]) -> list[Source]:
    """The camera photos of `folds` that name their maker, decoded as stored."""
    manifest = {e["path"]: e for e in json.loads((dataset.SHARED / "manifest.json").read_text())}
    out: list[Source] = []
    labels: dict[str, int] = {}
    for item in dataset.items():
        if item.label != 0 or item.fold not in folds or item.group == "unknown":
            continue
        if not item.path.startswith(("real/camera/", "real/camera2/", "metadata/exif-samples/")):
            continue
        entry = manifest[item.path]
        model = f"{entry.get('exif_make') or ''} {entry.get('exif_model') or ''}".strip()
        with Image.open(dataset.SHARED / item.path) as im:
            if im.format != "JPEG" or min(im.size) < 2 * WINDOW:
                continue
            rgb = np.asarray(im.convert("RGB"))
        label = labels.setdefault(model.lower(), len(labels))
        out.append(Source(label, model, item.path, rgb))
    return out


def build_network():  # type: ignore[no-untyped-def]
    """(trace network, projection): pixels -> trace map; pooled [map, |map|] -> vector."""
    from torch import nn

    layers: list[nn.Module] = [nn.Conv2d(3, WIDTH, 3, padding=1), nn.ReLU()]
    for _ in range(DEPTH - 2):
        layers += [nn.Conv2d(WIDTH, WIDTH, 3, padding=1, bias=False), nn.BatchNorm2d(WIDTH)]
        layers.append(nn.ReLU())
    layers.append(nn.Conv2d(WIDTH, TRACE_CHANNELS, 3, padding=1))
    return nn.Sequential(*layers), nn.Conv2d(2 * TRACE_CHANNELS, EMBED, 1)


class Exported:  # a namespace for the module built lazily (torch is only in the train extra)
    @staticmethod
    def module(trace, projection):  # type: ignore[no-untyped-def]
        """The network as shipped: pixels (1, 3, H, W) in [0, 1] -> unit vectors
        (1, EMBED, rows, cols), one per window of `WINDOW` pixels every `STRIDE`."""
        import torch
        from torch import nn

        class CameraTrace(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.trace = trace
                self.projection = projection
                self.pool = nn.AvgPool2d(WINDOW, stride=STRIDE)

            def forward(self, pixels: torch.Tensor) -> torch.Tensor:
                t = self.trace(pixels - 0.5)
                v = self.projection(self.pool(torch.cat([t, t.abs()], dim=1)))
                return v / (v.norm(dim=1, keepdim=True) + 1e-6)

        return CameraTrace().eval()


def _laundering(rng: np.random.Generator) -> tuple[float, tuple[int, ...]]:
    """(downscale factor, JPEG qualities) for one batch."""
    if rng.random() < 0.2:
        return 1.0, ()
    factor = float(rng.uniform(0.85, 1.0)) if rng.random() < 0.3 else 1.0
    qualities = [int(rng.integers(70, 101))]
    if rng.random() < 0.4:
        qualities.append(int(rng.integers(70, 101)))
    return factor, tuple(qualities)


def _windows(rgb: RGB, count: int, rng: np.random.Generator) -> list[RGB]:
    """`count` textured windows of `rgb` on its 8-pixel grid (flat ones are skipped)."""
    h, w = rgb.shape[:2]
    out: list[RGB] = []
    for _ in range(count * 8):
        y = int(rng.integers(0, (h - WINDOW) // 8 + 1)) * 8
        x = int(rng.integers(0, (w - WINDOW) // 8 + 1)) * 8
        patch = rgb[y : y + WINDOW, x : x + WINDOW]
        grey = patch.mean(axis=2)
        if grey.std() >= MIN_STD and (grey > 250).mean() < 0.3 and (grey < 5).mean() < 0.3:
            out.append(patch)
            if len(out) == count:
                break
    return out


def batch(
    by_label: dict[int, list[Source]], rng: np.random.Generator
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """One batch: `LABELS_PER_BATCH` labels, `WINDOWS_PER_LABEL` windows each, from one or
    more photos of that label, all laundered the same way."""
    factor, qualities = _laundering(rng)
    chosen = rng.choice(sorted(by_label), size=min(LABELS_PER_BATCH, len(by_label)), replace=False)
    xs, ys = [], []
    for label in chosen:
        photos = by_label[int(label)]
        got: list[RGB] = []
        for attempt in range(4):
            src = photos[int(rng.integers(0, len(photos)))].pixels
            h, w = src.shape[:2]
            y = int(rng.integers(0, max(1, (h - CROP) // 8 + 1))) * 8
            x = int(rng.integers(0, max(1, (w - CROP) // 8 + 1))) * 8
            crop = src[y : y + CROP, x : x + CROP]
            crop = resize(crop, factor)
            for q in qualities:
                crop = jpeg(crop, q)
            need = WINDOWS_PER_LABEL - len(got)
            got += _windows(crop, need if attempt else max(1, need // 2), rng)
            if len(got) >= WINDOWS_PER_LABEL:
                break
        if len(got) < 2:
            continue
        xs += got
        ys += [int(label)] * len(got)
    if not xs:
        raise RuntimeError("no textured window in this batch's photos")
    x = np.stack(xs).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    return x, np.asarray(ys, dtype=np.int64)


def supcon(vectors, labels, temperature: float):  # type: ignore[no-untyped-def]
    """Supervised contrastive loss of unit vectors (n, d) with integer labels (n,)."""
    import torch

    sim = vectors @ vectors.T / temperature
    n = sim.shape[0]
    eye = torch.eye(n, dtype=torch.bool)
    sim = sim.masked_fill(eye, -1e9)
    log_p = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & ~eye
    count = positive.sum(dim=1).clamp(min=1)
    return -(log_p * positive).sum(dim=1).div(count).mean()


def train(steps: int, seed: int = 0) -> tuple[bytes, dict[str, object]]:
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = sources(composites.DEV_FOLDS)
    by_label: dict[int, list[Source]] = {}
    for s in data:
        by_label.setdefault(s.label, []).append(s)
    print(f"{len(data)} photos, {len(by_label)} camera models", file=sys.stderr, flush=True)
    trace, projection = build_network()
    params = list(trace.parameters()) + list(projection.parameters())
    optimiser = torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, LEARNING_RATE, total_steps=steps)
    pool = torch.nn.AvgPool2d(WINDOW)
    started = time.time()
    losses: list[float] = []
    for step in range(steps):
        x, y = batch(by_label, rng)
        t = trace(torch.from_numpy(x) - 0.5)
        v = projection(pool(torch.cat([t, t.abs()], dim=1))).flatten(1)
        v = v / (v.norm(dim=1, keepdim=True) + 1e-6)
        loss = supcon(v, torch.from_numpy(y), TEMPERATURE)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        if step % 50 == 0 or step == steps - 1:
            recent = float(np.mean(losses[-50:]))
            print(
                f"  step {step}: loss {recent:.3f} ({time.time() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    trace.eval()
    model = Exported.module(trace, projection)
    buf = io.BytesIO()
    torch.onnx.export(
        model,
        (torch.zeros(1, 3, 256, 256),),
        buf,
        dynamo=False,
        input_names=["pixels"],
        output_names=["vectors"],
        dynamic_axes={"pixels": {2: "h", 3: "w"}, "vectors": {2: "rows", 3: "cols"}},
        opset_version=17,
    )
    facts: dict[str, object] = {
        "dev_folds": list(composites.DEV_FOLDS),
        "photos": len(data),
        "camera_models": len(by_label),
        "steps": steps,
        "final_loss": round(float(np.mean(losses[-50:])), 4),
        "train_seconds": round(time.time() - started),
    }
    return buf.getvalue(), facts


def calibrate(
    onnx_bytes: bytes, sidecar: dict[str, object], limit: int | None = None
) -> dict[str, float]:
    """The evidence of an anomaly in untouched development photos (the mixture's separation
    times its coherence, `TraceReading.evidence`), as stored
    and re-saved once at a random JPEG quality (70-95): the picture-level step of the
    analysis is centred on their 90th percentile, and as wide as the gap from the median to
    it over 2.2 (so that the median untouched photo gets a tenth of the weight)."""
    import cv2

    model = CameraTraceModel(onnx_bytes, sidecar)
    rng = np.random.default_rng(1)
    separations = []
    # Only pictures the analysis reads at all (its `min_side`).
    readable = [s for s in sources(composites.DEV_FOLDS) if min(s.pixels.shape[:2]) >= 4 * WINDOW]
    for source in readable[:limit]:
        for resaved in (False, True):
            rgb = jpeg(source.pixels, int(rng.integers(70, 96))) if resaved else source.pixels
            grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            reading = read_traces(rgb, grey, model)
            if reading.mixture is not None:
                separations.append(reading.evidence)
    if not separations:
        raise RuntimeError("no calibration photo could be read; is ../shared/data complete?")
    values = np.asarray(separations)
    p50, p90 = float(np.percentile(values, 50)), float(np.percentile(values, 90))
    return {
        "centre": round(p90, 4),
        "width": round(max(0.05, (p90 - p50) / 2.2), 4),
        "dev_pictures": int(values.size),
        "dev_evidence_median": round(p50, 4),
        "dev_evidence_p90": round(p90, 4),
        "dev_evidence_max": round(float(values.max()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--out-dir", type=Path, help="write here instead of the package")
    parser.add_argument("--calibration-limit", type=int, help="calibrate on this many photos")
    args = parser.parse_args()
    out, sidecar_path = OUT, SIDECAR
    if args.out_dir is not None:
        out, sidecar_path = args.out_dir / OUT.name, args.out_dir / SIDECAR.name
    onnx_bytes, facts = train(args.steps)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(onnx_bytes)
    sidecar = {
        "version": VERSION,
        "sha256": hashlib.sha256(onnx_bytes).hexdigest(),
        "window": WINDOW,
        "stride": STRIDE,
        "architecture": {
            "depth": DEPTH,
            "width": WIDTH,
            "trace_channels": TRACE_CHANNELS,
            "embedding": EMBED,
            "loss": f"supervised contrastive, temperature {TEMPERATURE}",
        },
        "training": facts,
    }
    sidecar["calibration"] = calibrate(onnx_bytes, sidecar, args.calibration_limit)
    sidecar_path.write_text(json.dumps(sidecar, indent=1, sort_keys=True) + "\n", "utf-8")
    print(f"wrote {out} ({len(onnx_bytes)} bytes): {facts}, {sidecar['calibration']}")


if __name__ == "__main__":
    main()
