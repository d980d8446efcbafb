"""Every registered analysis keeps the `Finding` contract on odd inputs (one test for all of
them: an analysis added to the registry is covered without a line here)."""

from __future__ import annotations

import io
import json
import math
import re

import numpy as np
import pytest
from PIL import Image

from photoloupe.analysis import AnalysisSpec, Context
from photoloupe.findings import Finding
from photoloupe.i18n import catalogue
from photoloupe.io import load_picture
from photoloupe.registry import ANALYSES

CODE = re.compile(r"^[a-z0-9_]+$")


def _encode(array: np.ndarray, fmt: str, mode: str | None = None) -> bytes:
    img = Image.fromarray(array)
    if mode is not None:
        img = img.convert(mode)
    buf = io.BytesIO()
    img.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return buf.getvalue()


_RNG = np.random.default_rng(0)
ODD_INPUTS = {
    "1x1": _encode(np.full((1, 1, 3), 200, np.uint8), "PNG"),
    "8x8 black": _encode(np.zeros((8, 8, 3), np.uint8), "JPEG"),
    "1x500 line": _encode(_RNG.integers(0, 256, (1, 500, 3), dtype=np.uint8), "PNG"),
    "47x300": _encode(_RNG.integers(0, 256, (47, 300, 3), dtype=np.uint8), "JPEG"),
    "100x2000 flat": _encode(np.full((100, 2000, 3), 128, np.uint8), "PNG"),
    "300x300 flat jpeg": _encode(np.full((300, 300, 3), 128, np.uint8), "JPEG"),
    "600x600 noise": _encode(_RNG.integers(0, 256, (600, 600, 3), dtype=np.uint8), "PNG"),
    "grey jpeg": _encode(_RNG.integers(0, 256, (300, 400, 3), dtype=np.uint8), "JPEG", "L"),
    "cmyk jpeg": _encode(_RNG.integers(0, 256, (300, 400, 3), dtype=np.uint8), "JPEG", "CMYK"),
}


def _assert_contract(spec: AnalysisSpec, finding: Finding) -> None:
    assert isinstance(finding, Finding)
    assert finding.score is None or (math.isfinite(finding.score) and 0 <= finding.score <= 1)
    assert finding.notes and all(isinstance(n, str) and n for n in finding.notes)
    assert finding.codes and all(CODE.match(c) for c in finding.codes), finding.codes
    assert finding.evidence_of in (None, "editing", "ai-generation")
    if finding.map is not None:
        m = finding.map
        assert m.dtype == np.float32 and m.ndim == 2 and m.size > 0
        assert np.isfinite(m).all() and m.min() >= 0 and m.max() <= 1
    json.dumps(finding.details, default=str)  # details travel as plain values
    if spec.area_codes.intersection(finding.codes):
        # An analysis that says it marks an area gives a score and the map of it.
        assert finding.score and finding.score > 0 and finding.map is not None
    for lang in ("en", "ar"):
        assert any(f"finding.{c}" in catalogue(lang) for c in finding.codes), (lang, finding)


@pytest.mark.parametrize("spec", ANALYSES, ids=[s.name for s in ANALYSES])
@pytest.mark.parametrize("name", list(ODD_INPUTS))
def test_every_analysis_keeps_the_finding_contract_on_odd_inputs(
    spec: AnalysisSpec, name: str
) -> None:
    picture = load_picture(ODD_INPUTS[name], name=f"{name}.img")
    finding = spec.run(Context(picture))
    _assert_contract(spec, finding)
    if "flat" in name or "black" in name:
        # A uniform picture has nothing to mark: no local analysis may say otherwise.
        assert not spec.area_codes.intersection(finding.codes)
        assert finding.evidence_of is None


@pytest.mark.parametrize("spec", ANALYSES, ids=[s.name for s in ANALYSES])
def test_every_analysis_accepts_a_bare_picture_and_a_shared_context_alike(
    spec: AnalysisSpec,
) -> None:
    picture = load_picture("examples/harbour-edited.jpg")
    context = Context(picture)
    alone, shared = spec.run(picture), spec.run(context)  # type: ignore[arg-type]
    _assert_contract(spec, shared)
    assert (alone.score, alone.codes) == (shared.score, shared.codes)
    if alone.map is not None and shared.map is not None:
        np.testing.assert_array_equal(alone.map, shared.map)


def test_the_registry_names_each_analysis_once_and_kinds_are_known() -> None:
    names = [s.name for s in ANALYSES]
    assert len(names) == len(set(names))
    assert {s.kind for s in ANALYSES} <= {"detector", "local", "regions", "global"}
    assert all(not s.area_codes for s in ANALYSES if s.kind != "local")
