"""ABC analysis: customers ranked by revenue (or margin), classed by the cumulative share of the value brought by
the customers ranked above them (DOMAIN.md "ABC analysis"; cut-offs 80/15/5 by default).

Ties and edge cases, chosen so that identical customers always share a class and the order of the input never
matters: a customer's class is set by the cumulative share of every customer with a strictly larger value, so the
customer who crosses 80 % is still A, and customers with equal values get the class of the first of them. Values
of zero or below (no revenue, returns) are always C and add nothing to the total; when the total is zero every
customer is C and value shares are None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from service.domain.analytics.purchases import AnalyticsError

CLASSES = ("A", "B", "C")


@dataclass(frozen=True)
class AbcCutoffs:
    """Shares of the total value (percent) taken by A, B and C; they must be positive and add up to 100."""

    a: float = 80.0
    b: float = 15.0
    c: float = 5.0

    def __post_init__(self) -> None:
        if min(self.a, self.b, self.c) <= 0 or abs(self.a + self.b + self.c - 100) > 1e-9:
            raise AnalyticsError("invalid ABC cut-offs", {"cutoffs": ["must be positive and add up to 100"]})


@dataclass(frozen=True)
class ClassRow:
    """One class of a table: how many customers, their share of customers, their value and share of value."""

    name: str
    customers: int
    customer_share: float | None
    value: Decimal
    value_share: float | None


@dataclass(frozen=True)
class AbcResult:
    """The class of each customer and the table by customer share and value share."""

    classes: dict[str, str]
    rows: tuple[ClassRow, ...]
    total: Decimal


def abc_classes(values: Mapping[str, Decimal], cutoffs: AbcCutoffs = AbcCutoffs()) -> AbcResult:
    """Class every customer A, B or C by its value (revenue or margin) under ``cutoffs`` (see the module doc)."""
    total = sum((v for v in values.values() if v > 0), Decimal(0))
    classes: dict[str, str] = {}
    if total > 0:
        limit_a, limit_ab = total * Decimal(str(cutoffs.a)) / 100, total * Decimal(str(cutoffs.a + cutoffs.b)) / 100
        above = Decimal(0)  # value of the customers with a strictly larger value
        pending = Decimal(0)  # value of the current run of equal values, added when the run ends
        previous: Decimal | None = None
        for cid, value in sorted(values.items(), key=lambda kv: kv[1], reverse=True):
            if value <= 0:
                classes[cid] = "C"
                continue
            if value != previous:
                above += pending
                pending, previous = Decimal(0), value
            pending += value
            classes[cid] = "A" if above < limit_a else "B" if above < limit_ab else "C"
    else:
        classes = dict.fromkeys(values, "C")
    return AbcResult(classes, class_rows(classes, values, CLASSES), total)


def class_rows(classes: Mapping[str, str], values: Mapping[str, Decimal], names: tuple[str, ...]) -> tuple[
        ClassRow, ...]:
    """A row per class name (in ``names`` order, empty classes included) with customer and value shares; values
    of zero or below count as zero in the value column."""
    count = dict.fromkeys(names, 0)
    value = dict.fromkeys(names, Decimal(0))
    for cid, name in classes.items():
        count[name] += 1
        if values[cid] > 0:
            value[name] += values[cid]
    customers, total = len(classes), sum(value.values(), Decimal(0))
    return tuple(
        ClassRow(n, count[n], count[n] / customers if customers else None, value[n],
                 float(value[n] / total) if total else None)
        for n in names)
