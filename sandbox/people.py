"""The people of a seeded workspace and the shapes Revizto uses to show them."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from typing import Any

from sandbox.identifiers import derived_int, derived_uuid

# Non-ASCII and apostrophes on purpose: exporters must carry names through CSV and JSON.
NAMES: tuple[tuple[str, str], ...] = (
    ("Alex", "Morgan"),
    ("Zoë", "Lindqvist"),
    ("José", "Núñez"),
    ("Priya", "Raman"),
    ("Wei", "Zhang"),
    ("Sam", "O'Brien"),
    ("Fatima", "Al-Sayed"),
    ("Lukas", "Müller"),
    ("Aroha", "Ngata"),
    ("Chidi", "Okafor"),
    ("Ingrid", "Halvorsen"),
    ("Mateo", "Rossi"),
)
COMPANIES = ("Northwind Construction", "Baumann MEP GmbH", "Kiri Structural", "Atelier Lumière")
DEPARTMENTS = ("BIM", "MEP", "Structure", "Architecture")
LOCATIONS = ("Sydney", "Toronto", "Berlin", "Lyon")
JOINED = "2021-03-15 08:30:00"
LAST_ACTIVE = "2025-06-30 17:45:12"


@dataclass(frozen=True)
class Person:
    """One Revizto user; `member_uuid` is the licence membership, distinct from the user uuid."""

    id: int
    uuid: str
    member_uuid: str
    firstname: str
    lastname: str
    email: str
    company: str
    department: str
    location: str

    @property
    def fullname(self) -> str:
        return f"{self.firstname} {self.lastname}"


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters only, for e-mail local parts.

    >>> ascii_slug("Zoë O'Brien")
    'zoeobrien'
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def people_for_seed(seed: int) -> list[Person]:
    """The workspace's users; the first is the one every token belongs to."""
    rng = random.Random(f"{seed}:people")
    people = []
    for index, (first, last) in enumerate(NAMES):
        # Older accounts carry undashed legacy uuids, as in real captures.
        dashed = index % 4 != 3
        people.append(
            Person(
                id=derived_int(1_000_000, 9_000_000, seed, "person", index),
                uuid=derived_uuid(seed, "person", index, dashed=dashed),
                member_uuid=derived_uuid(seed, "member", index),
                firstname=first,
                lastname=last,
                email=f"{ascii_slug(first)}.{ascii_slug(last)}@example.com",
                company=rng.choice(COMPANIES),
                department=rng.choice(DEPARTMENTS),
                location=rng.choice(LOCATIONS),
            )
        )
    return people


def author_json(person: Person) -> dict[str, Any]:
    """The `author` object inside an issue."""
    return {
        "id": person.id,
        "uuid": person.uuid,
        "firstname": person.firstname,
        "lastname": person.lastname,
        "email": person.email,
        "role": "user",
    }


def user_json(person: Person) -> dict[str, Any]:
    """`GET /v5/user` data and the `user` object nested in memberships."""
    return {
        "id": person.id,
        "uuid": person.uuid,
        "email": person.email,
        "firstname": person.firstname,
        "lastname": person.lastname,
        "fullname": person.fullname,
        "role": "user",
        "lastActive": LAST_ACTIVE,
        "language": "en",
        "avatar": "",
    }


def licence_member_json(person: Person, *, role: int, deactivated: bool) -> dict[str, Any]:
    """One entity of `GET /v5/license/{uuid}/team` (docs/revizto-api.md §4.3)."""
    return {
        "uuid": person.member_uuid,
        "role": role,
        "user": user_json(person),
        "company": person.company,
        "department": person.department,
        "location": person.location,
        "invitedAt": JOINED,
        "activated": True,
        "deactivated": deactivated,
        "deactivatedAt": LAST_ACTIVE if deactivated else None,
        "lastActive": LAST_ACTIVE,
        "status": "deactivated" if deactivated else "active",
        "metaTags": [],
    }


def project_member_json(person: Person, *, role_uuid: str, admin: bool) -> dict[str, Any]:
    """One entity of `GET /v5/project/{uuid}/team` (docs/revizto-api.md §4.4)."""
    access_role = {
        "id": 1 if admin else 2,
        "uuid": role_uuid,
        "name": "Project admin" if admin else "Collaborator",
        "system": True,
    }
    return {
        "id": person.id,
        "uuid": person.uuid,
        "email": person.email,
        "firstname": person.firstname,
        "lastname": person.lastname,
        "fullname": person.fullname,
        "role": "user",
        "activated": True,
        "invited": JOINED,
        "frozen": False,
        "lastActive": LAST_ACTIVE,
        "language": "en",
        "avatar": "",
        "accesslevel": "admin" if admin else "user",
        "accessRole": access_role,
        "member_id": person.id + 17,
        "member": {
            "id": person.id + 17,
            "role": 4 if admin else 2,
            "uuid": person.member_uuid,
            "user": user_json(person),
        },
        "company": person.company,
        "department": person.department,
        "location": person.location,
        "status": "active",
        "suspendReason": None,
    }
