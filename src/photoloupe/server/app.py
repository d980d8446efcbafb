"""The desk's FastAPI application: `create_app(ServerConfig(...))`.

Layers, outermost first: the guard (token, rate limit: answers before any body is read), the
body size limit (while the body streams), then the routes. Every error reaches the client as
`{"error": {"code", "message"}}`, never a traceback.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from photoloupe._version import __version__
from photoloupe.schema.compare import COMPARE_SCHEMA_ID
from photoloupe.schema.report import SCHEMA_ID
from photoloupe.server import pages
from photoloupe.server.config import MB, ServerConfig
from photoloupe.server.http import ApiError, CaseId, html_response
from photoloupe.server.jobs import Analyser, Busy, JobFailed, JobResult, check_job, compare_job
from photoloupe.server.limits import BodyLimitMiddleware, RateLimiter, error_body
from photoloupe.server.storage import (
    SHA256_PATTERN,
    Case,
    CaseStore,
    Files,
    check_key,
    clean_name,
    compare_key,
    new_id,
    open_store,
)

API = "/api/v1"
HEALTH = f"{API}/health"
RETRY_AFTER_BUSY = 10
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid_request",
    429: "rate_limited",
    503: "busy",
}
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {"type": "object"}}},
    }
}


@dataclass
class Upload:
    sha256: str
    name: str
    temp: str | None  # still to be moved to its sha256 name, or deleted


class Desk:
    """What the routes share: configuration, the case store, the files and the pool."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.files = Files(config.data_dir)
        self.store: CaseStore = open_store(config.db_url, config.data_dir)
        self.analyser = Analyser(config.workers, config.queue, config.pool)

    # -- uploads

    async def receive(self, request: Request, fields: tuple[str, ...]) -> list[Upload]:
        import hashlib

        try:
            form = await request.form(max_files=len(fields), max_fields=len(fields) + 4)
        except HTTPException as exc:
            if exc.status_code != 400:  # 413 from the body limit stays 413
                raise
            raise ApiError(422, "invalid_request", f"The request body: {exc.detail}") from None
        except Exception:
            # docs/server.md promises 422 for a malformed request body, as for a missing field.
            raise ApiError(
                422, "invalid_request", "The request body is not a readable multipart form."
            ) from None
        uploads: list[Upload] = []
        try:
            for field in fields:
                item = form.get(field)
                if not isinstance(item, UploadFile):
                    raise ApiError(
                        422,
                        "missing_file",
                        f"Send the picture as a multipart file field {field!r}.",
                    )
                fd, temp = self.files.temp_file()
                upload = Upload("", clean_name(item.filename), temp)
                uploads.append(upload)
                digest, size = hashlib.sha256(), 0
                with os.fdopen(fd, "wb") as fh:
                    while chunk := await item.read(1 << 20):
                        size += len(chunk)
                        if size > self.config.max_upload_bytes:
                            raise ApiError(413, "too_large", _too_large(self.config))
                        digest.update(chunk)
                        fh.write(chunk)
                upload.sha256 = digest.hexdigest()
        except BaseException:
            self.discard(uploads)
            raise
        finally:
            await form.close()
        return uploads

    def discard(self, uploads: list[Upload]) -> None:
        for upload in uploads:
            if upload.temp is not None:
                with suppress(OSError):
                    os.unlink(upload.temp)
                upload.temp = None

    def keep(self, upload: Upload) -> str:
        assert upload.temp is not None
        path = self.files.keep(upload.temp, upload.sha256)
        upload.temp = None
        return str(path)

    # -- analyses

    async def check(self, upload: Upload) -> tuple[Case, dict[str, Any]]:
        key = check_key(upload.sha256)
        if (case := self.store.find(key)) is not None:
            self.discard([upload])
            return self._stored(case)
        path = self.keep(upload)

        def finish(res: JobResult) -> Case:
            if not res["ok"]:
                self.files.forget(upload.sha256)  # not a picture: nothing worth keeping
                raise JobFailed(res["code"], res["message"])
            case = Case(new_id(), "check", upload.sha256, upload.name, res["label"], _now())
            return self._save(key, case, res)

        index = str(self.config.index) if self.config.index is not None else None
        args = (path, upload.name, self.config.max_upload_bytes, index)
        return self._stored(await self._run(key, check_job, args, finish))

    async def compare(self, original: Upload, suspect: Upload) -> tuple[Case, dict[str, Any]]:
        key = compare_key(original.sha256, suspect.sha256)
        if (case := self.store.find(key)) is not None:
            self.discard([original, suspect])
            return self._stored(case)
        paths = (self.keep(original), self.keep(suspect))

        def finish(res: JobResult) -> Case:
            if not res["ok"]:
                raise JobFailed(res["code"], res["message"])
            case = Case(
                new_id(),
                "compare",
                original.sha256,
                original.name,
                res["label"],
                _now(),
                suspect_sha256=suspect.sha256,
                suspect_name=suspect.name,
            )
            return self._save(key, case, res)

        args = (paths, (original.name, suspect.name), self.config.max_upload_bytes)
        return self._stored(await self._run(key, compare_job, args, finish))

    async def compare_with_archive(
        self, upload_sha256: str, archived_sha256: str
    ) -> tuple[Case, dict[str, Any]]:
        """The comparison of an archive match (as the original) with an upload already on
        the desk (as the suspect), made once and then stored like any comparison."""
        from photoloupe.archive import Archive

        key = compare_key(archived_sha256, upload_sha256)
        if (case := self.store.find(key)) is not None:
            return self._stored(case)
        if self.config.index is None:
            raise ApiError(404, "not_found", "This desk has no archive index.")
        upload = self.files.upload_path(upload_sha256)
        with Archive(self.config.index) as archive:
            archived = archive.catalogue.path_of(archived_sha256)
        if archived is None or not upload.is_file():
            raise ApiError(404, "not_found", "No such upload or archived picture.")
        names = (os.path.basename(archived), self._upload_name(upload_sha256))

        def finish(res: JobResult) -> Case:
            if not res["ok"]:
                raise JobFailed(res["code"], res["message"])
            case = Case(
                new_id(), "compare", archived_sha256, names[0], res["label"], _now(),
                suspect_sha256=upload_sha256, suspect_name=names[1],
            )  # fmt: skip
            return self._save(key, case, res)

        args = ((archived, str(upload)), names, self.config.max_upload_bytes)
        return self._stored(await self._run(key, compare_job, args, finish))

    def _upload_name(self, sha256: str) -> str:
        case = self.store.find(check_key(sha256))
        return case.name if case is not None else sha256[:12]

    async def _run(self, key: str, fn: Any, args: tuple[Any, ...], finish: Any) -> Case:
        try:
            future = self.analyser.submit(key, fn, args, finish)
        except Busy:
            raise ApiError(
                503,
                "busy",
                "The desk is busy with other analyses; try again shortly.",
                {"Retry-After": str(RETRY_AFTER_BUSY)},
            ) from None
        try:
            case: Case = await asyncio.wrap_future(future)
        except JobFailed as exc:
            headers = {"Retry-After": str(RETRY_AFTER_BUSY)} if exc.status == 503 else None
            raise ApiError(exc.status, exc.code, exc.message, headers) from None
        return case

    def _save(self, key: str, case: Case, res: JobResult) -> Case:
        for lang, html_gz in res["pages"].items():
            self.files.write_page(case.id, lang, html_gz)
        return self.store.add(key, case, res["result"])

    def _stored(self, case: Case) -> tuple[Case, dict[str, Any]]:
        found = self.store.get(case.id)
        if found is None:
            raise ApiError(404, "not_found", "No such case.")
        return found

    def case(self, case_id: str, kind: str) -> tuple[Case, dict[str, Any]]:
        found = self.store.get(case_id)
        if found is None or found[0].kind != kind:
            raise ApiError(
                404,
                "not_found",
                f"No {'report' if kind == 'check' else 'comparison'} with this id.",
            )
        return found

    def page(self, case_id: str, kind: str, lang: str) -> HTMLResponse:
        self.case(case_id, kind)
        html = self.files.read_page(case_id, lang)
        if html is None:
            raise ApiError(404, "not_found", "This page is not available.")
        return html_response(html)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _too_large(config: ServerConfig) -> str:
    return f"The upload is larger than the limit of {config.max_upload_bytes / MB:g} MB."


