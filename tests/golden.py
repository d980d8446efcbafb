"""Golden reports: what `check` and `compare` say today, kept so that a refactor can show
it changed no behaviour (issue 12).

    .venv/bin/python -m tests.golden --write    # record (only on a commit known to be right)
    .venv/bin/python -m tests.golden            # print the largest differences from the record

`tests/test_golden.py` asserts that every case still gives its recorded result. The recorded
JSON leaves out what differs between runs (timings, creation time, paths, the tool's version);
each map is kept as its shape and summary figures, and floats may differ by `FLOAT_TOLERANCE`
(a deliberate speed-up may change the last bits of a float; the largest such difference is
reported by the command above).
"""

from __future__ import annotations

import argparse
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import photoloupe
from photoloupe.errors import PhotoloupeError

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RECORD = ROOT / "tests" / "golden"
FLOAT_TOLERANCE = 1e-6

# Picked once by a hash of the path within each folder (pictures of at most 4.2 MP, so that the
# suite stays quick), plus one file of every other format the corpus holds.
CORPUS = (
    "ai/chatgpt/ai-image-filter-31ec4ab0e5.jpg",
    "ai/craiyon/avt_ai_images-f6fb713f12.png",
    "ai/dall-e-2/imagen-8c36233a39.jpg",
    "ai/gemini/ai-image-filter-99f6f68ec1.jpg",
    "ai/glide/avt_ai_images-0daf4e1311.png",
    "ai/gpt-4o-image/awesome-gpt4o-images-13c5a4c3b3.png",
    "ai/midjourney/imagen-8c3e70b5c1.png",
    "ai/nano-banana-pro/Awesome-Nano-Banana-imag-ba69706e3d.png",
    "ai/progan-gan/CNNDetection-7407a8a7bd.png",
    "ai/seedream-5-0-pro/awesome-seedream-5-pro-g-bfdf8c196a.jpg",
    "ai/stable-diffusion-v1-5/DrawBench-Glance-155437e038.jpg",
    "ai/stable-diffusion-v2-1/DrawBench-Glance-b8a17e797b.jpg",
    "real/camera/metadata-extractor-image-09e0a4f244.jpg",
    "real/camera/metadata-extractor-image-ca1aee284b.jpg",
    "real/camera/metadata-extractor-image-74401cc6e0.jpg",
    "real/camera2/BSDS500-2328df0f0f.jpg",
    "real/camera2/BSDS500-418ea26f53.jpg",
    "real/processed/debian-f7aac0dcc2.jpg",
    "real/web/denoising-datasets-efd9bd4d55.jpg",
    "real/web/face-recognition-348e0a705e.jpg",
    "real/web/detectron-4cb3149d76.jpg",
    "scenes/lund-cathedral/01.jpg",
    "edited/copymove/edited/jpegcopymove-392c1a3660.png",
    "edited/copymove/edited/jpegcopymove-cf6c33cac8.png",
    "c2pa/signed/c2pa-python-20dc072a4c.jpg",
    "c2pa/signed/c2pa-python-b7d1b76235.dng",
    "c2pa/unsigned/c2pa-python-006ee08712.webp",
    "c2pa/unsigned/c2pa-python-a10de8204a.avif",
    "c2pa/unsigned/c2pa-python-be2c376730.tif",
    "c2pa/unsigned/c2pa-rs-7e945945c2.jpeg",
    "c2pa/unsigned/c2pa-rs-ea98900433.psd",
    "metadata/exif-samples/exif-samples-f0096a6d5c.jpeg",
    "metadata/exiftool-fixtures/exiftool-054fb88267.webp",
    "metadata/exiftool-fixtures/exiftool-4bc68f38fa.jxl",
    "metadata/exiftool-fixtures/exiftool-4e1785e992.heic",
    "metadata/exiftool-fixtures/exiftool-55f8d30ea6.gif",
    "metadata/exiftool-fixtures/exiftool-9896185cf4.jp2",
    "metadata/exiftool-fixtures/exiftool-fab182ec28.bmp",
    "metadata/exiftool-fixtures/exiftool-ba7bd9a71e.tif",
    "metadata/formats/metadata-extractor-image-e77bbb9248.heic",
)


@dataclass(frozen=True)
class Pair:
    """One comparison: the original, and the suspect (a file, or a copy made from one)."""

    name: str
    original: str
    suspect: str
    # How the suspect is made from `suspect`: "" (the file as it is), "repost" (shrunk to
    # 60 % and saved at JPEG quality 75), "crop" (the central 70 %, JPEG 90) or "darker".
    make: str = ""


PAIRS = (
    Pair("example-edit", "examples/harbour.jpg", "examples/harbour-edited.jpg"),
    Pair("example-same", "examples/harbour.jpg", "examples/harbour.jpg"),
    Pair("example-repost", "examples/harbour.jpg", "examples/harbour.jpg", "repost"),
    Pair("camera-repost", "real/web/detectron-4cb3149d76.jpg", "same", "repost"),
    Pair("camera-crop", "real/camera/metadata-extractor-image-09e0a4f244.jpg", "same", "crop"),
    Pair("camera-darker", "real/camera2/BSDS500-2328df0f0f.jpg", "same", "darker"),
    Pair("scene-lund", "scenes/lund-cathedral/01.jpg", "scenes/lund-cathedral/04.jpg"),
    Pair("scene-cake", "scenes/cake/frame000020.jpg", "scenes/cake/frame000069.jpg"),
    Pair(
        "scene-museum",
        "scenes/british-museum/29057984_287139632.jpg",
        "scenes/british-museum/32630292_7166579210.jpg",
    ),
    Pair("unrelated", "real/camera2/BSDS500-418ea26f53.jpg", "ai/dall-e-2/imagen-8c36233a39.jpg"),
)

