"""Camera traces: where the traces a camera's pipeline leaves in the pixels change.

A camera writes its own traces into every pixel: its demosaicing, denoising, sharpening and
JPEG. A region from elsewhere (another camera's photo, a generated picture, an inpainted or
regenerated area) carries other traces, or none. After Noiseprint (Cozzolino & Verdoliva,
"Noiseprint: a CNN-based camera model fingerprint", IEEE TIFS 2019) and Splicebuster
(Cozzolino, Poggi & Verdoliva, WIFS 2015), this analysis:

1. runs a small fully-convolutional network learned here on camera photos only
   (`training/train_camera_trace.py`): each window of `WINDOW` pixels, every `STRIDE`, becomes
   a unit vector that agrees for windows of one camera model and differs across models;
2. keeps the windows it can read (`reliability`: enough fine detail, not clipped); flat,
   blurred or heavily compressed areas hold too little trace, and there the map stays dark
   instead of guessing;
3. takes the host's traces as the weighted median direction of the reliable windows' vectors,
   and fits each window's distance from it with two Gaussians by EM, a *host* and an
   *anomaly*; the map is each window's posterior of belonging to the anomaly (times its
   reliability), and the score that of its strongest area weighed by how far the two
   Gaussians lie apart (`separation`, in the host's standard deviations) and by
   how much of the anomaly is one connected area (`TraceReading.evidence`), calibrated on
   development camera photos so that an untouched photo's varied content does not pass for
   two cameras.

Reads the picture as stored (the traces live at that resolution), its central `MAX_SIDE`
square at most.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> distances = np.concatenate([rng.normal(0.1, 0.02, 300), rng.normal(0.5, 0.05, 40)])
>>> mixture = fit_host_and_anomaly(distances, np.ones(len(distances)))
>>> round(mixture.anomaly_share, 2), bool(mixture.posterior[-40:].mean() > 0.9)
(0.12, True)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from photoloupe._onnx import cpu_session
from photoloupe.analysis import Context
from photoloupe.findings import Finding
from photoloupe.forensics.block_map import BlockMapAnalysis, Measured, Outcome
from photoloupe.forensics.maps import FloatArray, not_applicable

WINDOW = 64  # pixels per window the network's vectors summarise
STRIDE = 32  # = the fusion's cell, so that every cell is covered by up to four windows
MODEL_RESOURCE = ("forensics", "weights", "camera_trace.onnx")
SIDECAR_RESOURCE = ("forensics", "weights", "camera_trace.json")
MAX_SIDE = 1024  # larger pictures are read in their central square (time: about 1 MP)
MIN_WINDOWS = 24  # fewer reliable windows than this: not enough to tell a host from an anomaly
EM_ITERATIONS = 40
MAX_ANOMALY_SHARE = 0.5  # the host is, by definition, the larger part
# A window's reliability rises from 0 to 1 as the standard deviation of its fine detail (grey
# minus its 3x3 mean) goes from RESIDUAL_FLOOR to RESIDUAL_FLOOR + RESIDUAL_RAMP grey levels.
RESIDUAL_FLOOR = 0.6
RESIDUAL_RAMP = 1.2
CLIPPED_SHARE = 0.25  # windows with more clipped pixels than this are unreliable
RELIABLE = 0.5


@dataclass(frozen=True)
class Mixture:
    """Two Gaussians fitted to a picture's window vectors: which windows are the anomaly."""

    posterior: FloatArray  # per window, probability of the anomaly component
    anomaly_share: float
    separation: float  # anomaly mean minus host mean, in the host's standard deviations


@dataclass(frozen=True)
class Calibration:
    """The evidence (`TraceReading.evidence`) of untouched development photos: the level at
    which a picture's anomaly counts for half (`centre`), and the width of that step."""

    centre: float
    width: float


