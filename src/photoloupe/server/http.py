"""What the API routes (`app.py`) and the page routes (`pages.py`) share: the error type,
the HTML response with its security headers, the path and query annotations, and how a
request was let in.

It sits below both, so that neither imports the other for them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path as PathParam
from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from photoloupe.server.auth import OPEN, Auth
from photoloupe.server.storage import ID_PATTERN

API = "/api/v1"

CaseId = Annotated[str, PathParam(pattern=ID_PATTERN, description="A case id (32 hex digits).")]
JobId = Annotated[str, PathParam(pattern=ID_PATTERN, description="A job id (32 hex digits).")]
Lang = Annotated[Literal["en", "ar"], Query(description="Language of the page.")]
Wait = Annotated[
    float, Query(ge=0, le=300, description="Seconds to wait for the result before answering.")
]
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class ApiError(HTTPException):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, message, headers)
        self.code = code


def html_response(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        html,
        status,
        headers={
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def auth_of(request: Request) -> Auth:
    """How this request was let in (the guard's finding); a public page's is `OPEN`."""
    auth = request.scope.get("state", {}).get("auth")
    return auth if isinstance(auth, Auth) else OPEN
