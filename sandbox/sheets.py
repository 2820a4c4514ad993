"""A project's sheets (`sheet/list`, docs/revizto-api.md §4.9) and the `sheet` object issues
point at them with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.identifiers import derived_uuid

SHEET_NAMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("A-101", "Level 1 - General arrangement", ("Architecture", "Plans")),
    ("A-102", "Level 2 - General arrangement", ("Architecture", "Plans")),
    ("A-301", "Sections A/B", ("Architecture", "Sections")),
    ("M-201", "Mechanical services, level 1", ("MEP", "Mechanical")),
    ("E-401", "LV block diagram, stage 1", ("MEP", "Electrical")),
    ("S-110", "Footing and slab layout", ("Structure",)),
)
LAST_SYNCED = "2025-05-20 06:15:00"


@dataclass(frozen=True)
class Sheet:
    uuid: str
    number: str
    title: str
    path: tuple[str, ...]
    version: int
    deleted: bool

    def entity_json(self) -> dict[str, Any]:
        return {
            "uuid": self.uuid,
            "title": self.title,
            "description": "",
            "sheetNumber": self.number,
            "sheetVersion": self.version,
            "isDeleted": self.deleted,
            "isLast": not self.deleted,
            "path": list(self.path),
            "lastSynced": LAST_SYNCED,
            "reviztoRevisionNumber": self.version + 10,
        }


def generated_sheets(seed: int, project_key: str) -> tuple[Sheet, ...]:
    """Six sheets; the last one is deleted, so issues never point at it."""
    return tuple(
        Sheet(
            uuid=derived_uuid(seed, project_key, "sheet", number),
            number=number,
            title=title,
            path=path,
            version=1 + index % 3,
            deleted=index == len(SHEET_NAMES) - 1,
        )
        for index, (number, title, path) in enumerate(SHEET_NAMES)
    )


def captured_sheets(issues: list[dict[str, Any]]) -> tuple[Sheet, ...]:
    """The 2D sheets the captured issues point at."""
    sheets: dict[str, Sheet] = {}
    for issue in issues:
        value = (issue.get("sheet") or {}).get("value")
        if isinstance(value, dict) and not value.get("is3d") and value.get("uuid"):
            uuid = str(value["uuid"])
            sheets.setdefault(
                uuid,
                Sheet(
                    uuid, str(value.get("number") or ""), str(value.get("name") or ""), (), 1, False
                ),
            )
    return tuple(sheets.values())
