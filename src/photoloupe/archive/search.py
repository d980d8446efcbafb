"""Searching an index for the query's copies and for other photos of its scene.

1. **Shortlist.** The query's global descriptor, and that of its mirror image, against the
   descriptor index; its eight dihedral PDQ hashes against the hash index. Hash matches (an
   almost certain copy) come first, then the nearest descriptors.
2. **Verify** the first `verify` candidates from their stored local features
   (`archive.verify`): a copy geometry or a two-view scene geometry, or nothing.
3. **Compare** the copies pixel by pixel with `photoloupe.compare` (archived file as the
   original, the query as the suspect): a copy or an edited copy with its changed regions, and
   which of the two is closer to the source. When the archived file is no longer readable,
   the geometric verdict stands and the note says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from photoloupe._version import __version__
from photoloupe.archive.catalogue import Archived, Catalogue
from photoloupe.archive.entry import CaptureFacts, capture_facts
from photoloupe.archive.features import QUERY_FEATURES, local_features, pdq_dihedral
from photoloupe.archive.notes import is_strong, match_note, summary
from photoloupe.archive.structures import Structures
from photoloupe.archive.verify import Verified, verify
from photoloupe.archive.vocabulary import Vocabulary
from photoloupe.errors import PhotoloupeError
from photoloupe.io import Picture, load_picture
from photoloupe.schema.compare import ChangedRegion, CloserToSource, Transform
from photoloupe.schema.corroborate import Corroboration, Gps, Match, QueryFile

SHORTLIST = 50
"""Nearest descriptors fetched per query vector before verification."""
VERIFY = 20
"""Candidates verified by their local features."""
PDQ_MATCH = 31
"""Hamming distance at or below which two PDQ hashes are taken for one picture (Meta's usual
threshold); such a candidate is verified first."""
COMPARE_COPIES = 3
"""Copies compared pixel by pixel (the strongest first); further copies keep their geometry."""


@dataclass(frozen=True)
class _Candidate:
    archived: Archived
    verified: Verified


def search(
    catalogue: Catalogue,
    structures: Structures,
    vocabulary: Vocabulary,
    picture: Picture,
    *,
    index_name: str,
    top: int = 10,
    verify_top: int = VERIFY,
    query_path: str | None = None,
) -> Corroboration:
    timings: dict[str, float] = {}
    start = step = time.perf_counter()
    query = local_features(picture.pixels, limit=QUERY_FEATURES)
    vectors = np.stack(
        [vocabulary.describe(query.descriptors), vocabulary.describe(query.mirrored().descriptors)]
    )
    hashes = np.frombuffer(b"".join(pdq_dihedral(picture.pixels)), np.uint8).reshape(8, 32)
    timings["describe"] = _ms(step)

    step = time.perf_counter()
    order = _shortlist(structures, vectors, hashes)
    timings["search"] = _ms(step)

    step = time.perf_counter()
    found: list[_Candidate] = []
    for picture_id in order[:verify_top]:
        archived = catalogue.archived(picture_id)
        feats = catalogue.features(picture_id)
        if archived is None or feats is None:
            continue
        verified = verify(query, feats)
        if verified.geometry is not None:
            found.append(_Candidate(archived, verified))
    timings["verify"] = _ms(step)

    step = time.perf_counter()
    facts = capture_facts(picture)
    matches = _matches(found, picture, facts)
    matches.sort(key=lambda m: (-m.score, m.path))
    matches = matches[:top]
    timings["compare"] = _ms(step)
    timings["total"] = _ms(start)
    searched = len(structures)
    strong = sum(
        1 for m in matches if m.relation == "same-scene" and is_strong(_facts_of(m), facts)
    )
    text_en, text_ar = summary(matches, searched, strong)
    result = Corroboration(
        tool={"version": __version__},  # type: ignore[arg-type]
        created=_now(),
        index=index_name,
        query=QueryFile(
            path=query_path, sha256=picture.sha256, width=picture.width, height=picture.height
        ),
        searched=searched,
        matches=matches,
        summary=text_en,
        summary_ar=text_ar,
        timings_ms=timings,
    )
    thumbs = {m.sha256: catalogue.thumbnail(m.sha256) for m in matches}
    return result.with_thumbnails({k: v for k, v in thumbs.items() if v is not None})


def _facts_of(match: Match) -> CaptureFacts:
    gps = match.gps
    return CaptureFacts(
        match.captured, match.camera, gps.latitude if gps else None, gps.longitude if gps else None
    )


def _shortlist(structures: Structures, vectors: np.ndarray, hashes: np.ndarray) -> list[int]:
    """Candidate ids, hash matches first (closest first), then by descriptor similarity."""
    best: dict[int, float] = {}
    sims, ids = structures.nearest(vectors, SHORTLIST)
    for row_sims, row_ids in zip(sims, ids, strict=True):
        for sim, pid in zip(row_sims, row_ids, strict=True):
            if pid >= 0:
                best[int(pid)] = max(best.get(int(pid), -1.0), float(sim))
    dist, hids = structures.near_hashes(hashes, 4)
    for row_dist, row_ids in zip(dist, hids, strict=True):
        for d, pid in zip(row_dist, row_ids, strict=True):
            if pid >= 0 and d <= PDQ_MATCH:
                # Above any cosine similarity: a hash match is verified first.
                best[int(pid)] = max(best.get(int(pid), -1.0), 2.0 - d / 256)
    return sorted(best, key=lambda pid: -best[pid])


def _matches(found: list[_Candidate], picture: Picture, facts: CaptureFacts) -> list[Match]:
    from photoloupe.compare import compare_pictures

    copies = sorted(
        (c for c in found if c.verified.geometry == "copy"), key=lambda c: -c.verified.inliers
    )
    compared = {id(c) for c in copies[:COMPARE_COPIES]}
    out: list[Match] = []
    for cand in found:
        relation = "same-scene" if cand.verified.geometry == "same-scene" else "copy"
        transform: Transform | None = None
        regions: list[ChangedRegion] = []
        closer: CloserToSource | None = None
        unreadable = False
        inliers = cand.verified.inliers
        if id(cand) in compared:
            try:
                original = load_picture(cand.archived.path)
            except PhotoloupeError:
                unreadable = True
            else:
                comparison = compare_pictures(original, picture)
                kind = comparison.relation
                if kind == "unrelated":
                    continue
                relation = {"edited": "edited-copy", "same-scene": "same-scene"}.get(kind, "copy")
                if relation != "same-scene":
                    transform = comparison.transform
                    regions = list(comparison.changed_regions)
                    closer = comparison.closer_to_source
                    inliers = max(inliers, comparison.transform.inliers)
        strength = min(1.0, inliers / 100.0)
        score = (
            0.6 + 0.4 * strength
            if relation != "same-scene"
            else 0.1 + 0.4 * min(1.0, inliers / 150.0)
        )
        a = cand.archived
        note_en, note_ar = match_note(
            relation,
            a.facts,
            facts,
            transform,
            len(regions),
            unreadable=unreadable,
            same_file=a.sha256 == picture.sha256,
        )
        gps = (
            Gps(latitude=a.facts.latitude, longitude=a.facts.longitude)
            if a.facts.latitude is not None and a.facts.longitude is not None
            else None
        )
        out.append(
            Match(
                path=a.path, sha256=a.sha256, relation=relation,  # type: ignore[arg-type]
                score=round(score, 4), inliers=inliers, transform=transform,
                changed_regions=regions, captured=a.facts.captured, camera=a.facts.camera,
                gps=gps, closer_to_source=closer, note=note_en, note_ar=note_ar,
            )
        )  # fmt: skip
    return out


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")
