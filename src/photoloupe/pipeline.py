"""The one place that runs intake -> provenance -> analyses -> fusion -> Report.

Every analysis is registered in `photoloupe.registry.ANALYSES`. An analysis is a function from
a per-picture `Context` to a `Finding`; the pipeline makes one context per picture (so that
the analyses share its decoded planes and its exiv2 parse), times each analysis and turns a
crash inside it into a warning on the report, so that one faulty analysis never costs the user
the rest of the report.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from photoloupe._version import __version__
from photoloupe.analysis import AnalysisSpec, Context
from photoloupe.errors import DecodeTimeout
from photoloupe.findings import Finding, Localization
from photoloupe.io import Limits, Picture, display_path, load_picture, run_with_deadline
from photoloupe.localize import fuse
from photoloupe.provenance.c2pa import C2PA_JUMBF_MARK, read_c2pa
from photoloupe.provenance.markers import find_ai_markers, find_ai_mentions
from photoloupe.provenance.metadata import read_metadata
from photoloupe.registry import ANALYSES
from photoloupe.schema.corroborate import Corroboration
from photoloupe.schema.report import (
    Analysis,
    C2paInfo,
    FileInfo,
    JpegInfo,
    Provenance,
    Report,
    ToolInfo,
)
from photoloupe.verdict import judge, translated_notes

__all__ = ["ANALYSES", "AnalysisSpec", "Options", "check", "run_analyses"]

PREVIEW_SIDE = 1024


# Said beside a local analysis that marks an area: each of them alone also marks some untouched
# photos (the registry lists the codes by which each says it marks one).
CAVEAT_CODE = "one_input_of_fusion"
CAVEAT_NOTE = (
    "On its own this check also marks untouched photos at times; it counts only as one input "
    "to the combined edit map."
)
UNWEIGHTED_CODE = "not_in_fusion"
UNWEIGHTED_NOTE = (
    "The combined edit map does not count this check yet: its fusion weight has not been "
    "trained (make train)."
)


@dataclass(frozen=True)
class Options:
    """What a caller may tune; the defaults suit most uses."""

    limits: Limits = field(default_factory=Limits)
    trust_anchors_pem: str | None = None
    # A small display copy for human reports; batch callers that only want JSON turn it off.
    preview: bool = True
    # False: triage only (provenance, the AI detector and the thumbnail check), without the
    # local analyses and edit localisation, which cost most of the time; the report then
    # lists edit localisation as not checked.
    localise: bool = True
    # An archive index folder: the report then lists the picture's copies and other photos of
    # its scene found there (`corroboration`).
    index: str | None = None


def check(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    options: Options | None = None,
) -> Report:
    """Examine one image (a path or its bytes) and return its report.

    Raises `photoloupe.errors.InputError` when the input cannot be analysed.

    >>> report = check("examples/harbour-edited.jpg")
    >>> report.verdict.label
    'edited'
    """
    options = options or Options()
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def timed(key: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            timings[key] = round((time.perf_counter() - t0) * 1000, 2)

    picture: Picture = timed(
        "intake", lambda: load_picture(source, name=name, limits=options.limits)
    )
    context = Context(picture)
    metadata: dict[str, Any] = timed("metadata", lambda: read_metadata(picture, context.exiv2))
    c2pa = timed("c2pa", lambda: _read_c2pa_in_time(picture, options))
    markers = timed("ai_markers", lambda: find_ai_markers(metadata, picture.text_chunks))
    mentions = find_ai_mentions(metadata)

    warnings: list[str] = []
    only = None if options.localise else triage_analyses()
    findings = run_analyses(context, warnings, timings, only=only)
    localization: Localization | None = (
        timed("fusion", lambda: _fuse_safely(picture, findings, warnings))
        if options.localise
        else None
    )

    verdict, ai_generated, edited = judge(
        c2pa,
        markers,
        findings,
        metadata_readable=metadata.get("reader") is not None,
        localization=localization,
    )
    metadata = _with_thumbnail_comparison(metadata, findings.get("thumbnail"))
    timings["total"] = round((time.perf_counter() - started) * 1000, 2)

    report = Report(
        tool=ToolInfo(version=__version__),
        path=display_path(picture.path) if picture.path is not None else None,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        file=_file_info(picture),
        verdict=verdict,
        ai_generated=ai_generated,
        edited=edited,
        provenance=Provenance(
            metadata=metadata, c2pa=c2pa, ai_markers=markers, ai_mentions=mentions
        ),
        analyses={
            key: _analysis_entry(finding)
            for key, finding in _as_reported(findings, localization).items()
        },
        timings_ms=timings,
        warnings=warnings,
    )
    for key, finding in findings.items():
        if finding.map is not None:
            report.maps[key] = finding.map
        if finding.reliability is not None:
            report.maps[f"{key}_reliability"] = finding.reliability
    if localization is not None and localization.map is not None:
        report.maps["edited"] = localization.map
    if options.index is not None:
        t0 = time.perf_counter()
        report.corroboration = _corroborate(picture, options)
        report.timings_ms["corroborate"] = round((time.perf_counter() - t0) * 1000, 2)
        report.timings_ms["total"] = round((time.perf_counter() - started) * 1000, 2)
    if options.preview:
        report._preview = make_preview(picture)
    return report


def _corroborate(picture: Picture, options: Options) -> Corroboration:
    from photoloupe.archive import Archive

    assert options.index is not None
    with Archive(options.index) as archive:
        return archive.search(picture)


def triage_analyses() -> frozenset[str]:
    """What a triage run (`Options(localise=False)`, `scan --quick`) keeps."""
    return frozenset(spec.name for spec in ANALYSES if spec.in_triage)


def run_analyses(
    source: Picture | Context,
    warnings: list[str] | None = None,
    timings: dict[str, float] | None = None,
    *,
    replace: Mapping[str, Callable[[Context], Finding]] | None = None,
    only: frozenset[str] | None = None,
) -> dict[str, Finding]:
    """Run every registered analysis on one picture (or those named in `only`), each isolated
    from the others' failures, all sharing one `Context`.

    `replace` swaps the function of a named analysis (benchmarks use it to run the AI detector
    trained without the generators they measure on).
    """
    context = Context.of(source)
    warnings = [] if warnings is None else warnings
    findings: dict[str, Finding] = {}
    for spec in ANALYSES:
        if only is not None and spec.name not in only:
            continue
        run = replace[spec.name] if replace and spec.name in replace else spec.run
        t0 = time.perf_counter()
        findings[spec.name] = _run_safely(spec.name, run, context, warnings)
        if timings is not None:
            timings[f"analysis.{spec.name}"] = round((time.perf_counter() - t0) * 1000, 2)
    return findings


def _as_reported(
    findings: dict[str, Finding], localization: Localization | None
) -> dict[str, Finding]:
    """The findings as the report shows them: an area-marking local analysis says that it is
    only one input of the fusion, and one the fusion has no weight for says so. The fusion
    itself read the findings as the analyses returned them."""
    specs = {spec.name: spec for spec in ANALYSES}
    unweighted = set(localization.unweighted) if localization is not None else set()
    shown: dict[str, Finding] = {}
    for key, finding in findings.items():
        spec = specs.get(key)
        notes, codes = finding.notes, finding.codes
        if spec is not None and spec.area_codes.intersection(codes) and CAVEAT_CODE not in codes:
            notes, codes = (*notes, CAVEAT_NOTE), (*codes, CAVEAT_CODE)
        if key in unweighted:
            notes, codes = (*notes, UNWEIGHTED_NOTE), (*codes, UNWEIGHTED_CODE)
        if codes is not finding.codes:
            finding = dataclasses.replace(finding, notes=notes, codes=codes)
        shown[key] = finding
    return shown


def _analysis_entry(finding: Finding) -> Analysis:
    return Analysis(
        score=finding.score,
        map=None,
        notes=list(finding.notes),
        notes_ar=translated_notes(finding, "ar"),
        codes=list(finding.codes),
        evidence_of=finding.evidence_of,
    )


def _fuse_safely(
    picture: Picture, findings: dict[str, Finding], warnings: list[str]
) -> Localization | None:
    # Like an analysis, a failing fusion costs only itself: edit localisation is then listed
    # as not checked, and the rest of the report stands.
    try:
        local = tuple(spec.name for spec in ANALYSES if spec.kind == "local")
        return fuse(picture.height, picture.width, findings, pixels=picture.pixels, local=local)
    except MemoryError:
        warnings.append("Edit localisation ran out of memory and was skipped.")
    except Exception as exc:
        warnings.append(f"Edit localisation failed ({type(exc).__name__}) and was skipped.")
    return None


def _read_c2pa_in_time(picture: Picture, options: Options) -> C2paInfo:
    seconds = options.limits.max_c2pa_seconds

    def read() -> C2paInfo:
        return read_c2pa(picture.data, picture.mime, trust_anchors_pem=options.trust_anchors_pem)

    try:
        return run_with_deadline(read, seconds, "Reading the Content Credentials")
    except DecodeTimeout:
        present = C2PA_JUMBF_MARK in picture.data
        return C2paInfo(
            present=present,
            valid=False if present else None,
            note=f"The Content Credentials could not be checked within {seconds:g} s.",
        )


def make_preview(picture: Picture, side: int = PREVIEW_SIDE) -> npt.NDArray[np.uint8]:
    """A small copy in display orientation, for human-facing reports."""
    img = Image.fromarray(picture.display_pixels())
    img.thumbnail((side, side), Image.Resampling.LANCZOS)
    return np.asarray(img)


def _run_safely(
    name: str, run: Callable[[Context], Finding], context: Context, warnings: list[str]
) -> Finding:
    try:
        return run(context)
    except MemoryError:
        warnings.append(f"The {name} analysis ran out of memory and was skipped.")
    except Exception as exc:  # one faulty analysis must not cost the user the whole report
        warnings.append(f"The {name} analysis failed ({type(exc).__name__}) and was skipped.")
    return Finding(
        score=None, notes=("This analysis failed and was skipped.",), codes=("analysis_failed",)
    )


def _with_thumbnail_comparison(metadata: dict[str, Any], finding: Finding | None) -> dict[str, Any]:
    """The metadata with the thumbnail check's outcome beside the thumbnail's facts (where
    `photoloupe.report/1` has always shown it), as a new dict: the provenance reader's own
    result is not changed."""
    thumb = metadata.get("thumbnail")
    if not isinstance(thumb, dict) or finding is None:
        return metadata
    code = finding.codes[0] if finding.codes else None
    facts = dict(thumb)
    facts["matches"] = {"thumbnail_match": True}.get(code or "")
    if finding.evidence_of == "editing":
        facts["matches"] = False
    facts["comparison"] = code
    if "similarity" in finding.details:
        facts["similarity"] = finding.details["similarity"]
    return {**metadata, "thumbnail": facts}


def _file_info(picture: Picture) -> FileInfo:
    jpeg = None
    if picture.jpeg is not None:
        jpeg = JpegInfo(
            quantization_tables={str(k): list(v) for k, v in picture.jpeg.quantization.items()},
            subsampling=picture.jpeg.subsampling,
            progressive=picture.jpeg.progressive,
            estimated_quality=picture.jpeg.estimated_quality,
        )
    return FileInfo(
        name=display_path(picture.name),
        sha256=picture.sha256,
        bytes=len(picture.data),
        format=picture.format,
        mime=picture.mime,
        width=picture.width,
        height=picture.height,
        frames=picture.frames,
        animated=picture.animated,
        extension=picture.extension,
        extension_matches_content=picture.extension_matches_content,
        color_mode=picture.color_mode,
        bit_depth=picture.bit_depth,
        has_alpha=picture.has_alpha,
        orientation=picture.orientation,
        jpeg=jpeg,
        notes=list(picture.notes),
    )
