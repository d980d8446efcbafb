"""The Ray engine (`photoloupe.cluster`): `photoloupe scan --ray` on a real cluster of two
nodes (`ray start --head` and `ray start --address` on this machine, loopback only), and
`RayRun` on a throw-away local cluster.

Each cluster is stopped at the end of its test, even when the test fails. Without Ray (the
`cluster` extra) these tests skip, except in CI, where they fail.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from photoloupe.cluster import RayOptions, RayRun
from tests.server.live import free_port, good_pictures, hostile_files

RAY = Path(sys.executable).parent / "ray"
VOLATILE = ("created", "timings_ms")
# A loopback address Ray keeps as it is: it replaces 127.0.0.1 by the machine's own address
# (whose packets would still stay on this host, but the nodes would listen on eth0).
NODE_IP = "127.0.0.2"


def _need_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must run the cluster tests: install photoloupe[cluster]")
        pytest.skip("ray is not installed (pip install 'photoloupe[cluster]')")


@dataclass(frozen=True)
class Cluster:
    address: str
    env: dict[str, str]  # what a driver needs to be let in (Ray's token authentication)


def _ports() -> list[str]:
    return [
        f"--node-manager-port={free_port()}", f"--object-manager-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
        f"--metrics-export-port={free_port()}",
    ]  # fmt: skip


@contextmanager
def ray_cluster(nodes: int = 2) -> Iterator[Cluster]:
    """A head node and `nodes - 1` worker nodes, one CPU each, started with `ray start`."""
    _need_ray()
    temp = Path(tempfile.mkdtemp(prefix="plray-", dir="/tmp"))  # short: Ray's sockets live here
    address = f"{NODE_IP}:{free_port()}"
    # Ray turns token authentication on for a new cluster; a token of this test's own keeps it
    # on, and marks every process of this cluster (it is in their environment).
    token = secrets.token_hex(32)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": token}  # fmt: skip
    common = ["--block", "--num-cpus=1", "--disable-usage-stats", f"--node-ip-address={NODE_IP}"]
    procs: list[subprocess.Popen[bytes]] = []
    log = open(temp / "cluster.log", "ab")  # noqa: SIM115 - closed in finally
    try:
        head = [
            str(RAY), "start", "--head", f"--port={address.rsplit(':', 1)[1]}",
            "--include-dashboard=false", f"--ray-client-server-port={free_port()}",
            f"--temp-dir={temp}", *common, *_ports(),
        ]  # fmt: skip
        procs.append(
            subprocess.Popen(head, env=env, stdout=log, stderr=log, start_new_session=True)
        )
        _wait_for(address, 1, env, temp)
        for _ in range(nodes - 1):
            node = [str(RAY), "start", f"--address={address}", *common, *_ports()]
            procs.append(
                subprocess.Popen(node, env=env, stdout=log, stderr=log, start_new_session=True)
            )
        _wait_for(address, nodes, env, temp)
        yield Cluster(address, env)
    finally:
        for proc in reversed(procs):
            with _quiet():
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with _quiet():
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        _kill_processes_of(token)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def _quiet() -> suppress[BaseException]:
    return suppress(ProcessLookupError, PermissionError)


def _wait_for(address: str, nodes: int, env: dict[str, str], temp: Path) -> None:
    probe = (
        "import ray, sys, time\n"
        f"ray.init(address={address!r}, log_to_driver=False, logging_level='ERROR')\n"
        "deadline = time.time() + 90\n"
        f"while sum(n['Alive'] for n in ray.nodes()) < {nodes}:\n"
        "    assert time.time() < deadline, 'nodes did not join'\n"
        "    time.sleep(0.5)\n"
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            done = subprocess.run(
                [sys.executable, "-c", probe], capture_output=True, timeout=120, env=env
            )
        except subprocess.TimeoutExpired as exc:
            done = subprocess.CompletedProcess(exc.cmd, 1, b"", exc.stderr or b"timed out")
        if done.returncode == 0:
            return
        if time.monotonic() > deadline:
            log = (temp / "cluster.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the Ray cluster did not start: {done.stderr[-2000:]!r}\n{log}")
        time.sleep(1)


def _processes_of(token: str) -> Iterator[tuple[int, bytes]]:
    """(pid, command line) of the processes of the cluster whose token is `token`."""
    mark = f"RAY_AUTH_TOKEN={token}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark in (entry / "environ").read_bytes().split(b"\0"):
                yield int(entry.name), (entry / "cmdline").read_bytes()
        except OSError:
            continue


def _kill_processes_of(token: str) -> None:
    for pid, _ in list(_processes_of(token)):
        with _quiet():
            os.kill(pid, signal.SIGKILL)


def mixed_folder(folder: Path, good: int, bad: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for n, (name, data, _) in enumerate(good_pictures(good) + hostile_files(bad)):
        path = folder / f"{n:03d}-{name}"
        path.write_bytes(data)
        names.append(str(path))
    return names


def lines_by_path(out: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    counts: Counter[str] = Counter()
    for line in out.read_text().splitlines():
        record = json.loads(line)
        counts[record["path"]] += 1
        for key in VOLATILE:  # when it ran and how long it took
            record.pop(key, None)
        found[record["path"]] = record
    assert max(counts.values()) == 1, [p for p, n in counts.items() if n > 1]
    return found


def photoloupe_scan(
    folder: Path, out: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`photoloupe scan FOLDER --out OUT --quick ...` as a user runs it."""
    command = [sys.executable, "-m", "photoloupe.cli", "scan", str(folder), "--out", str(out)]
    return subprocess.run(
        [*command, "--quick", *extra], capture_output=True, text=True, env=env, timeout=900
    )


