"""Command line: a thin layer over `photoloupe.check`.

Exit codes: 0 done, 2 usage error, 3 at least one input could not be analysed (its JSON line
says why; an internal error on one file counts here too), 1 an internal error outside any file.
Never a traceback, unless PHOTOLOUPE_DEBUG=1.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from photoloupe._version import __version__
from photoloupe.errors import PhotoloupeError
from photoloupe.i18n import LANGS, t
from photoloupe.io import display_path
from photoloupe.pipeline import Options
from photoloupe.pipeline import check as run_check
from photoloupe.report.images import write_maps
from photoloupe.schema.report import SCHEMA_ID, ErrorBody, ErrorReport, Report

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INPUT = 0, 1, 2, 3

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="photoloupe: offline image verification (provenance, AI-generation and edit evidence).",
    pretty_exceptions_enable=False,
)
stderr = Console(stderr=True)
TRUST_ANCHORS_OPTION = typer.Option(
    "--trust-anchors",
    help="PEM file of root certificates to trust for Content Credentials (C2PA).",
    exists=True,
    dir_okay=False,
    readable=True,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"photoloupe {__version__} ({SCHEMA_ID})")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Examine images offline and report evidence, never verdicts of 'fake' or 'real'."""


@app.command("check")
def check_command(
    images: Annotated[
        list[Path], typer.Argument(help="Image files to examine.", show_default=False)
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON report per line.")
    ] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write a self-contained HTML report here.")
    ] = None,
    maps: Annotated[
        Path | None,
        typer.Option("--maps", help="Write every analysis map as PNG into this folder."),
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Language of human output: en or ar.")] = "en",
    trust_anchors: Annotated[Path | None, TRUST_ANCHORS_OPTION] = None,
) -> None:
    """Examine IMAGE files and report what they show about their origin."""
    if lang not in LANGS:
        stderr.print(f"--lang must be one of: {', '.join(LANGS)}")
        raise typer.Exit(EXIT_USAGE)
    options = _options(trust_anchors, preview=html is not None)
    reports: list[Report] = []  # kept only for the HTML page
    failed = False
    for image in images:
        try:
            report = run_check(image, options=options)
        except PhotoloupeError as exc:
            failed = True
            _emit_error(str(image), exc.code, exc.message, as_json=as_json)
            continue
        except Exception as exc:  # a bug: say so plainly, keep going with the other files
            if os.environ.get("PHOTOLOUPE_DEBUG"):
                raise
            failed = True
            _emit_error(
                str(image), "internal_error", f"{type(exc).__name__}: {exc}", as_json=as_json
            )
            continue
        if maps is not None:
            write_maps(report, maps)
        if html is not None:
            reports.append(report)
        if as_json:
            typer.echo(report.to_json())
        else:
            _print_summary(report, lang)
    if html is not None and reports:
        from photoloupe.report.html import render_html_document

        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_html_document(reports, lang), encoding="utf-8")
        if not as_json:
            stderr.print(f"HTML report written to {html}")
    raise typer.Exit(EXIT_INPUT if failed else EXIT_OK)


