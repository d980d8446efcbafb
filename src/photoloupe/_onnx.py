"""One way to start an onnxruntime session for the shipped networks: on the CPU, with a fixed
number of threads, quiet.

>>> cpu_session.__name__
'cpu_session'
"""

from __future__ import annotations

from typing import Any


def cpu_session(onnx_bytes: bytes, threads: int = 2) -> Any:
    """An `onnxruntime.InferenceSession` of `onnx_bytes` on the CPU execution provider, with
    `threads` intra-op threads and one inter-op thread (the pipeline runs one picture at a
    time per process; parallelism across pictures comes from worker processes)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(
        onnx_bytes, sess_options=options, providers=["CPUExecutionProvider"]
    )
