"""The base of the block-map analyses (ELA, noise, CFA): each overrides only its measure.

A block-map analysis checks that the picture is large enough, measures one statistic per block
and turns it into a heat map in [0, 1] (its own `measure`), then scores the strongest coherent
bright area of that map and reports it in one of two ways: an area stands out (`found`), or
the picture is consistent (`uniform`). The base does everything but the measure, so the three
analyses agree on what a score, an area fraction and a finding are.

>>> class Flat(BlockMapAnalysis):
...     found = Outcome("flat_area", "An area stands out.")
...     uniform = Outcome("flat_uniform", "Nothing stands out.")
...     too_small = Outcome("flat_too_small", "Too small.")
...     min_side = 16
...     def measure(self, context):
...         return Measured(np.zeros((4, 4), np.float32), {"blocks": 16})
>>> from photoloupe.io import load_picture
>>> finding = Flat()(load_picture("examples/harbour.jpg"))
>>> finding.score, finding.codes, finding.details["area_fraction"]
(0.0, ('flat_uniform',), 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from photoloupe.analysis import Context
from photoloupe.findings import Finding
from photoloupe.forensics.maps import (
    FloatArray,
    coherent_area_score,
    not_applicable,
    valid_pixels,
)
from photoloupe.io import Picture


@dataclass(frozen=True)
class Outcome:
    """A finding's code and its sentence."""

    code: str
    note: str


@dataclass(frozen=True)
class Measured:
    """What a measure gives: the heat map (1 = this block deviates) and its details."""

    heat: FloatArray
    details: dict[str, object] = field(default_factory=dict)
    reliability: FloatArray | None = None  # where the measure could read the picture
    # How much the picture as a whole supports the map (1 for most analyses); the score of the
    # strongest area is multiplied by it.
    weight: float = 1.0


class BlockMapAnalysis:
    """Subclasses set the outcomes and `min_side`, and override `measure` (and, where their
    areas are scored with other parameters, `area_score`)."""

    found: ClassVar[Outcome]
    uniform: ClassVar[Outcome]
    too_small: ClassVar[Outcome]
    min_side: ClassVar[int]
    # An area is `found` when the score exceeds this; below it the (weighted) score is still
    # given, for the fusion to weigh.
    min_score: ClassVar[float] = 0.0

    def measure(self, context: Context) -> Measured | Finding:
        """The heat map, or a finding saying why the picture cannot be measured."""
        raise NotImplementedError

    def area_score(self, heat: FloatArray) -> tuple[float, float]:
        """(score, area fraction) of the strongest coherent area of the heat map."""
        return coherent_area_score(heat)

    def __call__(self, source: Context | Picture) -> Finding:
        context = Context.of(source)
        pixels = context.pixels
        if not valid_pixels(pixels) or min(pixels.shape[:2]) < self.min_side:
            return not_applicable(self.too_small.code, self.too_small.note)
        measured = self.measure(context)
        if isinstance(measured, Finding):
            return measured
        score, area = self.area_score(measured.heat)
        score *= measured.weight
        details = {**measured.details, "area_fraction": round(area, 4)}
        outcome = self.found if score > self.min_score else self.uniform
        return Finding(
            score=score if score > 0 else 0.0,
            notes=(outcome.note,),
            map=np.asarray(measured.heat, dtype=np.float32),
            codes=(outcome.code,),
            details=details,
            reliability=measured.reliability,
        )
