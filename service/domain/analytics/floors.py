"""The data floor: below it, analyses say "not enough data" with the numbers needed instead of confident
segments (STYLE.md rule 19; the thresholds come from issue 15)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from service.domain.analytics.purchases import History

MIN_CUSTOMERS = 200
MIN_MONTHS = 12


@dataclass(frozen=True)
class NotEnoughData:
    """Why an analysis is not shown: how many customers with purchases and months of history there are, and how
    many are needed."""

    customers: int
    customers_needed: int
    months: int
    months_needed: int

    @property
    def message(self) -> str:
        """A one-line explanation naming what is missing."""
        parts = []
        if self.customers < self.customers_needed:
            parts.append(f"{self.customers} customers with purchases, {self.customers_needed} needed")
        if self.months < self.months_needed:
            parts.append(f"{self.months} months of history, {self.months_needed} needed")
        return "not enough data: " + "; ".join(parts)


def months_between(start: date, end: date) -> int:
    """Completed calendar months from ``start`` to ``end`` (0 when ``end`` is before the same day next month)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return max(months, 0)


def check_floor(histories: Mapping[str, History], as_of: date, *, min_customers: int = MIN_CUSTOMERS,
                min_months: int = MIN_MONTHS) -> NotEnoughData | None:
    """None when there are at least ``min_customers`` customers with purchases and ``min_months`` completed months
    from the first purchase to ``as_of``; otherwise what is missing."""
    first = min((h.first for h in histories.values()), default=None)
    months = 0 if first is None else months_between(first, as_of)
    if len(histories) >= min_customers and months >= min_months:
        return None
    return NotEnoughData(len(histories), min_customers, months, min_months)
