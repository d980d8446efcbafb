"""Slow clients are cut off: headers or a body sent a byte at a time do not hold a connection.

A real uvicorn server (the desk's own protocol and middleware, `uvicorn_config`) on a free
loopback port, with deadlines of about a second so that the test is short. Sockets are raw, so
that the client can be as slow as it likes. Correctness only: a generous socket timeout bounds
each wait, and no duration is asserted.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from photoloupe.server import ServerConfig, create_app
from photoloupe.server.protocol import uvicorn_config
from tests.server.live import free_port


@pytest.fixture
def base(tmp_path: Path) -> Iterator[tuple[str, int]]:
    config = ServerConfig(
        data_dir=tmp_path,
        pool="thread",
        header_timeout=1.0,
        body_idle_timeout=1.0,
        body_grace=0.5,
        body_min_rate=1000.0,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn_config(
            create_app(config),
            host="127.0.0.1",
            port=port,
            header_timeout=config.header_timeout,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(30)


def trickle(address: tuple[str, int], head: bytes, drip: bytes) -> tuple[bytes, bool]:
    """Send `head`, then `drip` a byte every 0.2 s (for at most a minute) until the server
    closes the connection; what it sent back, and whether it did close."""
    with socket.create_connection(address, timeout=20) as sock:
        sock.sendall(head)
        sock.settimeout(0.2)
        received = b""
        for n in range(300):
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                try:
                    sock.sendall(drip[n % len(drip) : n % len(drip) + 1])
                except OSError:
                    return received, True  # closed under us
                continue
            except OSError:
                return received, True
            if not chunk:
                return received, True
            received += chunk
        return received, False


def test_headers_sent_a_byte_at_a_time_are_cut_off(base: tuple[str, int]) -> None:
    answer, closed = trickle(base, b"GET /api/v1/health HTTP/1.1\r\n", b"X-Slow: aaaaaaaa\r\n")
    assert closed and answer.startswith(b"HTTP/1.1 408"), answer[:200]
    # The desk still answers everyone else.
    host, port = base
    assert httpx.get(f"http://{host}:{port}/api/v1/health").status_code == 200


def test_a_body_sent_a_byte_at_a_time_gets_408(base: tuple[str, int], tmp_path: Path) -> None:
    head = (
        b"POST /api/v1/check HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: multipart/form-data; boundary=xx\r\nContent-Length: 100000\r\n\r\n"
        b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
    )
    answer, closed = trickle(base, head, b"\xff")
    assert closed
    status, _, rest = answer.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 408"), answer[:300]
    body = json.loads(rest.split(b"\r\n\r\n", 1)[1])
    assert body["error"]["code"] == "timeout"
    assert not any((tmp_path / "incoming").iterdir())  # nothing of it was kept


def test_a_body_that_stops_coming_gets_408(base: tuple[str, int]) -> None:
    head = (
        b"POST /api/v1/check HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: multipart/form-data; boundary=xx\r\nContent-Length: 5000\r\n\r\n--xx\r\n"
    )
    with socket.create_connection(base, timeout=20) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
