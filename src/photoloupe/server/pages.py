"""The desk's own pages: upload, case history, the bar over stored reports, PDF export.

Everything a page needs is served by the desk itself (`/static/desk.js`, inline CSS, `data:`
images): the desk must work with no network, so no page loads anything from elsewhere. Every
label comes from the report catalogues (`desk.*` keys), in English and Arabic.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
from datetime import date
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from photoloupe.i18n import catalogue, t
from photoloupe.report.visible import visible_name
from photoloupe.server.auth import (
    COOKIE,
    CSRF_FIELD,
    OPEN,
    SESSION_SECONDS,
    Auth,
    same_origin_path,
    same_secret,
)
from photoloupe.server.http import ApiError, CaseId, JobId, Lang, auth_of, html_response
from photoloupe.server.storage import Job

if TYPE_CHECKING:
    from photoloupe.server.desk import Desk, Upload

_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}
code{background:#f2f2f2;padding:0 .2rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}
.err{color:#a00}
"""


# The bar over every desk page and stored report; hidden when printed.
BAR_CSS = """
.desk-bar{display:flex;flex-wrap:wrap;gap:.3rem 1.2rem;align-items:center;padding:.45rem 1rem;
 background:#1d2127;color:#fff;font:15px/1.4 system-ui,"Noto Sans","DejaVu Sans",sans-serif}
.desk-bar a{color:#fff}.desk-bar .brand{font-weight:700;margin-inline-end:auto}
.desk-bar form{display:inline;margin:0}.desk-bar button{font:inherit;padding:.1rem .6rem}
@media print{.desk-bar{display:none}}
"""

# WeasyPrint: DejaVu Sans covers Latin and Arabic, so Arabic is shaped with one known font.
PRINT_CSS = """
html body,html[lang="ar"] body,h1,h2,h3,h4,p,li,td,th,figcaption,summary,.chip{
 font-family:"DejaVu Sans",sans-serif !important}
code,.mono{font-family:"DejaVu Sans Mono",monospace !important}
.desk-bar,.opctl,.overlay input.op{display:none !important}
details{display:block}
"""

STATIC = {"desk.js": "text/javascript; charset=utf-8"}
_PDF_LOCK = threading.Lock()  # one PDF at a time: WeasyPrint is CPU- and memory-heavy


