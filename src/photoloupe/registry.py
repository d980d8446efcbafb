"""The one list of analyses `check` runs, in report order.

Adding an analysis is one module with a `Context -> Finding` function (see
`photoloupe.analysis`) and one line here. A `kind="local"` analysis counts in the edit map
once `make train` has learned its fusion weight; until then its report entry says that it
does not.
"""

from __future__ import annotations

from photoloupe.analysis import AnalysisSpec
from photoloupe.detect import detect_ai
from photoloupe.forensics.ai_regions import analyse_ai_regions
from photoloupe.forensics.camera_trace import analyse_camera_trace
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
from photoloupe.forensics.wavelet_noise import analyse_wavelet_noise


def _codes(*codes: str) -> frozenset[str]:
    return frozenset(codes)


ANALYSES: tuple[AnalysisSpec, ...] = (
    AnalysisSpec("ai_detector", detect_ai, kind="detector", in_triage=True),
    AnalysisSpec("thumbnail", check_thumbnail, in_triage=True),
    AnalysisSpec("jpeg_tables", estimate_quality_and_identify_tables),
    AnalysisSpec(
        "double_compression",
        analyse_double_compression,
        kind="local",
        area_codes=_codes("dq_inconsistent_area"),
    ),
    AnalysisSpec(
        "jpeg_grid", analyse_jpeg_grid, kind="local", area_codes=_codes("jpeg_grid_misaligned_area")
    ),
    AnalysisSpec("jpeg_ghosts", analyse_ghosts, kind="local", area_codes=_codes("ghost_area")),
    AnalysisSpec("ela", analyse_ela, kind="local", area_codes=_codes("ela_bright_area")),
    AnalysisSpec(
        "noise", analyse_noise, kind="local", area_codes=_codes("noise_inconsistent_area")
    ),
    AnalysisSpec("cfa", analyse_cfa, kind="local", area_codes=_codes("cfa_inconsistent_area")),
    AnalysisSpec(
        "resampling", analyse_resampling, kind="local", area_codes=_codes("resampling_local")
    ),
    AnalysisSpec("copy_move", analyse_copy_move, kind="regions"),
    AnalysisSpec(
        "ai_regions", analyse_ai_regions, kind="local", area_codes=_codes("ai_regions_stand_out")
    ),
    AnalysisSpec(
        "wavelet_noise",
        analyse_wavelet_noise,
        kind="local",
        area_codes=_codes("wavelet_noise_inconsistent_area"),
    ),
    AnalysisSpec(
        "camera_trace",
        analyse_camera_trace,
        kind="local",
        area_codes=_codes("camera_trace_inconsistent_area"),
    ),
)


def local_analyses() -> tuple[str, ...]:
    """The names of the analyses whose maps the fusion may weigh, in registry order."""
    return tuple(spec.name for spec in ANALYSES if spec.kind == "local")


def triage_analyses() -> frozenset[str]:
    """What a triage run (`Options(localise=False)`, `scan --quick`) keeps."""
    return frozenset(spec.name for spec in ANALYSES if spec.in_triage)