class CameraTraceModel:
    """The shipped network, run by onnxruntime; its bytes are checked against the sha256 of
    its sidecar before they are loaded."""

    def __init__(
        self, onnx_bytes: bytes, sidecar: dict[str, Any], threads: int | None = None
    ) -> None:
        digest = hashlib.sha256(onnx_bytes).hexdigest()
        if digest != sidecar.get("sha256"):
            raise ValueError("camera_trace.onnx does not match its recorded sha256; make train")
        if (sidecar.get("window"), sidecar.get("stride")) != (WINDOW, STRIDE):
            raise ValueError("camera_trace.onnx was made for other windows; run make train")
        self._session = cpu_session(onnx_bytes, threads)
        self._input = self._session.get_inputs()[0].name
        self.sha256 = digest
        self.version = str(sidecar.get("version"))
        cal = sidecar.get("calibration") or {}
        self.calibration = Calibration(float(cal.get("centre", 3.0)), float(cal.get("width", 0.5)))

    def vectors(self, rgb: npt.NDArray[np.uint8]) -> FloatArray:
        """(rows, cols, dim) unit vectors of the windows of `rgb` (sides multiples of STRIDE)."""
        x = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        out = self._session.run(None, {self._input: x})[0][0]
        return np.ascontiguousarray(out.transpose(1, 2, 0), dtype=np.float32)


@cache
def load_model() -> CameraTraceModel:
    base = resources.files("photoloupe").joinpath(*MODEL_RESOURCE[:-1])
    sidecar = json.loads(base.joinpath(SIDECAR_RESOURCE[-1]).read_text("utf-8"))
    return CameraTraceModel(base.joinpath(MODEL_RESOURCE[-1]).read_bytes(), sidecar)


def window_reliability(grey: npt.NDArray[np.uint8]) -> FloatArray:
    """(rows, cols) reliability in [0, 1] of the windows of `grey` (as the network reads them):
    how much fine detail the window holds, zero where it is clipped."""
    g = grey.astype(np.float32)
    residual = g - cv2.blur(g, (3, 3))
    mean2 = cv2.blur(residual * residual, (WINDOW, WINDOW), anchor=(0, 0))
    clipped = cv2.blur(((g < 4) | (g > 251)).astype(np.float32), (WINDOW, WINDOW), anchor=(0, 0))
    rows = (grey.shape[0] - WINDOW) // STRIDE + 1
    cols = (grey.shape[1] - WINDOW) // STRIDE + 1
    std = np.sqrt(np.maximum(mean2[: rows * STRIDE : STRIDE, : cols * STRIDE : STRIDE], 0))
    rel = np.clip((std - RESIDUAL_FLOOR) / RESIDUAL_RAMP, 0.0, 1.0)
    rel[clipped[: rows * STRIDE : STRIDE, : cols * STRIDE : STRIDE] > CLIPPED_SHARE] = 0.0
    return np.asarray(rel, dtype=np.float32)


def host_direction(vectors: FloatArray, weights: FloatArray) -> FloatArray:
    """The weighted geometric median direction of unit vectors (n, d): the host's traces. A
    median, not a mean, so that an anomaly covering a quarter of the picture moves it little."""
    w = np.asarray(weights, dtype=np.float64)
    v = np.asarray(vectors, dtype=np.float64)
    host = (v * w[:, None]).sum(axis=0)
    for _ in range(8):  # Weiszfeld's iterations on the sphere
        host /= max(float(np.linalg.norm(host)), 1e-9)
        distance = np.maximum(1.0 - v @ host, 1e-3)
        host = (v * (w / distance)[:, None]).sum(axis=0)
    return np.asarray(host / max(float(np.linalg.norm(host)), 1e-9), dtype=np.float32)


