"""Everything an operator may tune on the desk, with defaults for one newsroom laptop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MB = 1024 * 1024
GB = 1024 * MB


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    # None: a SQLite file under `data_dir`.
    db_url: str | None = None
    # No token: an open desk. Otherwise the API wants `Authorization: Bearer <token>` with any
    # of them (one per person; each case records which), and the pages a signed-in session.
    # `token` is the one-token spelling of `tokens`.
    token: str | None = None
    tokens: tuple[str, ...] = ()
    max_upload_bytes: int = 100 * MB
    # Token bucket per client address: `rate_burst` requests at once, refilled at
    # `rate_per_minute`. Health checks are not counted, so monitoring cannot lock a desk out.
    rate_per_minute: float = 60.0
    rate_burst: int = 30
    # Analyses running at once. Jobs wait in the database, not in memory: the queue is bounded
    # by `store_quota_bytes`, the most the kept uploads may take on disk (503 beyond it).
    workers: int = 2
    store_quota_bytes: int = 20 * GB
    # Cases (with their pages, PDFs and uploads) older than this many days are purged, hourly;
    # None keeps them until deleted.
    keep_days: float | None = None
    # A slow client is cut off: request headers must arrive within `header_timeout` seconds,
    # each body read within `body_idle_timeout`, and after `body_grace` seconds the body must
    # average `body_min_rate` bytes per second.
    header_timeout: float = 20.0
    body_idle_timeout: float = 30.0
    body_grace: float = 30.0
    body_min_rate: float = 8192.0
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

    def accepted_tokens(self) -> tuple[str, ...]:
        return tuple(t for t in (self.token, *self.tokens) if t)
