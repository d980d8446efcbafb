"""The benchmark's stack rule: a branch joins only where it helps in every condition."""

from __future__ import annotations

import numpy as np
import pytest
from training import nested


def _scores(rng: np.random.Generator, y: np.ndarray, strength: dict[str, float]) -> nested.Scores:
    """Logits whose separation of the classes is `strength[view]` standard deviations."""
    out: nested.Scores = {}
    for view, s in strength.items():
        for i, label in enumerate(y):
            out[(view, f"p{i}")] = float(s * label + rng.normal())
    return out


@pytest.fixture()
def labelled(monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    y = np.arange(400) % 2
    monkeypatch.setattr(nested, "labels", lambda: {f"p{i}": int(v) for i, v in enumerate(y)})
    return y


def test_a_branch_that_helps_everywhere_joins(labelled: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    views = dict.fromkeys(nested.EVALUATION_VIEWS, 1.0)
    per_branch = {"encoder": _scores(rng, labelled, views), "other": _scores(rng, labelled, views)}
    assert nested.choose_stack(per_branch) == ("encoder", "other")


def test_a_branch_that_costs_one_condition_stays_out(labelled: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    encoder = _scores(rng, labelled, dict.fromkeys(nested.EVALUATION_VIEWS, 1.0))
    # Strong on clean and sized, blind on repost: it raises the pooled AUC, and its weight,
    # learned mostly from the other views, only adds noise to the reposts.
    other = _scores(rng, labelled, {"clean": 3.0, "repost": 0.0, "sized": 3.0})
    per_branch = {"encoder": encoder, "other": other}
    pooled_gain = nested.stack_auc(per_branch, ("encoder", "other")) - nested.stack_auc(
        per_branch, ("encoder",)
    )
    assert pooled_gain > nested.JOIN_GAIN  # the old rule alone would have let it in
    assert nested.choose_stack(per_branch) == ("encoder",)
