"""The scan engine: every file under a folder checked into a JSON-lines file, resumable.

`scan` is the library's batch entry point (the CLI's `scan` is a thin layer over it). Each line
is one report or one error, written and flushed as it completes; files that already have a
complete line are skipped on the next run, except those whose error said nothing about the
file (a timeout, a crashed worker), which are tried again. Local worker processes run the
checks, or, with `ray=RayOptions(...)`, the workers of a Ray cluster (`photoloupe.cluster`),
which write exactly the same lines; a worker that dies costs only the files it held.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as tmp:
...     out = pathlib.Path(tmp) / "scan.jsonl"
...     summary = scan("examples", out, options=Options(localise=False, preview=False))
...     again = scan("examples", out)
>>> summary.examined >= 4, summary.skipped, again.examined, again.skipped == summary.examined
(True, 0, 0, True)
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from photoloupe.cluster import RayOptions, RayRun, Shipped

from photoloupe._pool import Crashed, imap_unordered
from photoloupe.errors import PhotoloupeError
from photoloupe.io import display_path
from photoloupe.pipeline import Options
from photoloupe.pipeline import check as run_check
from photoloupe.schema.report import ErrorBody, ErrorReport

__all__ = ["RETRY_CODES", "ScanSummary", "already_scanned", "check_to_line", "iter_files", "scan"]


@dataclass(frozen=True)
class ScanSummary:
    """What one scan run did: files examined now, of which could not be analysed, and files
    skipped because an earlier run had already written their line."""

    examined: int
    errors: int
    skipped: int
    # With Ray: per node, what it did (`RayRun.throughput`); empty for a local scan.
    nodes: tuple[dict[str, Any], ...] = ()


def scan(
    directory: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    workers: int = 1,
    options: Options | None = None,
    on_start: Callable[[int], None] | None = None,
    on_line: Callable[[bool], None] | None = None,
    ray: RayOptions | None = None,
) -> ScanSummary:
    """Check every file under `directory` into the JSON-lines file `out` (appended to).

    `on_start(total)` is called once with the number of files to examine, `on_line(is_error)`
    after each line is written (for a progress display). With `ray`, the checks run on that
    Ray cluster. Raises `OSError` when `out` cannot be written, and
    `photoloupe.cluster.ClusterUnavailable` when Ray is missing or the cluster unreachable.
    """
    folder, sink_path = Path(directory), Path(out)
    options = options or Options(preview=False)
    sink_path.parent.mkdir(parents=True, exist_ok=True)
    if ray is not None:
        from photoloupe.cluster import RayRun

        engine: Any = RayRun(ray)
    else:
        engine = nullcontext()
    with engine, sink_path.open("a", encoding="utf-8") as sink:
        done = already_scanned(sink_path)
        out_resolved = sink_path.resolve()
        todo = [
            p
            for p in iter_files(folder)
            if display_path(p) not in done and Path(p).resolve() != out_resolved
        ]
        if on_start is not None:
            on_start(len(todo))
        if sink_path.stat().st_size and not _ends_with_newline(sink_path):
            sink.write("\n")  # the previous run died mid-line; start clean
        errors = 0
        run = engine if ray is not None else None
        for line, is_error in scan_lines(todo, workers, options, run=run):
            sink.write(line + "\n")
            sink.flush()
            errors += is_error
            if on_line is not None:
                on_line(is_error)
        nodes = tuple(run.throughput()) if run is not None else ()
    return ScanSummary(examined=len(todo), errors=errors, skipped=len(done), nodes=nodes)


def check_to_line(path: str, options: Options | None = None) -> tuple[str, bool]:
    """One scan line for `path` (its report, or its error) and whether it is an error.

    Runs in worker processes, so it returns text rather than objects.
    """
    try:
        return run_check(path, options=options).to_json(), False
    except PhotoloupeError as exc:
        return error_json(path, exc.code, exc.message), True
    except Exception as exc:  # a bug in one file must not stop the scan
        return error_json(path, "internal_error", f"{type(exc).__name__}: {exc}"), True


@dataclass(frozen=True)
class Located:
    """A path to check on a cluster node: as the report shows it, and absolute (a node's
    working folder is not the driver's)."""

    path: str
    at: str


def check_located_to_line(item: Located, options: Options | None = None) -> tuple[str, bool]:
    """`check_to_line` for a cluster worker, on a filesystem every node sees."""
    return _line_for(item.path, lambda: run_check(item.at, options=options))


def check_shipped_to_line(item: Shipped, options: Options | None = None) -> tuple[str, bool]:
    """`check_to_line` for a file whose bytes were sent by the driver (`--ship-bytes`)."""
    if item.error is not None:
        return error_json(item.path, *item.error), True
    data = item.data or b""
    name = os.path.basename(item.path)
    return _line_for(item.path, lambda: run_check(data, name=name, options=options))


def _line_for(path: str, check: Callable[[], Any]) -> tuple[str, bool]:
    try:
        report = check()
    except PhotoloupeError as exc:
        return error_json(path, exc.code, exc.message), True
    except Exception as exc:  # a bug in one file must not stop the scan
        return error_json(path, "internal_error", f"{type(exc).__name__}: {exc}"), True
    return report.model_copy(update={"path": display_path(path)}).to_json(), False


def iter_files(directory: Path) -> Iterator[str]:
    """Every regular file under `directory`, in a stable order, hidden files excluded."""
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield os.path.normpath(os.path.join(root, name))


def already_scanned(out: Path) -> set[str]:
    """Paths that already have a complete line in `out` (a torn last line does not count)."""
    done: set[str] = set()
    if not out.exists():
        return done
    with out.open("r", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or not isinstance(record.get("path"), str):
                continue
            error = record.get("error")
            if isinstance(error, dict) and error.get("code") in RETRY_CODES:
                continue  # a passing condition: try this file again
            done.add(os.path.normpath(record["path"]))
    return done


# Error codes that say nothing about the file itself; a resumed scan tries those files again.
RETRY_CODES = frozenset(
    {"decode_timeout", "internal_error", "not_found", "out_of_memory", "worker_crashed"}
)


def scan_lines(
    paths: Sequence[str], workers: int, options: Options, *, run: RayRun | None = None
) -> Iterator[tuple[str, bool]]:
    message = "The process examining this file stopped unexpectedly."
    if run is not None:
        yield from _cluster_lines(paths, options, run, message)
        return
    work = functools.partial(check_to_line, options=options)
    for path, result in imap_unordered(work, paths, workers=workers if len(paths) > 1 else 1):
        if isinstance(result, Crashed):
            yield error_json(display_path(path), "worker_crashed", message), True
        else:
            yield result


def _cluster_lines(
    paths: Sequence[str], options: Options, run: RayRun, message: str
) -> Iterator[tuple[str, bool]]:
    from photoloupe.cluster import ship

    items: Iterator[Any]
    if run.options.ship_bytes:
        work: Callable[[Any], tuple[str, bool]] = functools.partial(
            check_shipped_to_line, options=options
        )
        items = (ship(p, options.limits) for p in paths)  # read lazily: memory stays flat
    else:
        work = functools.partial(check_located_to_line, options=options)
        items = (Located(p, os.path.abspath(p)) for p in paths)
    for item, result in run.imap_unordered(work, items):
        if isinstance(result, Crashed):
            yield error_json(item.path, "worker_crashed", message), True
        else:
            yield result


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def error_json(path: str | None, code: str, message: str) -> str:
    path = display_path(path) if path is not None else None
    return ErrorReport(path=path, error=ErrorBody(code=code, message=message)).model_dump_json(
        by_alias=True
    )
