"""The report, schema `photoloupe.report/1`: a public contract.

Fields may be added; none may be removed, renamed or change meaning. `docs/report-schema.md`
documents every field. The models below are the single source of truth: the pipeline builds a
`Report` through them, so every report that leaves the library has been validated.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field, PrivateAttr

from photoloupe.schema.base import ContractModel
from photoloupe.schema.corroborate import Corroboration

SCHEMA_ID = "photoloupe.report/1"

VerdictLabel = Literal["ai-generated", "edited", "no-evidence", "inconclusive"]
Reliability = Literal["high", "medium", "low"]


class JpegInfo(ContractModel):
    """What the JPEG encoder left behind; later analyses (double compression) read it."""

    quantization_tables: dict[str, list[int]] = Field(
        description="Table index -> 64 quantisation steps in natural (row-major) order."
    )
    subsampling: str | None = Field(description='Chroma subsampling, e.g. "4:2:0", "4:4:4".')
    progressive: bool
    estimated_quality: int | None = Field(
        description="IJG quality (1-100) whose standard tables are closest to the luma table."
    )


class FileInfo(ContractModel):
    name: str
    sha256: str
    bytes: int
    format: str = Field(description='Container format as decoded, e.g. "JPEG", "PNG", "HEIF".')
    mime: str
    width: int = Field(description="Stored width in pixels, before EXIF orientation.")
    height: int
    frames: int = Field(description="Number of frames; only the first is analysed.")
    animated: bool
    extension: str = Field(description="File-name extension as given, lower case, or empty.")
    extension_matches_content: bool | None = Field(
        description="False when the extension names another format than the bytes hold."
    )
    color_mode: str = Field(description='Colour mode as stored, e.g. "RGB", "CMYK", "I;16".')
    bit_depth: int
    has_alpha: bool
    orientation: int = Field(description="EXIF orientation (1-8); applied for display only.")
    jpeg: JpegInfo | None = None
    notes: list[str] = Field(default_factory=list)


class Verdict(ContractModel):
    label: VerdictLabel
    summary: str
    summary_ar: str
    reasons: list[str] = Field(
        default_factory=list, description="Stable codes of the evidence the label rests on."
    )
    checked: list[str] = Field(default_factory=list, description="What was examined.")
    not_checked: list[str] = Field(
        default_factory=list, description="What could not be examined, and so was not."
    )


class ModelInfo(ContractModel):
    name: str
    version: str
    sha256: str | None = None


class Evidence(ContractModel):
    source: str = Field(description='Where it comes from, e.g. "c2pa", "metadata", "thumbnail".')
    code: str
    message: str
    message_ar: str | None = Field(default=None, description="The message in Arabic.")


class Attribution(ContractModel):
    family: str = Field(description="The nearest known generator family, or `unknown`.")
    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    candidates: dict[str, float] = Field(default_factory=dict)


class AiGenerated(ContractModel):
    probability: float | None = Field(ge=0.0, le=1.0)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    decision: Literal["ai-generated", "no-evidence", "inconclusive"]
    reliability: Reliability
    evidence: list[Evidence] = Field(default_factory=list)
    model: ModelInfo | None = None
    detectors: dict[str, float] = Field(
        default_factory=dict,
        description="Each pixel model's own calibrated probability before they are "
        "combined into `probability`: for detector 3 the branches its weights stack (encoder; "
        "fsd where stacked), (features, cnn) for detector 2.",
    )
    attribution: Attribution | None = Field(
        default=None,
        description="The known generator family whose traces are closest, or `unknown`; only "
        "when the detector found evidence of AI generation.",
    )
    fallback: str | None = Field(
        default=None,
        description="Null when detector 3 ran; otherwise why the pixel detector fell back to "
        "detector 2 (the frozen encoder is not installed, or not the file it was trained on).",
    )


class Region(ContractModel):
    box: tuple[int, int, int, int] = Field(description="[x, y, w, h] in stored pixels.")
    score: float = Field(ge=0.0, le=1.0)
    methods: list[str]


class Edited(ContractModel):
    probability: float | None = Field(ge=0.0, le=1.0)
    threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Above this probability the report states evidence of editing.",
    )
    map: str | None = Field(
        default=None,
        description="Path of the fused map (grayscale PNG the size of the picture, 255 = most "
        "likely edited) when maps were written.",
    )
    regions: list[Region] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)


class C2paStatus(ContractModel):
    code: str
    explanation: str
    # The same explanation in Arabic (added in 0.4; absent from older reports).
    explanation_ar: str | None = None
    url: str | None = None


class C2paInfo(ContractModel):
    """Content Credentials as read and validated offline by c2pa-python."""

    present: bool
    valid: bool | None = Field(
        default=None, description="None when no manifest is present or it could not be read."
    )
    state: Literal["valid", "invalid", "trusted"] | None = None
    trusted: bool = False
    signer: str | None = None
    issuer: str | None = None
    signed_at: str | None = None
    claim_generator: str | None = None
    title: str | None = None
    actions: list[dict[str, Any]] = Field(default_factory=list)
    ingredients: list[dict[str, Any]] = Field(default_factory=list)
    digital_source_types: list[str] = Field(default_factory=list)
    ai_generated_claim: bool = False
    errors: list[C2paStatus] = Field(
        default_factory=list, description="Validation failures, by code, in plain words."
    )
    remote_manifest_url: str | None = Field(
        default=None, description="A manifest stored elsewhere; never fetched (offline)."
    )
    note: str | None = None


class AiMarker(ContractModel):
    kind: str = Field(description='e.g. "digital_source_type", "sd_parameters", "mention".')
    value: str
    where: str = Field(description='Where it was found, e.g. "XMP Iptc4xmpExt:DigitalSourceType".')
    generator: str | None = None


class Provenance(ContractModel):
    metadata: dict[str, Any]
    c2pa: C2paInfo
    ai_markers: list[AiMarker] = Field(default_factory=list)
    ai_mentions: list[AiMarker] = Field(
        default_factory=list,
        description="Generator names in captions or credits people wrote: shown, never evidence.",
    )


class Analysis(ContractModel):
    score: float | None = Field(ge=0.0, le=1.0)
    map: str | None = None
    notes: list[str] = Field(default_factory=list)
    notes_ar: list[str] = Field(default_factory=list, description="The notes in Arabic.")
    codes: list[str] = Field(default_factory=list)
    evidence_of: str | None = None


class ToolInfo(ContractModel):
    name: str = "photoloupe"
    version: str


class Report(ContractModel):
    schema_id: str = Field(default=SCHEMA_ID, alias="schema")
    tool: ToolInfo
    path: str | None
    created: str = Field(description="UTC time of the analysis, ISO 8601.")
    file: FileInfo
    verdict: Verdict
    ai_generated: AiGenerated
    edited: Edited
    provenance: Provenance
    analyses: dict[str, Analysis]
    timings_ms: dict[str, float]
    warnings: list[str] = Field(default_factory=list)
    corroboration: Corroboration | None = Field(
        default=None,
        description="Copies and other photos of the scene found in an archive index "
        "(`check --index`); null without one. Its own contract: photoloupe.corroborate/1.",
    )

    # Arrays for renderers; they never go into JSON (a map reaches JSON as a file path).
    _maps: dict[str, npt.NDArray[np.float32]] = PrivateAttr(default_factory=dict)
    _preview: npt.NDArray[np.uint8] | None = PrivateAttr(default=None)

    @property
    def maps(self) -> dict[str, npt.NDArray[np.float32]]:
        """Analysis name -> map in [0, 1] (stored orientation)."""
        return self._maps

    @property
    def preview(self) -> npt.NDArray[np.uint8] | None:
        """A small RGB copy of the picture in display orientation, for human reports (None
        when the report was made with `Options(preview=False)`)."""
        return self._preview


class ErrorBody(ContractModel):
    code: str
    message: str


class ErrorReport(ContractModel):
    """What a file that cannot be analysed gets instead of a report."""

    schema_id: str = Field(default=SCHEMA_ID, alias="schema")
    path: str | None = None
    error: ErrorBody
