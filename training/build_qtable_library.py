"""Build src/photoloupe/forensics/qtables.json, the quantisation-table library.

Run from the repository root:  .venv/bin/python training/build_qtable_library.py

The library holds
- the IJG/libjpeg standard tables: the example tables of ITU-T T.81 (JPEG) Annex K, Tables K.1
  and K.2, which the Independent JPEG Group's libjpeg scales by its quality formula; and
- the non-standard tables seen in the camera originals of the development corpus
  (../shared/data: real/camera/*.jpg and metadata/exif-samples/*), keyed by the exact luma and
  chroma tables, with the EXIF make/model and where each file came from (repository and path as
  the corpus manifest records them; never a local path).

Tables are stored in natural (row-major) order, as Pillow's `Image.quantization` returns them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "src" / "photoloupe" / "forensics" / "qtables.json"

# ITU-T T.81 Annex K, Table K.1 (luminance) and K.2 (chrominance), natural order.
K1_LUMA = [
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
]  # fmt: skip
K2_CHROMA = [
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
]  # fmt: skip


def ijg_table(base: list[int], quality: int) -> list[int]:
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return [min(255, max(1, (b * scale + 50) // 100)) for b in base]


def clean(text: object) -> str:
    """EXIF strings can carry NULs and junk after them; keep the printable start."""
    s = str(text or "").split("\x00", 1)[0]
    return "".join(ch for ch in s if ch.isprintable()).strip()


def main() -> int:
    manifest = json.loads((SHARED / "manifest.json").read_text("utf-8"))
    standard = {
        (tuple(ijg_table(K1_LUMA, q)), tuple(ijg_table(K2_CHROMA, q))) for q in range(1, 101)
    }
    standard_luma = {pair[0] for pair in standard}
    tables: dict[tuple[tuple[int, ...], tuple[int, ...]], dict[str, object]] = {}
    for entry in sorted(manifest, key=lambda e: e["path"]):
        path = entry["path"]
        if not (path.startswith("real/camera/") or path.startswith("metadata/exif-samples/")):
            continue
        make, model = clean(entry.get("exif_make")), clean(entry.get("exif_model"))
        if not make:
            continue  # a table without a named maker identifies nothing
        try:
            with Image.open(SHARED / path) as im:
                if im.format not in ("JPEG", "MPO"):
                    continue
                quant = getattr(im, "quantization", None) or {}
        except Exception:  # a damaged sample is skipped, not fatal
            continue
        if 0 not in quant:
            continue
        luma = tuple(int(x) for x in quant[0])
        chroma = tuple(int(x) for x in quant.get(1, ()))
        if luma in standard_luma:
            continue  # standard IJG tables: covered by the IJG entry
        key = (luma, chroma)
        rec = tables.setdefault(
            key,
            {"makes": [], "models": [], "luma": list(luma), "chroma": list(chroma), "source": []},
        )
        makes, models, sources = rec["makes"], rec["models"], rec["source"]
        assert isinstance(makes, list) and isinstance(models, list) and isinstance(sources, list)
        if make not in makes:
            makes.append(make)
        if model and model not in models:
            models.append(model)
        sources.append(
            {
                "source_repo": entry.get("source_repo"),
                "source_path": entry.get("source_path"),
                "license": entry.get("license"),
            }
        )
    cameras = []
    for rec in tables.values():
        srcs = rec["source"]
        assert isinstance(srcs, list)
        rec["source"] = (
            "Observed in camera-original JPEG samples of the photoloupe development corpus: "
            + "; ".join(f"{s['source_repo']}:{s['source_path']}" for s in srcs[:5])
            + (f" (and {len(srcs) - 5} more)" if len(srcs) > 5 else "")
        )
        rec["samples"] = srcs
        cameras.append(rec)
    library = {
        "ijg": {
            "source": (
                "ITU-T Recommendation T.81 (ISO/IEC 10918-1), Annex K, Tables K.1 and K.2, scaled "
                "by the quality formula of the Independent JPEG Group's libjpeg (jcparam.c, "
                "jpeg_quality_scaling): scale = 5000/q for q < 50, else 200 - 2q; "
                "entry = clamp((base * scale + 50) // 100, 1, 255)."
            ),
            "luma": K1_LUMA,
            "chroma": K2_CHROMA,
        },
        "cameras": cameras,
    }
    OUT.write_text(json.dumps(library, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"{len(cameras)} non-standard camera tables written to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