def _dir(lang: str) -> str:
    return "rtl" if lang == "ar" else "ltr"


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("photoloupe.server", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["visible"] = visible_name  # file names: overrides and controls shown
    return env


def _render(name: str, lang: str, **values: Any) -> str:
    def ui(key: str, **fill: object) -> str:
        return t(key, lang, **fill)

    template = _env().get_template(name)
    return template.render(lang=lang, dir=_dir(lang), ui=ui, bar_css=BAR_CSS, **values)


def desk_bar(
    lang: str,
    here: str,
    *,
    pdf: str | None = None,
    delete: str | None = None,
    auth: Auth = OPEN,
) -> str:
    """The navigation bar: brand, new check, history, PDF (reports), delete (a case), the
    other language, and sign-out for a signed-in session."""
    other = "en" if lang == "ar" else "ar"
    sep = "&" if "?" in here else "?"
    return _render(
        "bar.html.j2",
        lang,
        pdf=pdf,
        delete=delete,
        csrf=auth.csrf or "",
        signed_in=auth.via == "cookie",
        switch=f"{here}{sep}lang={other}",
        other=other,
        other_name="العربية" if other == "ar" else "English",
    )


def with_bar(html: str, bar: str) -> str:
    """A stored page with the desk's bar at the top of its body (its own CSS stays intact)."""
    html = html.replace("</head>", f"<style>{BAR_CSS}</style></head>", 1)
    # The stored report has no script (it must open anywhere); on the desk, desk.js adds a
    # continuous opacity slider to each map overlay.
    script = '<script src="/static/desk.js" defer></script>'
    return re.sub(r"<body[^>]*>", lambda m: m.group(0) + bar + script, html, count=1)


def for_print(html: str) -> str:
    return html.replace("</head>", f"<style>{PRINT_CSS}</style></head>", 1)


def render_pdf(html: str) -> bytes:
    """A report page as PDF (WeasyPrint, print CSS, DejaVu Sans), with no network access."""
    import weasyprint
    from PIL import ImageFile
    from weasyprint.urls import URLFetcher

    # Importing WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES to True, which
    # would let truncated uploads through the desk's intake as half-black pictures.
    ImageFile.LOAD_TRUNCATED_IMAGES = False

    # Only `data:` URLs (the report's own images); anything else is refused, never fetched.
    fetcher = URLFetcher(allowed_protocols=["data"], allow_redirects=False)
    with _PDF_LOCK:
        pdf: bytes = weasyprint.HTML(string=for_print(html), url_fetcher=fetcher).write_pdf()
    return pdf


def upload_page(max_mb: int, lang: str = "en", auth: Auth = OPEN) -> str:
    return _render(
        "upload.html.j2",
        lang,
        max_mb=max_mb,
        csrf=auth.csrf or "",
        bar=desk_bar(lang, "/", auth=auth),
    )


def sign_in_page(lang: str, target: str, wrong: bool = False) -> str:
    return _render(
        "signin.html.j2",
        lang,
        bar="",
        target=target,
        wrong=wrong,
    )


def job_page(job: Job, lang: str, auth: Auth = OPEN) -> str:
    return _render(
        "job.html.j2",
        lang,
        bar=desk_bar(lang, f"/jobs/{job.id}", auth=auth),
        state=t(f"desk.job.{job.state}", lang),
        job_id=job.id,
    )


def check_form_csrf(auth: Auth, fields: dict[str, str], desk: Desk, uploads: list[Upload]) -> None:
    """A form posted on a signed-in session must carry the session's CSRF token."""
    if auth.via != "cookie" or same_secret(fields.get(CSRF_FIELD, ""), auth.csrf or ""):
        return
    desk.discard(uploads)
    raise ApiError(
        403,
        "csrf_failed",
        "This form is out of date or was not sent from the desk; reload the page and try again.",
    )


def error_response(exc: ApiError, lang: str = "en") -> HTMLResponse:
    response = html_response(error_page(exc.status_code, exc.detail, lang), exc.status_code)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def job_redirect(job: Job, lang: str) -> Response:
    """Where a browser goes once its upload is queued: the report when it is ready, the
    error when it failed, else the job's page (which reloads itself until then)."""
    if job.state == "failed":
        exc = ApiError(job.error_status or 422, job.error_code or "failed", job.error_message or "")
        return error_response(exc, lang)
    if job.state == "done" and job.case_id is not None:
        path = "reports" if job.kind == "check" else "comparisons"
        return RedirectResponse(f"/{path}/{job.case_id}?lang={lang}", status_code=303)
    return RedirectResponse(f"/jobs/{job.id}?lang={lang}", status_code=303)


def _label(label: str, lang: str) -> str:
    for prefix in ("verdict.label.", "compare.relation."):
        if prefix + label in catalogue("en"):
            return t(prefix + label, lang)
    return label


def cases_page(
    desk: Desk,
    lang: str,
    q: str | None,
    start: date | None,
    end: date | None,
    page: int,
    per_page: int = 20,
    auth: Auth = OPEN,
) -> str:
    found = desk.store.search(q=q, start=start, end=end, page=page, per_page=per_page)
    rows = []
    for case in found.items:
        path = "reports" if case.kind == "check" else "comparisons"
        name = case.name if case.kind == "check" else f"{case.name} ↔ {case.suspect_name}"
        rows.append(
            {
                "name": name,
                "sha": case.sha256[:12],
                "date": case.created[:19].replace("T", " "),
                "kind": t(f"desk.kind.{case.kind}", lang),
                "label": _label(case.label, lang),
                "href": f"/{path}/{case.id}?lang={lang}",
            }
        )
    pages = max(1, math.ceil(found.total / per_page))
    query: dict[str, str] = {"lang": lang}
    if q:
        query["q"] = q
    if start:
        query["from"] = start.isoformat()
    if end:
        query["to"] = end.isoformat()

    def href(n: int) -> str:
        return "/cases?" + urlencode({**query, "page": str(n)})

    here = "/cases?" + urlencode({k: v for k, v in query.items() if k != "lang"})
    return _render(
        "cases.html.j2",
        lang,
        bar=desk_bar(lang, here.rstrip("?"), auth=auth),
        rows=rows,
        q=q or "",
        start=start.isoformat() if start else "",
        end=end.isoformat() if end else "",
        page=page,
        pages=pages,
        total=found.total,
        prev_href=href(page - 1) if page > 1 else None,
        next_href=href(page + 1) if page < pages else None,
    )


def error_page(status: int, message: str, lang: str = "en") -> str:
    return _render(
        "error.html.j2",
        lang,
        bar=desk_bar(lang, "/"),
        status=status,
        message=message,
    )


def docs_page(openapi: dict[str, Any]) -> str:
    rows = [
        (method.upper(), path, op.get("summary") or "")
        for path, methods in openapi.get("paths", {}).items()
        for method, op in methods.items()
    ]
    return str(_env().get_template("docs.html.j2").render(style=_STYLE, rows=rows))


def _static(name: str) -> bytes:
    return resources.files("photoloupe.server").joinpath("static", name).read_bytes()


def register(app: FastAPI, desk: Desk) -> None:
    """The page routes. Registered before the API's, so `/api/v1/reports/{id}.pdf` wins."""
    from photoloupe.server.config import MB

    @app.get("/", response_class=HTMLResponse, summary="Upload page")
    async def index(request: Request, lang: Lang = "en") -> HTMLResponse:
        max_mb = int(desk.config.max_upload_bytes // MB)
        return html_response(upload_page(max_mb, lang, auth_of(request)))

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in STATIC:
            raise ApiError(404, "not_found", "No such file.")
        return Response(
            _static(name),
            media_type=STATIC[name],
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
        )

    @app.get("/reports/{case_id}", response_class=HTMLResponse, summary="A report page")
    async def report_html(request: Request, case_id: CaseId, lang: Lang = "en") -> HTMLResponse:
        page = _stored(desk, case_id, "check", lang)
        pdf = f"/api/v1/reports/{case_id}.pdf?lang={lang}"
        bar = desk_bar(
            lang, f"/reports/{case_id}", pdf=pdf, delete=_delete(case_id), auth=auth_of(request)
        )
        return html_response(with_bar(page, bar))

    @app.get("/comparisons/{case_id}", response_class=HTMLResponse, summary="A comparison page")
    async def comparison_html(request: Request, case_id: CaseId, lang: Lang = "en") -> HTMLResponse:
        page = _stored(desk, case_id, "compare", lang)
        here = f"/comparisons/{case_id}"
        bar = desk_bar(lang, here, delete=_delete(case_id), auth=auth_of(request))
        return html_response(with_bar(page, bar))

    @app.get("/jobs/{job_id}", include_in_schema=False)
    async def job_html(request: Request, job_id: JobId, lang: Lang = "en") -> Response:
        job = await asyncio.to_thread(desk.store.job, job_id)
        if job is None:
            raise ApiError(404, "not_found", "No job with this id.")
        if job.finished:
            return job_redirect(job, lang)
        return html_response(job_page(job, lang, auth_of(request)))

    @app.post("/cases/{case_id}/delete", include_in_schema=False)
    async def delete_form(request: Request, case_id: CaseId) -> Response:
        form = await request.form(max_files=0, max_fields=4)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        lang = "ar" if fields.get("lang") == "ar" else "en"
        try:
            check_form_csrf(auth_of(request), fields, desk, [])
            if await asyncio.to_thread(desk.delete_case, case_id) is None:
                raise ApiError(404, "not_found", "No case with this id.")
        except ApiError as exc:
            return error_response(exc, lang)
        return RedirectResponse(f"/cases?lang={lang}", status_code=303)

    @app.get("/sign-in", include_in_schema=False)
    async def sign_in(lang: Lang = "en", next: str | None = None) -> Response:
        if not desk.sessions.enabled:
            return RedirectResponse(same_origin_path(next), status_code=303)
        return html_response(sign_in_page(lang, same_origin_path(next)))

    @app.post("/sign-in", include_in_schema=False)
    async def sign_in_post(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=4)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        lang = "ar" if fields.get("lang") == "ar" else "en"
        target = same_origin_path(fields.get("next"))
        given = fields.get("token", "").strip().encode("utf-8")
        tid = desk.sessions.from_bearer(given) if desk.sessions.enabled and given else None
        if tid is None:
            return html_response(sign_in_page(lang, target, wrong=True), 401)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            desk.sessions.new_cookie(tid),
            max_age=SESSION_SECONDS,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    @app.post("/sign-out", include_in_schema=False)
    async def sign_out(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=4)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            check_form_csrf(auth_of(request), fields, desk, [])
        except ApiError as exc:
            return error_response(exc)
        response = RedirectResponse("/sign-in", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @app.get("/cases", response_class=HTMLResponse, summary="Case history page")
    async def cases_html(
        request: Request,
        lang: Lang = "en",
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        q: Annotated[str | None, Query(max_length=200)] = None,
        start: Annotated[str | None, Query(alias="from")] = None,
        end: Annotated[str | None, Query(alias="to")] = None,
    ) -> HTMLResponse:
        # An empty date field in the search form arrives as "": treat it as no bound.
        found = cases_page(
            desk, lang, q or None, _date(start), _date(end), page, auth=auth_of(request)
        )
        return html_response(found)

    @app.get(
        "/api/v1/reports/{case_id}.pdf",
        summary="A report as PDF",
        response_class=Response,
        responses={200: {"content": {"application/pdf": {}}}},
    )
    async def report_pdf(case_id: CaseId, lang: Lang = "en") -> Response:
        data = desk.files.read_pdf(case_id, lang)
        if data is None:
            page = _stored(desk, case_id, "check", lang)
            data = await asyncio.to_thread(render_pdf, page)
            desk.files.write_pdf(case_id, lang, data)
            if desk.store.get(case_id) is None:  # deleted while it rendered: keep nothing
                desk.files.pdf_path(case_id, lang).unlink(missing_ok=True)
        return Response(
            data,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="photoloupe-{case_id[:12]}-{lang}.pdf"',
                "X-Content-Type-Options": "nosniff",
            },
        )


def _delete(case_id: str) -> str:
    return f"/cases/{case_id}/delete"


def _date(value: str | None) -> date | None:

    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(422, "invalid_request", "Dates are YYYY-MM-DD.") from None


def _stored(desk: Desk, case_id: str, kind: str, lang: str) -> str:

    desk.case(case_id, kind)
    html = desk.files.read_page(case_id, lang)
    if html is None:
        raise ApiError(404, "not_found", "This page is not available.")
    return html
