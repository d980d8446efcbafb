"""The one result type every analysis returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Finding:
    """What one analysis says about one picture.

    score: strength of the evidence this analysis is built to find, in [0, 1], or None when the
        analysis could not judge (too small, wrong format, nothing to compare).
    map: an optional float32 array in [0, 1], at any resolution, brighter = more suspicious.
    notes: plain-language sentences for the report, in English (renderers translate by `codes`).
    codes: stable identifiers of what was found, for translations and for machines.
    evidence_of: "editing", "ai-generation" or None when the finding is informational only.
    """

    score: float | None
    notes: tuple[str, ...] = ()
    map: npt.NDArray[np.float32] | None = None
    codes: tuple[str, ...] = ()
    evidence_of: str | None = None
    details: dict[str, object] = field(default_factory=dict)
