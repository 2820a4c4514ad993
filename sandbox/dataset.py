"""What a sandbox holds for a seed: licences, their projects, and each project's issue source.

Everything here is small and built at start-up; issues and comments are only rendered when a
page is asked for (see issues.py and fixtures.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.fixtures import FixtureIssues, FixtureProject
from sandbox.identifiers import derived_int, derived_uuid, uuid_key
from sandbox.issue_collection import IssueCollection
from sandbox.issues import GeneratedIssues, IssueContext
from sandbox.people import Person, people_for_seed
from sandbox.sheets import Sheet, captured_sheets, generated_sheets
from sandbox.stamps import StampSet, captured_stamps, generated_stamps
from sandbox.timestamps import parse_timestamp
from sandbox.workflow import ProjectWorkflow, captured_workflow, generated_workflow

# Projects of the frozen, the no-API and the extra licences are deliberately tiny.
SMALL_PROJECT_ISSUES = 5
# Generated issues start here; project p starts p * 3 days later.
ISSUES_EPOCH = parse_timestamp("2023-01-02 00:00:00")
PROJECT_NAMES = (
    "Harbourside Tower",
    "Riverside Hospital Stage 2",
    "Data Centre DH3",
    "Westgate Rail Depot",
    "Campus Library Refurbishment",
    "Northbank Residential",
)
# Revizto's licence code for "frozen: subscription expired" seen in captures
# (docs/revizto-api.md §4.2).
FROZEN_REASON = -51


@dataclass(eq=False)
class Licence:
    """One Revizto licence (workspace) and the projects it holds."""

    id: int
    uuid: str
    name: str
    frozen: bool
    api_access: bool
    members: tuple[Person, ...]
    projects: list[Project] = field(default_factory=list)


@dataclass(eq=False)
class Project:
    """One project: identity, listing facts, and where its issues come from."""

    id: int
    uuid: str
    key: str
    title: str
    licence: Licence
    archived: bool
    abbreviate: str | None
    has_preview_images: bool
    team: tuple[Person, ...]
    workflow: ProjectWorkflow
    stamps: StampSet
    sheets: tuple[Sheet, ...]
    issues: IssueCollection
    source: str

    @property
    def readable(self) -> bool:
        """False when Revizto would answer -204: the licence is frozen or has no API access."""
        return self.licence.api_access and not self.licence.frozen


class Dataset:
    """The workspace as seen by the one user every token belongs to."""

    def __init__(self, user: Person, people: list[Person], licences: list[Licence]) -> None:
        self.user = user
        self.people = people
        self.licences = licences
        self._licences = {uuid_key(licence.uuid): licence for licence in licences}
        self.projects = [project for licence in licences for project in licence.projects]
        self._projects = {uuid_key(project.uuid): project for project in self.projects}
        self._projects_by_id = {project.id: project for project in self.projects}

    def licence(self, reference: str) -> Licence | None:
        return self._licences.get(uuid_key(reference))

    def project(self, reference: str, *, allow_numeric: bool = False) -> Project | None:
        """A project by uuid (any case, dashes optional), or by numeric id when allowed."""
        # Project ids are six digits; an all-digit 32-character string is still a uuid.
        if allow_numeric and reference.isdigit() and len(reference) < 32:
            return self._projects_by_id.get(int(reference))
        return self._projects.get(uuid_key(reference))

    def project_by_id(self, project_id: int) -> Project | None:
        return self._projects_by_id.get(project_id)


def build_dataset(config: SandboxConfig, fixtures: list[FixtureProject]) -> Dataset:
    """The deterministic workspace for `config.seed`, plus any captured projects."""
    seed = config.seed
    people = people_for_seed(seed)
    base_licence_id = derived_int(1000, 9000, seed, "licence")
    main = Licence(
        base_licence_id,
        derived_uuid(seed, "licence", "main"),
        "Northwind Construction",
        frozen=False,
        api_access=True,
        members=tuple(people),
    )
    frozen = Licence(
        base_licence_id + 1,
        derived_uuid(seed, "licence", "frozen"),
        "Legacy Projects (expired)",
        frozen=True,
        api_access=True,
        members=tuple(people[:3]),
    )
    no_api = Licence(
        base_licence_id + 2,
        derived_uuid(seed, "licence", "no-api"),
        "Site Viewer Basic",
        frozen=False,
        api_access=False,
        members=tuple(people[:3]),
    )
    ids = _ProjectIds(seed, {f.numeric_id for f in fixtures if f.numeric_id is not None})
    for index in range(config.projects):
        archived = index >= config.projects - config.archived_projects
        main.projects.append(
            _generated_project(
                config, main, index, config.issues_per_project, archived, ids, people
            )
        )
    for position, capture in enumerate(fixtures):
        main.projects.append(_fixture_project(seed, main, position, capture, ids, people))
    extra = [
        Licence(
            base_licence_id + 3 + number,
            derived_uuid(seed, "licence", "extra", number),
            f"Partner Workspace #{number + 1}",
            frozen=False,
            api_access=True,
            members=tuple(people[:4]),
        )
        for number in range(config.extra_licences)
    ]
    for offset, licence in enumerate((frozen, no_api, *extra)):
        index = config.projects + offset
        licence.projects.append(
            _generated_project(config, licence, index, SMALL_PROJECT_ISSUES, False, ids, people)
        )
    return Dataset(people[0], people, [main, frozen, no_api, *extra])


class _ProjectIds:
    """Six-digit global project ids, never colliding with the captured projects' ids."""

    def __init__(self, seed: int, taken: set[int]) -> None:
        self._next = derived_int(300_000, 800_000, seed, "project-ids")
        self._taken = set(taken)

    def next(self) -> int:
        while self._next in self._taken:
            self._next += 1
        value = self._next
        self._taken.add(value)
        self._next += 7
        return value


