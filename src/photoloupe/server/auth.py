"""Who may use the desk: API tokens (one per person), and sign-in sessions for the pages.

With `--token` (repeatable), the API wants `Authorization: Bearer TOKEN`, and the pages want a
session cookie, set by the sign-in page once a person has typed a token. The cookie holds no
token: only the token's id (the first 16 hex digits of its sha256), an expiry and an HMAC under
a key kept in the data folder (so sessions survive a restart, and removing a token from the
command line ends its sessions). It is HttpOnly (no script reads it) and SameSite=Strict (no
other site's page sends it). Every state-changing form carries a CSRF token derived from the
session, and a script calling the API on a session sends it as `X-CSRF-Token`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

COOKIE = "photoloupe_session"
CSRF_HEADER = b"x-csrf-token"
CSRF_FIELD = "csrf"
SESSION_SECONDS = 12 * 3600


def token_id(token: str) -> str:
    """The id a token is recorded under: never the token itself.

    >>> token_id("s3cret")
    '1ec1c26b50d5d3c5'
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Auth:
    """How a request was let in: `open` (no tokens configured), `bearer` or `cookie`."""

    via: Literal["open", "bearer", "cookie"]
    token_id: str | None = None
    csrf: str | None = None  # what the forms of a cookie session must carry


OPEN = Auth("open")


class Sessions:
    def __init__(self, tokens: Iterable[str], key_file: Path) -> None:
        # Kept as digests: comparing digests of equal length leaks nothing of a token's length.
        self._tokens = {token_id(t): _digest(t.encode("utf-8")) for t in tokens if t}
        self.enabled = bool(self._tokens)
        self._key = _key(key_file) if self.enabled else b""

    def from_bearer(self, given: bytes) -> str | None:
        """The id of the token `given` is, or None (compared in constant time, each one)."""
        found, digest = None, _digest(given)
        for tid, token in self._tokens.items():
            if hmac.compare_digest(digest, token):
                found = tid
        return found

    def new_cookie(self, tid: str, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + SESSION_SECONDS)
        body = f"{tid}.{expires}"
        return f"{body}.{self._sign('session', body)}"

    def from_cookie(self, value: str, now: float | None = None) -> str | None:
        """The token id of a valid, unexpired session cookie whose token is still accepted."""
        tid, _, rest = value.partition(".")
        expires, _, signature = rest.partition(".")
        if not (tid in self._tokens and expires.isdigit() and signature):
            return None
        if not same_secret(signature, self._sign("session", f"{tid}.{expires}")):
            return None
        return tid if int(expires) > (time.time() if now is None else now) else None

    def csrf_for(self, cookie: str) -> str:
        return self._sign("csrf", cookie)[:32]

    def _sign(self, purpose: str, body: str) -> str:
        return hmac.new(self._key, f"{purpose}:{body}".encode(), hashlib.sha256).hexdigest()


def _key(path: Path) -> bytes:
    """The desk's signing key, made once (readable by its owner only) and kept.

    Written whole to a temporary file, synced, then linked into place, so that no desk ever
    reads a half-written (or empty) key; a key file shorter than 32 bytes is refused."""
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".key-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
                fh.flush()
                os.fsync(fh.fileno())
            with suppress(FileExistsError):  # another desk made it first: use theirs
                os.link(temp, path)
        finally:
            os.unlink(temp)
        key = path.read_bytes()
    if len(key) < 32:
        raise ValueError(f"{path} holds no usable signing key: delete it to make a new one.")
    return key


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


def same_secret(given: str | bytes, expected: str) -> bool:
    """A constant-time comparison that takes any text a client sends (non-ASCII included,
    which `hmac.compare_digest` refuses on `str`).

    >>> same_secret("é", "e"), same_secret(b"ab", "ab")
    (False, True)
    """
    raw = given if isinstance(given, bytes) else given.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(raw, expected.encode("utf-8"))


def cookie_value(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The session cookie in a request's `Cookie` headers, if any."""
    for name, value in headers:
        if name.lower() != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            key, _, val = part.strip().partition("=")
            if key == COOKIE and val:
                return val
    return None


def same_origin_path(target: str | None) -> str:
    """A `next=` target made safe: a path on this desk, never another site.

    >>> same_origin_path("/reports/ab?lang=ar"), same_origin_path("//evil.example/")
    ('/reports/ab?lang=ar', '/')
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
