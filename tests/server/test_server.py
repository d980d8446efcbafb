"""The desk's server: API, limits and storage, through FastAPI's TestClient (no network)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from photoloupe.schema.compare import Comparison
from photoloupe.schema.report import Report
from photoloupe.server import ServerConfig, create_app
from photoloupe.server import jobs as jobs_module
from photoloupe.server.limits import RateLimiter
from photoloupe.server.storage import UnsupportedDatabase, clean_name, open_store
from tests.postgres_fixture import fresh_database

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
HARBOUR = (EXAMPLES / "harbour.jpg").read_bytes()
EDITED = (EXAMPLES / "harbour-edited.jpg").read_bytes()


def make_client(tmp: Path, **overrides: Any) -> TestClient:
    settings: dict[str, Any] = {"data_dir": tmp, "pool": "thread", "rate_burst": 1000}
    settings.update(overrides)
    return TestClient(create_app(ServerConfig(**settings)), raise_server_exceptions=False)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def desk(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    # The shipped configuration: analyses in worker processes; once per database backend.
    data = tmp_path_factory.mktemp("desk")
    if request.param == "sqlite":
        with make_client(data, pool="process") as client:
            yield client
        return
    with (
        fresh_database(request.getfixturevalue("postgres_server")) as url,
        make_client(data, pool="process", db_url=url) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def harbour(desk: TestClient) -> dict[str, Any]:
    r = desk.post("/api/v1/check?wait=120", files={"file": ("harbour.jpg", HARBOUR, "image/jpeg")})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_health(desk: TestClient) -> None:
    r = desk.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_check_returns_a_valid_report(harbour: dict[str, Any]) -> None:
    assert len(harbour["id"]) == 32
    report = Report.model_validate(harbour["report"])
    assert report.file.name == "harbour.jpg"
    assert report.path is None  # no server path leaks into the report


def test_same_file_twice_is_one_analysis(desk: TestClient, harbour: dict[str, Any]) -> None:
    runner = desk.app.state.desk.runner  # type: ignore[attr-defined]
    before = runner.started
    r = desk.post("/api/v1/check", files={"file": ("again.jpg", HARBOUR, "image/jpeg")})
    # Already stored: the job is done at once, without a wait.
    assert r.status_code == 200 and r.json()["job"]["state"] == "done"
    assert r.json()["id"] == harbour["id"]
    assert r.json()["report"]["created"] == harbour["report"]["created"]
    assert runner.started == before
    data: Path = desk.app.state.desk.config.data_dir  # type: ignore[attr-defined]
    stored = [p.name for p in (data / "uploads").rglob("*") if p.is_file()]
    sha = harbour["report"]["file"]["sha256"]
    assert sha in stored
    assert not any("harbour" in name or "again" in name for name in stored)


def test_report_fetch_json_and_html(desk: TestClient, harbour: dict[str, Any]) -> None:
    r = desk.get(f"/api/v1/reports/{harbour['id']}")
    assert r.status_code == 200
    assert r.json() == harbour["report"]
    en = desk.get(f"/reports/{harbour['id']}?lang=en")
    assert en.status_code == 200 and en.headers["content-type"].startswith("text/html")
    assert 'lang="en"' in en.text and "harbour.jpg" in en.text
    ar = desk.get(f"/reports/{harbour['id']}?lang=ar")
    assert ar.status_code == 200 and 'dir="rtl"' in ar.text
    assert desk.get(f"/reports/{harbour['id']}?lang=fr").status_code == 422
    missing = desk.get(f"/api/v1/reports/{'0' * 32}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_compare(desk: TestClient) -> None:
    files = {
        "original": ("harbour.jpg", HARBOUR, "image/jpeg"),
        "suspect": ("viral.jpg", EDITED, "image/jpeg"),
    }
    r = desk.post("/api/v1/compare?wait=120", files=files)
    assert r.status_code == 200, r.text
    comparison = Comparison.model_validate(r.json()["comparison"])
    assert comparison.relation == "edited"
    again = desk.get(f"/api/v1/comparisons/{r.json()['id']}")
    assert again.json() == r.json()["comparison"]
    page = desk.get(f"/comparisons/{r.json()['id']}?lang=ar")
    assert page.status_code == 200 and 'dir="rtl"' in page.text
    # A comparison id is not a report id.
    assert desk.get(f"/api/v1/reports/{r.json()['id']}").status_code == 404
    bad = desk.post(
        "/api/v1/compare",
        files={"original": ("a.jpg", HARBOUR, "image/jpeg"), "suspect": ("b.jpg", b"nope")},
    )
    assert bad.status_code == 422 and "suspect" in bad.json()["error"]["message"]


def test_cases_paging_and_search(tmp_path: Path, db_url: str) -> None:
    with make_client(tmp_path, db_url=db_url) as client:
        ids = []
        for name, data in (("first.jpg", HARBOUR), ("second.jpg", EDITED)):
            r = client.post("/api/v1/check?wait=120", files={"file": (name, data, "image/jpeg")})
            assert r.status_code == 200
            ids.append((r.json()["id"], r.json()["report"]["file"]["sha256"]))
        page1 = client.get("/api/v1/cases?per_page=1").json()
        assert page1["total"] == 2 and [c["id"] for c in page1["items"]] == [ids[1][0]]
        page2 = client.get("/api/v1/cases?per_page=1&page=2").json()
        assert [c["id"] for c in page2["items"]] == [ids[0][0]]
        by_name = client.get("/api/v1/cases", params={"q": "first"}).json()
        assert [c["id"] for c in by_name["items"]] == [ids[0][0]]
        by_sha = client.get("/api/v1/cases", params={"q": ids[1][1][:12]}).json()
        assert [c["id"] for c in by_sha["items"]] == [ids[1][0]]
        assert client.get("/api/v1/cases", params={"q": "50%_"}).json()["total"] == 0
        today = datetime.now(UTC).date()
        in_range = {"from": str(today - timedelta(days=1)), "to": str(today)}
        assert client.get("/api/v1/cases", params=in_range).json()["total"] == 2
        past = {"to": str(today - timedelta(days=1))}
        assert client.get("/api/v1/cases", params=past).json()["total"] == 0
        assert client.get("/api/v1/cases", params={"from": "yesterday"}).status_code == 422
        assert client.get("/api/v1/cases?per_page=1000").status_code == 422


def test_upload_over_the_limit_is_413(tmp_path: Path) -> None:
    with make_client(tmp_path, max_upload_bytes=50_000) as client:
        r = client.post("/api/v1/check", files={"file": ("big.jpg", HARBOUR, "image/jpeg")})
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "too_large"
        assert not any(p.is_file() for p in (tmp_path / "uploads").rglob("*"))
        assert not any((tmp_path / "incoming").iterdir())

        # Without a Content-Length the limit still holds while the body streams.
        def chunks() -> Iterator[bytes]:
            boundary = b"--xx\r\n"
            yield (
                boundary + b'Content-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
            )
            for _ in range(200):
                yield b"\0" * 1024

        streamed = client.post(
            "/api/v1/check",
            content=chunks(),
            headers={"content-type": "multipart/form-data; boundary=xx"},
        )
        assert streamed.status_code == 413


def test_non_image_is_422(tmp_path: Path) -> None:
    with make_client(tmp_path) as client:
        r = client.post("/api/v1/check", files={"file": ("x.jpg", b"%PDF-1.4 not a pic")})
        assert r.status_code == 422
        error = r.json()["error"]
        assert error["code"] == "unsupported_format" and error["message"]
        assert client.post("/api/v1/check", files={"other": ("x", b"1")}).status_code == 422
        assert client.post("/api/v1/check", content=b"raw").status_code == 422
        # A hostile upload is not kept.
        assert not any(p.is_file() for p in (tmp_path / "uploads").rglob("*"))


def test_rate_limit_is_429(tmp_path: Path) -> None:
    with make_client(tmp_path, rate_burst=3, rate_per_minute=1) as client:
        codes = [client.get("/api/v1/cases").status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        r = client.get("/api/v1/cases")
        assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["retry-after"]) > 0
        assert client.get("/api/v1/health").status_code == 200


def test_token_bucket_refills() -> None:
    limiter = RateLimiter(per_minute=60, burst=1)
    assert limiter.take("a", now=0.0) == 0.0
    assert limiter.take("a", now=0.5) > 0
    assert limiter.take("b", now=0.5) == 0.0
    assert limiter.take("a", now=2.0) == 0.0


def test_token_is_401_without_it(tmp_path: Path) -> None:
    with make_client(tmp_path, token="s3cret") as client:
        assert client.get("/api/v1/cases").status_code == 401
        wrong = client.get("/api/v1/cases", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
        r = client.post("/api/v1/check", files={"file": ("a.jpg", HARBOUR)})
        assert r.status_code == 401
        ok = client.get("/api/v1/cases", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert client.get("/api/v1/health").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/reports/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/reports/../../etc/passwd",
        "/reports/..%2F..%2Fetc%2Fpasswd",
        "/reports/%2Fetc%2Fpasswd?lang=en",
        f"/api/v1/reports/{'a' * 31}.",
    ],
)
def test_no_path_traversal(tmp_path: Path, path: str) -> None:
    with make_client(tmp_path) as client:
        r = client.get(path)
        assert r.status_code in (404, 422)
        assert "root:" not in r.text and "error" in r.json()


def test_a_busy_pool_queues_instead_of_refusing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real = jobs_module.check_job

    def slow(*args: Any) -> Any:
        release.wait(30)
        return real(*args)

    monkeypatch.setattr(jobs_module, "check_job", slow)
    with make_client(tmp_path, workers=1) as client:
        first = client.post("/api/v1/check", files={"file": ("a.jpg", HARBOUR)})
        second = client.post("/api/v1/check", files={"file": ("b.jpg", EDITED)})
        # Both accepted at once, whatever the pool is doing: 202 and where to ask.
        assert (first.status_code, second.status_code) == (202, 202)
        job = second.json()["job"]
        assert job["state"] == "queued" and second.headers["location"] == job["location"]
        assert client.get(job["location"]).json()["job"]["state"] == "queued"
        release.set()
        done = client.get(job["location"] + "?wait=120").json()
        assert done["job"]["state"] == "done" and done["report"]["file"]["name"] == "b.jpg"


def test_503_only_when_the_store_is_over_its_quota(tmp_path: Path) -> None:
    with make_client(tmp_path, store_quota_bytes=len(HARBOUR) + 1000) as client:
        assert client.post("/api/v1/check", files={"file": ("a.jpg", HARBOUR)}).status_code == 202
        r = client.post("/api/v1/check", files={"file": ("b.jpg", EDITED)})
        assert r.status_code == 503 and r.json()["error"]["code"] == "store_full"
        assert int(r.headers["retry-after"]) > 0
        # The refused upload left nothing behind.
        assert not any((tmp_path / "incoming").iterdir())


def test_concurrent_uploads_good_and_hostile(tmp_path: Path, db_url: str) -> None:
    hostile = [
        os.urandom(5000),
        HARBOUR[: len(HARBOUR) // 3],
        b"",
        b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
        b"GIF89a\xff\xff\xff\xff",
    ]
    uploads = [HARBOUR, EDITED, *hostile] * 3
    with make_client(tmp_path, db_url=db_url) as client:

        def post(data: bytes) -> int:
            r = client.post("/api/v1/check?wait=120", files={"file": ("f.jpg", data)})
            return r.status_code

        with ThreadPoolExecutor(8) as ex:
            codes = list(ex.map(post, uploads[:20]))
        assert all(c < 500 for c in codes), codes
        assert codes.count(200) >= 2 and 422 in codes
        # Identical good files were analysed once each.
        assert client.app.state.desk.runner.started <= 2 + len(hostile) * 3  # type: ignore[attr-defined]
        assert client.get("/api/v1/cases").json()["total"] == 2


def test_pages_are_offline(desk: TestClient) -> None:
    for path in ("/", "/docs"):
        r = desk.get(path)
        assert r.status_code == 200
        assert "http://" not in r.text and "https://" not in r.text, path
        assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "/api/v1/check" in desk.get("/docs").text
    assert desk.get("/redoc").status_code == 404
    spec = desk.get("/openapi.json").json()
    assert "/api/v1/cases" in spec["paths"]


def test_upload_form_redirects_to_the_report(desk: TestClient, harbour: dict[str, Any]) -> None:
    r = desk.post(
        "/upload",
        files={"file": ("harbour.jpg", HARBOUR)},
        data={"lang": "ar"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/reports/{harbour['id']}?lang=ar"
    bad = desk.post("/upload", files={"file": ("x.jpg", b"junk")})
    assert bad.status_code == 422 and "text/html" in bad.headers["content-type"]


def test_names_are_cleaned() -> None:
    assert clean_name("../../etc/passwd") == "passwd"
    assert clean_name("C:\\Users\\x\\photo.jpg") == "photo.jpg"
    assert clean_name("a\x00b\nc.jpg") == "abc.jpg"
    assert clean_name("") == "upload"
    assert clean_name("..") == "upload"


def test_database_urls(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    store.close()
    assert (tmp_path / "x.db").exists()
    with pytest.raises(UnsupportedDatabase, match="Cannot connect to PostgreSQL"):
        open_store(f"postgresql:///desk?host={tmp_path}&port=1", tmp_path)
    with pytest.raises(UnsupportedDatabase):
        open_store("mysql://x", tmp_path)


def test_a_malformed_multipart_body_is_422_invalid_request(tmp_path: Path) -> None:
    with make_client(tmp_path) as client:
        r = client.post(
            "/api/v1/check",
            content=b"--xx\r\nnot a part header at all",
            headers={"content-type": "multipart/form-data; boundary=xx"},
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_request"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_every_answer_says_nosniff_and_how_it_may_be_cached(tmp_path: Path) -> None:
    with make_client(tmp_path, token="s3cret") as client:
        answers = {
            "json error": client.get("/api/v1/reports/" + "0" * 32, headers=_bearer("s3cret")),
            "refused": client.get("/api/v1/reports/" + "0" * 32),
            "health": client.get("/api/v1/health"),
        }
        for name, r in answers.items():
            assert r.headers.get("x-content-type-options") == "nosniff", name
            assert r.headers.get("cache-control") == "no-store", name
        assert answers["refused"].status_code == 401
        script = client.get("/static/desk.js", headers=_bearer("s3cret"))
        assert script.status_code == 200 and script.headers["cache-control"] == "no-cache"


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(tmp_path: Path) -> None:
    # TestClient's peer address is "testclient"; as a trusted proxy, its X-Forwarded-For counts.
    with make_client(
        tmp_path, rate_burst=2, rate_per_minute=0.1, trusted_proxies=frozenset({"testclient"})
    ) as client:

        def cases(forwarded: str) -> int:
            return client.get("/api/v1/cases", headers={"X-Forwarded-For": forwarded}).status_code

        assert [cases("1.1.1.1") for _ in range(3)] == [200, 200, 429]
        assert cases("2.2.2.2") == 200  # another client behind the same proxy
        assert cases("9.9.9.9, 1.1.1.1") == 429  # a forged left-most entry changes nothing
    with make_client(tmp_path / "plain", rate_burst=2, rate_per_minute=0.1) as client:
        codes = [
            client.get("/api/v1/cases", headers={"X-Forwarded-For": f"{i}.0.0.1"}).status_code
            for i in range(3)
        ]
        assert codes == [200, 200, 429]  # untrusted: the header is ignored
