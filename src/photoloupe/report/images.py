"""Pictures for human reports: PNG/JPEG encoding, a perceptual colour map, EXIF orientation.

Shared by the HTML report and the CLI (which writes maps to disk with `map_to_png`).
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from photoloupe.io import orient_array
from photoloupe.localize import full_size_map
from photoloupe.schema.report import Report

__all__ = [
    "colorize",
    "encode_jpeg",
    "encode_png",
    "map_to_png",
    "orient_array",
    "orient_box",
    "oriented_size",
    "shrink",
]

# OpenCV's "inferno" colour map (black -> purple -> red -> orange -> pale yellow): lightness
# rises monotonically, so the map still reads in greyscale print, and the hue sweep keeps
# neighbouring levels apart. Built once as a 256-entry RGB table.
_LUT_SIZE = 256
_LUT: npt.NDArray[np.uint8] = np.ascontiguousarray(
    cv2.applyColorMap(np.arange(_LUT_SIZE, dtype=np.uint8)[:, None], cv2.COLORMAP_INFERNO)[
        :, 0, ::-1
    ]
)


def colorize(values: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """Map values in [0, 1] (any shape) to RGB through the colour map; NaN counts as 0."""
    a = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=1.0, neginf=0.0)
    idx = np.rint(np.clip(a, 0.0, 1.0) * (_LUT_SIZE - 1)).astype(np.intp)
    return _LUT[idx]


def _to_uint8(array: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    a = np.asarray(array)
    if a.dtype == np.uint8:
        return a.astype(np.uint8, copy=False)
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(a.dtype, np.floating):
        f = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
        out: npt.NDArray[np.uint8] = np.rint(np.clip(f, 0.0, 1.0) * 255.0).astype(np.uint8)
        return out
    if np.issubdtype(a.dtype, np.integer):
        clipped: npt.NDArray[np.uint8] = np.clip(a, 0, 255).astype(np.uint8)
        return clipped
    raise TypeError(f"cannot encode an array of dtype {a.dtype}")


def _to_image(array: npt.ArrayLike) -> Image.Image:
    a = _to_uint8(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(a), mode="L")
    if a.ndim == 3 and a.shape[2] == 3:
        return Image.fromarray(np.ascontiguousarray(a), mode="RGB")
    if a.ndim == 3 and a.shape[2] == 4:
        return Image.fromarray(np.ascontiguousarray(a), mode="RGBA")
    raise ValueError(f"expected an H x W, H x W x 3 or H x W x 4 array, got shape {a.shape}")


def encode_png(array: npt.ArrayLike) -> bytes:
    """PNG bytes of an image array.

    uint8 arrays are written as they are; float arrays are read as [0, 1] and booleans as
    0 / 255. Shapes: H x W (grey), H x W x 3 (RGB) or H x W x 4 (RGBA).
    """
    buf = io.BytesIO()
    _to_image(array).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def encode_jpeg(array: npt.ArrayLike, quality: int = 88) -> bytes:
    """JPEG bytes of an image array (alpha is dropped)."""
    img = _to_image(array)
    if img.mode == "RGBA":
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def map_to_png(map: npt.ArrayLike) -> bytes:
    """PNG bytes of an analysis map in [0, 1], coloured dark (low) to bright (high)."""
    a = np.asarray(map, dtype=np.float32)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim != 2:
        raise ValueError(f"a map must be a 2-D array, got shape {a.shape}")
    return encode_png(colorize(a))


def shrink(map: npt.ArrayLike, max_side: int) -> npt.NDArray[np.float32]:
    """Area-average a 2-D map so that its longer side is at most `max_side`."""
    a = np.asarray(map, dtype=np.float32)
    h, w = a.shape[:2]
    longest = max(h, w)
    if longest <= max_side:
        return a
    scale = max_side / longest
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    img = Image.fromarray(np.ascontiguousarray(np.nan_to_num(a)), mode="F")
    return np.asarray(img.resize(size, Image.Resampling.BOX), dtype=np.float32)


def oriented_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """(width, height) once displayed: orientations 5-8 swap the sides."""
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def orient_box(
    box: tuple[float, float, float, float], width: float, height: float, orientation: int
) -> tuple[float, float, float, float]:
    """Move an [x, y, w, h] box in stored pixels (image `width` x `height`) to display space.

    Returns the box in display pixels, consistent with `orient_array`.
    """
    x, y, w, h = box
    match orientation:
        case 2:
            return (width - x - w, y, w, h)
        case 3:
            return (width - x - w, height - y - h, w, h)
        case 4:
            return (x, height - y - h, w, h)
        case 5:
            return (y, x, h, w)
        case 6:
            return (height - y - h, x, h, w)
        case 7:
            return (height - y - h, width - x - w, h, w)
        case 8:
            return (y, width - x - w, h, w)
        case _:
            return (x, y, w, h)


def write_maps(report: Report, folder: str | Path) -> list[Path]:
    """Write each map of `report` as a PNG in `folder`, record the paths in the report, and
    return them. Names are `<stem>-<sha256[:8]>.<analysis>.png`, unique per file.

    >>> import photoloupe, tempfile
    >>> report = photoloupe.check("examples/harbour-edited.jpg")
    >>> names = [p.name for p in write_maps(report, tempfile.mkdtemp())]
    >>> names[0], names[-1]
    ('harbour-edited-b18b21c6.thumbnail.png', 'harbour-edited-b18b21c6.edited.png')
    """
    folder = Path(folder)
    written: list[Path] = []
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(report.file.name).stem or "image"
    prefix = f"{stem}-{report.file.sha256[:8]}"
    for name, array in report.maps.items():
        path = folder / f"{prefix}.{name}.png"
        if name == "edited":
            # The fused map is a public contract: grayscale, the picture's stored size,
            # 255 = most likely edited, so that pipelines can threshold it directly.
            gray = full_size_map(array, report.file.height, report.file.width)
            path.write_bytes(encode_png(gray))
        else:
            path.write_bytes(map_to_png(array))
        written.append(path)
        if name in report.analyses:
            report.analyses[name].map = str(path)
        if name == "edited":
            report.edited.map = str(path)
    return written
