"""End to end in a browser: upload via the page, read the verdict, switch to Arabic, get the PDF.

Playwright drives Debian's chromium (`/usr/bin/chromium`); no browser is ever downloaded. The
desk runs with uvicorn in a thread on a free loopback port with a temporary data folder.
Screenshots go to `test-artifacts/`. Without chromium the test is skipped, except under CI,
where it fails.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from photoloupe.i18n import catalogue

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {CHROMIUM} is absent (.ci/run installs Debian's chromium)")
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium to run the browser test")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


TOKEN = "desk-token-for-the-browser-test"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _desk(tmp_path_factory.mktemp("e2e"))


@pytest.fixture(scope="module")
def protected_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _desk(tmp_path_factory.mktemp("e2e-protected"), tokens=(TOKEN,))


def _desk(data: Path, tokens: tuple[str, ...] = ()) -> Iterator[str]:
    _need_chromium()
    import uvicorn

    from photoloupe.server import ServerConfig, create_app
    from photoloupe.server.protocol import uvicorn_config

    config = ServerConfig(data_dir=data, pool="thread", rate_burst=1000, tokens=tokens)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn_config(
            create_app(config),
            host="127.0.0.1",
            port=port,
            header_timeout=config.header_timeout,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    yield url
    server.should_exit = True
    thread.join(15)


def test_upload_verdict_arabic_pdf(base_url: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    en, ar = catalogue("en"), catalogue("ar")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page()
            # Any request to another host would be a bug: fail it loudly.
            outside: list[str] = []
            page.on(
                "request",
                lambda req: None if req.url.startswith(base_url) else outside.append(req.url),
            )
            page.goto(f"{base_url}/?lang=en")
            assert page.locator("html").get_attribute("dir") == "ltr"
            page.screenshot(path=str(ARTIFACTS / "e2e-upload.png"), full_page=True)

            # Choosing the file starts the upload (desk.js), then the report page opens.
            page.set_input_files("#file", str(ROOT / "examples" / "harbour.jpg"))
            page.wait_for_url("**/reports/*?lang=en", timeout=120_000)
            verdict = page.locator(".verdict").first
            verdict.wait_for(timeout=10_000)
            labels = [v for k, v in en.items() if k.startswith("verdict.label.")]
            assert any(label in verdict.inner_text() for label in labels)
            # desk.js gives every map overlay a continuous opacity slider.
            slider = page.locator(".overlay .opslider").first
            slider.wait_for(timeout=10_000)
            slider.fill("20")
            opacity = page.locator(".overlay .ovmap").first.evaluate(
                "el => getComputedStyle(el).opacity"
            )
            assert abs(float(opacity) - 0.2) < 0.01
            page.screenshot(path=str(ARTIFACTS / "e2e-report-en.png"), full_page=True)

            page.click("#desk-lang")
            page.wait_for_url("**/reports/*?lang=ar")
            assert page.locator("html").get_attribute("dir") == "rtl"
            assert page.locator("html").get_attribute("lang") == "ar"
            body = page.locator("body").inner_text()
            assert ar["desk.download_pdf"] in body and ar["ui.title"] in body
            page.screenshot(path=str(ARTIFACTS / "e2e-report-ar.png"), full_page=True)

            href = page.locator("#desk-pdf").get_attribute("href")
            assert href is not None and href.endswith(".pdf?lang=ar")
            pdf = page.request.get(base_url + href, timeout=120_000)
            assert pdf.status == 200
            assert pdf.headers["content-type"] == "application/pdf"
            assert pdf.body().startswith(b"%PDF")

            page.click("#desk-history")
            page.wait_for_url("**/cases?lang=ar")
            assert "harbour.jpg" in page.locator("table").inner_text()
            page.screenshot(path=str(ARTIFACTS / "e2e-history-ar.png"), full_page=True)
            assert outside == []
        finally:
            browser.close()


def test_sign_in_upload_read_the_verdict_and_delete_the_case(protected_url: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    en = catalogue("en")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page()
            # A protected desk sends a stranger to its sign-in page.
            page.goto(f"{protected_url}/?lang=en")
            page.wait_for_url("**/sign-in?next=*")
            page.fill("#token", "not the token")
            page.click("#sign-in button[type=submit]")
            assert en["desk.sign_in.wrong"] in page.locator("body").inner_text()
            page.fill("#token", TOKEN)
            page.click("#sign-in button[type=submit]")
            page.wait_for_url(f"{protected_url}/?lang=en")
            cookies = {c["name"]: c for c in page.context.cookies()}
            session = cookies["photoloupe_session"]
            assert session["httpOnly"] and session["sameSite"] == "Strict"
            page.screenshot(path=str(ARTIFACTS / "e2e-signed-in.png"), full_page=True)

            # desk.js sends the upload with the session's CSRF token; the report opens.
            page.set_input_files("#file", str(ROOT / "examples" / "harbour.jpg"))
            page.wait_for_url("**/reports/*?lang=en", timeout=120_000)
            report_url = page.url
            verdict = page.locator(".verdict").first
            verdict.wait_for(timeout=10_000)
            labels = [v for k, v in en.items() if k.startswith("verdict.label.")]
            assert any(label in verdict.inner_text() for label in labels)

            # Delete, confirming the question desk.js asks.
            page.once("dialog", lambda dialog: dialog.accept())
            page.click("#desk-delete")
            page.wait_for_url("**/cases?lang=en")
            assert en["desk.empty"] in page.locator("main").inner_text()
            gone = page.request.get(report_url)
            assert gone.status == 404
            page.screenshot(path=str(ARTIFACTS / "e2e-deleted.png"), full_page=True)

            page.click("#desk-sign-out")
            page.wait_for_url("**/sign-in")
        finally:
            browser.close()