def fit_host_and_anomaly(distances: FloatArray, weights: FloatArray) -> Mixture:
    """EM for two Gaussians over each window's distance (n,) from the host's traces, each
    window counted by its weight (its reliability). Only windows of weight at least
    `RELIABLE` are fitted; every window then gets its posterior. The component nearer the host
    is the host; the other is the anomaly, and there is none when it would hold more than
    `MAX_ANOMALY_SHARE` of the fitted weight, or almost none of it."""
    x_all = np.asarray(distances, dtype=np.float64)
    w_all = np.asarray(weights, dtype=np.float64)
    none = Mixture(np.zeros(x_all.shape, np.float32), 0.0, 0.0)
    fitted = w_all >= RELIABLE
    if int(fitted.sum()) < 4:
        return none
    x, w = x_all[fitted], w_all[fitted]
    total = float(w.sum())
    # Start with the farthest fifth (by weight) as the anomaly; strictly beyond the quantile,
    # so that tied distances (flat or clipped areas give equal vectors) never all start there.
    order = np.argsort(x)
    cumulative = np.cumsum(w[order]) / total
    cut = x[order][min(int(np.searchsorted(cumulative, 0.8)), x.size - 1)]
    resp = (x > cut).astype(np.float64)
    if not resp.any():
        return none
    floor = 1e-6 + 1e-4 * float(np.var(x))
    params: list[tuple[float, float, float]] = []
    for _ in range(EM_ITERATIONS):
        params = []
        for r in (1 - resp, resp):
            rw = r * w + 1e-12
            mean = float((rw * x).sum() / rw.sum())
            var = float((rw * (x - mean) ** 2).sum() / rw.sum()) + floor
            params.append((mean, var, float(rw.sum()) / total))
        share = min(max(params[1][2], 1e-4), MAX_ANOMALY_SHARE)
        (m0, v0, _), (m1, v1, _) = params
        log_host = -0.5 * ((x - m0) ** 2 / v0 + np.log(v0)) + np.log(1 - share)
        log_anom = -0.5 * ((x - m1) ** 2 / v1 + np.log(v1)) + np.log(share)
        new = 1.0 / (1.0 + np.exp(np.clip(log_host - log_anom, -50, 50)))
        converged = float(np.abs(new - resp).max()) < 1e-4
        resp = new
        if converged:
            break
    (m0, v0, _), (m1, v1, _) = params
    share = float((resp * w).sum() / total)
    # An "anomaly" nearer the host than the host, holding the majority, or (almost) empty
    # is no anomaly.
    if m1 <= m0 or share > MAX_ANOMALY_SHARE or share * total < 1.0:
        return none
    log_host = -0.5 * ((x_all - m0) ** 2 / v0 + np.log(v0)) + np.log(1 - share)
    log_anom = -0.5 * ((x_all - m1) ** 2 / v1 + np.log(v1)) + np.log(share)
    posterior = 1.0 / (1.0 + np.exp(np.clip(log_host - log_anom, -50, 50)))
    return Mixture(posterior.astype(np.float32), share, float((m1 - m0) / np.sqrt(v0)))


def windows_to_cells(values: FloatArray, weight: FloatArray) -> FloatArray:
    """Per-window values (rows, cols) to the STRIDE-cell grid (rows + 1, cols + 1): each cell
    takes the weighted mean of the (up to four) windows that cover it."""
    rows, cols = values.shape
    total = np.zeros((rows + 1, cols + 1), np.float32)
    mass = np.zeros_like(total)
    for dy in (0, 1):
        for dx in (0, 1):
            total[dy : dy + rows, dx : dx + cols] += values * weight
            mass[dy : dy + rows, dx : dx + cols] += weight
    return np.asarray(np.where(mass > 0, total / np.maximum(mass, 1e-6), 0.0), dtype=np.float32)


@dataclass(frozen=True)
class TraceReading:
    """What the network and the mixture read in one picture's central square."""

    origin: tuple[int, int]  # (y, x) of the square in the picture, on the cell grid
    reliability: FloatArray  # per window
    mixture: Mixture | None  # None when too few windows are reliable
    # The mixture's separation times the share of the anomaly's windows that lie in its
    # largest connected area: an edit is one area, while an untouched photo's varied content
    # scatters its "anomaly" over many.
    evidence: float = 0.0


