"""No change of behaviour: every golden case gives the report recorded in tests/golden/.

Regenerate only on a commit known to be right (`python -m tests.golden --write`), and list
every change it brings in the commit message.
"""

from __future__ import annotations

import json

import pytest

from tests import golden
from tests.conftest import HAVE_SHARED


def _needs(kind: str, key: str) -> bool:
    return not key.startswith("examples/") and not (
        kind == "compare"
        and all(
            s.startswith("examples/")
            for p in golden.PAIRS
            if p.name == key
            for s in (p.original, p.suspect if p.suspect != "same" else p.original)
        )
    )


@pytest.mark.parametrize(("kind", "key"), list(golden.cases()), ids=lambda v: str(v))
def test_the_report_is_the_recorded_one(kind: str, key: str) -> None:
    if _needs(kind, key) and not HAVE_SHARED:
        pytest.skip("../shared/data is not beside the checkout")
    recorded = json.loads(golden.record_path(kind, key).read_text("utf-8"))
    now = golden.run_case(kind, key)
    changed = [
        (where, size)
        for where, size in golden.differences(recorded, now)
        if size is None or size > golden.FLOAT_TOLERANCE
    ]
    assert not changed, f"{len(changed)} differences from the record, first: {changed[:8]}"


def test_differences_finds_every_kind_of_change() -> None:
    recorded = {"a": 0.5, "b": [1, 2], "c": "x", "d": {"e": None}}
    assert list(golden.differences(recorded, recorded)) == []
    now = {"a": 0.5 + 1e-9, "b": [1], "c": "y", "d": {"e": 0}, "f": 1}
    found = dict(golden.differences(recorded, now))
    assert found[".a"] is not None and found[".a"] < golden.FLOAT_TOLERANCE
    assert {".b[len]", ".c", ".d.e", ".f"} <= set(found)
