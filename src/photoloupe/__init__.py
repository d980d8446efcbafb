"""photoloupe: offline image verification workbench.

>>> import photoloupe
>>> report = photoloupe.check("photo.jpg")  # doctest: +SKIP
>>> report.verdict.label, report.provenance.c2pa.present  # doctest: +SKIP
('inconclusive', False)
"""

__version__ = "0.1.0"

from photoloupe.errors import InputError, PhotoloupeError  # noqa: E402
from photoloupe.io import Limits, Picture, load_picture  # noqa: E402
from photoloupe.pipeline import Options, check  # noqa: E402
from photoloupe.report.schema import SCHEMA_ID, Report  # noqa: E402

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
    "load_picture",
]
