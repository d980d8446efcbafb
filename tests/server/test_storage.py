"""The case stores, SQLite and PostgreSQL, against the same cases (a real server for the latter)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from photoloupe.server.storage import (
    Case,
    CaseStore,
    PostgresCaseStore,
    SqliteCaseStore,
    UnsupportedDatabase,
    check_key,
    compare_key,
    new_id,
    open_store,
)

SHA_A = "a" * 63 + "1"
SHA_B = "b" * 63 + "2"
SHA_C = "c0ffee" + "0" * 58


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> CaseStore:
    opened = open_store(db_url, tmp_path)
    yield opened  # type: ignore[misc]
    opened.close()


def check_case(sha: str, name: str, created: str) -> Case:
    return Case(new_id(), "check", sha, name, "no_evidence", created)


def test_open_store_picks_the_backend(db_url: str, store: CaseStore) -> None:
    kind = PostgresCaseStore if db_url.startswith("postgresql") else SqliteCaseStore
    assert isinstance(store, kind)


def test_add_find_get(store: CaseStore) -> None:
    case = check_case(SHA_A, "hârbour ☂.jpg", "2025-03-01T10:00:00.000001+00:00")
    result = {"schema": "photoloupe.report/1", "nested": {"x": [1, 2.5, None]}, "ar": "صورة"}
    assert store.find(check_key(SHA_A)) is None
    assert store.add(check_key(SHA_A), case, result) == case
    assert store.find(check_key(SHA_A)) == case
    assert store.get(case.id) == (case, result)
    assert store.get(new_id()) is None
    # A second case with the same key keeps the first one.
    again = check_case(SHA_A, "other.jpg", "2025-03-02T00:00:00+00:00")
    assert store.add(check_key(SHA_A), again, {"other": True}) == case
    assert store.get(again.id) is None


def test_compare_case(store: CaseStore) -> None:
    case = Case(new_id(), "compare", SHA_A, "a.jpg", "edited", "2025-03-01T00:00:00+00:00",
                SHA_B, "b.jpg")  # fmt: skip
    store.add(compare_key(SHA_A, SHA_B), case, {"relation": "edited"})
    assert store.find(compare_key(SHA_A, SHA_B)) == case
    assert store.find(compare_key(SHA_B, SHA_A)) is None
    assert case.summary()["suspect_sha256"] == SHA_B
    hits = store.search(q="b.jpg", start=None, end=None, page=1, per_page=10)
    assert hits.items == [case]


def test_result_text_survives(store: CaseStore) -> None:
    # NUL and lone surrogates cannot be PostgreSQL text; they travel as JSON escapes.
    result = {"note": "a\x00b", "odd": "\ud800", "big": 2**60, "tiny": 1e-300}
    case = check_case(SHA_C, "x.jpg", "2025-01-01T00:00:00+00:00")
    store.add(check_key(SHA_C), case, result)
    found = store.get(case.id)
    assert found is not None and found[1] == result


@pytest.fixture
def filled(store: CaseStore) -> tuple[CaseStore, list[Case]]:
    cases = [
        check_case(SHA_A, "Harbour_Night.jpg", "2025-01-01T23:59:59.999999+00:00"),
        check_case(SHA_B, "50% off.png", "2025-01-02T00:00:00+00:00"),
        check_case(SHA_C, "market.jpg", "2025-01-02T00:00:00+00:00"),  # same time as above
    ]
    for case in cases:
        store.add(check_key(case.sha256), case, {"id": case.id})
    return store, cases


def test_search_order_and_paging(filled: tuple[CaseStore, list[Case]]) -> None:
    store, (a, b, c) = filled
    every = store.search(q=None, start=None, end=None, page=1, per_page=10)
    assert every.total == 3 and every.items == [c, b, a]  # newest first; ties: last added first
    pages = [store.search(q=None, start=None, end=None, page=n, per_page=2) for n in (1, 2, 3)]
    assert [p.items for p in pages] == [[c, b], [a], []]
    assert all(p.total == 3 for p in pages)


def test_search_by_name_and_sha(filled: tuple[CaseStore, list[Case]]) -> None:
    store, (a, b, c) = filled

    def ids(q: str) -> list[str]:
        return [x.id for x in store.search(q=q, start=None, end=None, page=1, per_page=10).items]

    assert ids("harbour") == [a.id]  # case-insensitive in both stores
    assert ids("_night") == [a.id]
    assert ids("50%") == [b.id]
    assert ids("%") == [b.id]  # wildcards are literal
    assert ids("_") == [a.id]
    assert ids("\\") == []
    assert ids("c0ff") == [c.id]  # sha256 prefix, 4+ hex digits
    assert ids("C0FFEE") == [c.id]
    assert ids("aaa") == []  # under 4 hex digits: a name search only
    assert ids("'; DROP TABLE cases; --") == []
    assert len(ids("")) == 3


def test_search_by_dates(filled: tuple[CaseStore, list[Case]]) -> None:
    store, (a, b, c) = filled

    def ids(start: date | None, end: date | None) -> list[str]:
        return [x.id for x in store.search(q=None, start=start, end=end, page=1, per_page=10).items]

    assert ids(date(2025, 1, 1), date(2025, 1, 1)) == [a.id]  # `to` is inclusive
    assert ids(date(2025, 1, 2), None) == [c.id, b.id]
    assert ids(None, date(2024, 12, 31)) == []
    assert ids(date(2025, 1, 3), None) == []


def test_concurrent_adds_of_one_key(store: CaseStore) -> None:
    candidates = [check_case(SHA_A, f"{n}.jpg", "2025-01-01T00:00:00+00:00") for n in range(16)]
    with ThreadPoolExecutor(8) as ex:
        stored = list(ex.map(lambda c: store.add(check_key(SHA_A), c, {}), candidates))
    assert len({s.id for s in stored}) == 1
    assert store.search(q=None, start=None, end=None, page=1, per_page=50).total == 1


def test_schema_is_reused(db_url: str, tmp_path: Path) -> None:
    first = open_store(db_url, tmp_path)
    case = check_case(SHA_A, "a.jpg", "2025-01-01T00:00:00+00:00")
    first.add(check_key(SHA_A), case, {})
    first.close()
    second = open_store(db_url, tmp_path)
    assert second.find(check_key(SHA_A)) == case
    second.close()


def test_unreachable_postgres_is_a_clean_error(tmp_path: Path) -> None:
    url = f"postgresql:///x?host={tmp_path}&port=1&connect_timeout=2"
    with pytest.raises(UnsupportedDatabase, match="Cannot connect to PostgreSQL"):
        open_store(url, tmp_path)


def test_serve_refuses_an_unreachable_postgres(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from photoloupe.cli import app

    url = f"postgresql:///x?host={tmp_path}&port=1"
    result = CliRunner().invoke(app, ["serve", "--data", str(tmp_path), "--db", url])
    assert result.exit_code == 2
    assert "Cannot connect to PostgreSQL" in result.output


def test_pdfs_are_kept_by_files_and_keys_are_checked(tmp_path: Path) -> None:
    from photoloupe.server.storage import Files

    files = Files(tmp_path)
    case_id = "a" * 32
    assert files.read_pdf(case_id, "en") is None
    files.write_pdf(case_id, "en", b"%PDF-1.7 test")
    assert files.read_pdf(case_id, "en") == b"%PDF-1.7 test"
    assert files.read_pdf(case_id, "ar") is None
    assert list(files.pdfs.iterdir()) == [files.pdf_path(case_id, "en")]  # no temp left over
    for bad in (("../x", "en"), (case_id, "fr")):
        with pytest.raises(ValueError):
            files.pdf_path(*bad)
