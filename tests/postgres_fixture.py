"""A throw-away PostgreSQL server for the tests, started from the machine's own binaries.

`postgres_server` (once per session) finds `initdb` and `pg_ctl` (on PATH, else under
/usr/lib/postgresql/<version>/bin), creates a cluster in a temporary folder with trust
authentication for the user `photoloupe`, starts it listening on a unix socket in that folder
only (no TCP port, nothing reachable from outside), and stops and deletes it afterwards.
`postgres_url` gives each test a fresh, empty database on that server.

PostgreSQL refuses to run as root; as root the cluster belongs to the `postgres` user (or
`nobody`) and is started through `runuser`. Without the binaries the tests that need them are
skipped locally and fail in CI (CI=true), where `.ci/run` installs Debian's `postgresql`.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

PORT = 5432  # only names the socket file, which lives in the cluster's private folder
USER = "photoloupe"


def find_bin_dir() -> Path | None:
    """The folder holding `initdb` and `pg_ctl`, newest Debian version first after PATH."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _as_owner(owner: str | None, argv: list[str]) -> list[str]:
    return ["runuser", "-u", owner, "--", *argv] if owner else argv


def _owner() -> str | None:
    """Who runs the server: ourselves, or (as root, which initdb refuses) an unprivileged user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return name
    pytest.fail("running as root and found neither runuser nor a postgres/nobody user")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A `postgresql://` URL for the `postgres` database of a private, throw-away server."""
    if find_bin_dir() is None:
        reason = "PostgreSQL binaries (initdb, pg_ctl) not found on PATH or /usr/lib/postgresql"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
        pytest.skip(reason)
    with throwaway_cluster(pytest.fail) as url:
        yield url


@contextmanager
def throwaway_cluster(fail: Callable[[str], Any]) -> Iterator[str]:
    """Start a private PostgreSQL server (see the module's text) and give its URL; `fail` is
    called with the reason when it cannot start (`pytest.fail` in tests, an exit in
    benchmarks)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        fail("PostgreSQL binaries (initdb, pg_ctl) not found on PATH or /usr/lib/postgresql")
        raise RuntimeError("no PostgreSQL")
    owner = _owner()
    # Short path: a unix socket's path must stay under about 100 bytes.
    root = Path(tempfile.mkdtemp(prefix="photoloupe-pg-", dir="/tmp"))
    data, log = root / "data", root / "server.log"
    if owner:
        entry = pwd.getpwnam(owner)
        os.chown(root, entry.pw_uid, entry.pw_gid)

    def run(*argv: str) -> None:
        cmd = _as_owner(owner, [str(bin_dir / argv[0]), *argv[1:]])
        done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            server_log = log.read_text(errors="replace") if log.exists() else ""
            fail(f"{argv[0]} failed: {done.stdout}{done.stderr}{server_log}"[-4000:])

    options = f"-k {root} -p {PORT} -c listen_addresses='' -c fsync=off -c max_connections=200"
    try:
        run("initdb", "-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync", "-D", str(data))
        run("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start")
        yield f"postgresql:///postgres?host={root}&port={PORT}&user={USER}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_owner(owner, [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                  "-w", "stop"]),
                cwd=root, capture_output=True, timeout=60, check=False,
            )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def with_database(url: str, name: str) -> str:
    return url.replace("/postgres?", f"/{name}?", 1)


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the test server (its URL), dropped afterwards."""
    import psycopg

    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the test server, dropped after the test."""
    with fresh_database(postgres_server) as url:
        yield url
