"""JobApiClient: the job API over HTTP, with its problems turned into exceptions."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

TIMEOUT = (5.0, 60.0)
CHUNK = 1 << 20
FINISHED = ("succeeded", "partially_succeeded", "failed", "cancelled")


class ApiProblem(Exception):
    """The job API answered with an error (RFC 9457 problem details)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        detail = problem.get("detail") or problem.get("title") or f"HTTP {status}"
        errors = problem.get("errors") or []
        fields = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors[:5])
        super().__init__(f"HTTP {status}: {detail}" + (f" ({fields})" if fields else ""))


class Unreachable(Exception):
    """The job API could not be reached at all."""


def bearer_key(entry: str) -> str:
    """The key itself, from a key or from an EXPORTER_API_KEYS entry `name:key`."""
    return entry.rpartition(":")[2]


class JobApiClient:
    def __init__(self, api_url: str, api_key: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {bearer_key(api_key)}"

    def _call(self, method: str, path: str, **options: Any) -> requests.Response:
        try:
            reply = self.session.request(method, self.api_url + path, timeout=TIMEOUT, **options)
        except requests.RequestException as exc:
            raise Unreachable(f"{self.api_url} unreachable ({type(exc).__name__})") from None
        if reply.status_code >= 400:
            try:
                problem = reply.json()
            except ValueError:
                problem = {}
            raise ApiProblem(reply.status_code, problem if isinstance(problem, dict) else {})
        return reply

    def _json(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        body: dict[str, Any] = self._call(method, path, **options).json()
        return body

    def submit(self, body: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._json("POST", "/v1/exports", json=body, headers=headers)

    def job(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/exports/{job_id}")

    def jobs(self, *, state: str | None = None, limit: int = 20) -> Iterator[dict[str, Any]]:
        """Newest first, page after page, until `limit` jobs."""
        token: str | None = None
        returned = 0
        while returned < limit:
            params: dict[str, Any] = {"limit": min(100, limit - returned)}
            if state:
                params["state"] = state
            if token:
                params["page_token"] = token
            page = self._json("GET", "/v1/exports", params=params)
            for job in page["jobs"]:
                returned += 1
                yield job
            token = page.get("next_page_token")
            if not token:
                return

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._json("POST", f"/v1/exports/{job_id}:cancel")

    def retry(self, job_id: str) -> dict[str, Any]:
        return self._json("POST", f"/v1/exports/{job_id}:retry")

    def delete(self, job_id: str) -> None:
        self._call("DELETE", f"/v1/exports/{job_id}")

    def projects(self) -> dict[str, Any]:
        return self._json("GET", "/v1/projects")

    def credential(self) -> dict[str, Any]:
        return self._json("GET", "/v1/credential")

    def manifest(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/exports/{job_id}/files/manifest.json")

    def download(self, job_id: str, name: str, directory: Path) -> tuple[Path, str, int]:
        """Stream one file into `directory` (under a temporary name until complete); its
        path, sha256 and size."""
        target = directory / name
        temp = directory / f".{name}.download"
        digest = hashlib.sha256()
        size = 0
        reply = self._call("GET", f"/v1/exports/{job_id}/files/{name}", stream=True)
        with temp.open("wb") as handle:
            for chunk in reply.iter_content(CHUNK):
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        temp.replace(target)
        return target, digest.hexdigest(), size
