"""The 9-cell ABC x XYZ matrix (DOMAIN.md: the top cell AX is who "pays often and a lot"), with a row per ABC
class for the customers whose history is too short for XYZ ("A-", "B-", "C-": ABC only), so the shares of all
twelve rows add up to 100 %."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from service.domain.analytics.abc import CLASSES, AbcResult
from service.domain.analytics.groups import GroupStats, group_stats, members_by
from service.domain.analytics.purchases import History
from service.domain.analytics.xyz import XyzResult

CELLS = tuple(a + x for a in CLASSES for x in "XYZ")
ABC_ONLY = tuple(a + "-" for a in CLASSES)


@dataclass(frozen=True)
class Matrix:
    """Statistics per cell (AX ... CZ) and per ABC-only row, and the label of each customer."""

    cells: dict[str, GroupStats]
    abc_only: dict[str, GroupStats]
    labels: dict[str, str]


def cell_labels(abc: AbcResult, xyz: XyzResult) -> dict[str, str]:
    """Each customer's cell: its ABC class followed by its XYZ class, or by "-" without one."""
    return {cid: cls + xyz.classes.get(cid, "-") for cid, cls in abc.classes.items()}


def abc_xyz_matrix(abc: AbcResult, xyz: XyzResult, histories: Mapping[str, History], as_of: date,
                   acquisition_cost: Decimal | None = None) -> Matrix:
    """The matrix of the customers classed by ``abc`` (every cell present, empty ones with zero customers; ROI
    per client where margins are known and an ``acquisition_cost`` is given)."""
    labels = cell_labels(abc, xyz)
    groups = members_by(labels)
    scope = {cid: histories[cid] for cid in labels}
    total = sum([h.revenue for h in scope.values()], Decimal(0))
    stats = {name: group_stats(name, groups.get(name, ()), scope, as_of, acquisition_cost=acquisition_cost,
                               total=total) for name in CELLS + ABC_ONLY}
    return Matrix({c: stats[c] for c in CELLS}, {c: stats[c] for c in ABC_ONLY}, labels)