NODE_LINE = re.compile(r"node \S+ \((\w+)\): (\d+) files by (\d+) worker processes")


def test_a_scan_on_two_nodes_writes_the_lines_a_local_scan_writes(tmp_path: Path) -> None:
    _need_ray()
    folder = tmp_path / "in"
    paths = mixed_folder(folder, 30, 10)
    local = tmp_path / "local.jsonl"
    assert photoloupe_scan(folder, local, "--workers", "2").returncode == 0
    expected = lines_by_path(local)
    assert sorted(expected) == sorted(paths) and len(expected) == 40
    assert sum("error" in r for r in expected.values()) == 10
    with ray_cluster(nodes=2) as cluster:
        shared = tmp_path / "ray.jsonl"
        done = photoloupe_scan(folder, shared, "--ray", cluster.address, env=cluster.env)
        assert done.returncode == 0, done.stderr[-3000:]
        shipped = tmp_path / "shipped.jsonl"
        sent = photoloupe_scan(
            folder, shipped, "--ray", cluster.address, "--ship-bytes", env=cluster.env
        )
        assert sent.returncode == 0, sent.stderr[-3000:]
        again = photoloupe_scan(folder, shared, "--ray", cluster.address, env=cluster.env)
    assert lines_by_path(shared) == expected
    assert lines_by_path(shipped) == expected
    # Both nodes took part, and each says what it did.
    nodes = NODE_LINE.findall(done.stdout + done.stderr)
    assert len({node for node, _, _ in nodes}) == 2, done.stderr
    assert sum(int(items) for _, items, _ in nodes) == 40
    # Resumable: a second run finds every path done and writes nothing.
    assert again.returncode == 0 and "0 files examined" in again.stderr
    assert "40 already in" in again.stderr
    assert len(shared.read_text().splitlines()) == 40


def test_a_worker_killed_mid_scan_costs_a_retry_not_a_line(tmp_path: Path) -> None:
    _need_ray()
    folder = tmp_path / "in"
    paths = mixed_folder(folder, 24, 4)
    out = tmp_path / "ray.jsonl"
    killed: list[int] = []
    with ray_cluster(nodes=2) as cluster:
        command = [sys.executable, "-m", "photoloupe.cli", "scan", str(folder), "--out",
                   str(out), "--quick", "--ray", cluster.address]  # fmt: skip
        token = cluster.env["RAY_AUTH_TOKEN"]
        with subprocess.Popen(
            command, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        ) as scan:
            deadline = time.monotonic() + 300
            while not killed and time.monotonic() < deadline and scan.poll() is None:
                lines = out.read_text().count("\n") if out.exists() else 0
                busy = [
                    pid for pid, cmd in _processes_of(token) if cmd.startswith(b"ray::_run_batch")
                ]
                if lines >= 4 and busy:
                    os.kill(busy[0], signal.SIGKILL)
                    killed.append(busy[0])
                time.sleep(0.1)
            printed, _ = scan.communicate(timeout=600)
        assert scan.returncode == 0, printed[-3000:]
    assert killed, "no worker was running a batch to kill"
    found = lines_by_path(out)  # asserts every path at most once
    assert sorted(found) == sorted(paths)
    # The killed worker's batch was retried: its pictures have reports, not error lines.
    assert sum("error" in r for r in found.values()) == 4


def test_a_picture_that_kills_every_worker_becomes_an_error_line() -> None:
    _need_ray()
    from ray import cloudpickle

    # The test's function travels by value: Ray's workers need not import the tests.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with RayRun(RayOptions("local", workers=1, batch_size=3, max_tries=2)) as run:
        results = dict(run.imap_unordered(_die_on_seven, range(10)))
    from photoloupe._pool import CRASHED

    assert results[7] is CRASHED
    assert {k: v for k, v in results.items() if k != 7} == {k: k * k for k in range(10) if k != 7}


def _die_on_seven(n: int) -> int:
    if n == 7:
        os._exit(1)  # the worker process dies, as a native decoder crash would
    return n * n


def test_a_cluster_worker_runs_its_networks_on_the_cpus_its_task_was_given() -> None:
    # A Ray worker is no multiprocessing child: without the hint, each of two workers on two
    # cores ran two onnxruntime threads, and the pair was slower than one worker alone.
    _need_ray()
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with RayRun(RayOptions("local", workers=2, batch_size=1)) as run:
        threads = dict(run.imap_unordered(_threads_in_worker, range(4)))
    assert threads == dict.fromkeys(range(4), 1)


def _threads_in_worker(_: int) -> int:
    from photoloupe._onnx import default_threads

    return default_threads()
