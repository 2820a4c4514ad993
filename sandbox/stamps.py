"""Stamp templates (`issue-preset/list`): categories and templates with a JSON-string `fields`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sandbox.identifiers import derived_uuid
from sandbox.workflow import ProjectWorkflow

NODE_TEMPLATE = 1
NODE_CATEGORY = 2
# (category, abbreviation, title, colour index); abbreviations are at most four characters.
STAMP_CATALOGUE: tuple[tuple[str, str, str, int], ...] = (
    ("Architecture", "AR", "Architectural coordination", 10),
    ("Architecture", "DR", "Door schedule", 1),
    ("MEP", "EL", "Electrical", 2),
    ("MEP", "ME", "Mechanical", 5),
    ("MEP", "PL", "Plumbing", 6),
    ("MEP", "FP", "Fire protection", 3),
    ("Structure", "ST", "Structural", 8),
    ("Structure", "PENR", "Penetration request", 4),
)


@dataclass(frozen=True)
class StampTemplate:
    uuid: str
    abbr: str
    title: str
    color: int
    category_uuid: str
    type_uuid: str


@dataclass(frozen=True)
class StampCategory:
    uuid: str
    title: str


@dataclass(frozen=True)
class StampSet:
    """A project's stamp categories and templates, in list order."""

    categories: tuple[StampCategory, ...]
    templates: tuple[StampTemplate, ...]

    def entities_json(self) -> list[dict[str, Any]]:
        categories = [
            {
                "uuid": category.uuid,
                "title": category.title,
                "parentUuid": None,
                "nodeRole": NODE_CATEGORY,
                "fields": "{}",
            }
            for category in self.categories
        ]
        templates = [
            {
                "uuid": template.uuid,
                "title": template.title,
                "parentUuid": template.category_uuid,
                "nodeRole": NODE_TEMPLATE,
                # Revizto sends this as a JSON-encoded string, not an object
                # (docs/revizto-api.md §4.8).
                "fields": json.dumps(
                    {
                        "stampAbbr": template.abbr,
                        "stampColor": template.color,
                        "customType": template.type_uuid,
                        "priority": "major",
                        "tags": [],
                    }
                ),
            }
            for template in self.templates
        ]
        return categories + templates


def generated_stamps(seed: int, project_key: str, workflow: ProjectWorkflow) -> StampSet:
    """The full catalogue, each template tied to one of the project's active issue types."""
    categories = {
        name: StampCategory(derived_uuid(seed, project_key, "stamp-category", name), name)
        for name, _, _, _ in STAMP_CATALOGUE
    }
    types = workflow.active_types
    templates = tuple(
        StampTemplate(
            uuid=derived_uuid(seed, project_key, "stamp", abbr),
            abbr=abbr,
            title=title,
            color=color,
            category_uuid=categories[category].uuid,
            type_uuid=types[index % len(types)].uuid,
        )
        for index, (category, abbr, title, color) in enumerate(STAMP_CATALOGUE)
    )
    return StampSet(tuple(categories.values()), templates)


def captured_stamps(
    project_key: str, issues: list[dict[str, Any]], workflow: ProjectWorkflow
) -> StampSet:
    """One category holding a template for every stamp the captured issues carry."""
    category = StampCategory(derived_uuid("fixture", project_key, "stamp-category"), "Imported")
    default_type = workflow.active_types[0].uuid if workflow.active_types else ""
    seen: dict[str, StampTemplate] = {}
    for issue in issues:
        abbr = (issue.get("stampAbbr") or {}).get("value")
        color = (issue.get("stampColor") or {}).get("value")
        if isinstance(abbr, str) and abbr and abbr not in seen:
            type_uuid = (issue.get("customType") or {}).get("value") or default_type
            seen[abbr] = StampTemplate(
                uuid=derived_uuid("fixture", project_key, "stamp", abbr),
                abbr=abbr,
                title=abbr,
                color=color if isinstance(color, int) else 0,
                category_uuid=category.uuid,
                type_uuid=str(type_uuid),
            )
    return StampSet((category,), tuple(seen.values()))
