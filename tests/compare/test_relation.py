"""`compare.relation.decide`: each rule on its own, without pixels."""

from __future__ import annotations

import pytest

from photoloupe.compare.relation import (
    NOTE_EPIPOLAR,
    NOTE_GLOBAL_CHANGE,
    NOTE_PARALLAX,
    NOTE_SHARED_ELEMENT,
    RelationEvidence,
    decide,
)


@pytest.mark.parametrize(
    ("evidence", "relation", "note"),
    [
        (RelationEvidence(registered=False), "unrelated", None),
        (
            RelationEvidence(registered=False, matches=100, scene_inliers=80, scene_spread=0.3),
            "same-scene",
            NOTE_EPIPOLAR,
        ),
        # A handful of epipolar inliers is chance: a fundamental matrix fits any seven matches.
        (
            RelationEvidence(registered=False, matches=400, scene_inliers=15, scene_spread=0.3),
            "unrelated",
            None,
        ),
        # Many, but bunched in one spot of a frame: one shared detail, not a view of the scene.
        (
            RelationEvidence(registered=False, matches=100, scene_inliers=80, scene_spread=0.01),
            "unrelated",
            None,
        ),
        # Parallax decides before the shared-element rule: another view differs elsewhere.
        (
            RelationEvidence(
                registered=True, inliers=50, disagreement=0.9, confined=True, parallax=True
            ),
            "same-scene",
            NOTE_PARALLAX,
        ),
        (
            RelationEvidence(registered=True, inliers=50, disagreement=0.9, confined=True),
            "unrelated",
            NOTE_SHARED_ELEMENT,
        ),
        (
            RelationEvidence(registered=True, inliers=50, parallax=True, region_scores=(0.9,)),
            "same-scene",
            NOTE_PARALLAX,
        ),
        (
            RelationEvidence(registered=True, inliers=50, disagreement=0.9, region_scores=(0.9,)),
            "same-scene",
            NOTE_GLOBAL_CHANGE,
        ),
        (RelationEvidence(registered=True, inliers=50, region_scores=(0.2, 0.9)), "edited", None),
        (RelationEvidence(registered=True, inliers=50), "same-image", None),
    ],
)
def test_each_rule(evidence: RelationEvidence, relation: str, note: str | None) -> None:
    decision = decide(evidence)
    assert decision.relation == relation and decision.note == note
    assert 0.0 <= decision.confidence <= 1.0
    assert decision.keeps_changes == (relation in ("edited", "same-image"))


def test_confidence_grows_with_inliers_and_the_strongest_region() -> None:
    weak = decide(RelationEvidence(registered=True, inliers=20, region_scores=(0.5,)))
    strong = decide(RelationEvidence(registered=True, inliers=200, region_scores=(0.5, 0.9)))
    assert strong.confidence > weak.confidence
    assert decide(RelationEvidence(registered=True, inliers=200)).confidence == pytest.approx(0.95)
    # A fit with some inliers that is not plausible leaves "unrelated" less certain.
    assert decide(RelationEvidence(registered=False, inliers=10)).confidence == 0.6
    assert decide(RelationEvidence(registered=False, inliers=2)).confidence == 0.8
