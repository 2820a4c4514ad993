"""Generated issues in the real Revizto shape, computed per request from (seed, project, id).

Cheap facts (uuid, created, updated, comment count) come from one hash per issue so they
can be tabulated for 100,000 issues; the full object comes from a seeded RNG per issue.
"""

from __future__ import annotations

import base64
import random
import threading
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sandbox.comments import CommentAuthor, CommentPlan
from sandbox.identifiers import digest, format_uuid
from sandbox.issue_collection import IssueCollection, mark_deleted
from sandbox.locations import generated_locations
from sandbox.people import Person, author_json
from sandbox.sheets import Sheet
from sandbox.stamps import StampSet
from sandbox.timestamps import NEVER, format_timestamp
from sandbox.workflow import IssueType, ProjectWorkflow

MEDIA_BASE = "https://media.example.invalid"
WEB_BASE = "https://ws.revizto.com"
# Issues of a project are created over this span, whatever their number.
CREATION_SPAN_S = 540 * 86400
MAX_EDIT_DELAY_S = 120 * 86400
# About one issue in six carries an undashed legacy uuid.
UNDASHED_BELOW = 40
PRIORITIES = ("blocker", "critical", "major", "minor", "trivial", "none")
TRADES = ("ACME", "Baumann MEP", "Kiri Structural", "Atelier Lumière", "Northwind")
ROOMS = ("Corridor 4A", "Plant room 2", "Data hall 3", "Stair core B", "Loading dock")
# Titles carry commas, double quotes, newlines and non-ASCII text on purpose.
TITLE_TEMPLATES = (
    "{trade} | Duct clashes with beam at grid {grid}",
    "{trade} | Pipe, cable tray and duct conflict in {room}",
    '{trade} | Door "D-{n}" swing blocked by column',
    "{trade} | Missing fire damper\nSee markup on sheet {sheet}",
    "{trade} | Höhe der Abhangdecke prüfen - {room}",
    "{trade} | Penetración requerida en muro, eje {grid}",
    "{trade} | 配管と梁の干渉 {grid}",
    "{trade} | Confirm ceiling height (min. 2,900 mm), level {n}",
)
TAGS = ("EL", "ME", "AR", "ST", "Ground", "L01", "L02", "FP")


@dataclass(frozen=True)
class IssueContext:
    """The project facts every generated issue draws on."""

    seed: int
    project_key: str
    project_id: int
    licence_id: int
    team: tuple[Person, ...]
    workflow: ProjectWorkflow
    stamps: StampSet
    sheets: tuple[Sheet, ...]
    base_epoch: int


@dataclass(frozen=True)
class Skeleton:
    """The facts of an issue that tables and indexes need, without the full object."""

    uuid: str
    created: int
    updated: int
    comments: int