def read_traces(
    pixels: npt.NDArray[np.uint8], grey: npt.NDArray[np.uint8], model: CameraTraceModel
) -> TraceReading:
    """Run the network on the central `MAX_SIDE` square of `pixels` (on the picture's cell
    grid, hence on its JPEG grid) and fit the host and the anomaly to its reliable windows."""
    h, w = pixels.shape[:2]
    side_y = min(h, MAX_SIDE) // STRIDE * STRIDE
    side_x = min(w, MAX_SIDE) // STRIDE * STRIDE
    y0 = (h - side_y) // 2 // STRIDE * STRIDE
    x0 = (w - side_x) // 2 // STRIDE * STRIDE
    vectors = model.vectors(pixels[y0 : y0 + side_y, x0 : x0 + side_x])
    reliability = window_reliability(grey[y0 : y0 + side_y, x0 : x0 + side_x])
    rows = min(vectors.shape[0], reliability.shape[0])
    cols = min(vectors.shape[1], reliability.shape[1])
    vectors, reliability = vectors[:rows, :cols], reliability[:rows, :cols]
    if int((reliability >= RELIABLE).sum()) < MIN_WINDOWS:
        return TraceReading((y0, x0), reliability, None)
    flat_v = vectors.reshape(rows * cols, -1)
    flat_r = reliability.ravel()
    distances = 1.0 - flat_v @ host_direction(flat_v, flat_r)
    mixture = fit_host_and_anomaly(distances, flat_r)
    marked = (mixture.posterior.reshape(rows, cols) * reliability > 0.5).astype(np.uint8)
    coherence = 0.0
    if marked.any():
        _, _, stats, _ = cv2.connectedComponentsWithStats(marked, connectivity=8)
        coherence = float(stats[1:, cv2.CC_STAT_AREA].max()) / float(marked.sum())
    return TraceReading((y0, x0), reliability, mixture, mixture.separation * coherence)


class CameraTraceAnalysis(BlockMapAnalysis):
    """Map of windows whose learned camera traces belong to another source than the host's."""

    found = Outcome(
        "camera_trace_inconsistent_area",
        "The camera traces learned from camera photos differ in one area from the rest of the "
        "picture: evidence of a region with another origin (another camera, a generated or "
        "regenerated area, an inpainted one). Strong local processing can also cause this.",
    )
    uniform = Outcome(
        "camera_trace_consistent",
        "The camera traces do not separate into two sources with confidence: no evidence of "
        "a region from another source. Its map shows where the traces differ most, which "
        "untouched photos show too.",
    )
    too_small = Outcome(
        "camera_trace_too_small", "The picture is too small to compare camera traces."
    )
    min_side = 4 * WINDOW
    min_score = 0.5

    def measure(self, context: Context) -> Measured | Finding:
        model = load_model()
        h, w = context.pixels.shape[:2]
        reading = read_traces(context.pixels, context.grey, model)
        reliability = reading.reliability
        details: dict[str, object] = {
            "window_px": WINDOW,
            "windows": int(reliability.size),
            "windows_reliable": int((reliability >= RELIABLE).sum()),
            "model_sha256": model.sha256,
        }
        mixture = reading.mixture
        if mixture is None:
            return not_applicable(
                "camera_trace_not_measurable",
                "Too little of the picture holds fine detail (flat, blurred or heavily "
                "compressed) to compare camera traces; no map is given rather than a guess.",
                **details,
            )
        cal = model.calibration
        confidence = float(1 / (1 + np.exp(-(reading.evidence - cal.centre) / cal.width)))
        posterior = mixture.posterior.reshape(reliability.shape) * reliability
        cells = windows_to_cells(posterior, np.maximum(reliability, 1e-3))
        trust_cells = windows_to_cells(reliability, np.ones_like(reliability))
        full = np.zeros((-(-h // STRIDE), -(-w // STRIDE)), np.float32)
        trust = np.zeros_like(full)
        oy, ox = reading.origin[0] // STRIDE, reading.origin[1] // STRIDE
        ch, cw = min(cells.shape[0], full.shape[0] - oy), min(cells.shape[1], full.shape[1] - ox)
        full[oy : oy + ch, ox : ox + cw] = cells[:ch, :cw]
        trust[oy : oy + ch, ox : ox + cw] = trust_cells[:ch, :cw]
        details.update(
            separation=round(mixture.separation, 3),
            evidence=round(reading.evidence, 3),
            anomaly_share=round(mixture.anomaly_share, 4),
            confidence=round(confidence, 4),
            reliable_share=round(float((reliability >= RELIABLE).mean()), 4),
        )
        return Measured(full, details, trust, confidence)


analyse_camera_trace = CameraTraceAnalysis()
