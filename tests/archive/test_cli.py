"""`photoloupe index` and `photoloupe corroborate`, and `check --index`: exit codes, JSON,
HTML, and clear errors for bad indexes and bad queries (never a traceback)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from photoloupe.archive.catalogue import CATALOGUE_NAME
from photoloupe.cli import app
from photoloupe.schema.corroborate import CORROBORATE_SCHEMA_ID, Corroboration
from photoloupe.schema.report import Report
from tests.archive.conftest import jpeg_file, scene

runner = CliRunner()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli")
    photos = root / "photos"
    jpeg_file(photos / "a.jpg", scene(60))
    jpeg_file(photos / "b.jpg", scene(61))
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\x01" * 40)
    (photos / "readme.txt").write_text("not a picture")
    result = runner.invoke(app, ["index", str(photos), "--index", str(root / "idx"), "--json"])
    assert result.exit_code == 3, result.output  # one picture could not be read
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    errors = [x for x in lines if "error" in x]
    assert len(errors) == 1 and errors[0]["path"].endswith("broken.jpg")
    summary = lines[-1]
    assert (summary["added"], summary["failed"], summary["not_pictures"]) == (2, 1, 1)
    return photos, root / "idx"


def test_index_again_skips_everything_and_exits_zero(indexed: tuple[Path, Path]) -> None:
    photos, index = indexed
    result = runner.invoke(app, ["index", str(photos), "--index", str(index), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.splitlines()[-1])
    assert (summary["added"], summary["skipped"], summary["total"]) == (0, 3, 2)


def test_corroborate_prints_the_contract(indexed: tuple[Path, Path], tmp_path: Path) -> None:
    _, index = indexed
    query = jpeg_file(tmp_path / "q.jpg", scene(60)[30:400, 40:600], 75)
    result = runner.invoke(app, ["corroborate", str(query), "--index", str(index), "--json"])
    assert result.exit_code == 0, result.output
    found = Corroboration.model_validate_json(result.stdout)
    assert found.schema_id == CORROBORATE_SCHEMA_ID
    assert [Path(m.path).name for m in found.matches] == ["a.jpg"]
    assert found.matches[0].relation == "copy"


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_corroborate_html_shows_thumbnails(
    indexed: tuple[Path, Path], tmp_path: Path, lang: str
) -> None:
    _, index = indexed
    query = jpeg_file(tmp_path / "q.jpg", scene(61), 80)
    page = tmp_path / "page.html"
    args = ["corroborate", str(query), "--index", str(index), "--html", str(page), "--lang", lang]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    html = page.read_text("utf-8")
    assert html.count('src="data:image/jpeg') == 1
    assert "<script" not in html and not re.search(r"(src|href)=\"(?!data:|#)", html)
    assert ('dir="rtl"' in html) == (lang == "ar")
    assert ("نسخة" in html) == (lang == "ar")


def test_check_with_an_index_adds_the_corroboration(
    indexed: tuple[Path, Path], tmp_path: Path
) -> None:
    _, index = indexed
    query = jpeg_file(tmp_path / "q.jpg", scene(60), 85)
    page = tmp_path / "report.html"
    args = ["check", str(query), "--index", str(index), "--json", "--html", str(page)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = Report.model_validate_json(result.stdout.splitlines()[0])
    assert report.corroboration is not None
    assert [Path(m.path).name for m in report.corroboration.matches] == ["a.jpg"]
    assert 'id="corroboration"' in page.read_text("utf-8")
    plain = runner.invoke(app, ["check", str(query), "--json"])
    assert json.loads(plain.stdout.splitlines()[0]).get("corroboration") is None


@pytest.mark.parametrize("command", ["corroborate", "check"])
def test_a_damaged_or_newer_index_exits_3_with_a_json_error(
    indexed: tuple[Path, Path], tmp_path: Path, command: str
) -> None:
    query = jpeg_file(tmp_path / "q.jpg", scene(60))
    newer = tmp_path / "newer"
    photos, _ = indexed
    assert (
        runner.invoke(app, ["index", str(photos / "a.jpg"), "--index", str(newer)]).exit_code == 0
    )
    with sqlite3.connect(newer / CATALOGUE_NAME) as db:
        db.execute("UPDATE meta SET value = '2' WHERE key = 'version'")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / CATALOGUE_NAME).write_bytes(b"\x00garbage" * 300)
    for folder, code in ((newer, "index_version"), (damaged, "index_damaged"),
                         (tmp_path / "none", "index_not_found")):  # fmt: skip
        result = runner.invoke(app, [command, str(query), "--index", str(folder), "--json"])
        assert result.exit_code == 3, result.output
        assert "Traceback" not in result.output
        assert json.loads(result.stdout.splitlines()[0])["error"]["code"] == code


def test_an_unreadable_query_exits_3_with_a_json_error(
    indexed: tuple[Path, Path], tmp_path: Path
) -> None:
    _, index = indexed
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff" + b"\x00" * 10)
    result = runner.invoke(app, ["corroborate", str(bad), "--index", str(index), "--json"])
    assert result.exit_code == 3
    line = json.loads(result.stdout)
    assert line["schema"] == CORROBORATE_SCHEMA_ID and line["error"]["code"]