@app.command("scan")
def scan_command(
    directory: Annotated[Path, typer.Argument(help="Folder to examine, recursively.")],
    out: Annotated[
        Path, typer.Option("--out", help="JSON-lines file; appended to, never overwritten.")
    ],
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="Parallel processes.")
    ] = 1,
    trust_anchors: Annotated[Path | None, TRUST_ANCHORS_OPTION] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Triage: provenance and AI detection only, without edit localisation "
            "(several times faster; the reports say editing was not checked).",
        ),
    ] = False,
) -> None:
    """Examine every file under DIRECTORY, one JSON line each; resumable."""
    if not directory.is_dir():
        stderr.print(f"Not a folder: {directory}")
        raise typer.Exit(EXIT_USAGE)
    options = replace(_options(trust_anchors, preview=False), localise=not quick)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        sink = out.open("a", encoding="utf-8")
    except OSError as exc:
        stderr.print(f"Cannot write the results to {out}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_USAGE) from None
    done = already_scanned(out)
    out_resolved = out.resolve()
    todo = [
        p
        for p in iter_files(directory)
        if display_path(p) not in done and Path(p).resolve() != out_resolved
    ]
    skipped = len(done)
    errors = 0
    with sink, _progress() as progress:
        if out.stat().st_size and not _ends_with_newline(out):
            sink.write("\n")  # the previous run died mid-line; start clean
        task = progress.add_task("scanning", total=len(todo))
        for line, is_error in _scan_lines(todo, workers, options):
            sink.write(line + "\n")
            sink.flush()
            errors += is_error
            progress.advance(task)
    stderr.print(
        f"{len(todo)} files examined ({errors} could not be analysed); "
        f"{skipped} already in {out} were skipped."
    )
    raise typer.Exit(EXIT_OK)


@app.command("compare")
def compare_command(
    original: Annotated[Path, typer.Argument(help="The file claimed to be the original.")],
    suspect: Annotated[Path, typer.Argument(help="The copy to compare with it.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write a self-contained HTML view here.")
    ] = None,
    maps: Annotated[
        Path | None, typer.Option("--maps", help="Write the changed map as PNG into this folder.")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Language of human output: en or ar.")] = "en",
) -> None:
    """Compare SUSPECT with ORIGINAL: same picture, edited, same scene or unrelated."""
    from photoloupe.compare import compare, write_changed_map
    from photoloupe.schema.compare import COMPARE_SCHEMA_ID

    if lang not in LANGS:
        stderr.print(f"--lang must be one of: {', '.join(LANGS)}")
        raise typer.Exit(EXIT_USAGE)
    try:
        result = compare(original, suspect)
    except Exception as exc:  # an unreadable input, or a bug: a JSON error, never a traceback
        if not isinstance(exc, PhotoloupeError) and os.environ.get("PHOTOLOUPE_DEBUG"):
            raise
        role = exc.input if isinstance(exc, PhotoloupeError) else None
        path = display_path(str(original if role == "original" else suspect)) if role else None
        if isinstance(exc, PhotoloupeError):
            body = {"code": exc.code, "message": exc.message}
        else:
            body = {"code": "internal_error", "message": f"{type(exc).__name__}: {exc}"}
        line = {"schema": COMPARE_SCHEMA_ID, "input": role, "path": path, "error": body}
        if as_json:
            typer.echo(json.dumps(line, ensure_ascii=False))
        else:
            shown = f"[bold red]{body['message']}[/] [dim]({body['code']})[/]"
            stderr.print(shown, highlight=False)
        raise typer.Exit(EXIT_INPUT) from None
    if maps is not None:
        write_changed_map(result, maps)
    if html is not None:
        from photoloupe.report.compare_html import render_compare_html

        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_compare_html(result, lang), encoding="utf-8")
        if not as_json:
            stderr.print(f"HTML view written to {html}")
    if as_json:
        typer.echo(result.to_json())
    else:
        console = Console()
        label = t(f"compare.relation.{result.relation}", lang)
        console.print(f"[bold]{label}[/]  ({result.confidence:.2f})", highlight=False)
        console.print(result.summary_ar if lang == "ar" else result.summary, highlight=False)
    raise typer.Exit(EXIT_OK)


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8000,
    data: Annotated[
        Path, typer.Option("--data", help="Folder for uploads, pages and the database.")
    ] = Path("photoloupe-data"),
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="sqlite:///path or postgresql://... (default: SQLite under --data)."
        ),
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="Require 'Authorization: Bearer TOKEN'.")
    ] = None,
    max_upload_mb: Annotated[
        int, typer.Option("--max-upload-mb", min=1, help="Largest upload accepted.")
    ] = 100,
    rate: Annotated[
        float, typer.Option("--rate", min=0.1, help="Requests per minute per client address.")
    ] = 60.0,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="Analyses running at once.")
    ] = 2,
) -> None:
    """Run the newsroom desk: a web page and a REST API (see docs/server.md)."""
    import uvicorn

    from photoloupe.server import ServerConfig, create_app
    from photoloupe.server.storage import UnsupportedDatabase

    config = ServerConfig(
        data_dir=data,
        db_url=db,
        token=token or None,
        max_upload_bytes=max_upload_mb * 1024 * 1024,
        rate_per_minute=rate,
        workers=workers,
    )
    try:
        server_app = create_app(config)
    except UnsupportedDatabase as exc:
        stderr.print(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    except OSError as exc:
        stderr.print(f"Cannot use the data folder {data}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_USAGE) from None
    uvicorn.run(server_app, host=host, port=port, log_level="info")
    raise typer.Exit(EXIT_OK)


def _options(trust_anchors: Path | None, *, preview: bool) -> Options:
    if trust_anchors is None:
        return Options(preview=preview)
    try:
        pem = trust_anchors.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        stderr.print(f"The trust anchors cannot be read: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    return Options(trust_anchors_pem=pem, preview=preview)


def check_to_line(path: str, options: Options | None = None) -> tuple[str, bool]:
    """One scan line for `path` (its report, or its error) and whether it is an error.

    Runs in worker processes, so it returns text rather than objects.
    """
    try:
        return run_check(path, options=options).to_json(), False
    except PhotoloupeError as exc:
        return _error_json(path, exc.code, exc.message), True
    except Exception as exc:  # a bug in one file must not stop the scan
        return _error_json(path, "internal_error", f"{type(exc).__name__}: {exc}"), True


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


def _scan_lines(paths: Sequence[str], workers: int, options: Options) -> Iterator[tuple[str, bool]]:
    if workers == 1 or len(paths) <= 1:
        for path in paths:
            yield check_to_line(path, options)
        return
    queue = iter(paths)
    while True:
        # A worker that dies (a decoder crash, the kernel's OOM killer) breaks the whole pool:
        # the files in flight get an error line and a fresh pool takes the rest.
        crashed = yield from _scan_with_pool(queue, workers, options)
        if not crashed:
            return
        for path in crashed:
            message = "The process examining this file stopped unexpectedly."
            yield _error_json(display_path(path), "worker_crashed", message), True


def _scan_with_pool(
    queue: Iterator[str], workers: int, options: Options
) -> Generator[tuple[str, bool], None, list[str]]:
    """Scan from `queue` until it is empty (returns []) or the pool breaks (returns the paths
    that were in flight)."""
    # Bounded submission keeps memory flat however large the folder is.
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: dict[Future[tuple[str, bool]], str] = {}
        for path in queue:
            pending[pool.submit(check_to_line, path, options)] = path
            if len(pending) >= workers * 2:
                break
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                path = pending.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    return [path, *pending.values()]
                yield result
                nxt = next(queue, None)
                if nxt is not None:
                    try:
                        pending[pool.submit(check_to_line, nxt, options)] = nxt
                    except BrokenProcessPool:
                        return [nxt, *pending.values()]
    return []


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=False,
    )


def _error_json(path: str | None, code: str, message: str) -> str:
    path = display_path(path) if path is not None else None
    return ErrorReport(path=path, error=ErrorBody(code=code, message=message)).model_dump_json(
        by_alias=True
    )


def _emit_error(path: str, code: str, message: str, *, as_json: bool) -> None:
    if as_json:
        typer.echo(_error_json(path, code, message))
    else:
        shown = display_path(path)
        stderr.print(f"[bold red]{shown}[/]: {message} [dim]({code})[/]", highlight=False)


def _print_summary(report: Report, lang: str) -> None:
    console = Console()
    label = t(f"verdict.label.{report.verdict.label}", lang)
    summary = report.verdict.summary_ar if lang == "ar" else report.verdict.summary
    colour = {"ai-generated": "magenta", "edited": "yellow", "inconclusive": "cyan"}.get(
        report.verdict.label, "green"
    )
    console.print(f"[bold]{report.file.name}[/]  [{colour} bold]{label}[/]", highlight=False)
    console.print(summary, highlight=False)
    console.print()


def main(argv: Sequence[str] | None = None) -> Any:
    """Entry point of the `photoloupe` command."""
    try:
        return app(args=list(argv) if argv is not None else None, prog_name="photoloupe")
    except SystemExit:
        raise
    except Exception as exc:  # last line of defence against a traceback
        if os.environ.get("PHOTOLOUPE_DEBUG"):
            raise
        sys.stdout.write(_error_json(None, "internal_error", f"{type(exc).__name__}: {exc}") + "\n")
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
