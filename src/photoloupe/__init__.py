"""photoloupe: offline image verification workbench.

>>> import photoloupe
>>> report = photoloupe.check("examples/content-credentials-ai.jpg")
>>> report.verdict.label, report.provenance.c2pa.ai_generated_claim
('ai-generated', True)
"""

from photoloupe._version import __version__
from photoloupe.compare import compare
from photoloupe.errors import InputError, PhotoloupeError
from photoloupe.io import Limits, Picture, load_picture
from photoloupe.pipeline import Options, check
from photoloupe.schema.report import SCHEMA_ID, Report

__all__ = [
    "SCHEMA_ID",
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