def client_address(peer: str, headers: list[tuple[bytes, bytes]], trusted: frozenset[str]) -> str:
    """The address a request counts against: the peer, or, when the peer is a trusted proxy,
    the nearest address in `X-Forwarded-For` that is not itself a trusted proxy (the entries
    further left were written by the client and prove nothing).

    >>> proxy = frozenset({"10.0.0.1"})
    >>> client_address("10.0.0.1", [(b"x-forwarded-for", b"6.6.6.6, 1.2.3.4")], proxy)
    '1.2.3.4'
    >>> client_address("5.5.5.5", [(b"x-forwarded-for", b"1.2.3.4")], proxy)
    '5.5.5.5'
    """
    if peer not in trusted:
        return peer
    hops = [
        hop.strip()
        for name, value in headers
        if name.lower() == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return peer


class GuardMiddleware:
    """Token and rate limit, answered before the request body is read."""

    def __init__(
        self,
        app: ASGIApp,
        token: str | None,
        limiter: RateLimiter,
        trusted_proxies: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.limiter = limiter
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") == HEALTH:
            await self.app(scope, receive, send)
            return
        if self.token is not None:
            auth = dict(scope.get("headers", [])).get(b"authorization", b"")
            scheme, _, given = auth.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
                body = error_body("unauthorized", "This desk needs an API token (Bearer).")
                response: Response = JSONResponse(body, 401, headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        client = scope.get("client")
        address = client_address(
            client[0] if client else "unknown", scope.get("headers", []), self.trusted_proxies
        )
        wait = self.limiter.take(address)
        if wait > 0:
            body = error_body("rate_limited", "Too many requests from this address; slow down.")
            response = JSONResponse(body, 429, headers={"Retry-After": str(int(wait) + 1)})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class ResponseHeaders:
    """Headers every answer carries: `nosniff` (a JSON error must never be sniffed into HTML),
    and `Cache-Control` (reports and PDFs of private cases must not sit in a proxy's cache;
    the desk's own script and style may be kept, but revalidated)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")
        cache = b"no-cache" if static else b"no-store"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if b"cache-control" not in names:
                    headers.append((b"cache-control", cache))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class PerRouteBodyLimit(BodyLimitMiddleware):
    """A comparison carries two files, so its body may be twice one file's limit."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).endswith("compare"):
            inner = BodyLimitMiddleware(self.app, 2 * self.limit)
            await inner(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(config: ServerConfig) -> FastAPI:
    desk = Desk(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        desk.analyser.shutdown()
        desk.store.close()

    # Swagger UI and ReDoc load their code from a CDN; the desk is offline, so /docs is ours.
    app = FastAPI(
        title="photoloupe desk",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=lifespan,
    )
    app.state.desk = desk
    app.add_middleware(PerRouteBodyLimit, limit=config.max_upload_bytes)
    app.add_middleware(
        GuardMiddleware,
        token=config.token,
        limiter=RateLimiter(config.rate_per_minute, config.rate_burst),
        trusted_proxies=config.trusted_proxies,
    )
    app.add_middleware(ResponseHeaders)  # outermost: also on the guard's 401 and 429
    _errors(app)

    # Pages first: `/api/v1/reports/{id}.pdf` must match before the JSON route.
    pages.register(app, desk)

    @app.get("/docs", response_class=HTMLResponse, summary="This list of endpoints")
    async def docs() -> HTMLResponse:
        return html_response(pages.docs_page(app.openapi()))

    @app.get(HEALTH, summary="Liveness and load")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "schema": SCHEMA_ID,
            "compare_schema": COMPARE_SCHEMA_ID,
            "analyses": {
                "in_flight": desk.analyser.in_flight,
                "capacity": desk.analyser.capacity,
            },
        }

    @app.post(f"{API}/check", summary="Examine one picture", openapi_extra=_UPLOAD_BODY)
    async def check(request: Request) -> dict[str, Any]:
        (upload,) = await desk.receive(request, ("file",))
        case, report = await desk.check(upload)
        return {"id": case.id, "report": report}

    @app.get(f"{API}/reports/{{case_id}}", summary="A report as JSON (photoloupe.report/1)")
    async def report_json(case_id: CaseId) -> dict[str, Any]:
        return desk.case(case_id, "check")[1]

    @app.post(
        f"{API}/compare", summary="Compare a copy with its original", openapi_extra=_UPLOAD_BODY
    )
    async def compare(request: Request) -> dict[str, Any]:
        original, suspect = await desk.receive(request, ("original", "suspect"))
        case, comparison = await desk.compare(original, suspect)
        return {"id": case.id, "comparison": comparison}

    @app.get(f"{API}/comparisons/{{case_id}}", summary="A comparison as JSON")
    async def comparison_json(case_id: CaseId) -> dict[str, Any]:
        return desk.case(case_id, "compare")[1]

    @app.get(f"{API}/cases", summary="History, newest first")
    async def cases(
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        per_page: Annotated[int, Query(ge=1, le=100)] = 20,
        q: Annotated[str | None, Query(max_length=200, description="Name or sha256 prefix")] = None,
        start: Annotated[date | None, Query(alias="from", description="First day (UTC)")] = None,
        end: Annotated[date | None, Query(alias="to", description="Last day (UTC)")] = None,
    ) -> dict[str, Any]:
        found = desk.store.search(q=q, start=start, end=end, page=page, per_page=per_page)
        return {
            "page": page,
            "per_page": per_page,
            "total": found.total,
            "items": [c.summary() for c in found.items],
        }

    # The upload page's form targets: the same work, answered with a page instead of JSON.
    @app.post("/upload", include_in_schema=False)
    async def upload_form(request: Request) -> Response:
        try:
            (upload,) = await desk.receive(request, ("file",))
            case, _ = await desk.check(upload)
        except ApiError as exc:
            return html_response(pages.error_page(exc.status_code, exc.detail), exc.status_code)
        form = await request.form()
        lang = "ar" if form.get("lang") == "ar" else "en"
        return RedirectResponse(f"/reports/{case.id}?lang={lang}", status_code=303)

    @app.post("/upload-compare", include_in_schema=False)
    async def upload_compare_form(request: Request) -> Response:
        try:
            original, suspect = await desk.receive(request, ("original", "suspect"))
            case, _ = await desk.compare(original, suspect)
        except ApiError as exc:
            return html_response(pages.error_page(exc.status_code, exc.detail), exc.status_code)
        return RedirectResponse(f"/comparisons/{case.id}", status_code=303)

    @app.get("/archive-compare/{upload_sha256}/{archived_sha256}", include_in_schema=False)
    async def archive_compare(
        upload_sha256: str, archived_sha256: str, lang: str = "en"
    ) -> Response:
        if not (SHA256_PATTERN.match(upload_sha256) and SHA256_PATTERN.match(archived_sha256)):
            raise ApiError(404, "not_found", "No such comparison.")
        case, _ = await desk.compare_with_archive(upload_sha256, archived_sha256)
        shown = lang if lang in ("en", "ar") else "en"
        return RedirectResponse(f"/comparisons/{case.id}?lang={shown}", status_code=303)

    return app


def _errors(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = getattr(exc, "code", None) or _CODES.get(exc.status_code, "error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Name the fields, not the values: a value may be whatever a client sent.
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("path", "query"))
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return JSONResponse(error_body("invalid_request", "; ".join(parts) or "Invalid."), 422)

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            error_body("internal_error", f"Internal error ({type(exc).__name__})."), 500
        )
