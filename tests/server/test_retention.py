"""Retention: deleting a case (API and page), purging old cases, and failed jobs' uploads."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from photoloupe.server.storage import Case, check_key, new_id
from tests.server.test_server import EDITED, HARBOUR, make_client

CUT = HARBOUR[: len(HARBOUR) // 3]  # passes the intake, fails in the analysis


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def check(client: TestClient, name: str, data: bytes) -> dict:  # type: ignore[type-arg]
    r = client.post("/api/v1/check?wait=120", files={"file": (name, data)})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_delete_removes_the_case_its_pages_pdfs_and_upload_unless_shared(
    tmp_path: Path, db_url: str
) -> None:
    with make_client(tmp_path, db_url=db_url) as client:
        checked = check(client, "harbour.jpg", HARBOUR)
        sha = checked["report"]["file"]["sha256"]
        compared = client.post(
            "/api/v1/compare?wait=120",
            files={"original": ("harbour.jpg", HARBOUR), "suspect": ("viral.jpg", EDITED)},
        ).json()
        pdf = client.get(f"/api/v1/reports/{checked['id']}.pdf")
        assert pdf.status_code == 200
        assert len(files_in(tmp_path / "pdf")) == 1 and len(files_in(tmp_path / "pages")) == 4

        r = client.delete(f"/api/v1/cases/{checked['id']}")
        assert r.status_code == 200 and r.json() == {"deleted": checked["id"]}
        assert client.get(f"/api/v1/reports/{checked['id']}").status_code == 404
        assert client.get(f"/reports/{checked['id']}").status_code == 404
        assert files_in(tmp_path / "pdf") == []
        assert len(files_in(tmp_path / "pages")) == 2  # the comparison's
        # The comparison still uses harbour.jpg: its upload stays.
        assert sha in files_in(tmp_path / "uploads")
        job = client.get(f"/api/v1/jobs/{checked['job']['id']}")
        assert job.status_code == 404  # the job that made it went with it

        assert client.delete(f"/api/v1/cases/{compared['id']}").status_code == 200
        assert files_in(tmp_path / "uploads") == [] and files_in(tmp_path / "pages") == []
        assert client.get("/api/v1/cases").json()["total"] == 0
        again = client.delete(f"/api/v1/cases/{compared['id']}")
        assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"


def test_the_delete_button_on_the_case_page(tmp_path: Path) -> None:
    with make_client(tmp_path) as client:
        case_id = check(client, "harbour.jpg", HARBOUR)["id"]
        page = client.get(f"/reports/{case_id}?lang=ar").text
        form = re.search(r'<form method="post" action="(/cases/[0-9a-f]{32}/delete)"', page)
        assert form is not None and form.group(1) == f"/cases/{case_id}/delete"
        assert "data-confirm=" in page
        r = client.post(form.group(1), data={"lang": "ar", "csrf": ""}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/cases?lang=ar"
        assert client.get(f"/reports/{case_id}").status_code == 404


def test_keep_days_purges_old_cases_with_their_files(tmp_path: Path, db_url: str) -> None:
    with make_client(tmp_path, db_url=db_url, keep_days=30) as client:
        fresh = check(client, "harbour.jpg", HARBOUR)
        desk = client.app.state.desk  # type: ignore[attr-defined]
        # An old case, as an earlier year's desk would have left it.
        old_upload = tmp_path / "incoming" / "up-old"
        old_upload.write_bytes(EDITED)
        import hashlib

        old_sha = hashlib.sha256(EDITED).hexdigest()
        desk.files.keep(str(old_upload), old_sha)
        old = Case(
            new_id(), "check", old_sha, "old.jpg", "no_evidence", "2020-01-01T00:00:00+00:00"
        )
        desk.store.add(check_key(old_sha), old, {"old": True})
        desk.files.write_page(old.id, "en", b"")
        assert client.get("/api/v1/cases").json()["total"] == 2

        assert desk.purge() == 1
        ids = [c["id"] for c in client.get("/api/v1/cases").json()["items"]]
        assert ids == [fresh["id"]]
        assert old_sha not in files_in(tmp_path / "uploads")
        assert not (tmp_path / "pages" / f"{old.id}.en.html.gz").exists()
        assert desk.purge() == 0


def test_a_failed_comparison_cleans_up_its_uploads(tmp_path: Path, db_url: str) -> None:
    with make_client(tmp_path, db_url=db_url) as client:
        r = client.post(
            "/api/v1/compare?wait=120",
            files={"original": ("harbour.jpg", HARBOUR), "suspect": ("cut.jpg", CUT)},
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "truncated"
        assert r.json()["job"]["state"] == "failed"
        assert files_in(tmp_path / "uploads") == []
        # A failed check as well; but an upload a stored case uses is kept.
        kept = check(client, "harbour.jpg", HARBOUR)["report"]["file"]["sha256"]
        r = client.post(
            "/api/v1/compare?wait=120",
            files={"original": ("harbour.jpg", HARBOUR), "suspect": ("cut.jpg", CUT)},
        )
        assert r.status_code == 422
        assert files_in(tmp_path / "uploads") == [kept]