class GeneratedIssues(IssueCollection):
    """Issues 1..count of a generated project, plus a few deleted ones after them."""

    def __init__(self, context: IssueContext, count: int, deleted: int, max_comments: int) -> None:
        super().__init__()
        self.context = context
        self.count = count
        self.max_comments = max_comments
        self._ids = range(1, count + 1)
        self._deleted_ids = range(count + 1, count + deleted + 1)
        self._spacing = max(1, CREATION_SPAN_S // max(count + deleted, 1))
        self._tables_lock = threading.Lock()
        self._updated: array[int] | None = None
        self._comment_total: int | None = None

    @property
    def original_ids(self) -> Sequence[int]:
        return self._ids

    @property
    def original_deleted_ids(self) -> Sequence[int]:
        return self._deleted_ids

    def skeleton(self, issue_id: int) -> Skeleton:
        raw = digest(self.context.seed, "issue", self.context.project_key, issue_id)
        created = (
            self.context.base_epoch
            + (issue_id - 1) * self._spacing
            + int.from_bytes(raw[17:20], "big") % self._spacing
        )
        live = issue_id <= self.count
        return Skeleton(
            uuid=format_uuid(raw[:16], dashed=raw[16] >= UNDASHED_BELOW),
            created=created,
            updated=created + int.from_bytes(raw[20:23], "big") % MAX_EDIT_DELAY_S,
            comments=int.from_bytes(raw[23:25], "big") % (self.max_comments + 1) if live else 0,
        )

    def updated_table(self) -> Sequence[int]:
        return self._tables()[0]

    def original_comment_total(self) -> int:
        return self._tables()[1]

    def _tables(self) -> tuple[Sequence[int], int]:
        with self._tables_lock:
            if self._updated is None or self._comment_total is None:
                updated: array[int] = array("q")
                total = 0
                for issue_id in self._ids:
                    skeleton = self.skeleton(issue_id)
                    updated.append(skeleton.updated)
                    total += skeleton.comments
                self._updated, self._comment_total = updated, total
            return self._updated, self._comment_total

    def uuid_pairs(self) -> Iterator[tuple[str, int]]:
        for issue_id in self._ids:
            yield self.skeleton(issue_id).uuid, issue_id

    def deleted_updated(self, issue_id: int) -> int:
        return self._deleted_at(self.skeleton(issue_id))

    def render(self, issue_id: int) -> dict[str, Any]:
        return render_issue(self.context, issue_id, self.skeleton(issue_id))

    def render_deleted(self, issue_id: int) -> dict[str, Any]:
        skeleton = self.skeleton(issue_id)
        return mark_deleted(
            render_issue(self.context, issue_id, skeleton), self._deleted_at(skeleton)
        )

    def locations(self, issue: Mapping[str, Any]) -> dict[str, list[str]]:
        context = self.context
        key = f"{context.seed}:{context.project_key}:{issue.get('id')}:locations"
        return generated_locations(key, issue.get("type"))

    @staticmethod
    def _deleted_at(skeleton: Skeleton) -> int:
        return skeleton.updated + 3600

    def comment_plan(self, issue_id: int) -> CommentPlan:
        skeleton = self.skeleton(issue_id)
        context = self.context
        return CommentPlan(
            rng_key=f"{context.seed}:{context.project_key}:{issue_id}:comments",
            count=skeleton.comments,
            first=skeleton.created + 60,
            last=skeleton.updated,
            authors=tuple(
                CommentAuthor(person.firstname, person.lastname, person.email)
                for person in context.team
            ),
            media_prefix=f"{MEDIA_BASE}/{context.project_id}/.static/issues/{issue_id}",
            status_uuids=tuple(
                status.uuid for flow in context.workflow.workflows for status in flow.statuses
            ),
        )


def render_issue(context: IssueContext, issue_id: int, skeleton: Skeleton) -> dict[str, Any]:
    """The full issue object, key order and nesting as in real captures
    (docs/revizto-api.md §4.6)."""
    rng = random.Random(f"{context.seed}:{context.project_key}:{issue_id}")
    created, updated = skeleton.created, skeleton.updated

    def changed() -> str:
        # rng.random() rather than randint: this runs ~20 times per issue and randint is slow.
        return format_timestamp(created + int(rng.random() * (updated - created + 1)))

    def field(value: Any, timestamp: str = NEVER) -> dict[str, Any]:
        return {"value": value, "timestamp": timestamp}

    team = context.team
    author = rng.choice(team)
    assignee = rng.choice(team)
    kind: IssueType = rng.choice(context.workflow.active_types)
    status = rng.choice(kind.workflow.statuses)
    clash = rng.random() < 0.05
    has_preview = rng.random() < 0.85
    media = f"{MEDIA_BASE}/{context.project_id}/.static/issues/{issue_id}"
    stamp = rng.choice(context.stamps.templates) if rng.random() < 0.75 else None
    desktop = f"revizto5://viewer/{context.project_id}/issue_tracker/{issue_id}"

    issue: dict[str, Any] = {
        "uuid": skeleton.uuid,
        "id": issue_id,
        "author": author_json(author),
        "binding": 2 if rng.random() < 0.15 else 3,
        "commented": format_timestamp(updated) if skeleton.comments else NEVER,
        "comments": skeleton.comments,
        "unread": {
            "comments": rng.randint(0, skeleton.comments),
            "issue": skeleton.comments > 0,
        },
        "type": 3 if clash else 1,
    }
    # Newer Revizto versions add the display names; older captures lack them
    # (docs/revizto-api.md §3f).
    if rng.random() < 0.6:
        issue["customStatusName"] = status.name
        issue["customTypeName"] = kind.name
    issue["updated"] = format_timestamp(updated)
    issue["version"] = rng.randint(1, 6)
    issue["status"] = field(status.legacy, changed())
    if has_preview:
        image = f"{media}/previews/{rng.randbytes(4).hex()}"
        issue["preview"] = {
            "original": image,
            "small": f"{image}_231x174",
            "middle": f"{image}_1024x1024",
            "large": f"{image}_2048x2048",
        }
    issue["assignee"] = field(assignee.email, changed())
    issue["backgroundType"] = field(rng.choice((0, 20, 21)), changed())
    issue["bind3d"] = field(_bind3d(rng) if rng.random() < 0.7 else [], changed())
    issue["camera"] = field(_camera(rng), changed())
    issue["cdeLinks"] = field([])
    issue["clashes"] = field([])
    issue["colorSelection"] = field([])
    issue["compareSheet"] = field([])
    issue["created"] = field(format_timestamp(created))
    issue["customStatus"] = field(status.uuid, changed())
    issue["customType"] = field(kind.uuid, changed())
    deadline = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 12:00:00"
    issue["deadline"] = field(deadline, changed()) if rng.random() < 0.2 else field(NEVER)
    issue["defaultSheet"] = field([])
    issue["deletedAt"] = field(None)
    issue["internalProperties"] = field("")
    issue["markup"] = field(_markup(rng), changed()) if rng.random() < 0.4 else field([])
    issue["phaseSelection"] = field([])
    pin = {"index": 0, "scale": 0.75, "visibility": True}
    issue["pin"] = field(pin, changed()) if rng.random() < 0.2 else field([])
    issue["positionProperties"] = field(_base64(rng, 24), changed())
    issue["priority"] = field(rng.choice(PRIORITIES), changed())
    issue["procore"] = field(None)
    issue["rClashes"] = field({"protoBase64": _base64(rng, 48)}, changed()) if clash else field([])
    issue["reporter"] = field(author.email, format_timestamp(created))
    issue["sectioncuts"] = field(_sectioncuts(rng), changed()) if rng.random() < 0.5 else field([])
    issue["selectionNames"] = field({"protoBase64": "EAA="}, changed())
    issue["selections"] = field([])
    issue["sheet"] = _sheet_field(rng, context, changed)
    if has_preview:
        issue["snapshot"] = field("snapshot.jpg")
    if stamp is None:
        issue["stampAbbr"] = field(None)
        issue["stampColor"] = field(None)
        issue["stampScale"] = field(None)
    else:
        issue["stampAbbr"] = field(stamp.abbr, changed())
        issue["stampColor"] = field(stamp.color, changed())
        issue["stampScale"] = field(0.75, changed())
    issue["statusAuto"] = field(0, changed())
    tags = sorted(rng.sample(TAGS, rng.randint(0, 2)))
    issue["tags"] = field(tags, changed()) if tags else field([])
    issue["title"] = field(_title(rng, issue_id, context), changed())
    issue["visibility"] = field(0 if rng.random() < 0.03 else 1)
    issue["visibilitySelection"] = field([])
    issue["visualOperations"] = field(_base64(rng, 96), changed())
    watchers = sorted({author.email, assignee.email, *(p.email for p in rng.sample(team, 2))})
    issue["watchers"] = field(watchers, changed())
    issue["openLinks"] = {
        "desktop": desktop,
        "web": (
            f"{WEB_BASE}/en/license/{context.licence_id}/project/{context.project_id}"
            f"/issue-tracker?id={issue_id}"
        ),
        "redirect": f"{WEB_BASE}/redirect-app?url={quote(desktop, safe='')}",
    }
    return issue


def _title(rng: random.Random, issue_id: int, context: IssueContext) -> str:
    template = TITLE_TEMPLATES[rng.randrange(len(TITLE_TEMPLATES))]
    return template.format(
        trade=rng.choice(TRADES),
        grid=f"{rng.choice('ABCDEFGH')}/{rng.randint(1, 12)}",
        room=rng.choice(ROOMS),
        n=issue_id,
        sheet=context.sheets[0].number if context.sheets else "A-101",
    )


def _base64(rng: random.Random, size: int) -> str:
    return base64.b64encode(rng.randbytes(size)).decode()


def _vector(rng: random.Random, scale: float) -> dict[str, float]:
    return {axis: round(rng.uniform(-scale, scale), 6) for axis in "xyz"}


def _camera(rng: random.Random) -> dict[str, Any]:
    forward, position, target, up = (_vector(rng, s) for s in (1.0, 400.0, 400.0, 1.0))
    return {
        "exist_bind": True,
        "exist_target": True,
        "forward": forward,
        "forward_bind": forward,
        "fov": 60,
        "position": position,
        "position_bind": position,
        "target": target,
        "target_bind": target,
        "type": 0,
        "up": up,
        "up_bind": up,
        "viewToWorldScale": round(rng.uniform(1, 20), 5),
    }


def _bind3d(rng: random.Random) -> dict[str, str]:
    return {
        "cad_id": str(rng.randint(-(2**31), 2**31 - 1)),
        "instance_cad_part_id": str(rng.randint(0, 2**31 - 1)),
        "scene_id": str(rng.randint(0, 2**63 - 1)),
    }


def _sectioncuts(rng: random.Random) -> list[dict[str, Any]]:
    normal = {"x": 0, "y": -1, "z": round(rng.uniform(-1e-6, 1e-6), 12)}
    dist = round(rng.uniform(1, 200), 5)
    return [
        {
            "dist": dist,
            "dist_bind": dist,
            "exist_bind": True,
            "normal": normal,
            "normal_bind": normal,
        }
    ]


def _markup(rng: random.Random) -> dict[str, Any]:
    shapes: list[dict[str, Any]] = [
        {
            "arrow": None,
            "calloutBorder": False,
            "fill": {"color": 0, "opacity": 0},
            "points": [],
            "rect": {
                "center": {"x": round(rng.random(), 7), "y": round(rng.random(), 7)},
                "rotation": 0,
                "size": {"x": 0.04910785, "y": 0.04910785},
            },
            "stroke": {"color": 1, "thickness": 0.002083333, "type": 1},
            "text_data": {"alignment": 0, "color": 1, "size": 0.0125, "text": ""},
            "type": 3,
            "type416": 3,
            "type417": 3,
        }
        for _ in range(rng.randint(0, 3))
    ]
    return {"guid": format_uuid(rng.randbytes(16)), "markups": shapes}


def _sheet_field(rng: random.Random, context: IssueContext, changed: Any) -> dict[str, Any]:
    """`[]` for most issues (the empty-object quirk), else a 2D sheet or the 3D model."""
    roll = rng.random()
    live_sheets = [sheet for sheet in context.sheets if not sheet.deleted]
    if roll < 0.55 or not live_sheets:
        return {"value": [], "timestamp": NEVER}
    guid = rng.randbytes(16).hex()
    position = _vector(rng, 300.0)
    value: dict[str, Any]
    if roll < 0.8:
        sheet = rng.choice(live_sheets)
        value = {
            "aspect": 1.414322,
            "exist_bind": True,
            "guid": sheet.uuid,
            "id": rng.randint(1_000_000, 3_000_000),
            "is3d": False,
            "name": sheet.title,
            "number": sheet.number,
            "portId": "",
            "position3d": position,
            "position3d_bind": position,
            "revision": {"cde_link": None, "project_revision_uuid": guid, "uuid": sheet.uuid},
            "uuid": sheet.uuid,
            "viewCenter": {"x": 0.5, "y": 0.5},
            "viewMarker": {"x": 0.5, "y": 0.5},
            "viewScale": 1,
        }
    else:
        value = {
            "aspect": 1.414322,
            "exist_bind": True,
            "guid": guid,
            "id": -1,
            "is3d": True,
            "name": str(context.project_id % 100000),
            "number": None,
            "portId": rng.randbytes(16).hex(),
            "position3d": position,
            "position3d_bind": position,
            "revision": {"cde_link": None, "project_revision_uuid": None, "uuid": guid},
            "uuid": guid,
            "viewCenter": {"x": 0, "y": 0},
            "viewMarker": {"x": 0, "y": 0},
            "viewScale": 0,
        }
    return {"value": value, "timestamp": changed()}
