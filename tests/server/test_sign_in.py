"""Sign-in for the pages, CSRF on forms and on the API from a session, one token per person."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from photoloupe.server.auth import COOKIE, Sessions, token_id
from tests.server.test_server import HARBOUR, make_client

ALICE, BOB = "alice-0123456789abcdef", "bob-fedcba9876543210"


def sign_in(client: TestClient, token: str, target: str = "/") -> str:
    """Sign in through the form; the CSRF token of the new session (from the upload page)."""
    r = client.post("/sign-in", data={"token": token, "next": target}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == target, r.text
    page = client.get("/").text
    found = re.search(r'name="csrf" value="([0-9a-f]{32})"', page)
    assert found is not None
    return found.group(1)


def test_pages_send_a_stranger_to_sign_in_and_the_api_says_401(tmp_path: Path) -> None:
    with make_client(tmp_path, tokens=(ALICE, BOB)) as client:
        r = client.get("/cases?lang=ar", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/sign-in?next=%2Fcases%3Flang%3Dar"
        assert client.get("/api/v1/cases").status_code == 401
        page = client.get("/sign-in?next=/cases")
        assert page.status_code == 200 and 'type="password"' in page.text
        assert client.get("/static/desk.js").status_code == 200  # the sign-in page's script
        assert client.get("/api/v1/health").status_code == 200


def test_a_wrong_token_is_refused_and_a_right_one_sets_a_strict_httponly_cookie(
    tmp_path: Path,
) -> None:
    with make_client(tmp_path, tokens=(ALICE, BOB)) as client:
        wrong = client.post("/sign-in", data={"token": "guess", "next": "/"})
        assert wrong.status_code == 401 and COOKIE not in client.cookies
        r = client.post(
            "/sign-in", data={"token": BOB, "next": "//evil.example/x"}, follow_redirects=False
        )
        assert r.status_code == 303 and r.headers["location"] == "/"  # never another site
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=") and BOB not in cookie
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert client.get("/cases").status_code == 200


def test_forms_and_api_writes_on_a_session_need_its_csrf_token(tmp_path: Path) -> None:
    with make_client(tmp_path, tokens=(ALICE,)) as client:
        csrf = sign_in(client, ALICE)
        files = {"file": ("a.jpg", HARBOUR)}
        forged = client.post("/upload", files=files, data={"csrf": "0" * 32})
        assert forged.status_code == 403
        assert not any(p.is_file() for p in (tmp_path / "uploads").rglob("*"))
        assert not any((tmp_path / "incoming").iterdir())  # the refused file is not kept
        api_forged = client.post("/api/v1/check", files=files)
        assert api_forged.status_code == 403
        assert api_forged.json()["error"]["code"] == "csrf_failed"
        ok = client.post(
            "/upload", files=files, data={"csrf": csrf, "lang": "en"}, follow_redirects=False
        )
        assert ok.status_code == 303 and ok.headers["location"].startswith("/reports/")
        api = client.post(
            "/api/v1/check", files={"file": ("b.jpg", HARBOUR)}, headers={"X-CSRF-Token": csrf}
        )
        assert api.status_code == 200  # the same picture: its stored case, at once
        # Reading needs no CSRF token; a bearer token needs none either.
        assert client.get("/api/v1/cases").status_code == 200


def test_each_case_records_which_token_created_it(tmp_path: Path) -> None:
    with make_client(tmp_path, tokens=(ALICE, BOB)) as client:
        from tests.server.test_server import EDITED

        for token, name, data in ((ALICE, "a.jpg", HARBOUR), (BOB, "b.jpg", EDITED)):
            r = client.post(
                "/api/v1/check?wait=120",
                files={"file": (name, data)},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code == 200, r.text
            assert r.json()["job"]["token_id"] == token_id(token)
        items = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {ALICE}"}).json()[
            "items"
        ]
        assert {c["name"]: c["token_id"] for c in items} == {
            "a.jpg": token_id(ALICE),
            "b.jpg": token_id(BOB),
        }


def test_sessions_end_when_their_token_is_withdrawn_or_tampered_with(tmp_path: Path) -> None:
    key = tmp_path / "session.key"
    both = Sessions((ALICE, BOB), key)
    cookie = both.new_cookie(token_id(ALICE))
    assert both.from_cookie(cookie) == token_id(ALICE)
    assert Sessions((ALICE,), key).from_cookie(cookie) == token_id(ALICE)  # survives a restart
    assert Sessions((BOB,), key).from_cookie(cookie) is None  # Alice's token withdrawn
    tid, expires, signature = cookie.split(".")
    assert both.from_cookie(f"{token_id(BOB)}.{expires}.{signature}") is None
    assert both.from_cookie(f"{tid}.{int(expires) + 999}.{signature}") is None
    assert both.from_cookie(cookie, now=int(expires) + 1) is None  # expired
    assert key.stat().st_mode & 0o077 == 0  # the signing key is its owner's only


def test_sign_out_clears_the_session(tmp_path: Path) -> None:
    with make_client(tmp_path, tokens=(ALICE,)) as client:
        csrf = sign_in(client, ALICE)
        assert client.post("/sign-out", data={"csrf": "x"}).status_code == 403
        r = client.post("/sign-out", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/sign-in"
        assert client.get("/", follow_redirects=False).status_code == 303


def test_non_ascii_cookies_and_csrf_tokens_are_refused_not_a_500(tmp_path: Path) -> None:
    with make_client(tmp_path, tokens=(ALICE,)) as client:
        forged = f"{COOKIE}={token_id(ALICE)}.9999999999.é".encode()
        r = client.get("/cases", headers={"Cookie": forged}, follow_redirects=False)  # type: ignore[dict-item]
        assert r.status_code == 303
        sign_in(client, ALICE)
        r = client.post(
            "/api/v1/check",
            files={"file": ("a.jpg", HARBOUR)},
            headers={"X-CSRF-Token": "é".encode()},  # type: ignore[dict-item]
        )
        assert r.status_code == 403
        form = client.post("/upload", files={"file": ("a.jpg", HARBOUR)}, data={"csrf": "ü"})
        assert form.status_code == 403


def test_a_damaged_signing_key_is_refused(tmp_path: Path) -> None:
    import pytest

    key = tmp_path / "session.key"
    key.write_bytes(b"")
    with pytest.raises(ValueError, match="signing key"):
        Sessions((ALICE,), key)
