"""The public contracts at the bottom of the house: the report (`photoloupe.report/1`),
comparison (`photoloupe.compare/1`) and corroboration (`photoloupe.corroborate/1`)
models. Everything else may import them; they import
nothing of photoloupe's, so a renderer, the server or an analysis all see one data model.

`python -m photoloupe.schema DIR` writes their JSON Schemas (`report-schema.json`,
`compare-schema.json`, `corroborate-schema.json`) into DIR; the copies in `docs/` are
checked against the models by a test.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from photoloupe.schema.compare import COMPARE_SCHEMA_ID, CompareErrorReport, Comparison
from photoloupe.schema.corroborate import (
    CORROBORATE_SCHEMA_ID,
    CorroborateErrorReport,
    Corroboration,
)
from photoloupe.schema.report import SCHEMA_ID, ErrorReport, Report

# File name under docs/ -> (schema id, the models a line of that schema may be).
PUBLISHED: dict[str, tuple[str, tuple[type[BaseModel], ...]]] = {
    "report-schema.json": (SCHEMA_ID, (Report, ErrorReport)),
    "compare-schema.json": (COMPARE_SCHEMA_ID, (Comparison, CompareErrorReport)),
    "corroborate-schema.json": (CORROBORATE_SCHEMA_ID, (Corroboration, CorroborateErrorReport)),
}


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one published contract, generated from its models: a line is one of
    them (a result, or the error a file that cannot be analysed gets)."""
    schema_id, models = PUBLISHED[name]
    parts = [m.model_json_schema(by_alias=True, mode="serialization") for m in models]
    defs: dict[str, Any] = {}
    for part in parts:
        defs.update(part.pop("$defs", {}))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        "title": schema_id,
        "description": f"One JSON line of {schema_id}: a result, or an error. Generated from "
        "photoloupe's models (python -m photoloupe.schema); see the matching .md for meanings.",
        "oneOf": parts,
        "$defs": dict(sorted(defs.items())),
    }


def json_schema_text(name: str) -> str:
    return json.dumps(json_schema(name), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
