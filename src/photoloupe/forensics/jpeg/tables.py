"""The quality estimate and identification of the quantisation tables (informational)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from photoloupe.analysis import JPEG_FORMATS, Context
from photoloupe.findings import Finding
from photoloupe.forensics.jpeg.common import (
    F64,
    luma_table,
    not_applicable,
)
from photoloupe.io import Picture


@cache
def library() -> dict[str, Any]:
    path = Path(__file__).parent.parent / "qtables.json"
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict) or "ijg" not in data:
        # The built-in fallback: ITU-T T.81 Annex K, Table K.1 (luminance) only.
        data = {
            "ijg": {
                "source": "ITU-T T.81 Annex K, Table K.1",
                "luma": [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13,
                         16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56,
                         68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87,
                         103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
                "chroma": [],
            },
            "cameras": [],
        }  # fmt: skip
    return data


def ijg_table(base: npt.NDArray[np.int64], quality: int) -> npt.NDArray[np.int64]:
    """The IJG libjpeg scaling of an Annex K table to `quality` (1..100)."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((base * scale + 50) // 100, 1, 255)


def estimate_quality(luma: F64) -> int:
    base = np.asarray(library()["ijg"]["luma"], dtype=np.int64).reshape(8, 8)
    errs = [float(np.abs(ijg_table(base, q) - luma).sum()) for q in range(1, 101)]
    return int(np.argmin(errs)) + 1


def estimate_quality_and_identify_tables(source: Context | Picture) -> Finding:
    """JPEG quality estimate and identification of the quantisation tables (informational).

    details: `estimated_quality`, `match` ("ijg-standard", "camera:<Make>" or
    "unknown-nonstandard"), `matched` (the library entries) and the tables' `source`.
    """
    context = Context.of(source)
    picture = context.picture
    try:
        q = luma_table(picture)
        if picture.format not in JPEG_FORMATS or q is None or picture.jpeg is None:
            return not_applicable(
                "Not applicable: the file is not a JPEG, so it has no quantisation tables.",
                "qtable_not_applicable",
            )
        return _identify(picture.jpeg.quantization, q)
    except (ValueError, KeyError, TypeError) as exc:
        return not_applicable(
            f"Not applicable: the table check failed ({exc}).", "qtable_not_applicable"
        )


def _identify(tables: dict[int, tuple[int, ...]], luma: F64) -> Finding:
    lib = library()
    quality = estimate_quality(luma)
    luma_t = tuple(int(v) for v in luma.ravel())
    chroma_t = tuple(int(v) for v in tables.get(1, ()))
    base_l = np.asarray(lib["ijg"]["luma"], dtype=np.int64)
    base_c = np.asarray(lib["ijg"].get("chroma") or [], dtype=np.int64)
    details: dict[str, object] = {"estimated_quality": quality}
    std_l = tuple(int(v) for v in ijg_table(base_l, quality))
    std_c = tuple(int(v) for v in ijg_table(base_c, quality)) if base_c.size == 64 else ()
    if luma_t == std_l and (not chroma_t or not std_c or chroma_t == std_c):
        details["match"] = "ijg-standard"
        details["matched"] = [{"library": "ijg", "quality": quality}]
        details["source"] = lib["ijg"]["source"]
        note = (
            "The quantisation tables match the standard IJG tables, which libjpeg-based "
            "software writes (many editors and web re-encoders use libjpeg); a camera original "
            "usually has tables of its own."
        )
        return Finding(score=None, notes=(note,), codes=("qtable_ijg_standard",), details=details)
    matched = []
    for entry in lib.get("cameras", []):
        if tuple(entry["luma"]) == luma_t and (
            not chroma_t or not entry["chroma"] or tuple(entry["chroma"]) == chroma_t
        ):
            matched.append(
                {"makes": entry["makes"], "models": entry["models"], "source": entry["source"]}
            )
    if matched:
        makes = sorted({str(m) for e in matched for m in e["makes"]})
        details["match"] = "camera:" + makes[0]
        details["makes"] = makes
        details["matched"] = matched
        note = (
            "The quantisation tables are the same as those of camera originals in photoloupe's "
            "table library: consistent with a file written by that make of camera and not "
            "re-saved since."
        )
        return Finding(score=None, notes=(note,), codes=("qtable_camera",), details=details)
    details["match"] = "unknown-nonstandard"
    details["matched"] = []
    note = (
        "The quantisation tables are neither the standard IJG tables nor any in photoloupe's "
        "table library; they may come from a camera, a phone or software not in the library."
    )
    return Finding(score=None, notes=(note,), codes=("qtable_unknown",), details=details)
