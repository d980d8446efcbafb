"""The newsroom desk: a small web server over `check` and `compare` (see docs/server.md)."""

from __future__ import annotations

from photoloupe.server.app import create_app
from photoloupe.server.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
