"""The one place that runs intake -> provenance -> analyses -> fusion -> Report.

Every analysis is registered in `ANALYSES`. An analysis is a pure function from a `Picture` to
a `Finding`; the pipeline times it and turns a crash inside it into a warning on the report,
so that one faulty analysis never costs the user the rest of the report.
"""

from __future__ import annotations

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
from photoloupe.detect import detect_ai
from photoloupe.errors import DecodeTimeout
from photoloupe.findings import Finding
from photoloupe.forensics.ai_regions import analyse_ai_regions
from photoloupe.forensics.cfa import analyse_cfa
from photoloupe.forensics.copymove import analyse_copy_move
from photoloupe.forensics.ela import analyse_ela
from photoloupe.forensics.jpeg import (
    analyse_double_compression,
    analyse_ghosts,
    analyse_jpeg_grid,
    estimate_quality_and_identify_tables,
)
from photoloupe.forensics.noise import analyse_noise
from photoloupe.forensics.resampling import analyse_resampling
from photoloupe.forensics.thumbnail import check_thumbnail
from photoloupe.io import Limits, Picture, display_path, load_picture, run_with_deadline
from photoloupe.localize import Localization, fuse, with_caveat
from photoloupe.provenance.c2pa import C2PA_JUMBF_MARK, read_c2pa
from photoloupe.provenance.markers import find_ai_markers, find_ai_mentions
from photoloupe.provenance.metadata import read_metadata
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

PREVIEW_SIDE = 1024


@dataclass(frozen=True)
class AnalysisSpec:
    """A registered analysis: its name in the report, and the function that runs it."""

    name: str
    run: Callable[[Picture], Finding]


ANALYSES: tuple[AnalysisSpec, ...] = (
    AnalysisSpec(name="ai_detector", run=detect_ai),
    AnalysisSpec(name="thumbnail", run=check_thumbnail),
    # Local analyses: each leaves a map that the fusion (`localize.py`) weighs.
    AnalysisSpec(name="jpeg_tables", run=estimate_quality_and_identify_tables),
    AnalysisSpec(name="double_compression", run=analyse_double_compression),
    AnalysisSpec(name="jpeg_grid", run=analyse_jpeg_grid),
    AnalysisSpec(name="jpeg_ghosts", run=analyse_ghosts),
    AnalysisSpec(name="ela", run=analyse_ela),
    AnalysisSpec(name="noise", run=analyse_noise),
    AnalysisSpec(name="cfa", run=analyse_cfa),
    AnalysisSpec(name="resampling", run=analyse_resampling),
    AnalysisSpec(name="copy_move", run=analyse_copy_move),
    AnalysisSpec(name="ai_regions", run=analyse_ai_regions),
)


# What a triage run (`Options(localise=False)`, `scan --quick`) keeps.
TRIAGE_ANALYSES = frozenset({"ai_detector", "thumbnail"})


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
    metadata: dict[str, Any] = timed("metadata", lambda: read_metadata(picture))
    c2pa = timed("c2pa", lambda: _read_c2pa_in_time(picture, options))
    markers = timed("ai_markers", lambda: find_ai_markers(metadata, picture.text_chunks))
    mentions = find_ai_mentions(metadata)

    warnings: list[str] = []
    only = None if options.localise else TRIAGE_ANALYSES
    findings = run_analyses(picture, warnings, timings, only=only)
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
    _annotate_thumbnail(metadata, findings.get("thumbnail"))
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
            key: Analysis(
                score=finding.score,
                map=None,
                notes=list(finding.notes),
                notes_ar=translated_notes(finding, "ar"),
                codes=list(finding.codes),
                evidence_of=finding.evidence_of,
            )
            for key, finding in findings.items()
        },
        timings_ms=timings,
        warnings=warnings,
    )
    for key, finding in findings.items():
        if finding.map is not None:
            report.maps[key] = finding.map
    if localization is not None and localization.map is not None:
        report.maps["edited"] = localization.map
    if options.preview:
        report._preview = make_preview(picture)
    return report


def run_analyses(
    picture: Picture,
    warnings: list[str] | None = None,
    timings: dict[str, float] | None = None,
    *,
    replace: Mapping[str, Callable[[Picture], Finding]] | None = None,
    only: frozenset[str] | None = None,
) -> dict[str, Finding]:
    """Run every registered analysis on `picture` (or those named in `only`), each isolated
    from the others' failures.

    `replace` swaps the function of a named analysis (benchmarks use it to run the AI detector
    trained without the generators they measure on).
    """
    warnings = [] if warnings is None else warnings
    findings: dict[str, Finding] = {}
    for spec in ANALYSES:
        if only is not None and spec.name not in only:
            continue
        if replace and spec.name in replace:
            spec = AnalysisSpec(name=spec.name, run=replace[spec.name])
        t0 = time.perf_counter()
        findings[spec.name] = with_caveat(_run_safely(spec, picture, warnings))
        if timings is not None:
            timings[f"analysis.{spec.name}"] = round((time.perf_counter() - t0) * 1000, 2)
    return findings


def _fuse_safely(
    picture: Picture, findings: dict[str, Finding], warnings: list[str]
) -> Localization | None:
    # Like an analysis, a failing fusion costs only itself: edit localisation is then listed
    # as not checked, and the rest of the report stands.
    try:
        return fuse(picture.height, picture.width, findings, pixels=picture.pixels)
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


def _run_safely(spec: AnalysisSpec, picture: Picture, warnings: list[str]) -> Finding:
    try:
        return spec.run(picture)
    except MemoryError:
        warnings.append(f"The {spec.name} analysis ran out of memory and was skipped.")
    except Exception as exc:  # one faulty analysis must not cost the user the whole report
        warnings.append(f"The {spec.name} analysis failed ({type(exc).__name__}) and was skipped.")
    return Finding(
        score=None, notes=("This analysis failed and was skipped.",), codes=("analysis_failed",)
    )


def _annotate_thumbnail(metadata: dict[str, Any], finding: Finding | None) -> None:
    thumb = metadata.get("thumbnail")
    if not isinstance(thumb, dict) or finding is None:
        return
    code = finding.codes[0] if finding.codes else None
    thumb["matches"] = {"thumbnail_match": True}.get(code or "")
    if finding.evidence_of == "editing":
        thumb["matches"] = False
    thumb["comparison"] = code
    if "similarity" in finding.details:
        thumb["similarity"] = finding.details["similarity"]


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
