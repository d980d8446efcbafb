"""The desk's FastAPI application: `create_app(ServerConfig(...))`.

Layers, outermost first: the headers every answer carries; the guard (rate limit, then token
or session and CSRF: answered before any body is read); the body's read deadlines and its size
limit (while it streams); then the routes. An upload is checked cheaply, kept under its sha256
and queued as a job in the database (`jobs.JobRunner` runs it), and the client gets 202 and the
job, or, with `?wait=`, the report once it is ready. Every error reaches the client as
`{"error": {"code", "message"}}`, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from photoloupe._version import __version__
from photoloupe.schema.compare import COMPARE_SCHEMA_ID
from photoloupe.schema.report import SCHEMA_ID
from photoloupe.server import pages
from photoloupe.server.auth import CSRF_HEADER, OPEN, Auth, Sessions, cookie_value, same_secret
from photoloupe.server.config import ServerConfig
from photoloupe.server.desk import Desk
from photoloupe.server.http import API, ApiError, CaseId, JobId, Wait, auth_of, html_response
from photoloupe.server.limits import (
    BodyLimitMiddleware,
    BodyTimeoutMiddleware,
    RateLimiter,
    error_body,
)
from photoloupe.server.storage import SHA256_PATTERN

HEALTH = f"{API}/health"
FORM_WAIT = 30.0  # a plain form post waits this long for its report, then shows the job page
PURGE_SECONDS = 3600.0
log = logging.getLogger("photoloupe.server")
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    413: "too_large",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {"type": "object"}}},
    }
}


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


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PUBLIC_PATHS = ("/sign-in", "/static/desk.js")


class GuardMiddleware:
    """Rate limit, then who is asking (token or session), answered before the body is read.

    An open desk (no tokens) lets everyone in. Otherwise the API wants a bearer token or a
    session (and, from a session, `X-CSRF-Token` on anything that changes state); a page asked
    for without either sends the browser to the sign-in page. The request's `Auth` is left in
    `scope["state"]["auth"]` for the routes.
    """

    def __init__(
        self,
        app: ASGIApp,
        sessions: Sessions,
        limiter: RateLimiter,
        trusted_proxies: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.limiter = limiter
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") == HEALTH:
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        client = scope.get("client")
        address = client_address(client[0] if client else "unknown", headers, self.trusted_proxies)
        # Counted before the token is checked, so that guessing tokens is rate limited too.
        wait = self.limiter.take(address)
        if wait > 0:
            body = error_body("rate_limited", "Too many requests from this address; slow down.")
            limited = JSONResponse(body, 429, headers={"Retry-After": str(int(wait) + 1)})
            await limited(scope, receive, send)
            return
        auth, refusal = self._auth(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        scope.setdefault("state", {})["auth"] = auth
        await self.app(scope, receive, send)

    def _auth(self, scope: Scope) -> tuple[Auth | None, Response | None]:
        if not self.sessions.enabled:
            return OPEN, None
        path, method = str(scope.get("path", "")), str(scope.get("method", "GET"))
        headers = scope.get("headers", [])
        scheme, _, given = dict(headers).get(b"authorization", b"").partition(b" ")
        if scheme.lower() == b"bearer" and (tid := self.sessions.from_bearer(given.strip())):
            return Auth("bearer", tid), None
        cookie = cookie_value(headers)
        if cookie is not None and (tid := self.sessions.from_cookie(cookie)):
            auth = Auth("cookie", tid, self.sessions.csrf_for(cookie))
            sent = dict(headers).get(CSRF_HEADER, b"")
            api_write = path.startswith(f"{API}/") and method not in SAFE_METHODS
            if api_write and not same_secret(sent, auth.csrf or ""):
                body = error_body("csrf_failed", "This request lacks the session's CSRF token.")
                return None, JSONResponse(body, 403)
            return auth, None
        if path in PUBLIC_PATHS:
            return None, None
        if path.startswith(("/api/", "/openapi")) or method not in SAFE_METHODS:
            body = error_body("unauthorized", "This desk needs an API token (Bearer).")
            return None, JSONResponse(body, 401, headers={"WWW-Authenticate": "Bearer"})
        query = scope.get("query_string", b"").decode("latin-1")
        target = path + (f"?{query}" if query else "")
        return None, RedirectResponse(f"/sign-in?{urlencode({'next': target})}", 303)


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
        desk.files.clear_incoming()
        requeued, failed = desk.runner.start()
        if requeued or failed:
            log.warning("jobs left running by the last stop: %d requeued, %d failed",
                        requeued, failed)  # fmt: skip
        purger = asyncio.create_task(_purge_hourly(desk))
        try:
            yield
        finally:
            purger.cancel()
            await asyncio.to_thread(desk.runner.stop)
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
        BodyTimeoutMiddleware,
        idle=config.body_idle_timeout,
        grace=config.body_grace,
        min_rate=config.body_min_rate,
    )
    app.add_middleware(
        GuardMiddleware,
        sessions=desk.sessions,
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
        counts = await asyncio.to_thread(desk.store.job_counts)
        return {
            "status": "ok",
            "version": __version__,
            "schema": SCHEMA_ID,
            "compare_schema": COMPARE_SCHEMA_ID,
            "analyses": {
                "in_flight": desk.runner.in_flight,
                "capacity": desk.runner.workers,
                "dispatcher": "running" if desk.runner.alive else "stopped",
                "queued": counts["queued"],
            },
            "jobs": counts,
            "store": {
                "uploads_bytes": desk.files.uploads_bytes,
                "quota_bytes": config.store_quota_bytes,
            },
        }

    @app.post(
        f"{API}/check",
        summary="Examine one picture (202 and a job; ?wait=SECONDS for the report)",
        openapi_extra=_UPLOAD_BODY,
        status_code=202,
    )
    async def check(request: Request, wait: Wait = 0) -> JSONResponse:
        (upload,) = (await desk.receive(request, ("file",))).uploads
        job = await desk.submit_check(upload, auth_of(request))
        return desk.answer(await desk.settle(job, wait))

    @app.get(f"{API}/reports/{{case_id}}", summary="A report as JSON (photoloupe.report/1)")
    async def report_json(case_id: CaseId) -> dict[str, Any]:
        return desk.case(case_id, "check")[1]

    @app.post(
        f"{API}/compare",
        summary="Compare a copy with its original (202 and a job; ?wait=SECONDS)",
        openapi_extra=_UPLOAD_BODY,
        status_code=202,
    )
    async def compare(request: Request, wait: Wait = 0) -> JSONResponse:
        original, suspect = (await desk.receive(request, ("original", "suspect"))).uploads
        job = await desk.submit_compare(original, suspect, auth_of(request))
        return desk.answer(await desk.settle(job, wait))

    @app.get(f"{API}/comparisons/{{case_id}}", summary="A comparison as JSON")
    async def comparison_json(case_id: CaseId) -> dict[str, Any]:
        return desk.case(case_id, "compare")[1]

    @app.get(f"{API}/jobs/{{job_id}}", summary="A job: queued, running, done or failed")
    async def job_json(job_id: JobId, wait: Wait = 0) -> dict[str, Any]:
        job = await asyncio.to_thread(desk.store.job, job_id)
        if job is None:
            raise ApiError(404, "not_found", "No job with this id.")
        job = await desk.settle(job, wait)
        body: dict[str, Any] = {"job": job.summary()}
        if job.state == "done" and job.case_id and (found := desk.store.get(job.case_id)):
            case, result = found
            body["id"] = case.id
            body["report" if case.kind == "check" else "comparison"] = result
        return body

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

    @app.delete(
        f"{API}/cases/{{case_id}}",
        summary="Delete a case, its report, PDFs and upload (unless another case uses it)",
    )
    async def delete_case(case_id: CaseId) -> dict[str, Any]:
        if await asyncio.to_thread(desk.delete_case, case_id) is None:
            raise ApiError(404, "not_found", "No case with this id.")
        return {"deleted": case_id}

    # The upload page's form targets: the same work, answered with a page instead of JSON.
    async def form_job(request: Request, fields: tuple[str, ...]) -> Response:
        lang = "en"
        try:
            received = await desk.receive(request, fields)
            lang = "ar" if received.fields.get("lang") == "ar" else "en"
            auth = auth_of(request)
            pages.check_form_csrf(auth, received.fields, desk, received.uploads)
            uploads = received.uploads
            if len(uploads) == 1:
                job = await desk.submit_check(uploads[0], auth)
            else:
                job = await desk.submit_compare(uploads[0], uploads[1], auth)
            job = await desk.settle(job, FORM_WAIT)
        except ApiError as exc:
            return pages.error_response(exc, lang)
        return pages.job_redirect(job, lang)

    @app.post("/upload", include_in_schema=False)
    async def upload_form(request: Request) -> Response:
        return await form_job(request, ("file",))

    @app.post("/upload-compare", include_in_schema=False)
    async def upload_compare_form(request: Request) -> Response:
        return await form_job(request, ("original", "suspect"))

    @app.get("/archive-compare/{upload_sha256}/{archived_sha256}", include_in_schema=False)
    async def archive_compare(
        request: Request, upload_sha256: str, archived_sha256: str, lang: str = "en"
    ) -> Response:
        if not (SHA256_PATTERN.match(upload_sha256) and SHA256_PATTERN.match(archived_sha256)):
            raise ApiError(404, "not_found", "No such comparison.")
        shown = lang if lang in ("en", "ar") else "en"
        job = await desk.submit_archive_compare(upload_sha256, archived_sha256, auth_of(request))
        job = await desk.settle(job, FORM_WAIT)
        return pages.job_redirect(job, shown)

    return app


async def _purge_hourly(desk: Desk) -> None:
    if desk.config.keep_days is None:
        return
    while True:
        try:
            deleted = await asyncio.to_thread(desk.purge)
            if deleted:
                log.info("purged %d cases older than %g days", deleted, desk.config.keep_days)
        except Exception as exc:  # the database is away for now: try at the next hour
            log.warning("purge failed (%s)", type(exc).__name__)
        await asyncio.sleep(PURGE_SECONDS)


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
