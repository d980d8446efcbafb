"""How two pictures relate, decided from what registration and the changed map measured.

One pure function, `decide`, over a `RelationEvidence`: no pixels, no I/O, so that each rule
can be read, and tested, on its own.

>>> d = decide(RelationEvidence(registered=True, inliers=100, region_scores=(0.8,)))
>>> d.relation, round(d.confidence, 3), d.keeps_changes
('edited', 0.86, True)
>>> decide(RelationEvidence(registered=False, inliers=3, matches=40, scene_inliers=2)).relation
'unrelated'
"""

from __future__ import annotations

from dataclasses import dataclass

from photoloupe.compare.params import (
    EPIPOLAR_MIN_INLIERS,
    EPIPOLAR_MIN_SPREAD,
    GLOBAL_CHANGE,
    MIN_INLIERS,
    SCENE_MIN_INLIERS,
    SCENE_MIN_RATIO,
)

NOTE_EPIPOLAR = (
    "Many details match under a two-view (epipolar) geometry but no single transform maps one "
    "picture onto the other: a different photo of the scene."
)
NOTE_SHARED_ELEMENT = (
    "Only a small element matches (a logo, a caption, a shared object?); the rest of the "
    "pictures differs."
)
NOTE_PARALLAX = "A homography explains only part of the matching details: parallax."
NOTE_GLOBAL_CHANGE = (
    "The pictures align, but differ over most of the shared area: a different moment of the "
    "scene, or a change too global to call a local edit."
)


@dataclass(frozen=True)
class RelationEvidence:
    """What was measured about a pair.

    registered: one plausible transform maps the original onto the suspect.
    inliers, matches: of the best fit (0 when there is none).
    scene_inliers: cross-checked matches explained by a fundamental matrix (unregistered pairs).
    scene_spread: the smaller share of the two frames those inliers' convex hull covers.
    disagreement: share of the textured shared area whose fine structure differs.
    confined: the fit's inliers cover only a small spot of the shared area.
    parallax: the homography is loose and a fundamental matrix explains clearly more matches,
        or a strong second homography explains the matches the first leaves out.
    region_scores: the changed regions' scores.
    """

    registered: bool
    inliers: int = 0
    matches: int = 0
    scene_inliers: int = 0
    scene_spread: float = 0.0
    disagreement: float = 0.0
    confined: bool = False
    parallax: bool = False
    region_scores: tuple[float, ...] = ()


@dataclass(frozen=True)
class Decision:
    relation: str
    confidence: float
    note: str | None

    @property
    def keeps_changes(self) -> bool:
        """Whether changed regions are reported: not between different photos."""
        return self.relation not in ("same-scene", "unrelated")


def is_scene_view(scene_inliers: int, scene_spread: float) -> bool:
    """An unregistered pair shows one scene when a fundamental matrix explains many
    cross-checked matches, spread over both frames."""
    return scene_inliers >= EPIPOLAR_MIN_INLIERS and scene_spread >= EPIPOLAR_MIN_SPREAD


def is_scene(scene_inliers: int, matches: int) -> bool:
    """The former test, on `registration.epipolar_inliers`: kept for `archive.verify` until it
    calls `registration.two_view`; `compare` uses `is_scene_view`."""
    return scene_inliers >= SCENE_MIN_INLIERS and scene_inliers >= SCENE_MIN_RATIO * max(matches, 1)


def decide(e: RelationEvidence) -> Decision:
    """The relation, its confidence, and the note that explains it, if any."""
    if not e.registered:
        if is_scene_view(e.scene_inliers, e.scene_spread):
            return Decision("same-scene", 0.5, NOTE_EPIPOLAR)
        return Decision("unrelated", 0.6 if e.inliers >= MIN_INLIERS // 2 else 0.8, None)
    strength = min(1.0, e.inliers / 100.0)
    # Parallax first: another view of a scene aligns only in part, and differs elsewhere.
    if e.parallax:
        return Decision("same-scene", 0.5, NOTE_PARALLAX)
    if e.disagreement > GLOBAL_CHANGE and e.confined:
        return Decision("unrelated", 0.6, NOTE_SHARED_ELEMENT)
    if e.disagreement > GLOBAL_CHANGE:
        return Decision("same-scene", 0.4, NOTE_GLOBAL_CHANGE)
    if e.region_scores:
        return Decision("edited", 0.5 + 0.45 * strength * max(e.region_scores), None)
    return Decision("same-image", 0.5 + 0.45 * strength, None)
