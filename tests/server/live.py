"""A real desk for the tests and the benchmark: `photoloupe serve` in its own process group
(so that `kill -9` takes its workers with it), and the upload batches they send.

Over loopback only, on a free port, with a temporary `--data` folder.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.test_hostile import encode, jpeg_cut_at_sos_marker, jpeg_with_sof, picture, zero_png

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
Item = tuple[str, bytes, bool]  # file name, content, whether it is a readable picture


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DeskProcess:
    """`photoloupe serve` as a child process; `start()` again after `kill()` on the same
    data folder and database is a restart."""

    def __init__(self, data: Path, db_url: str | None = None, *, workers: int = 2) -> None:
        self.data = data
        self.db_url = db_url
        self.workers = workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data.parent / f"{data.name}-server.log"

    def start(self, timeout: float = 120.0) -> None:
        cmd = [
            sys.executable, "-m", "photoloupe.cli", "serve", "--port", str(self.port),
            "--data", str(self.data), "--workers", str(self.workers), "--rate", "600000",
        ]  # fmt: skip
        if self.db_url:
            cmd += ["--db", self.db_url]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=log, start_new_session=True, cwd=ROOT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the desk exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the desk did not start")

    def kill(self) -> None:
        """`kill -9` the server and its worker processes at once."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.kill()

    def rss_bytes(self) -> int:
        """Resident memory of the server process and its workers, from /proc."""
        if self.proc is None or self.proc.poll() is not None:
            return 0
        return sum(_rss(pid) for pid in _tree(self.proc.pid))

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.base}/api/v1/health", timeout=10).json()
        return body


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def good_pictures(count: int, offset: int = 0) -> list[Item]:
    """`count` distinct small pictures (JPEG and PNG), quick to analyse."""
    items: list[Item] = []
    for n in range(offset, offset + count):
        img = picture(n, (320 + 8 * (n % 5), 240))
        if n % 4 == 3:
            items.append((f"synthetic-{n}.png", encode(img, "PNG"), True))
        else:
            items.append((f"synthetic-{n}.jpg", encode(img, "JPEG", quality=85 + n % 10), True))
    return items


def hostile_files(count: int, seed: int = 0) -> list[Item]:
    """Files that are not readable pictures, of every kind the intake or a worker refuses:
    random bytes, empty, a 4-gigapixel PNG header, a 65500² JPEG header, a JPEG cut at its
    scan, a truncated photo, a PDF."""
    harbour = (EXAMPLES / "harbour.jpg").read_bytes()
    kinds = [
        ("empty.png", b""),
        ("huge.png", zero_png(65535, 65535)),
        ("huge-sof.jpg", jpeg_with_sof(65500, 65500)),
        ("no-scan.jpg", jpeg_cut_at_sos_marker()),
        ("truncated.jpg", harbour[: len(harbour) // 3]),
        ("document.jpg", b"%PDF-1.4\n" + bytes(2000)),
    ]
    items: list[Item] = []
    for n in range(count):
        if n % 7 == 6:
            rng = random.Random(seed * 1000 + n)
            items.append((f"random-{n}.jpg", rng.randbytes(3000 + 97 * n), False))
        else:
            name, data = kinds[n % len(kinds)]
            items.append((name, data, False))
    return items


def interleave(items: list[Item]) -> list[Item]:
    """The same items, good and hostile mixed (a fixed permutation)."""
    n = len(items)
    step = next(s for s in (7, 11, 13, 17) if n % s)
    return [items[(i * step) % n] for i in range(n)]


def follow(base: str, job: dict[str, Any], timeout: float = 600.0) -> dict[str, Any]:
    """Ask for a job until it is done or failed; the last answer's body."""
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(f"{base}{job['location']}", params={"wait": 30}, timeout=60)
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        if body["job"]["state"] in ("done", "failed") or time.monotonic() > deadline:
            return body
