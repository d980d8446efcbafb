"""Command line: a thin layer over `photoloupe.check`.

Exit codes: 0 done, 2 usage error, 3 at least one input could not be analysed (its JSON line
says why; an internal error on one file counts here too), 1 an internal error outside any file.
Never a traceback, unless PHOTOLOUPE_DEBUG=1.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from photoloupe import batch
from photoloupe._version import __version__
from photoloupe.batch import error_json
from photoloupe.errors import PhotoloupeError
from photoloupe.i18n import LANGS, t
from photoloupe.io import display_path
from photoloupe.pipeline import Options
from photoloupe.pipeline import check as run_check
from photoloupe.report.images import write_maps
from photoloupe.schema.report import SCHEMA_ID, Report

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
    index: Annotated[
        Path | None,
        typer.Option("--index", help="Also search this archive index (see `photoloupe index`)."),
    ] = None,
) -> None:
    """Examine IMAGE files and report what they show about their origin."""
    if lang not in LANGS:
        stderr.print(f"--lang must be one of: {', '.join(LANGS)}")
        raise typer.Exit(EXIT_USAGE)
    options = _options(trust_anchors, preview=html is not None)
    if index is not None:
        _open_index(index, as_json=as_json).close()  # a bad index fails once, before any file
        options = replace(options, index=str(index))
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


RAY_OPTION = typer.Option(
    "--ray",
    metavar="ADDRESS",
    help="Run on a Ray cluster: its address (127.0.0.1:6379, ray://host:10001), or 'local' "
    "for a throw-away one here with --workers processes. Needs photoloupe\\[cluster].",
)
SHIP_BYTES_OPTION = typer.Option(
    "--ship-bytes",
    help="With --ray: read the files here and send their bytes to the workers (for nodes "
    "that do not share this filesystem).",
)


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
    ray: Annotated[str | None, RAY_OPTION] = None,
    ship_bytes: Annotated[bool, SHIP_BYTES_OPTION] = False,
) -> None:
    """Examine every file under DIRECTORY, one JSON line each; resumable."""
    if not directory.is_dir():
        stderr.print(f"Not a folder: {directory}")
        raise typer.Exit(EXIT_USAGE)
    options = replace(_options(trust_anchors, preview=False), localise=not quick)
    cluster = _ray_options(ray, workers, ship_bytes)
    with _progress() as progress:
        task = progress.add_task("scanning", total=None)
        try:
            summary = batch.scan(
                directory,
                out,
                workers=workers,
                options=options,
                on_start=lambda total: progress.update(task, total=total),
                on_line=lambda _: progress.advance(task),
                ray=cluster,
            )
        except OSError as exc:
            stderr.print(f"Cannot write the results to {out}: {exc.strerror or exc}")
            raise typer.Exit(EXIT_USAGE) from None
        except Exception as exc:
            _cluster_failed(exc)
            raise
    stderr.print(
        f"{summary.examined} files examined ({summary.errors} could not be analysed); "
        f"{summary.skipped} already in {out} were skipped."
    )
    _print_nodes(summary.nodes)
    raise typer.Exit(EXIT_OK)


def _ray_options(address: str | None, workers: int, ship_bytes: bool) -> Any:
    if address is None:
        if ship_bytes:
            stderr.print("--ship-bytes needs --ray.")
            raise typer.Exit(EXIT_USAGE)
        return None
    from photoloupe.cluster import RayOptions

    return RayOptions(address=address, workers=workers, ship_bytes=ship_bytes)


def _cluster_failed(exc: Exception) -> None:
    """A missing extra or an unreachable cluster: say so and exit 2 (anything else is raised
    again by the caller)."""
    from photoloupe.cluster import ClusterUnavailable

    if isinstance(exc, ClusterUnavailable):
        stderr.print(str(exc))
        raise typer.Exit(EXIT_USAGE) from None


def _print_nodes(nodes: Sequence[dict[str, Any]]) -> None:
    for node in nodes:
        stderr.print(
            f"  node {node['host']} ({node['node']}): {node['items']} files by "
            f"{node['workers']} worker processes, {node['busy_seconds']:.1f} s busy, "
            f"{node['items_per_second']:.2f} files/s, worker peak {node['worker_peak_rss_mib']} MiB"
        )


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


@app.command("index")
def index_command(
    archive_dirs: Annotated[
        list[Path], typer.Argument(help="Folders (or files) to index, recursively.")
    ],
    index: Annotated[Path, typer.Option("--index", help="The index folder (created if new).")],
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="Parallel processes.")
    ] = 1,
    prune: Annotated[
        bool, typer.Option("--prune", help="First drop entries whose files are gone.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print unreadable files and the summary as JSON.")
    ] = False,
    ray: Annotated[str | None, RAY_OPTION] = None,
    ship_bytes: Annotated[bool, SHIP_BYTES_OPTION] = False,
) -> None:
    """Index ARCHIVE_DIRS for `corroborate`: incremental, resumable, in parallel."""
    for folder in archive_dirs:
        if not folder.exists():
            stderr.print(f"Not found: {folder}")
            raise typer.Exit(EXIT_USAGE)
    cluster = _ray_options(ray, workers, ship_bytes)
    archive = _open_index(index, as_json=as_json, create=True)
    with archive, _progress() as progress:
        task = progress.add_task("indexing", total=None)

        def on_file(path: str, outcome: str) -> None:
            progress.advance(task)
            if outcome == "failed":
                failed_now.append(path)

        failed_now: list[str] = []
        try:
            summary = archive.add(
                archive_dirs, workers=workers, prune=prune,
                on_total=lambda total: progress.update(task, total=total), on_file=on_file,
                ray=cluster,
            )  # fmt: skip
        except Exception as exc:
            _cluster_failed(exc)
            raise
    failures = {p: (code, message) for p, code, message in summary.failures}
    for path in failed_now:
        code, message = failures.get(path, ("unreadable", "The file could not be read."))
        _emit_error(path, code, message, as_json=as_json)
    counts = {
        "added": summary.added, "duplicates": summary.duplicates, "skipped": summary.skipped,
        "failed": summary.failed, "not_pictures": summary.not_pictures,
        "pruned": summary.pruned, "total": summary.total,
    }  # fmt: skip
    if as_json:
        nodes = {"nodes": list(archive.nodes)} if archive.nodes else {}
        typer.echo(json.dumps({"index": str(index), **counts, **nodes}))
    else:
        stderr.print(
            f"{summary.added} pictures added, {summary.duplicates} duplicate files, "
            f"{summary.skipped} unchanged, {summary.failed} unreadable, {summary.not_pictures} "
            f"other files ignored, {summary.pruned} pruned; the index holds {summary.total}."
        )
        _print_nodes(archive.nodes)
    raise typer.Exit(EXIT_INPUT if failed_now else EXIT_OK)


@app.command("corroborate")
def corroborate_command(
    image: Annotated[Path, typer.Argument(help="The picture to look for.")],
    index: Annotated[Path, typer.Option("--index", help="The index folder to search.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write a self-contained HTML page here.")
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, max=100, help="Matches listed.")] = 10,
    lang: Annotated[str, typer.Option("--lang", help="Language of human output: en or ar.")] = "en",
) -> None:
    """Find copies of IMAGE, and other photos of its scene, in an archive index."""
    from photoloupe.schema.corroborate import CORROBORATE_SCHEMA_ID

    if lang not in LANGS:
        stderr.print(f"--lang must be one of: {', '.join(LANGS)}")
        raise typer.Exit(EXIT_USAGE)
    with _open_index(index, as_json=as_json) as archive:
        try:
            result = archive.search(image, top=top)
        except Exception as exc:  # an unreadable query, or a bug: a JSON error
            if not isinstance(exc, PhotoloupeError) and os.environ.get("PHOTOLOUPE_DEBUG"):
                raise
            code, message = (
                (exc.code, exc.message)
                if isinstance(exc, PhotoloupeError)
                else ("internal_error", f"{type(exc).__name__}: {exc}")
            )
            if as_json:
                line = {"schema": CORROBORATE_SCHEMA_ID, "path": display_path(str(image)),
                        "error": {"code": code, "message": message}}  # fmt: skip
                typer.echo(json.dumps(line, ensure_ascii=False))
            else:
                _emit_error(str(image), code, message, as_json=False)
            raise typer.Exit(EXIT_INPUT) from None
    if html is not None:
        from photoloupe.report.corroborate_html import render_corroboration_html

        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_corroboration_html(result, lang), encoding="utf-8")
        if not as_json:
            stderr.print(f"HTML page written to {html}")
    if as_json:
        typer.echo(result.to_json())
    else:
        console = Console()
        console.print(result.summary_ar if lang == "ar" else result.summary, highlight=False)
        for m in result.matches:
            label = t(f"corroborate.relation.{m.relation}", lang)
            console.print(f"  [bold]{label}[/] {m.score:.2f}  {m.path}", highlight=False)
            console.print(f"    {m.note_ar if lang == 'ar' else m.note}", highlight=False)
    raise typer.Exit(EXIT_OK)


def _open_index(index: Path, *, as_json: bool, create: bool = False) -> Any:
    """The archive of `index`, or exit 3 with a clear error (missing, damaged, newer)."""
    from photoloupe.archive import Archive

    try:
        return Archive(index, create=create)
    except PhotoloupeError as exc:
        if as_json:
            typer.echo(json.dumps({"path": display_path(str(index)), **exc.to_dict()}))
        else:
            stderr.print(f"[bold red]{exc.message}[/] [dim]({exc.code})[/]", highlight=False)
        raise typer.Exit(EXIT_INPUT) from None


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
        list[str] | None,
        typer.Option(
            "--token",
            help="Require this token: 'Authorization: Bearer TOKEN' for the API, sign-in for "
            "the pages (repeatable: one per person).",
        ),
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
    index: Annotated[
        Path | None,
        typer.Option("--index", help="Search every upload in this archive index."),
    ] = None,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            help="Address of a reverse proxy whose X-Forwarded-For is believed (repeatable).",
        ),
    ] = None,
    keep_days: Annotated[
        float | None,
        typer.Option("--keep-days", min=0.001, help="Purge cases older than this many days."),
    ] = None,
    store_quota_gb: Annotated[
        float,
        typer.Option("--store-quota-gb", min=0.001, help="Most disk the kept uploads may use."),
    ] = 20.0,
) -> None:
    """Run the newsroom desk: a web page and a REST API (see docs/server.md)."""
    import uvicorn

    from photoloupe.server import ServerConfig, create_app
    from photoloupe.server.protocol import uvicorn_config
    from photoloupe.server.storage import UnsupportedDatabase

    config = ServerConfig(
        data_dir=data,
        db_url=db,
        tokens=tuple(t for t in token or () if t),
        keep_days=keep_days,
        store_quota_bytes=int(store_quota_gb * 1024**3),
        max_upload_bytes=max_upload_mb * 1024 * 1024,
        rate_per_minute=rate,
        workers=workers,
        index=index,
        trusted_proxies=frozenset(trusted_proxy or ()),
    )
    if index is not None:
        _open_index(index, as_json=False).close()  # refuse a bad index before serving
    try:
        server_app = create_app(config)
    except UnsupportedDatabase as exc:
        stderr.print(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    except OSError as exc:
        stderr.print(f"Cannot use the data folder {data}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_USAGE) from None
    served = uvicorn_config(server_app, host=host, port=port, header_timeout=config.header_timeout)
    uvicorn.Server(served).run()
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


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=False,
    )


def _emit_error(path: str, code: str, message: str, *, as_json: bool) -> None:
    if as_json:
        typer.echo(error_json(path, code, message))
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
        sys.stdout.write(error_json(None, "internal_error", f"{type(exc).__name__}: {exc}") + "\n")
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
