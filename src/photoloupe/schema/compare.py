"""The comparison result, schema `photoloupe.compare/1`: a public contract.

`photoloupe compare ORIGINAL SUSPECT --json` prints one `Comparison`. Fields may be added; none
may be removed, renamed or change meaning. `docs/compare.md` documents every field and how each
decision is made. Coordinates are in *stored* pixels (before EXIF orientation), like every map
photoloupe writes: boxes are `[x, y, w, h]`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy.typing as npt
from pydantic import Field, PrivateAttr

from photoloupe.schema.base import ContractModel

COMPARE_SCHEMA_ID = "photoloupe.compare/1"

Relation = Literal["identical", "same-image", "edited", "same-scene", "unrelated"]
Closer = Literal["original", "suspect", "undetermined"]


class CompareFile(ContractModel):
    """The facts of one input that the comparison rests on."""

    name: str
    sha256: str
    bytes: int
    width: int = Field(description="Stored width in pixels, before EXIF orientation.")
    height: int
    format: str = Field(description='Container format as decoded, e.g. "JPEG", "PNG".')
    orientation: int = Field(description="EXIF orientation (1-8); the comparison ignores it.")
    jpeg_quality: int | None = Field(
        description="Estimated IJG quality of the luma table, or null when not a JPEG."
    )
    metadata_fields: int = Field(description="Number of EXIF, XMP and IPTC fields the file holds.")
    camera: str | None = Field(description="Camera make and model from the metadata, if any.")


class Transform(ContractModel):
    """How the suspect's pixels relate to the original's; null fields when not registered."""

    crop_box: list[float] | None = Field(
        description="[x, y, w, h] in the original's stored pixels: the part of the original "
        "the suspect shows (the bounding box when rotated)."
    )
    scale: float | None = Field(
        description="Suspect pixels per original pixel (0.5: the suspect is half the size)."
    )
    rotation_degrees: float | None = Field(
        description="Counter-clockwise rotation of the suspect relative to the original."
    )
    flipped: bool = Field(description="True when the suspect is a mirror image of the original.")
    homography: list[list[float]] | None = Field(
        description="3x3 matrix mapping original stored pixels (x, y, 1) to suspect stored pixels."
    )
    inliers: int = Field(description="Matched local features consistent with the homography.")
    matches: int = Field(description="Matched local features before the geometric check.")
    coverage: float | None = Field(
        description="Share of the suspect's area covered by the original (1.0: none is padding)."
    )


class ChangedRegion(ContractModel):
    box: list[int] = Field(description="[x, y, w, h] in the suspect's stored pixels.")
    score: float = Field(ge=0.0, le=1.0, description="Strength of the difference, 0 to 1.")
    area_fraction: float = Field(description="Share of the suspect's covered area.")


class Reason(ContractModel):
    code: str = Field(description="Stable identifier, e.g. 'resolution', 'jpeg_quality'.")
    favours: Closer = Field(description="Which copy this reason points to.")
    message: str
    message_ar: str


class CloserToSource(ContractModel):
    verdict: Closer
    reasons: list[Reason] = Field(default_factory=list)


class ToolInfo(ContractModel):
    name: str = "photoloupe"
    version: str


class Comparison(ContractModel):
    schema_id: str = Field(default=COMPARE_SCHEMA_ID, alias="schema")
    tool: ToolInfo
    created: str = Field(description="UTC time of the comparison, ISO 8601.")
    original: CompareFile
    suspect: CompareFile
    relation: Relation
    confidence: float = Field(ge=0.0, le=1.0, description="How firmly the relation is supported.")
    transform: Transform
    changed_map: str | None = Field(
        default=None,
        description="Path of the grayscale PNG (suspect's stored size, 255 = changed), once "
        "written with --maps; null otherwise.",
    )
    changed_fraction: float | None = Field(
        description="Share of the covered area found changed; null when not registered."
    )
    changed_regions: list[ChangedRegion] = Field(default_factory=list)
    padding: list[list[int]] = Field(
        default_factory=list,
        description="[x, y, w, h] boxes of the suspect not covered by the original (borders, "
        "bars): outside the comparison, never counted as changed.",
    )
    closer_to_source: CloserToSource
    summary: str
    summary_ar: str
    notes: list[str] = Field(default_factory=list, description="Method caveats, in English.")
    timings_ms: dict[str, float]

    # Arrays for renderers; they never go into JSON (the map reaches JSON as a file path).
    _arrays: dict[str, npt.NDArray[Any]] = PrivateAttr(default_factory=dict)

    @property
    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Working-size pictures for renderers: "suspect", "original" and, when registered,
        "aligned" (the original warped into the suspect's frame), "changed" (bool), "covered"
        (bool), all in the suspect's stored orientation."""
        return self._arrays


class CompareErrorReport(ContractModel):
    """What the command prints instead when an input cannot be read."""

    schema_id: str = Field(default=COMPARE_SCHEMA_ID, alias="schema")
    input: Literal["original", "suspect"] | None = None
    path: str | None = None
    error: dict[str, str]


__all__ = [
    "COMPARE_SCHEMA_ID",
    "ChangedRegion",
    "CloserToSource",
    "CompareErrorReport",
    "CompareFile",
    "Comparison",
    "Reason",
    "Transform",
]
