"""The installed distribution's version: one source of truth, `pyproject.toml`.

Every module that reports the version imports it from here, never from the package root,
so that nothing imports `photoloupe/__init__.py` from below it.
"""

from __future__ import annotations

import importlib.metadata

try:
    __version__ = importlib.metadata.version("photoloupe")
except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
    __version__ = "0+unknown"