def _team(seed: int, key: str, people: list[Person]) -> tuple[Person, ...]:
    rng = random.Random(f"{seed}:{key}:team")
    others = rng.sample(people[1:], rng.randint(4, min(8, len(people) - 1)))
    return (people[0], *others)


def _generated_project(
    config: SandboxConfig,
    licence: Licence,
    index: int,
    issue_count: int,
    archived: bool,
    ids: _ProjectIds,
    people: list[Person],
) -> Project:
    seed = config.seed
    key = f"p{index}"
    project_id = ids.next()
    team = _team(seed, key, people)
    workflow = generated_workflow(seed, key)
    stamps = generated_stamps(seed, key, workflow)
    sheets = generated_sheets(seed, key)
    context = IssueContext(
        seed=seed,
        project_key=key,
        project_id=project_id,
        licence_id=licence.id,
        team=team,
        workflow=workflow,
        stamps=stamps,
        sheets=sheets,
        base_epoch=ISSUES_EPOCH + index * 3 * 86400,
    )
    deleted = 1 + derived_int(0, 3, seed, key, "deleted") if issue_count else 0
    name = PROJECT_NAMES[index % len(PROJECT_NAMES)]
    return Project(
        id=project_id,
        # Every third project is old enough to carry an undashed legacy uuid.
        uuid=derived_uuid(seed, "project", index, dashed=index % 3 != 2),
        key=key,
        title=f"{name} #{index + 1}",
        licence=licence,
        archived=archived,
        abbreviate="".join(word[0] for word in name.split()[:3]).upper()
        if index % 2 == 0
        else None,
        has_preview_images=index % 4 != 1,
        team=team,
        workflow=workflow,
        stamps=stamps,
        sheets=sheets,
        issues=GeneratedIssues(context, issue_count, deleted, config.comments_per_issue),
        source="generated",
    )


def _fixture_project(
    seed: int,
    licence: Licence,
    position: int,
    capture: FixtureProject,
    ids: _ProjectIds,
    people: list[Person],
) -> Project:
    key = f"f{position}"
    project_id = capture.numeric_id if capture.numeric_id is not None else ids.next()
    workflow = captured_workflow(key, capture.issues)
    return Project(
        id=project_id,
        uuid=capture.uuid,
        key=key,
        title=f"Captured project {position + 1} ({project_id})",
        licence=licence,
        archived=False,
        abbreviate=None,
        has_preview_images=False,
        team=_team(seed, key, people),
        workflow=workflow,
        stamps=captured_stamps(key, capture.issues, workflow),
        sheets=captured_sheets(capture.issues),
        issues=FixtureIssues(key, project_id, capture.issues),
        source="fixture",
    )


def catalog_json(dataset: Dataset) -> dict[str, Any]:
    """What `/_sandbox/catalog` reports, so end-to-end tests can compute expected exports."""
    return {
        "user": {"email": dataset.user.email, "uuid": dataset.user.uuid},
        "licenses": [
            {
                "uuid": licence.uuid,
                "id": licence.id,
                "name": licence.name,
                "frozen": licence.frozen,
                "api_access": licence.api_access,
                "projects": [
                    {
                        "uuid": project.uuid,
                        "id": project.id,
                        "title": project.title,
                        "archived": project.archived,
                        "frozen": licence.frozen,
                        "api_access": licence.api_access,
                        "source": project.source,
                        "issues": len(project.issues.live_ids()),
                        "deleted_issues": project.issues.deleted_count(),
                        "comments": project.issues.comment_total(),
                    }
                    for project in licence.projects
                ],
            }
            for licence in dataset.licences
        ],
    }
