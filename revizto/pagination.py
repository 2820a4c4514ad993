"""Walk Revizto's list replies page by page, as iterators, so no list is ever held whole.

Two shapes exist (docs/revizto-api.md §3b):
  * paged:  `data.data` + `data.pages` (+ `count`, `limit`, `synchronized`), `page` 0-based;
  * entity: `data.entities` (+ `count`); unpaged, or paged by a fixed page size where a
    short page is the last one (stamp templates).
Public clients fetched one page too many, stopped early on short pages, or looped on a
repeated page; the guards here stop at `pages`, on an empty page, and on a repeat. A paged
reply without `pages` is walked as the entity lists are: a short page, or `count` records,
ends it (public clients guard against that reply; we have not seen one).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from revizto.errors import InvalidResponse

log = logging.getLogger(__name__)

# A runaway `pages` value (or a server that never sends a short page) must end somewhere:
# 100,000 pages of 100 is ten million records, far beyond any real project.
MAX_PAGES = 100_000

FetchPage = Callable[[int], Any]


@dataclass(frozen=True)
class Page:
    """One page of a list: its records and what the server said about the whole list."""

    number: int
    items: list[dict[str, Any]]
    pages: int | None
    count: int | None
    synchronized: str | None
    limit: int | None = None  # the page size the server says it used


def _int_field(data: Mapping[str, Any], key: str, endpoint: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidResponse(f"`{key}` is not a non-negative integer", endpoint=endpoint)
    return value


def _items(data: Any, key: str, endpoint: str) -> list[dict[str, Any]]:
    if not isinstance(data, Mapping):
        raise InvalidResponse("list reply `data` is not an object", endpoint=endpoint)
    items = data.get(key)
    if not isinstance(items, list):
        raise InvalidResponse(f"list reply has no `{key}` array", endpoint=endpoint)
    return items


def parse_paged(data: Any, number: int, endpoint: str) -> Page:
    """Read one `data.data` reply; `pages` is None when the reply leaves it out."""
    items = _items(data, "data", endpoint)
    synchronized = data.get("synchronized")
    return Page(
        number=number,
        items=items,
        pages=_int_field(data, "pages", endpoint),
        count=_int_field(data, "count", endpoint),
        synchronized=synchronized if isinstance(synchronized, str) else None,
        limit=_page_size(data.get("limit")),
    )


def _page_size(value: Any) -> int | None:
    # Only a hint for replies without `pages`: an odd `limit` must not fail a good reply.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value


def parse_entities(data: Any, endpoint: str, number: int = 0) -> Page:
    """Read one `data.entities` reply."""
    return Page(
        number=number,
        items=_items(data, "entities", endpoint),
        pages=None,
        count=_int_field(data, "count", endpoint),
        synchronized=None,
    )


def iter_paged(
    fetch: FetchPage, *, endpoint: str, first_page: int = 0, page_size: int | None = None
) -> Iterator[Page]:
    """Pages `first_page`, then on, of a `data.data` list until `pages` says stop.

    Without `pages` the walk ends on a short page (shorter than the reply's `limit`, else
    than the `page_size` asked for), once `count` records are in, or on an empty page.
    """
    previous: list[dict[str, Any]] | None = None
    number = first_page
    while number < MAX_PAGES:
        page = parse_paged(fetch(number), number, endpoint)
        if not page.items:
            if page.pages is not None and number < page.pages:
                log.warning(
                    "empty page before the last endpoint=%s page=%d pages=%s",
                    endpoint,
                    number,
                    page.pages,
                )
            return
        _refuse_repeat(page.items, previous, number, endpoint)
        yield page
        previous = page.items
        number += 1
        if page.pages is not None:
            if number >= page.pages:
                return
        elif _last_without_pages(page, page_size):
            return
    raise InvalidResponse(f"more than {MAX_PAGES} pages", endpoint=endpoint)


def _last_without_pages(page: Page, page_size: int | None) -> bool:
    """Whether a page of a reply without `pages` is the last one."""
    size = page.limit or page_size
    if size is None:
        return False  # only an empty page can end it
    if len(page.items) < size:
        return True
    return page.count is not None and page.number * size + len(page.items) >= page.count


def iter_entity_pages(fetch: FetchPage, *, page_size: int, endpoint: str) -> Iterator[Page]:
    """Pages of a `data.entities` list paged by a fixed size: a short page is the last."""
    previous: list[dict[str, Any]] | None = None
    for number in range(MAX_PAGES):
        page = parse_entities(fetch(number), endpoint, number)
        if not page.items:
            return
        _refuse_repeat(page.items, previous, number, endpoint)
        yield page
        previous = page.items
        seen = number * page_size + len(page.items)
        if len(page.items) < page_size or (page.count is not None and seen >= page.count):
            return
    raise InvalidResponse(f"more than {MAX_PAGES} pages", endpoint=endpoint)


def _refuse_repeat(
    items: list[dict[str, Any]],
    previous: list[dict[str, Any]] | None,
    number: int,
    endpoint: str,
) -> None:
    # Going on would export the same records twice and silently skip the real page.
    if previous is not None and items == previous:
        raise InvalidResponse(f"page {number} repeats page {number - 1}", endpoint=endpoint)
