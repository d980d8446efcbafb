"""The desk's HTTP/1.1 protocol: uvicorn's h11 protocol with a deadline on request headers.

uvicorn closes an idle kept-alive connection, but a client that sends its headers one byte a
second keeps a connection (and a file descriptor) for as long as it likes. Here the headers of
each request must be complete within `header_timeout` seconds of the connection opening or of
the previous answer; otherwise the connection is closed. The body has its own deadlines
(`limits.BodyTimeoutMiddleware`), since the application reads it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol


class HeaderDeadlineH11Protocol(H11Protocol):
    header_timeout: float = 20.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # the headers are in
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm()  # the next request's headers

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        self._header_deadline = None
        busy = self.cycle is not None and not self.cycle.response_complete
        if busy or self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.our_state is h11.IDLE:
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
        self.transport.close()


def protocol_class(header_timeout: float) -> type[HeaderDeadlineH11Protocol]:
    return type("DeskH11Protocol", (HeaderDeadlineH11Protocol,), {"header_timeout": header_timeout})


def uvicorn_config(
    app: Any, *, host: str, port: int, header_timeout: float, log_level: str = "info"
) -> uvicorn.Config:
    """How the desk is served, by `photoloupe serve` and by the tests alike."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=protocol_class(header_timeout),
        timeout_keep_alive=5,
        # The jobs queue is in the database, so a shutdown may drop connections quickly.
        timeout_graceful_shutdown=10,
    )
