"""The desk's state, shared by the API routes (`app.py`) and the pages (`pages.py`): the
configuration, the sessions, the case store, the files and the job runner, and the steps an
upload goes through: streamed to a temporary file under its sha256, probed cheaply (`intake`),
kept and queued as a job in one step (`_enqueue`), answered (`answer`), and later deleted.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from photoloupe.errors import PhotoloupeError
from photoloupe.io import Limits
from photoloupe.io.probe import probe_file
from photoloupe.server.auth import Auth, Sessions
from photoloupe.server.config import MB, ServerConfig
from photoloupe.server.http import API, ApiError, html_response
from photoloupe.server.jobs import JobRunner, now
from photoloupe.server.limits import error_body
from photoloupe.server.storage import (
    Case,
    CaseStore,
    Files,
    Job,
    Kind,
    check_key,
    clean_name,
    compare_key,
    new_id,
    open_store,
)

RETRY_AFTER_FULL = 60


@dataclass
class Upload:
    sha256: str
    name: str
    temp: str | None  # still to be moved to its sha256 name, or deleted
    size: int = 0


@dataclass
class Received:
    uploads: list[Upload]
    fields: dict[str, str]  # the form's text fields (lang, csrf)


class Desk:
    """What the routes share: configuration, sessions, the case store, the files and the
    job runner."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.files = Files(config.data_dir)
        self.store: CaseStore = open_store(config.db_url, config.data_dir)
        self.sessions = Sessions(config.accepted_tokens(), config.data_dir / "session.key")
        index = str(config.index) if config.index is not None else None
        self.runner = JobRunner(
            self.store,
            self.files,
            workers=config.workers,
            pool=config.pool,
            max_bytes=config.max_upload_bytes,
            index=index,
        )
        self.limits = Limits(max_bytes=config.max_upload_bytes)

    # -- uploads

    async def receive(self, request: Request, fields: tuple[str, ...]) -> Received:
        try:
            form = await request.form(max_files=len(fields), max_fields=len(fields) + 4)
        except HTTPException as exc:
            if exc.status_code != 400:  # 413 from the body limit and 408 stay as they are
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
                upload.size = size
            text = {k: v for k, v in form.items() if isinstance(v, str)}
        except BaseException:
            self.discard(uploads)
            raise
        finally:
            await form.close()
        return Received(uploads, text)

    def discard(self, uploads: list[Upload]) -> None:
        for upload in uploads:
            if upload.temp is not None:
                with suppress(OSError):
                    os.unlink(upload.temp)
                upload.temp = None

    async def intake(self, uploads: list[Upload], roles: tuple[str, ...] = ()) -> None:
        """The cheap checks, before a file takes a place in the queue: empty, not a format
        photoloupe reads, a decompression bomb. Each gives its 422 at once; with `roles`
        (a comparison's "original" and "suspect") the message says which input failed, as
        `compare()` does."""
        for n, upload in enumerate(uploads):
            assert upload.temp is not None
            try:
                await asyncio.to_thread(probe_file, upload.temp, upload.name, self.limits)
            except PhotoloupeError as exc:
                self.discard(uploads)
                role = roles[n] if n < len(roles) else None
                message = f"The {role} cannot be read: {exc.message}" if role else exc.message
                raise ApiError(422, exc.code, message) from None

    def _job(self, kind: Kind, key: str, first: Upload, auth: Auth, **more: Any) -> Job:
        stamp = now()
        return Job(
            id=new_id(), kind=kind, key=key, state="queued", sha256=first.sha256,
            name=first.name, suspect_sha256=more.get("suspect_sha256"),
            suspect_name=more.get("suspect_name"), source=more.get("source"),
            token_id=auth.token_id, size=more.get("size", first.size), attempts=0,
            case_id=None, error_code=None, error_message=None, error_status=None,
            created=stamp, updated=stamp,
        )  # fmt: skip

    def _enqueue(self, job: Job, uploads: list[Upload]) -> Job:
        """Keep the uploads and queue their job, as one step against a failed job's clean-up
        of the same file; refused (503) when the new files would put the store over quota."""
        with self.files.lock:
            new_bytes = sum(
                u.size for u in uploads if not self.files.upload_path(u.sha256).exists()
            )
            if new_bytes and self.files.uploads_bytes + new_bytes > self.config.store_quota_bytes:
                self.discard(uploads)
                raise ApiError(
                    503,
                    "store_full",
                    "The desk's store of uploads is full; try again later, or ask its operator "
                    "to delete old cases.",
                    {"Retry-After": str(RETRY_AFTER_FULL)},
                )
            archived_pair = job.suspect_sha256 is not None and not uploads
            if archived_pair and not self.files.upload_path(job.suspect_sha256 or "").is_file():
                raise ApiError(404, "not_found", "No such upload or archived picture.")
            for upload in uploads:
                assert upload.temp is not None
                self.files.keep(upload.temp, upload.sha256)
                upload.temp = None
            try:
                queued = self.store.enqueue(job)
            except Exception:
                # No job names the files: unless a case needs them, they must not stay.
                with suppress(Exception):
                    for upload in uploads:
                        if not self.store.in_use(upload.sha256):
                            self.files.forget(upload.sha256)
                raise
        self.runner.wake()
        return queued

    async def submit_check(self, upload: Upload, auth: Auth) -> Job:
        await self.intake([upload])
        job = self._job("check", check_key(upload.sha256), upload, auth)
        return await asyncio.to_thread(self._enqueue, job, [upload])

    async def submit_compare(self, original: Upload, suspect: Upload, auth: Auth) -> Job:
        await self.intake([original, suspect], ("original", "suspect"))
        job = self._job(
            "compare",
            compare_key(original.sha256, suspect.sha256),
            original,
            auth,
            suspect_sha256=suspect.sha256,
            suspect_name=suspect.name,
            size=original.size + suspect.size,
        )
        return await asyncio.to_thread(self._enqueue, job, [original, suspect])

    async def submit_archive_compare(
        self, upload_sha256: str, archived_sha256: str, auth: Auth
    ) -> Job:
        """The comparison of an archive match (as the original) with an upload already on
        the desk (as the suspect), made once and then stored like any comparison."""
        from photoloupe.archive import Archive

        if self.config.index is None:
            raise ApiError(404, "not_found", "This desk has no archive index.")
        with Archive(self.config.index) as archive:
            archived = archive.catalogue.path_of(archived_sha256)
        upload = self.files.upload_path(upload_sha256)
        if archived is None or not upload.is_file():
            raise ApiError(404, "not_found", "No such upload or archived picture.")
        original = Upload(archived_sha256, os.path.basename(archived), None)
        job = self._job(
            "compare",
            compare_key(archived_sha256, upload_sha256),
            original,
            auth,
            suspect_sha256=upload_sha256,
            suspect_name=self._upload_name(upload_sha256),
            source=str(archived),
        )
        return await asyncio.to_thread(self._enqueue, job, [])

    def _upload_name(self, sha256: str) -> str:
        case = self.store.find(check_key(sha256))
        return case.name if case is not None else sha256[:12]

    async def settle(self, job: Job, wait: float) -> Job:
        """The job once finished, or as it stands after `wait` seconds."""
        if job.finished or wait <= 0:
            return job
        return await self.runner.wait(job.id, wait) or job

    def answer(self, job: Job) -> JSONResponse:
        """A job as the API gives it: 200 with the result when done, the job's own error
        status when failed, 202 with where to ask again while it is queued or running."""
        body: dict[str, Any] = {"job": job.summary()}
        if job.state == "failed":
            error = error_body(job.error_code or "failed", job.error_message or "Failed.")
            return JSONResponse({**error, **body}, job.error_status or 422)
        if job.state == "done" and job.case_id is not None:
            found = self.store.get(job.case_id)
            if found is None:
                gone = error_body("not_found", "The case this job made has been deleted.")
                return JSONResponse({**gone, **body}, 404)
            case, result = found
            field = "report" if case.kind == "check" else "comparison"
            return JSONResponse({"id": case.id, field: result, **body}, 200)
        location = f"{API}/jobs/{job.id}"
        return JSONResponse(body, 202, headers={"Location": location})

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

    # -- retention

    def delete_case(self, case_id: str) -> Case | None:
        """Remove a case: its row, its jobs, its pages and PDFs, and its uploads unless another
        case or a queued job uses the same file."""
        with self.files.lock:
            case = self.store.delete_case(case_id)
            if case is None:
                return None
            self.files.remove_case(case.id)
            for sha in (case.sha256, case.suspect_sha256):
                if sha is not None and not self.store.in_use(sha):
                    self.files.forget(sha)
        return case

    def purge(self) -> int:
        """Delete the cases older than `keep_days`, and the finished jobs as old; return the
        number of cases deleted."""
        if self.config.keep_days is None:
            return 0
        cutoff = (datetime.now(UTC) - timedelta(days=self.config.keep_days)).isoformat(
            timespec="microseconds"
        )
        deleted = 0
        while ids := self.store.cases_before(cutoff):
            for case_id in ids:
                deleted += self.delete_case(case_id) is not None
        self.store.purge_jobs(cutoff)
        return deleted


def _too_large(config: ServerConfig) -> str:
    return f"The upload is larger than the limit of {config.max_upload_bytes / MB:g} MB."
