"""The baseline: an exporter written plainly with `requests`, as the original tool worked.

One project after another, page by page, one request at a time, comments issue by issue.
No retries, no concurrency: what the service is measured against.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests


class NaiveExporter:
    def __init__(self, base_url: str, access_token: str, out_dir: Path) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {access_token}"
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        self.records = 0

    def get(self, path: str, **params: Any) -> Any:
        reply = self.session.get(f"{self.base_url}/{path}", params=params, timeout=60)
        reply.raise_for_status()
        body = reply.json()
        if body["result"] != 0:
            raise RuntimeError(f"{path}: {body['message']}")
        return body["data"]

    def write(self, name: str, records: list[Any]) -> None:
        with (self.out_dir / name).open("a", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")
        self.records += len(records)

    def run(self) -> int:
        licenses = self.get("v5/user/licenses")["entities"]
        self.write("licenses.ndjson", licenses)
        for license_ in licenses:
            if license_.get("frozen") or not license_["licenseOptions"].get("allowApiAccess"):
                continue
            self.write(
                "license_members.ndjson",
                self.get(f"v5/license/{license_['uuid']}/team")["entities"],
            )
            projects = self.get(f"v5/license/{license_['uuid']}/projects")["entities"]
            self.write("projects.ndjson", projects)
            for project in projects:
                if not project.get("archived"):
                    self.export_project(project)
        return self.records

    def export_project(self, project: dict[str, Any]) -> None:
        uuid = project["uuid"]
        self.write("members.ndjson", self.get(f"v5/project/{uuid}/team")["entities"])
        self.write("workflows.ndjson", [self.get(f"v5/project/{uuid}/issue-workflow/settings")])
        page = 0
        while True:
            stamps = self.get(f"v5/project/{uuid}/issue-preset/list", page=page)["entities"]
            self.write("stamps.ndjson", stamps)
            if len(stamps) < 200:
                break
            page += 1
        self.write("sheets.ndjson", self.get(f"v5/project/{uuid}/sheet/list")["entities"])
        page = 0
        while True:
            data = self.get(
                f"v5/project/{uuid}/issue-filter/filter",
                page=page,
                limit=100,
                sendFullIssueData="true",
            )
            self.write("issues.ndjson", data["data"])
            for issue in data["data"]:
                self.export_comments(issue, project["id"])
            page += 1
            if page >= data["pages"]:
                break

    def export_comments(self, issue: dict[str, Any], project_id: int) -> None:
        page = 0
        while True:
            data = self.get(
                f"v5/issue/{issue['uuid']}/comments/date",
                projectId=project_id,
                date="2000-01-01",
                page=page,
            )
            self.write(
                "comments.ndjson", [{"issue": issue["uuid"], "comment": c} for c in data["data"]]
            )
            page += 1
            if page >= data["pages"]:
                break
