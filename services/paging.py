"""One page of a list already computed (a year's tallies, summed by the database and kept): the rows to
show and the pager's numbers, as `services.incident_list.ListPage` gives them for lists paged in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


def page_numbers(page: int, pages: int, around: int = 3) -> list[int | None]:
    """The page numbers a pager links: the first, the last and `around` either side of the current one;
    None marks a gap (…). A list of 100 pages does not print 100 links."""
    current = min(page, pages)
    shown = {1, pages, *range(max(1, current - around), min(pages, current + around) + 1)}
    out: list[int | None] = []
    for p in sorted(shown):
        if out and p - out[-1] > 1:
            out.append(None)
        out.append(p)
    return out


@dataclass
class Slice(Generic[T]):
    rows: list[T]
    total: int
    page: int
    pages: int
    size: int

    @property
    def first(self) -> int:
        """The position (from 1) of the first row shown."""
        return (self.page - 1) * self.size + 1

    def pager(self, around: int = 3) -> list[int | None]:
        return page_numbers(self.page, self.pages, around)


def slice_of(rows: list[T], page: int | None, size: int) -> Slice[T]:
    """Page `page` (from 1; past the last, the last) of `rows`, `size` rows a page."""
    pages = max(1, -(-len(rows) // size))
    page = min(max(page or 1, 1), pages)
    start = (page - 1) * size
    return Slice(rows[start : start + size], len(rows), page, pages, size)
