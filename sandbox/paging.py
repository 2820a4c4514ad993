"""Page/limit query parameters (0-based) and the paged payload shape (docs/revizto-api.md §3b)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class ParameterError(ValueError):
    """A query parameter could not be read; `field` names it."""

    def __init__(self, field: str) -> None:
        super().__init__(f"invalid parameter {field}")
        self.field = field


@dataclass(frozen=True)
class PageRequest:
    page: int
    limit: int


def page_request(args: Mapping[str, Any], *, default_limit: int, max_limit: int) -> PageRequest:
    """Read `page` and `limit`; a limit above `max_limit` is clamped, not refused."""
    page = _integer(args, "page", 0)
    limit = _integer(args, "limit", default_limit)
    if page < 0:
        raise ParameterError("page")
    if limit < 1:
        raise ParameterError("limit")
    return PageRequest(page, min(limit, max_limit))


def _integer(args: Mapping[str, Any], name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ParameterError(name) from None


def paged(
    items: list[Any],
    *,
    count: int,
    request: PageRequest,
    synchronized: str,
    with_pages: bool = True,
) -> dict[str, Any]:
    """The paged payload: `pages` is ceil(count/limit), 0 for an empty list; left out
    when `with_pages` is false (the `omit_pages` fault, docs/revizto-api.md §3b).

    >>> paged([], count=0, request=PageRequest(0, 10), synchronized="x")["pages"]
    0
    >>> "pages" in paged([], count=0, request=PageRequest(0, 10), synchronized="x",
    ...                  with_pages=False)
    False
    """
    payload: dict[str, Any] = {"data": items, "count": count}
    if with_pages:
        payload["pages"] = math.ceil(count / request.limit)
    payload.update(limit=request.limit, page=request.page, synchronized=synchronized)
    return payload
