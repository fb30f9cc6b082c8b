"""The moves of a report beyond the gates' ledger, counted by the database: weekly move counts, the kinds of moves
(next stage, skips, backward...), and how far the deals created in the period went in their pipeline."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.models import Record, RecordScore
from service.models.reach_sql import SEPARATOR
from service.models.records import DealReach
from service.services.reports.compliance import GATED
from service.services.reports.counts import add_up
from service.services.reports.deals import created_at
from service.services.reports.filters import ReportFilter, deals_in


def weekly(cells: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """From the report's move cells (counts.move_cells): per ISO week (its Monday), gated moves, blocked,
    required and unfilled fields."""
    measures = ("moves", "blocked", "required", "unfilled")
    return {row["week"]: {m: row[m] for m in measures}
            for row in add_up(cells, ("week",), measures, lambda cell: cell["direction"] in GATED)}


def directions(cells: Sequence[dict[str, Any]]) -> dict[str, int]:
    """From the report's move cells: how many moves in the period went forward to the next stage, skipped
    stages, went backward, entered a pipeline or were lost (not blocked ones: those did not happen in the CRM
    for long)."""
    found: dict[str, int] = {}
    for row in add_up(cells, ("direction",), ("moves", "blocked", "skips")):
        happened = row["moves"] - row["blocked"]
        if row["direction"] == "forward":
            found["next"], found["skip"] = happened - row["skips"], row["skips"]
        else:
            found[str(row["direction"])] = happened
    return {kind: n for kind, n in found.items() if n}


def reaches(session: Session, f: ReportFilter) -> list[tuple[int, str, frozenset[str], frozenset[str], int]]:
    """How far the report's deals created in the period went in each pipeline by the moves that happened (not
    blocked): (connection, pipeline, the stages reached by any path, those reached strictly, deals), from the
    reaches the database keeps per deal (reach_sql). Strictly: the deal entered at the first stage, and only
    its moves before the first one that skipped a stage (or entered further in) count."""
    query = select(DealReach.connection_id, DealReach.pipeline, DealReach.stages, DealReach.strict_stages,
                   func.count()).select_from(Record).join(DealReach, DealReach.record_id == Record.id)
    if f.by_deal:
        query = query.outerjoin(RecordScore, RecordScore.record_id == Record.id)
    query = query.where(deals_in(f), created_at() >= f.start, created_at() < f.end, DealReach.stages.is_not(None)) \
        .group_by(DealReach.connection_id, DealReach.pipeline, DealReach.stages, DealReach.strict_stages)
    found: Counter[tuple[int, str, frozenset[str], frozenset[str]]] = Counter()
    for cid, pipeline, stages, strict, n in session.execute(query):
        found[(int(cid), str(pipeline), _stage_set(stages), _stage_set(strict))] += int(n)
    return [(*key, n) for key, n in found.items()]


def _stage_set(joined: str | None) -> frozenset[str]:
    return frozenset(joined.split(SEPARATOR)) if joined else frozenset()
