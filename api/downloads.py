"""Serving one export file: a redirect to a short-lived presigned URL of the object store
(EXPORT_DOWNLOAD_MODE=redirect, the default with object storage), or the bytes streamed
through the API (`proxy`, the only mode for files on disk), with ranges and conditional
requests answered from the storage's size, ETag and modification time either way.

Authorisation happens before, in the route: a URL is presigned only for a caller who may
read the job, and it expires after PRESIGNED_URL_SECONDS.
"""

from __future__ import annotations

from flask import redirect, request, send_file
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wrappers import Response

from jobs.layout import media_type
from jobs.storage import ExportStorage, StorageConfigError, StoredFile, is_object_storage

REDIRECT = "redirect"
PROXY = "proxy"
MODES = (REDIRECT, PROXY)
# Long enough to start a large download on a slow link, short enough that a URL copied
# into a log or a ticket is useless by the time anyone reads it.
PRESIGNED_URL_SECONDS = 300


def chosen_download_mode(configured: str, storage_url: str) -> str:
    """EXPORT_DOWNLOAD_MODE (`configured`), defaulting to `redirect` for object storage and
    `proxy` else."""
    object_storage = is_object_storage(storage_url)
    mode = configured.strip().lower()
    if not mode:
        return REDIRECT if object_storage else PROXY
    if mode not in MODES:
        raise StorageConfigError(f"EXPORT_DOWNLOAD_MODE must be redirect or proxy, got {mode!r}")
    if mode == REDIRECT and not object_storage:
        raise StorageConfigError(
            "EXPORT_DOWNLOAD_MODE=redirect needs object storage (EXPORT_STORAGE_URL=s3://...)"
        )
    return mode


def serve(storage: ExportStorage, job_id: str, stored: StoredFile, mode: str) -> Response:
    if mode == REDIRECT:
        url = storage.download_url(job_id, stored.name, expires=PRESIGNED_URL_SECONDS)
        if url is not None:
            response = redirect(url, 302)
            # The URL is a credential for a few minutes: no cache may keep it.
            response.headers["Cache-Control"] = "no-store"
            return response
    return _stream(storage, job_id, stored)


def _stream(storage: ExportStorage, job_id: str, stored: StoredFile) -> Response:
    body = storage.open(job_id, stored.name)
    response = send_file(
        body,
        mimetype=media_type(stored.name),
        as_attachment=True,
        download_name=stored.name,
        conditional=False,
        etag=stored.etag,
        last_modified=stored.modified,
    )
    response.content_length = stored.size
    try:
        # 206 for a satisfiable Range (the body seeks to it), 304 for a matching
        # If-None-Match or If-Modified-Since; an unsatisfiable range is a 416 problem
        # whose Content-Range gives the size.
        return response.make_conditional(
            request.environ, accept_ranges=True, complete_length=stored.size
        )
    except RequestedRangeNotSatisfiable:
        body.close()
        raise
