"""One way to start an onnxruntime session for the shipped networks: on the CPU, with a fixed
number of threads, quiet.

>>> cpu_session.__name__
'cpu_session'
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

# Set by whoever runs photoloupe inside its own workers (a Ray task sets it to its CPUs).
THREADS_ENV = "PHOTOLOUPE_THREADS"


def default_threads() -> int:
    """The threads one network may use in this process. Parallelism across pictures comes from
    worker processes, so a worker uses one thread (or `PHOTOLOUPE_THREADS`, which a cluster
    worker sets to the CPUs it was given); a process alone uses two, at most the machine's.

    >>> os.environ[THREADS_ENV] = "3"; default_threads()
    3
    >>> del os.environ[THREADS_ENV]
    """
    value = os.environ.get(THREADS_ENV, "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    if multiprocessing.parent_process() is not None:
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def cpu_session(onnx_bytes: bytes, threads: int | None = None) -> Any:
    """An `onnxruntime.InferenceSession` of `onnx_bytes` on the CPU execution provider, with
    `threads` intra-op threads (by default `default_threads()`) and one inter-op thread (the
    pipeline runs one picture at a time per process)."""
    import onnxruntime as ort

    threads = threads or default_threads()

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(
        onnx_bytes, sess_options=options, providers=["CPUExecutionProvider"]
    )
