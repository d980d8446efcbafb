"""Closer to the source: votes from resolution, crop containment, padding, JPEG quality and
metadata, each with its reason in English and Arabic."""

from __future__ import annotations

import os

import numpy as np
import numpy.typing as npt

from photoloupe.i18n import t
from photoloupe.io import Picture
from photoloupe.provenance.metadata import read_metadata
from photoloupe.schema.compare import (
    CloserToSource,
    CompareFile,
    Reason,
    Transform,
)

Source = str | os.PathLike[str] | bytes
U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]


def file_facts(picture: Picture) -> CompareFile:
    try:
        meta = read_metadata(picture)
    except Exception:  # metadata is a hint here; a reader failure must not stop the comparison
        meta = {}
    fields = sum(len(meta.get(k) or {}) for k in ("exif", "xmp", "iptc"))
    camera = " ".join(p for p in (meta.get("make"), meta.get("model")) if p) or None
    return CompareFile(
        name=picture.name,
        sha256=picture.sha256,
        bytes=len(picture.data),
        width=picture.width,
        height=picture.height,
        format=picture.format,
        orientation=picture.orientation,
        jpeg_quality=picture.jpeg.estimated_quality if picture.jpeg is not None else None,
        metadata_fields=fields,
        camera=camera,
    )


def _reason(code: str, key: str, favours: str, **values: object) -> Reason:
    return Reason(
        code=code,
        favours=favours,  # type: ignore[arg-type]
        message=t(key, "en", **values),
        message_ar=t(key, "ar", **values),
    )


def closer_to_source(
    transform: Transform | None,
    fo: CompareFile,
    fs: CompareFile,
    orig: Picture,
    susp: Picture,
    coverage: float | None,
    padding: list[list[int]] | None,
) -> CloserToSource:
    """Which copy is nearer the camera: votes with reasons; a tie or nothing is undetermined."""
    reasons: list[Reason] = []
    if transform is not None and transform.scale is not None and transform.crop_box is not None:
        scale = transform.scale
        if scale < 0.95:
            reasons.append(
                _reason("resolution", "compare.reason.resolution_original", "original",
                        factor=f"{1 / scale:.2f}")
            )  # fmt: skip
        elif scale > 1.05:
            reasons.append(
                _reason("resolution", "compare.reason.resolution_suspect", "suspect",
                        factor=f"{scale:.2f}")
            )  # fmt: skip
        _, _, cw, ch = transform.crop_box
        shown = (cw * ch) / max(1, fo.width * fo.height)
        if shown < 0.97:
            reasons.append(
                _reason("crop", "compare.reason.crop_original", "original",
                        percent=f"{100 * shown:.0f}")
            )  # fmt: skip
        if padding:
            reasons.append(_reason("padding", "compare.reason.padding", "original"))
    elif transform is None and fo.sha256 != fs.sha256:
        reasons.append(_reason("not_registered", "compare.reason.not_registered", "undetermined"))
    qo, qs = fo.jpeg_quality, fs.jpeg_quality
    if qo is not None and qs is not None and abs(qo - qs) >= 3:
        favours = "original" if qo > qs else "suspect"
        reasons.append(
            _reason("jpeg_quality", f"compare.reason.quality_{favours}", favours,
                    qo=qo, qs=qs)
        )  # fmt: skip
    mo, ms = fo.metadata_fields, fs.metadata_fields
    if max(mo, ms) >= 5 and abs(mo - ms) >= max(3, 0.2 * max(mo, ms)):
        favours = "original" if mo > ms else "suspect"
        reasons.append(
            _reason("metadata", f"compare.reason.metadata_{favours}", favours, no=mo, ns=ms)
        )
    if (fo.camera is None) != (fs.camera is None):
        favours = "original" if fo.camera else "suspect"
        reasons.append(
            _reason("camera", f"compare.reason.camera_{favours}", favours,
                    camera=fo.camera or fs.camera)
        )  # fmt: skip
    votes = sum(1 if r.favours == "original" else -1 if r.favours == "suspect" else 0
                for r in reasons)  # fmt: skip
    if fo.sha256 == fs.sha256 or not votes:
        verdict = "undetermined"
    else:
        verdict = "original" if votes > 0 else "suspect"
    return CloserToSource(verdict=verdict, reasons=reasons)  # type: ignore[arg-type]
