"""The corroboration result, schema `photoloupe.corroborate/1`: a public contract.

`photoloupe corroborate IMAGE --index DIR --json` prints one `Corroboration`, and
`photoloupe check IMAGE --index DIR` puts the same object in the report's `corroboration`.
Fields may be added; none may be removed, renamed or change meaning. `docs/corroborate.md`
documents every field and how each relation is decided.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr

from photoloupe.schema.base import ContractModel
from photoloupe.schema.compare import ChangedRegion, CloserToSource, ToolInfo, Transform

CORROBORATE_SCHEMA_ID = "photoloupe.corroborate/1"

MatchRelation = Literal["copy", "edited-copy", "same-scene"]


class QueryFile(ContractModel):
    path: str | None = Field(description="The query's path as given, or null for bytes.")
    sha256: str
    width: int = Field(description="Stored width in pixels, before EXIF orientation.")
    height: int


class Gps(ContractModel):
    latitude: float
    longitude: float


class Match(ContractModel):
    """One archived picture that corroborates, or is a copy of, the query."""

    path: str = Field(description="The archived file's path, as it was indexed.")
    sha256: str
    relation: MatchRelation = Field(
        description="copy: the same picture (re-encoded, resized, cropped, mirrored, turned, "
        "framed); edited-copy: the same picture with local changes; same-scene: another photo "
        "of the same place, verified by two-view geometry."
    )
    score: float = Field(
        ge=0.0, le=1.0, description="Strength of the verified match: copies rank above scenes."
    )
    inliers: int = Field(description="Local features consistent with the verified geometry.")
    transform: Transform | None = Field(
        description="How the query maps onto the archived picture (archived = original); "
        "null for same-scene matches."
    )
    changed_regions: list[ChangedRegion] = Field(
        default_factory=list,
        description="For an edited copy: the query's regions that differ from the archived "
        "picture, [x, y, w, h] in the query's stored pixels.",
    )
    captured: str | None = Field(description="Capture time from the archived file's metadata.")
    camera: str | None = Field(description="Camera make and model from its metadata.")
    gps: Gps | None = Field(description="Position from its metadata.")
    closer_to_source: CloserToSource | None = Field(
        description="For copies: whether the archived picture ('original') or the query "
        "('suspect') is closer to the source; null for same-scene matches."
    )
    note: str = Field(description="What the match shows, in plain English.")
    note_ar: str = Field(description="The same in Arabic.")


class Corroboration(ContractModel):
    schema_id: str = Field(default=CORROBORATE_SCHEMA_ID, alias="schema")
    tool: ToolInfo
    created: str = Field(description="UTC time of the search, ISO 8601.")
    index: str = Field(description="The index folder searched, as given.")
    query: QueryFile
    searched: int = Field(description="Pictures in the index at the time of the search.")
    matches: list[Match] = Field(
        default_factory=list, description="Verified matches, best score first."
    )
    summary: str
    summary_ar: str
    timings_ms: dict[str, float]

    # Thumbnails of the matches (sha256 -> JPEG bytes) for renderers; never in JSON.
    _thumbnails: dict[str, bytes] = PrivateAttr(default_factory=dict)

    @property
    def thumbnails(self) -> dict[str, bytes]:
        return self._thumbnails

    def with_thumbnails(self, thumbnails: dict[str, bytes]) -> Corroboration:
        self._thumbnails = dict(thumbnails)
        return self


class CorroborateErrorReport(ContractModel):
    schema_id: str = Field(default=CORROBORATE_SCHEMA_ID, alias="schema")
    path: str | None = None
    error: dict[str, Any]


__all__ = [
    "CORROBORATE_SCHEMA_ID",
    "CorroborateErrorReport",
    "Corroboration",
    "Gps",
    "Match",
    "MatchRelation",
    "QueryFile",
]
