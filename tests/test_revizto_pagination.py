"""Pagination guards, as pure logic over canned pages (the HTTP side is in the sandbox tests)."""

from __future__ import annotations

from typing import Any

import pytest

from revizto.errors import InvalidResponse
from revizto.pagination import MAX_PAGES, iter_entity_pages, iter_paged


def paged(items: list[Any], pages: int, **extra: Any) -> dict[str, Any]:
    return {"data": items, "pages": pages, "count": extra.get("count"), "limit": 2, **extra}


class CannedPages:
    def __init__(self, replies: list[dict[str, Any]]) -> None:
        self.replies = replies
        self.asked: list[int] = []

    def __call__(self, page: int) -> dict[str, Any]:
        self.asked.append(page)
        if page < len(self.replies):
            return self.replies[page]
        return paged([], self.replies[-1]["pages"] if self.replies else 0)


def test_stops_at_pages_without_asking_one_page_too_many() -> None:
    fetch = CannedPages([paged([{"id": 1}, {"id": 2}], 2), paged([{"id": 3}], 2)])
    ids = [item["id"] for page in iter_paged(fetch, endpoint="t") for item in page.items]
    assert ids == [1, 2, 3]
    assert fetch.asked == [0, 1]


def test_empty_page_ends_the_walk_even_if_pages_says_more() -> None:
    fetch = CannedPages([paged([{"id": 1}], 5), paged([], 5)])
    assert [p.number for p in iter_paged(fetch, endpoint="t")] == [0]
    assert fetch.asked == [0, 1]


def test_a_repeated_page_is_an_error_not_duplicates() -> None:
    same = [{"id": 1}, {"id": 2}]
    fetch = CannedPages([paged(same, 3), paged(list(same), 3)])
    with pytest.raises(InvalidResponse, match="page 1 repeats page 0"):
        list(iter_paged(fetch, endpoint="t"))


def test_zero_pages_yields_nothing() -> None:
    assert list(iter_paged(CannedPages([paged([], 0)]), endpoint="t")) == []


@pytest.mark.parametrize("bad", [-1, "2", True])
def test_pages_must_be_a_non_negative_integer(bad: Any) -> None:
    with pytest.raises(InvalidResponse):
        list(iter_paged(lambda _page: paged([{"id": 1}], bad), endpoint="t"))


def test_a_runaway_pages_value_is_bounded() -> None:
    asked: list[int] = []

    def endless(page: int) -> dict[str, Any]:
        asked.append(page)
        return paged([{"id": page}], 10**9)

    with pytest.raises(InvalidResponse, match="more than"):
        list(iter_paged(endless, endpoint="t"))
    assert len(asked) == MAX_PAGES


def test_synchronized_watermark_is_kept_on_each_page() -> None:
    fetch = CannedPages([paged([{"id": 1}], 1, synchronized="2026-11-28 00:00:00")])
    assert next(iter_paged(fetch, endpoint="t")).synchronized == "2026-11-28 00:00:00"


def test_entity_pages_end_on_a_short_page() -> None:
    full = {"entities": [{"uuid": str(i)} for i in range(3)], "count": 5}
    short = {"entities": [{"uuid": "3"}, {"uuid": "4"}], "count": 5}
    fetch = CannedPages([full, short])
    pages = list(iter_entity_pages(fetch, page_size=3, endpoint="stamps"))
    assert [len(p.items) for p in pages] == [3, 2]
    assert fetch.asked == [0, 1]


def test_entity_pages_stop_at_count_when_the_last_page_is_full() -> None:
    full = {"entities": [{"uuid": str(i)} for i in range(3)], "count": 3}
    fetch = CannedPages([full])
    assert len(list(iter_entity_pages(fetch, page_size=3, endpoint="stamps"))) == 1
    assert fetch.asked == [0]


def test_entities_reply_without_entities_is_invalid() -> None:
    with pytest.raises(InvalidResponse, match="entities"):
        list(iter_entity_pages(lambda _page: {"data": []}, page_size=3, endpoint="stamps"))
