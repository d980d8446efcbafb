"""The comparison as one self-contained HTML page, in English or Arabic.

Like the check report (`report/html.py`), the page carries its pictures as `data:` URIs, its
CSS in a `<style>` block, and no script or address to fetch. Three views of the pair:

* side by side: the original and the suspect as stored;
* swipe: the original, aligned onto the suspect's frame, lies over the suspect in a box the
  reader widens or narrows by dragging its corner (CSS `resize: horizontal`): a real swipe,
  without script;
* difference overlay: the changed map in red (and the uncompared padding hatched) over the
  suspect, at a strength chosen with radio buttons (`:checked ~` selectors).

Every label comes from `compare.*` keys of the message catalogues through `t(key, lang)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from photoloupe.i18n import LANGS, t
from photoloupe.report.html import environment
from photoloupe.report.html.base import data_uri, fit_within
from photoloupe.report.images import encode_jpeg, encode_png
from photoloupe.schema.compare import Comparison

__all__ = ["render_compare_html", "write_compare_html"]

VIEW_WIDTH = 800
"""Width, in CSS pixels, of the swipe and overlay views (the picture is scaled to it)."""
SIDE_WIDTH = 480
"""Longest side of each picture in the side-by-side view."""


@dataclass(frozen=True)
class Pic:
    uri: str
    width: int
    height: int


@dataclass(frozen=True)
class Box:
    number: int
    style: str


def _jpeg_pic(rgb: npt.NDArray[np.uint8], side: int) -> Pic:
    small = fit_within(rgb, side)
    return Pic(data_uri("image/jpeg", encode_jpeg(small, 85)), small.shape[1], small.shape[0])


def _overlay(changed: npt.NDArray[np.bool_], covered: npt.NDArray[np.bool_]) -> bytes:
    """RGBA PNG: changed pixels red, pixels outside the original hatched grey, others clear."""
    h, w = changed.shape
    rgba = np.zeros((h, w, 4), np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    hatch = (~covered) & (((xx + yy) // 6) % 2 == 0)
    rgba[hatch] = (110, 110, 110, 190)
    rgba[changed] = (230, 20, 20, 255)
    return encode_png(rgba)


def _view(comparison: Comparison, lang: str) -> dict[str, object]:
    arrays = comparison.arrays
    suspect = arrays.get("suspect")
    original = arrays.get("original")
    view: dict[str, object] = {"aligned": None}
    if suspect is None or original is None:
        return {"original": None, "suspect": None, "aligned": None}
    view["original"] = _jpeg_pic(original, SIDE_WIDTH)
    view["suspect"] = _jpeg_pic(suspect, SIDE_WIDTH)
    aligned = arrays.get("aligned")
    if aligned is None:
        return view
    h, w = suspect.shape[:2]
    width = min(VIEW_WIDTH, w) if w >= 200 else VIEW_WIDTH
    height = max(1, round(h * width / w))
    size = (width, height)
    big_s = cv2.resize(suspect, size, interpolation=cv2.INTER_AREA)
    big_a = cv2.resize(aligned, size, interpolation=cv2.INTER_AREA)
    changed = cv2.resize(arrays["changed"].astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    covered = cv2.resize(arrays["covered"].astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    view["aligned"] = Pic(data_uri("image/jpeg", encode_jpeg(big_a, 85)), width, height)
    view["base"] = Pic(data_uri("image/jpeg", encode_jpeg(big_s, 85)), width, height)
    view["overlay"] = Pic(data_uri("image/png", _overlay(changed > 0, covered > 0)), width, height)
    sx = width / comparison.suspect.width
    sy = height / comparison.suspect.height
    view["boxes"] = [
        Box(
            i,
            f"left:{r.box[0] * sx:.1f}px;top:{r.box[1] * sy:.1f}px;"
            f"width:{r.box[2] * sx:.1f}px;height:{r.box[3] * sy:.1f}px",
        )
        for i, r in enumerate(comparison.changed_regions, start=1)
    ]
    view["has_padding"] = bool(comparison.padding)
    return view


def render_compare_html(comparison: Comparison, lang: str = "en") -> str:
    """The comparison as one self-contained HTML page in `lang` ("en" or "ar")."""
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r}; choose one of {', '.join(LANGS)}")

    def ui(key: str, **values: object) -> str:
        return t(f"compare.ui.{key}", lang, **values)

    c = comparison
    template = environment().get_template("compare.html.j2")
    return template.render(
        c=c,
        lang=lang,
        dir="rtl" if lang == "ar" else "ltr",
        ui=ui,
        relation=t(f"compare.relation.{c.relation}", lang),
        summary=c.summary_ar if lang == "ar" else c.summary,
        closer=t(f"compare.closer.{c.closer_to_source.verdict}", lang),
        reasons=[r.message_ar if lang == "ar" else r.message for r in c.closer_to_source.reasons],
        view=_view(c, lang),
    )


def write_compare_html(comparison: Comparison, path: str | Path, lang: str = "en") -> Path:
    """Render the comparison and write it, UTF-8, to `path`; returns the path written."""
    out = Path(path)
    out.write_text(render_compare_html(comparison, lang), encoding="utf-8")
    return out
