"""Open-set attribution of AI pictures to a known generator family, measured on pictures the
attributor never saw.

    .venv/bin/python benchmarks/attribution.py

Two protocols, both on the benchmark's laundered and clean views (`training/dataset.py`):
- leave one *generator* out: for each generator whose family has others, train on everything
  else; its pictures should be named by their family (a new version of a known generator);
- leave one *family* out: train without any of its generators; its pictures should come out
  "unknown" (a generator of a kind never seen), not be pinned on a known family.

Attribution is reported only when the detector finds evidence of AI generation; here every AI
picture of the held-out set is attributed, whatever the detector said. Prints measured figures;
asserts nothing. The confidence threshold is fixed in `training/train_detector.py`.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training import dataset  # noqa: E402
from training.train_detector import Corpus, fit, fit_attributor, load_corpus  # noqa: E402

from photoloupe.detect.attribution import FAMILIES  # noqa: E402

VIEWS = ("laundered", "clean")


def attribute(corpus: Corpus, held_out: set[str]) -> dict[str, list[tuple[str, str]]]:
    """view -> [(true family, answer)] for the pictures of the `held_out` generators."""
    trained = ~np.isin(corpus.group, sorted(held_out))
    model = fit(corpus, (corpus.variant == "train") & trained)
    attributor = fit_attributor(corpus, model, trained)
    out: dict[str, list[tuple[str, str]]] = {}
    for view in VIEWS:
        rows = (corpus.variant == view) & ~trained
        answers = []
        for instance in np.unique(corpus.instance[rows]):
            tiles = rows & (corpus.instance == instance)
            x = (corpus.x[tiles] - model.mean) / model.scale
            family = str(attributor.attribute(x)["family"])
            answers.append((FAMILIES[str(corpus.group[tiles][0])], family))
        out[view] = answers
    return out


def main() -> None:
    corpus = load_corpus()
    by_family: dict[str, list[str]] = {}
    for generator, family in FAMILIES.items():
        by_family.setdefault(family, []).append(generator)

    print("== leave one generator out (its family is known): named family")
    print(f"{'generator':42} {'family':22} " + " ".join(f"{v:>22}" for v in VIEWS))
    totals = {v: Counter[str]() for v in VIEWS}
    for family, generators in sorted(by_family.items()):
        if len(generators) < 2:
            continue
        for generator in generators:
            results = attribute(corpus, {generator})
            cells = []
            for view in VIEWS:
                t = tally(results[view])
                totals[view].update(t)
                cells.append(f"{t['right']:3d} ok {t['unknown']:3d} unk {t['wrong']:3d} bad")
            print(f"{generator[:42]:42} {family:22} " + " ".join(f"{c:>22}" for c in cells))
    print_totals(totals)

    print("\n== leave one family out (never seen): answered unknown")
    print(f"{'family':22} " + " ".join(f"{v:>30}" for v in VIEWS))
    totals = {v: Counter[str]() for v in VIEWS}
    for family, generators in sorted(by_family.items()):
        results = attribute(corpus, set(generators))
        cells = []
        for view in VIEWS:
            answers = results[view]
            t = tally(answers)
            totals[view].update(t)
            named = Counter(a for _, a in answers if a != "unknown").most_common(1)
            top = f" (mostly {named[0][0][:10]})" if named else ""
            cells.append(f"{t['unknown']:3d}/{len(answers):3d} unknown{top}")
        print(f"{family:22} " + " ".join(f"{c:>30}" for c in cells))
    print_totals(totals)


def tally(answers: list[tuple[str, str]]) -> Counter[str]:
    """How many answers named the right family, said unknown, or named a wrong family (for a
    family never seen, every named family is wrong)."""
    out = Counter(right=0, unknown=0, wrong=0)
    for truth, answer in answers:
        out["right" if answer == truth else "unknown" if answer == "unknown" else "wrong"] += 1
    return out


def print_totals(totals: dict[str, Counter[str]]) -> None:
    for view, t in totals.items():
        n = sum(t.values())
        print(
            f"  {view}: named the right family {t['right'] / n:.1%}, unknown "
            f"{t['unknown'] / n:.1%}, a wrong family {t['wrong'] / n:.1%} (n={n})"
        )


if __name__ == "__main__":
    if not dataset.SHARED.is_dir():
        sys.exit("../shared/data is not beside the checkout; nothing to measure")
    main()
