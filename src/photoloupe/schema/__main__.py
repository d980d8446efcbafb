"""Write the published JSON Schemas: `python -m photoloupe.schema [DIR]` (default: docs)."""

from __future__ import annotations

import sys
from pathlib import Path

from photoloupe.schema import PUBLISHED, json_schema_text


def main(argv: list[str]) -> None:
    folder = Path(argv[0]) if argv else Path("docs")
    for name in PUBLISHED:
        (folder / name).write_text(json_schema_text(name), encoding="utf-8")
        print(f"wrote {folder / name}")


if __name__ == "__main__":
    main(sys.argv[1:])
