"""An issue's level, zone, room, area and grid, served only when a client asks for them.

Issue lists leave these out unless the request names `appendClashAndLocationFields` in
`additionalFields` (docs/revizto-api.md §4.6). They then arrive as one plain object,
`clashAndLocationFields`, holding a list of names per key: usually one name, several for
a clash spanning levels. The shape is reported by one client [R]; the values here are
generated, deterministic per issue, and empty lists stand for "not set" [I].
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

ADDITIONAL_FIELDS = ("additionalFields[]", "additionalFields")
LOCATION_OPTION = "appendClashAndLocationFields"
LOCATION_KEY = "clashAndLocationFields"
CLASH_TYPE = 3  # an issue's `type`: 1 an ordinary issue, 3 a clash [R]

LEVELS = ("Basement B1", "Level 00", "Level 01", "Level 02", "Level 03", "Roof")
ZONES = ("Zone A", "Zone B", "Zone C Atrium", "East wing")
# Commas and non-ASCII text on purpose, as in issue titles.
ROOMS = ("Corridor 4A", "Plant room 2", "Data hall 3", "Stair core B", "Büro 1.14, Nord")
AREAS = ("North", "South", "Podium")
GRID_LETTERS = "ABCDEFGH"


def asks_for_locations(params: Mapping[str, Any], repeated: Mapping[str, list[str]]) -> bool:
    """Whether a list request names the location option.

    `repeated` holds every value of a repeated query key (`name[]=a&name[]=b`); `params`
    also holds a POST's JSON body, where the option comes as a list or a single string.
    """
    wanted: list[Any] = []
    for name in ADDITIONAL_FIELDS:
        wanted += repeated.get(name, [])
        value = params.get(name)
        wanted += value if isinstance(value, list) else [value]
    return LOCATION_OPTION in wanted


def generated_locations(rng_key: str, issue_type: Any) -> dict[str, list[str]]:
    """The location object of one generated issue; a clash may span two levels."""
    rng = random.Random(rng_key)
    levels = [rng.choice(LEVELS)] if rng.random() < 0.85 else []
    if levels and issue_type == CLASH_TYPE and rng.random() < 0.5:
        levels = sorted({*levels, rng.choice(LEVELS)})
    return {
        "level": levels,
        "zone": [rng.choice(ZONES)] if rng.random() < 0.6 else [],
        "room": [rng.choice(ROOMS)] if rng.random() < 0.5 else [],
        "area": [rng.choice(AREAS)] if rng.random() < 0.3 else [],
        "grid": [f"{rng.choice(GRID_LETTERS)}/{rng.randint(1, 12)}"] if rng.random() < 0.5 else [],
    }


def with_locations(issue: dict[str, Any], locations: dict[str, list[str]] | None) -> dict[str, Any]:
    """A copy of `issue` carrying `locations` last; None keeps what the issue has (a
    captured issue is served as captured)."""
    if locations is None:
        return issue
    return {**{k: v for k, v in issue.items() if k != LOCATION_KEY}, LOCATION_KEY: locations}


def without_locations(issue: dict[str, Any]) -> dict[str, Any]:
    """`issue` as a request that did not ask for locations sees it."""
    if LOCATION_KEY not in issue:
        return issue
    return {k: v for k, v in issue.items() if k != LOCATION_KEY}
