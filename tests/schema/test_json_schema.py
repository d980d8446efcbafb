"""The published JSON Schemas in docs/ are the models' own, and real results validate."""

from __future__ import annotations

import json

import jsonschema
import pytest

import photoloupe
from photoloupe.schema import PUBLISHED, json_schema, json_schema_text
from photoloupe.schema.report import ErrorBody, ErrorReport
from tests.conftest import ROOT

EXAMPLES = ROOT / "examples"


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_the_published_schema_is_generated_from_the_models(name: str) -> None:
    published = (ROOT / "docs" / name).read_text("utf-8")
    assert published == json_schema_text(name), (
        f"docs/{name} is out of date: run python -m photoloupe.schema docs"
    )


def test_reports_errors_and_comparisons_validate() -> None:
    report = photoloupe.check(EXAMPLES / "harbour-edited.jpg")
    error = ErrorReport(path="x.jpg", error=ErrorBody(code="empty_file", message="Empty."))
    validator = jsonschema.Draft202012Validator(json_schema("report-schema.json"))
    for line in (report.to_json(), error.model_dump_json(by_alias=True)):
        validator.validate(json.loads(line))
    # A line that breaks the contract does not.
    broken = json.loads(report.to_json())
    broken["verdict"]["label"] = "fake"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)
    comparison = photoloupe.compare(EXAMPLES / "harbour.jpg", EXAMPLES / "harbour-edited.jpg")
    jsonschema.Draft202012Validator(json_schema("compare-schema.json")).validate(
        json.loads(comparison.to_json())
    )
