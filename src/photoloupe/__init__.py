"""photoloupe: offline image verification workbench.

>>> import photoloupe
>>> report = photoloupe.check("examples/content-credentials-ai.jpg")
>>> report.verdict.label, report.provenance.c2pa.ai_generated_claim
('ai-generated', True)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from photoloupe._version import __version__

# `photoloupe.compare` is both the subpackage and its public function. Bound here, after the
# subpackage is imported, the name means the function, whatever imports the subpackage later
# (the import system binds a submodule to its parent only when it first loads it). It costs
# about 30 ms on top of what a check imports anyway.
from photoloupe.compare import compare

if TYPE_CHECKING:
    from photoloupe.archive import Archive
    from photoloupe.errors import InputError, PhotoloupeError
    from photoloupe.io import Limits, Picture, load_picture
    from photoloupe.pipeline import Options, check
    from photoloupe.schema.report import SCHEMA_ID, Report

# The other public names are imported on first use (PEP 562): a comparison must not pay for
# the detector, nor the server for either.
_PUBLIC = {
    "Archive": "photoloupe.archive",
    "SCHEMA_ID": "photoloupe.schema.report",
    "InputError": "photoloupe.errors",
    "Limits": "photoloupe.io",
    "Options": "photoloupe.pipeline",
    "PhotoloupeError": "photoloupe.errors",
    "Picture": "photoloupe.io",
    "Report": "photoloupe.schema.report",
    "check": "photoloupe.pipeline",
    "load_picture": "photoloupe.io",
}

__all__ = [
    "SCHEMA_ID",
    "Archive",
    "InputError",
    "Limits",
    "Options",
    "PhotoloupeError",
    "Picture",
    "Report",
    "__version__",
    "check",
    "compare",
    "load_picture",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'photoloupe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
