"""The command line: output formats, exit codes, maps, HTML, and the resumable scan."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from photoloupe.batch import check_to_line
from photoloupe.cli import app
from photoloupe.schema.report import ErrorReport, Report
from tests.conftest import ROOT

EXAMPLES = ROOT / "examples"
runner = CliRunner()


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_check_json_prints_one_report_per_line() -> None:
    result = runner.invoke(
        app,
        ["check", "--json", str(EXAMPLES / "harbour.jpg"), str(EXAMPLES / "harbour-edited.jpg")],
    )
    assert result.exit_code == 0, result.output
    reports = [Report.model_validate(r) for r in _lines(result.stdout)]
    assert [r.file.name for r in reports] == ["harbour.jpg", "harbour-edited.jpg"]
    assert reports[0].path == str(EXAMPLES / "harbour.jpg")


def test_a_bad_file_gets_an_error_line_exit_3_and_the_others_still_report(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    result = runner.invoke(app, ["check", "--json", str(bad), str(EXAMPLES / "harbour.jpg")])
    assert result.exit_code == 3
    first, second = _lines(result.stdout)
    error = ErrorReport.model_validate(first)
    assert error.path == str(bad)
    assert error.error.code and error.error.message
    assert Report.model_validate(second).file.name == "harbour.jpg"


def test_human_output_names_the_verdict_in_the_chosen_language() -> None:
    en = runner.invoke(app, ["check", str(EXAMPLES / "harbour-edited.jpg")])
    ar = runner.invoke(app, ["check", "--lang", "ar", str(EXAMPLES / "harbour-edited.jpg")])
    assert en.exit_code == ar.exit_code == 0
    assert "Evidence of editing" in en.stdout
    assert "دلائل على التعديل" in ar.stdout


def test_maps_are_written_and_named_in_the_report(tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    result = runner.invoke(
        app, ["check", "--json", "--maps", str(maps), str(EXAMPLES / "harbour-edited.jpg")]
    )
    assert result.exit_code == 0, result.output
    (report,) = _lines(result.stdout)
    map_path = Path(report["analyses"]["thumbnail"]["map"])  # type: ignore[index]
    assert map_path.parent == maps and map_path.is_file()
    with Image.open(map_path) as im:
        assert im.format == "PNG" and min(im.size) > 8
    # The fused edit map: grayscale, the picture's stored size, 255 = most likely edited.
    edited_path = Path(report["edited"]["map"])  # type: ignore[index]
    assert edited_path.parent == maps and edited_path.name.endswith(".edited.png")
    with Image.open(edited_path) as im:
        assert im.mode == "L"
        assert im.size == (report["file"]["width"], report["file"]["height"])  # type: ignore[index]


def test_html_in_english_and_arabic(tmp_path: Path) -> None:
    for lang in ("en", "ar"):
        out = tmp_path / f"report.{lang}.html"
        result = runner.invoke(
            app,
            [
                "check",
                "--html",
                str(out),
                "--lang",
                lang,
                str(EXAMPLES / "harbour.jpg"),
                str(EXAMPLES / "content-credentials-ai.jpg"),
            ],
        )
        assert result.exit_code == 0, result.output
        page = out.read_text("utf-8")
        direction = "rtl" if lang == "ar" else "ltr"
        assert f'<html lang="{lang}" dir="{direction}">' in page
        assert "harbour.jpg" in page and "content-credentials-ai.jpg" in page


@pytest.mark.parametrize(
    "args",
    [["check"], ["check", "--lang", "fr", "x.jpg"], ["check", "--nope", "x.jpg"], ["frobnicate"]],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == 2


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and "photoloupe.report/1" in result.stdout


# --- scan ------------------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "inbox"
    (root / "nested").mkdir(parents=True)
    shutil.copy(EXAMPLES / "harbour.jpg", root / "a.jpg")
    shutil.copy(EXAMPLES / "diffusion-parameters.png", root / "nested" / "b.png")
    (root / "notes.txt").write_text("not a picture")
    (root / ".hidden.jpg").write_bytes(b"skipped")
    return root


def _scan(folder: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "photoloupe.cli", "scan", str(folder), "--out", str(out), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_scan_writes_one_line_per_file_and_goes_on_after_a_bad_file(
    folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "results.jsonl"
    result = _scan(folder, out)
    assert result.returncode == 0, result.stderr
    records = _lines(out.read_text("utf-8"))
    by_path = {Path(str(r["path"])).name: r for r in records}
    assert set(by_path) == {"a.jpg", "b.png", "notes.txt"}
    assert by_path["notes.txt"]["error"]["code"] == "unsupported_format"  # type: ignore[index]
    assert by_path["b.png"]["verdict"]["label"] == "ai-generated"  # type: ignore[index]
    for name in ("a.jpg", "b.png"):  # the pixel detector ran for every readable picture
        assert by_path[name]["ai_generated"]["model"] is not None  # type: ignore[index]
        assert by_path[name]["analyses"]["ai_detector"]["codes"]  # type: ignore[index]
    assert "scanning" in result.stderr  # the progress bar goes to stderr
    assert result.stdout == ""


def test_scan_is_resumable_and_survives_a_torn_last_line(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    assert _scan(folder, out).returncode == 0
    first = out.read_text("utf-8")
    assert _scan(folder, out).returncode == 0
    assert out.read_text("utf-8") == first  # nothing examined twice

    shutil.copy(EXAMPLES / "harbour-edited.jpg", folder / "c.jpg")
    with out.open("a", encoding="utf-8") as fh:
        fh.write('{"schema": "photoloupe.report/1", "path": "torn')  # a crash mid-line
    assert _scan(folder, out).returncode == 0
    lines = out.read_text("utf-8").splitlines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            continue
    names = sorted(Path(str(r["path"])).name for r in parsed)
    assert names == ["a.jpg", "b.png", "c.jpg", "notes.txt"]


def test_scan_with_two_workers_gives_the_same_lines(folder: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert _scan(folder, one).returncode == 0
    assert _scan(folder, two, "--workers", "2").returncode == 0

    def key(path: Path) -> dict[str, object]:
        return {
            str(r["path"]): (r.get("verdict") or r.get("error"))
            for r in _lines(path.read_text("utf-8"))
        }

    assert key(one) == key(two)


def test_scan_of_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    assert _scan(tmp_path / "nope", tmp_path / "o.jsonl").returncode == 2


def test_trust_anchors_make_a_signature_trusted(tmp_path: Path) -> None:
    from photoloupe.provenance.demo_signing import make_throwaway_chain, sign

    chain = make_throwaway_chain("cli test")
    capture = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
    action = {"action": "c2pa.created", "digitalSourceType": capture}
    manifest = {
        "claim_generator_info": [{"name": "cli-test", "version": "1"}],
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
    }
    signed = tmp_path / "signed.jpg"
    signed.write_bytes(sign((EXAMPLES / "harbour.jpg").read_bytes(), "image/jpeg", manifest, chain))
    anchors = tmp_path / "roots.pem"
    anchors.write_text(chain.root_pem)
    plain = runner.invoke(app, ["check", "--json", str(signed)])
    trusted = runner.invoke(app, ["check", "--json", "--trust-anchors", str(anchors), str(signed)])
    assert plain.exit_code == trusted.exit_code == 0
    assert _lines(plain.stdout)[0]["provenance"]["c2pa"]["state"] == "valid"  # type: ignore[index]
    c2pa = _lines(trusted.stdout)[0]["provenance"]["c2pa"]  # type: ignore[index]
    assert (c2pa["state"], c2pa["trusted"]) == ("trusted", True)  # type: ignore[index]


def test_a_file_name_that_is_not_utf8_is_reported_not_a_crash(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/bad\xff\xfename.jpg"
    with open(raw, "wb") as fh:
        fh.write((EXAMPLES / "harbour.jpg").read_bytes())
    name = os.fsdecode(raw)
    result = runner.invoke(app, ["check", "--json", name])
    assert result.exit_code == 0, result.output
    (report,) = _lines(result.stdout)
    assert report["file"]["name"] == "bad\\xff\\xfename.jpg"  # type: ignore[index]

    out = tmp_path / "results.jsonl"
    scanned = _scan(tmp_path, out)
    assert scanned.returncode == 0, scanned.stderr
    (line,) = [r for r in _lines(out.read_text("utf-8")) if "bad" in str(r["path"])]
    assert "verdict" in line
    assert _scan(tmp_path, out).returncode == 0  # resuming recognises the escaped name
    assert len(_lines(out.read_text("utf-8"))) == 1


def test_a_scan_survives_a_crashing_worker(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from photoloupe import batch

    monkeypatch.setattr(batch, "check_to_line", _check_or_die)
    paths = sorted(batch.iter_files(folder))
    lines = list(batch.scan_lines(paths, 2, batch.Options()))
    records = {Path(str(json.loads(line)["path"])).name: json.loads(line) for line, _ in lines}
    assert set(records) == {"a.jpg", "b.png", "notes.txt"}
    assert records["b.png"]["error"]["code"] == "worker_crashed"
    assert "verdict" in records["a.jpg"] or records["a.jpg"]["error"]["code"] == "worker_crashed"


def _check_or_die(path: str, options: object = None) -> tuple[str, bool]:
    if path.endswith("b.png"):
        os._exit(1)  # what a segfault in a decoder looks like from the parent
    return check_to_line(path)


def test_resume_retries_files_whose_error_was_transient(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    crashed = {
        "schema": "photoloupe.report/1",
        "path": str(folder / "a.jpg"),
        "error": {"code": "worker_crashed", "message": "x"},
    }
    out.write_text(json.dumps(crashed) + "\n")
    assert _scan(folder, out).returncode == 0
    names = [Path(str(r["path"])).name for r in _lines(out.read_text("utf-8"))]
    assert names.count("a.jpg") == 2  # the crash line, then a real report


def test_scan_into_an_unwritable_place_is_a_usage_error(folder: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = _scan(folder, blocker / "results.jsonl")
    assert result.returncode == 2
    assert "Cannot write" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_quick_scan_detects_but_says_editing_was_not_checked(
    folder: Path, tmp_path: Path
) -> None:
    full, quick = tmp_path / "full.jsonl", tmp_path / "quick.jsonl"
    assert _scan(folder, full).returncode == 0
    assert _scan(folder, quick, "--quick").returncode == 0
    by_name = {
        name: {Path(str(r["path"])).name: r for r in _lines(out.read_text("utf-8"))}
        for name, out in (("full", full), ("quick", quick))
    }
    for name in ("a.jpg", "b.png"):
        fast, slow = by_name["quick"][name], by_name["full"][name]
        assert set(fast["analyses"]) == {"ai_detector", "thumbnail"}  # type: ignore[arg-type]
        assert "ela" in slow["analyses"]  # type: ignore[operator]
        assert fast["ai_generated"] == slow["ai_generated"]
        assert "edit_localizer" in fast["verdict"]["not_checked"]  # type: ignore[index]
        assert fast["edited"]["probability"] is None  # type: ignore[index]