# What differs from one run to the next, never a behaviour.
_VOLATILE = frozenset({"timings_ms", "created", "path", "tool"})


def source(relative: str) -> Path:
    return ROOT / relative if relative.startswith("examples/") else SHARED / relative


def suspect_bytes(pair: Pair) -> bytes:
    path = source(pair.original if pair.suspect == "same" else pair.suspect)
    if not pair.make:
        return path.read_bytes()
    img = Image.open(path).convert("RGB")
    out = io.BytesIO()
    if pair.make == "repost":
        img = img.resize(
            (round(img.width * 0.6), round(img.height * 0.6)), Image.Resampling.LANCZOS
        )
        img.save(out, "JPEG", quality=75)
    elif pair.make == "crop":
        w, h = img.size
        img.crop((w * 15 // 100, h * 15 // 100, w * 85 // 100, h * 85 // 100)).save(
            out, "JPEG", quality=90
        )
    elif pair.make == "darker":
        pixels = (np.asarray(img, np.float32) * 0.8).astype(np.uint8)
        Image.fromarray(pixels).save(out, "JPEG", quality=92)
    else:
        raise ValueError(f"unknown suspect {pair.make!r}")
    return out.getvalue()


def _maps_summary(maps: dict[str, np.ndarray]) -> dict[str, list[float | int]]:
    return {
        key: [*map(int, value.shape[:2]), float(value.mean()), float(value.max())]
        for key, value in sorted(maps.items())
    }


def check_case(relative: str) -> dict[str, Any]:
    """The recorded form of `photoloupe.check` on one file."""
    path = source(relative)
    try:
        report = photoloupe.check(path.read_bytes(), name=path.name)
    except PhotoloupeError as exc:
        return exc.to_dict()
    data = {k: v for k, v in report.to_dict().items() if k not in _VOLATILE}
    data["maps"] = _maps_summary(report.maps)
    return data


def compare_case(pair: Pair) -> dict[str, Any]:
    """The recorded form of `photoloupe.compare` on one pair."""
    original = source(pair.original)
    try:
        comparison = photoloupe.compare(
            original.read_bytes(), suspect_bytes(pair), names=(original.name, "suspect.jpg")
        )
    except PhotoloupeError as exc:
        return exc.to_dict()
    data = {k: v for k, v in comparison.to_dict().items() if k not in _VOLATILE}
    data["arrays"] = _maps_summary(comparison.arrays)
    return data


def cases() -> Iterator[tuple[str, str]]:
    """(kind, key) of every case: examples and corpus files for check, pairs for compare."""
    for path in sorted((ROOT / "examples").iterdir()):
        if path.suffix.lower() in {".jpg", ".png", ".webp", ".heic"}:
            yield "check", f"examples/{path.name}"
    for relative in CORPUS:
        yield "check", relative
    for pair in PAIRS:
        yield "compare", pair.name


def record_path(kind: str, key: str) -> Path:
    return RECORD / f"{kind}--{key.replace('/', '--')}.json"


def run_case(kind: str, key: str) -> dict[str, Any]:
    if kind == "check":
        return check_case(key)
    return compare_case(next(p for p in PAIRS if p.name == key))


def differences(recorded: Any, now: Any, where: str = "") -> Iterator[tuple[str, float | None]]:
    """Where `now` differs from `recorded`: (location, size of a float difference or None for
    any other difference). Floats within `FLOAT_TOLERANCE` still yield their difference."""
    if isinstance(recorded, dict) and isinstance(now, dict):
        for key in sorted(set(recorded) | set(now)):
            if key not in recorded or key not in now:
                yield f"{where}.{key}", None
            else:
                yield from differences(recorded[key], now[key], f"{where}.{key}")
    elif isinstance(recorded, list) and isinstance(now, list):
        if len(recorded) != len(now):
            yield f"{where}[len]", None
        else:
            for i, (a, b) in enumerate(zip(recorded, now, strict=True)):
                yield from differences(a, b, f"{where}[{i}]")
    elif isinstance(recorded, float) and isinstance(now, int | float) and not isinstance(now, bool):
        if not (math.isnan(recorded) and math.isnan(now)) and recorded != now:
            yield where, abs(recorded - now)
    elif recorded != now or type(recorded) is not type(now):
        yield where, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="record every case anew")
    args = parser.parse_args()
    RECORD.mkdir(exist_ok=True)
    largest = 0.0
    for kind, key in cases():
        now = run_case(kind, key)
        target = record_path(kind, key)
        if args.write:
            target.write_text(json.dumps(now, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")
            print(f"recorded {target.name}")
            continue
        recorded = json.loads(target.read_text("utf-8"))
        diffs = list(differences(recorded, now))
        floats = [d for _, d in diffs if d is not None]
        largest = max([largest, *floats])
        others = [w for w, d in diffs if d is None or d > FLOAT_TOLERANCE]
        print(
            f"{kind} {key}: {len(others)} differences"
            + (f", largest float change {max(floats):.3g}" if floats else "")
            + (f" ({', '.join(others[:5])})" if others else "")
        )
    if not args.write:
        print(f"largest float change over all cases: {largest:.3g}")


if __name__ == "__main__":
    main()
