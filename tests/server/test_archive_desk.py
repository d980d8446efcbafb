"""`photoloupe serve --index`: an upload is searched in the archive, its report page lists the
matches, and each match links to a side-by-side comparison made on demand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from photoloupe.archive import Archive
from photoloupe.schema.report import Report
from tests.archive.conftest import jpeg_bytes, jpeg_file, scene
from tests.server.test_server import make_client


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("desk-archive")
    jpeg_file(root / "photos" / "agency-shot.jpg", scene(70), 92)
    jpeg_file(root / "photos" / "other.jpg", scene(71), 92)
    with Archive(root / "index", create=True) as archive:
        archive.add([root / "photos"])
    return root / "index"


def test_an_upload_lists_its_archive_matches_linked_to_a_comparison(
    index: Path, tmp_path: Path
) -> None:
    viral = jpeg_bytes(scene(70)[20:440, 30:600], 70)
    with make_client(tmp_path, index=index) as client:
        r = client.post(
            "/api/v1/check?wait=120", files={"file": ("viral.jpg", viral, "image/jpeg")}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        report = Report.model_validate(body["report"])
        assert report.corroboration is not None
        names = [Path(m.path).name for m in report.corroboration.matches]
        assert names == ["agency-shot.jpg"]
        case_id = body["id"]
        page = client.get(f"/reports/{case_id}").text
        assert "agency-shot.jpg" in page and 'src="data:image/jpeg' in page
        link = re.search(r'href="(/archive-compare/[0-9a-f]{64}/[0-9a-f]{64})"', page)
        assert link is not None, "the match links to a comparison"
        r = client.get(link.group(1), follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/comparisons/")
        shown = client.get(r.headers["location"])
        assert shown.status_code == 200 and "agency-shot.jpg" in shown.text
        # Made once: the second visit finds the stored comparison.
        again = client.get(link.group(1), follow_redirects=False)
        assert again.headers["location"] == r.headers["location"]


def test_archive_compare_refuses_unknown_or_malformed_ids(index: Path, tmp_path: Path) -> None:
    with make_client(tmp_path, index=index) as client:
        assert client.get("/archive-compare/abc/def").status_code == 404
        assert client.get(f"/archive-compare/{'0' * 64}/{'1' * 64}").status_code == 404
    with make_client(tmp_path / "no-index") as client:
        assert client.get(f"/archive-compare/{'0' * 64}/{'1' * 64}").status_code == 404
