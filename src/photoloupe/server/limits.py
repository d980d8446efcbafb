"""Load limits: the per-client token bucket and the streaming upload size guard."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RateLimiter:
    """A token bucket per client key, in memory.

    The number of buckets is capped (least recently seen evicted first), so a flood of
    distinct addresses cannot grow memory without bound.
    """

    def __init__(self, per_minute: float, burst: int, *, max_clients: int = 10_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(burst, 1))
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token for `key`: 0.0 when allowed, else seconds until a token is due."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate if self.rate > 0 else 60.0
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"The upload is larger than the limit of {limit // (1024 * 1024)} MB."
        )


class BodyLimitMiddleware:
    """Refuse a request body over `limit` bytes while it streams in.

    A declared Content-Length over the limit is refused before any byte is read; a body that
    streams past it (chunked, or a lying header) stops the read at that point, so an upload
    never costs more than `limit` bytes of memory or disk.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Multipart framing adds a little around the file itself.
        allowed = self.limit + 64 * 1024
        declared = _content_length(scope)
        if declared is not None and declared > allowed:
            await _send_413(send, self.limit)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > allowed:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send: Send, limit: int) -> None:
    import json

    body = json.dumps(error_body("too_large", BodyTooLarge(limit).detail)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class BodyTimeoutMiddleware:
    """Deadlines on reading a request body, so that a slow client cannot hold a connection.

    Each read must bring data within `idle` seconds, and after the first `grace` seconds the
    body must keep arriving at `min_rate` bytes per second on average (a 100 MB upload over a
    slow newsroom link is fine; one byte a second is not). A late body ends with 408
    `timeout`; what was read is discarded by the route's own clean-up.
    """

    def __init__(
        self, app: ASGIApp, *, idle: float = 30.0, grace: float = 30.0, min_rate: float = 8192
    ) -> None:
        self.app = app
        self.idle = idle
        self.grace = grace
        self.min_rate = min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        import asyncio

        start = time.monotonic()
        seen = 0

        async def timed() -> Message:
            nonlocal seen
            try:
                message = await asyncio.wait_for(receive(), self.idle)
            except TimeoutError:
                raise BodyTimeout(f"No data for {self.idle:g} s.") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                elapsed = time.monotonic() - start
                slow = elapsed > self.grace and seen / elapsed < self.min_rate
                if message.get("more_body") and slow:
                    raise BodyTimeout(
                        f"The body arrives at {seen / elapsed:.0f} bytes/s, under the "
                        f"minimum of {self.min_rate:g}."
                    )
            return message

        await self.app(scope, timed, send)


class BodyTimeout(HTTPException):
    def __init__(self, why: str) -> None:
        super().__init__(408, f"The request body was too slow: {why}", {"Connection": "close"})
