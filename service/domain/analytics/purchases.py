"""The input of every analysis: purchases (won deals or imported receipts), grouped once per customer, and the
currency rule (per currency unless a rate table converts everything into one base currency)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from service.domain.errors import DomainError

DAYS_PER_YEAR = 365.25


class AnalyticsError(DomainError):
    """Analytics input or settings are invalid (a missing rate, cut-offs that do not add up, ...)."""


@dataclass(frozen=True, slots=True)
class Purchase:
    """One purchase of a customer: its amount and currency, the day it was made and, when known, its margin."""

    customer_id: str
    amount: Decimal
    currency: str
    at: date
    margin: Decimal | None = None


@dataclass(frozen=True, slots=True)
class History:
    """One customer's purchases summed up: count, revenue, margin (None unless every purchase has one), first and
    last day, and the (day, amount) of each purchase in date order."""

    customer_id: str
    purchases: int
    revenue: Decimal
    margin: Decimal | None
    first: date
    last: date
    entries: tuple[tuple[date, Decimal], ...]

    def tenure_years(self, as_of: date) -> float:
        """Years from the first purchase to ``as_of``, at least one month (so a new customer's rate stays sane)."""
        return max((as_of - self.first).days, DAYS_PER_YEAR / 12) / DAYS_PER_YEAR


def _by_day_and_amount(p: Purchase) -> tuple[date, Decimal]:
    return p.at, p.amount


def histories(purchases: Iterable[Purchase]) -> dict[str, History]:
    """Group purchases per customer in one pass; the result does not depend on the order of the purchases."""
    grouped: dict[str, list[Purchase]] = {}
    for p in purchases:
        bucket = grouped.get(p.customer_id)
        if bucket is None:
            grouped[p.customer_id] = [p]
        else:
            bucket.append(p)
    out: dict[str, History] = {}
    for cid, items in grouped.items():
        items.sort(key=_by_day_and_amount)
        entries = tuple([(p.at, p.amount) for p in items])
        out[cid] = History(cid, len(items), sum([p.amount for p in items], Decimal(0)),
                           known_sum([p.margin for p in items]), entries[0][0], entries[-1][0], entries)
    return out


def known_sum(values: Iterable[Decimal | None]) -> Decimal | None:
    """The sum of ``values``, or None when any of them is unknown."""
    total = Decimal(0)
    for value in values:
        if value is None:
            return None
        total += value
    return total


@dataclass(frozen=True)
class CurrencySplit:
    """Purchases grouped by the currency they are analysed in: ``converted`` says a rate table turned every
    amount into ``base`` (one group); otherwise each currency is analysed on its own."""

    converted: bool
    base: str | None
    groups: dict[str, tuple[Purchase, ...]]


def split_currencies(purchases: Iterable[Purchase], rates: Mapping[str, Decimal] | None = None,
                     base: str | None = None) -> CurrencySplit:
    """Group purchases per currency, or with ``rates`` (units of ``base`` per unit of a currency; ``base`` itself
    is 1) convert amounts and margins into ``base``. AnalyticsError when a currency has no positive rate or rates
    come without a base."""
    if rates is None:
        groups: dict[str, list[Purchase]] = {}
        for p in purchases:
            groups.setdefault(p.currency, []).append(p)
        return CurrencySplit(False, None, {c: tuple(ps) for c, ps in sorted(groups.items())})
    if not base:
        raise AnalyticsError("a rate table needs a base currency", {"base": ["required with rates"]})
    table = {**rates, base: Decimal(1)}
    bad = {c: r for c, r in table.items() if not r > 0}
    items = list(purchases)
    missing = sorted({p.currency for p in items} - table.keys())
    if bad or missing:
        errors = {f"rates.{c}": ["must be greater than 0"] for c in bad}
        errors.update({f"rates.{c}": ["missing"] for c in missing})
        raise AnalyticsError("the rate table does not cover every currency", errors)
    converted = tuple(
        p if p.currency == base else Purchase(
            p.customer_id, p.amount * table[p.currency], base, p.at,
            None if p.margin is None else p.margin * table[p.currency])
        for p in items)
    return CurrencySplit(True, base, {base: converted})
