"""The qualification report: whether qualification is done (stage-gate compliance, portrait completeness,
persona mix) and whether it pays (win rates), per owner beside the team, week by week. Every section is one or
two aggregate queries, run in one view of the database (sections.py), finished by the report arithmetic."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from service.domain.conversion import Reach, funnel, placed
from service.domain.report_math import share
from service.domain.report_rules import rules
from service.runtime import Runtime
from service.services.guardrails import active_persona_warnings
from service.services.reports import compliance, deals, moves, outcomes
from service.services.reports.counts import move_cells
from service.services.reports.filters import ReportFilter
from service.services.reports.labels import Labels, load_labels
from service.services.reports.sections import run_sections
from service.services.win_models import pipeline_models


def qualification_report(runtime: Runtime, f: ReportFilter, language: str = "en") -> dict[str, Any]:
    """The whole report for the period and filters of `f`, with the rule of each number in `language`."""
    now = runtime.clock()
    found = run_sections(runtime, {  # longest first (a million deals: docs/benchmarks.md)
        "closed": lambda s: deals.closed_groups(s, f), "created": lambda s: deals.created_groups(s, f),
        "stuck": lambda s: compliance.stuck_now(s, f, now), "passing": lambda s: compliance.time_to_pass(s, f),
        "reached": lambda s: moves.reaches(s, f), "cycle": lambda s: deals.won_cycle_days(s, f),
        "missing": lambda s: compliance.missing_fields(s, f), "cells": lambda s: move_cells(s, f),
        "labels": lambda s: load_labels(s, f.connection_id),
        "win_models": lambda s: pipeline_models(s, f.connection_id, f.pipeline),
        "persona_warnings": active_persona_warnings,
    })
    labels, cells, created, closed = found["labels"], found["cells"], found["created"], found["closed"]
    gated, passing, stuck, missing = compliance.gated_moves(cells), found["passing"], found["stuck"], found["missing"]
    weeks, kinds, reached, cycle = moves.weekly(cells), moves.directions(cells), found["reached"], found["cycle"]
    return {
        "period": {"from": f.start, "to": f.end}, "filters": f.as_dict(), "generated_at": now,
        "rules": rules(language),
        "compliance": {"rows": _compliance_rows(gated, passing, labels), "stuck": _stuck_rows(stuck, labels),
                       "missing_fields": missing},
        "completeness": {"rows": _completeness_rows(gated, labels)},
        "persona_mix": {**outcomes.persona_mix(created, labels), "warnings": found["persona_warnings"]},
        "pays": outcomes.pays(closed, cycle),
        "owners": outcomes.owners(gated, created, closed, labels),
        "trend": {"weeks": outcomes.weekly_trend(weeks, created, closed, f.start, f.end),
                  "directions": {k: kinds.get(k, 0) for k in ("next", "skip", "backward", "enter", "to_lost")}},
        "conversion": _conversion(reached, labels),
        "win_models": found["win_models"],  # each pipeline's win model now (not of the period)
    }


def _where(row: dict[str, Any], labels: Labels, stage_key: str = "to_stage") -> dict[str, Any]:
    """The labelled place of a row: connection, pipeline and stage (ids and labels) and owner (id and name)."""
    cid, pipeline, stage = row["connection_id"], row["to_pipeline"], row[stage_key]
    return {"connection_id": cid, "pipeline": pipeline, "pipeline_label": labels.pipeline(cid, pipeline),
            "stage": stage, "stage_label": labels.stage(cid, pipeline, stage)["label"],
            "owner": row["owner"], "owner_name": labels.person(cid, row["owner"])}


def _order(row: dict[str, Any], labels: Labels) -> tuple[Any, ...]:
    stage = labels.stage(row["connection_id"], row["pipeline"], row["stage"])
    return row["connection_id"], row["pipeline_label"], stage["order"], row["owner_name"]


def _compliance_rows(gated: list[dict[str, Any]], passing: dict[tuple[Any, ...], dict[str, Any]],
                     labels: Labels) -> list[dict[str, Any]]:
    rows = []
    for row in gated:
        key = (row["connection_id"], row["to_pipeline"], row["to_stage"], row["owner"])
        fixed = passing.get(key, {"passed": 0, "pass_median_hours": None, "pass_p90_hours": None})
        rows.append({**_where(row, labels), **{k: row[k] for k in (
            "moves", "allowed", "blocked", "warned", "audited", "blocked_share", "found_by_sync", "automated",
            "too_old")}, "passed_after_block": fixed["passed"], "pass_median_hours": fixed["pass_median_hours"],
            "pass_p90_hours": fixed["pass_p90_hours"]})
    return sorted(rows, key=lambda r: _order(r, labels))


def _stuck_rows(stuck: list[dict[str, Any]], labels: Labels) -> list[dict[str, Any]]:
    rows = [{**_where(row, labels), **{k: row[k] for k in ("deals", "held_median_hours", "held_max_hours")}}
            for row in stuck]
    return sorted(rows, key=lambda r: _order(r, labels))


def _completeness_rows(fields: list[dict[str, Any]], labels: Labels) -> list[dict[str, Any]]:
    rows = []
    for row in fields:
        required, unfilled = row["required"] or 0, row["unfilled"] or 0
        rows.append({**_where(row, labels), "moves": row["moves"], "required": required,
                     "filled": required - unfilled, "share": share(required - unfilled, required)})
    return sorted(rows, key=lambda r: _order(r, labels))


def _conversion(reached: list[tuple[int, str, frozenset[str], frozenset[str], int]],
                labels: Labels) -> list[dict[str, Any]]:
    """Per pipeline the deals created in the period moved in: each open/won stage with how many reached it
    by any path and strictly, and their shares of the deals that moved in the pipeline."""
    by_pipeline: dict[tuple[int, str], list[tuple[Reach, int]]] = defaultdict(list)
    positions: dict[tuple[int, str], dict[str, int]] = {}
    for cid, pipeline, reached_stages, strictly, deals_ in reached:
        if (cid, pipeline) not in positions:
            positions[(cid, pipeline)] = {stage: place for place, (stage, _) in
                                          enumerate(labels.open_stages(cid, pipeline))}
        found = placed(reached_stages, strictly, positions[(cid, pipeline)])
        if found is not None:
            by_pipeline[(cid, pipeline)].append((found, deals_))
    out = []
    for (cid, pipeline), groups in sorted(by_pipeline.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        stages = labels.open_stages(cid, pipeline)
        moved = sum(n for _, n in groups)
        counts = funnel(groups, len(stages))
        out.append({"connection_id": cid, "pipeline": pipeline, "pipeline_label": labels.pipeline(cid, pipeline),
                    "deals": moved, "stages": [
                        {"stage": stage, "stage_label": label, "any": any_, "strict": strict,
                         "any_share": share(any_, moved), "strict_share": share(strict, moved)}
                        for (stage, label), (any_, strict) in zip(stages, counts, strict=True)]})
    return out
