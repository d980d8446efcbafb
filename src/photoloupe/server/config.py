"""Everything an operator may tune on the desk, with defaults for one newsroom laptop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MB = 1024 * 1024


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    # None: a SQLite file under `data_dir`.
    db_url: str | None = None
    # None: no token; otherwise every endpoint but health wants `Authorization: Bearer <token>`.
    token: str | None = None
    max_upload_bytes: int = 100 * MB
    # Token bucket per client address: `rate_burst` requests at once, refilled at
    # `rate_per_minute`. Health checks are not counted, so monitoring cannot lock a desk out.
    rate_per_minute: float = 60.0
    rate_burst: int = 30
    # Analyses running at once, and how many more may wait; beyond that the desk answers 503
    # rather than holding every upload in memory.
    workers: int = 2
    queue: int = 8
    # "process" isolates a decoder crash or a leak from the server; "thread" starts faster
    # (tests) and is the fallback where processes are not allowed.
    pool: Literal["process", "thread"] = "process"
    # An archive index folder (`photoloupe index`): each upload is searched in it, and its
    # report lists the matches, each linked to a side-by-side comparison.
    index: Path | None = None
    # Addresses of reverse proxies whose `X-Forwarded-For` is believed: behind one, every
    # client would otherwise share the proxy's rate-limit bucket. Empty: the header is ignored
    # (anybody could send it).
    trusted_proxies: frozenset[str] = frozenset()
