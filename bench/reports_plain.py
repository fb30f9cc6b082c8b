"""The whole qualification report for the team written as one plain SQL query (PostgreSQL): every section
straight from transitions, records, scores and stages, as a person would write it by hand, with no day counts,
kept facts or indexes chosen for it. bench/reports.py times it beside the report and checks that its totals
equal the report's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from service.services.reports.filters import tune

OWNER_THEN = "CASE WHEN t.mover_kind IS NULL THEN r.owner_external_id ELSE t.owner_id END"
HOURS = "extract(epoch FROM {later} - {earlier}) / 3600"
WEEK = "date_trunc('week', {at} AT TIME ZONE 'UTC')::date"
CREATED, CLOSED = "coalesce(r.crm_created_at, r.created_at)", "coalesce(r.closed_at, r.stage_changed_at)"

SECTIONS = {
    # Moves into gated stages per pipeline x stage x owner then, with decisions and bypasses.
    "compliance": f"""
        SELECT t.connection_id, t.to_pipeline, t.to_stage, {OWNER_THEN} AS owner, count(*) AS moves,
               count(*) FILTER (WHERE t.decision = 'blocked') AS blocked,
               count(*) FILTER (WHERE t.decision = 'warned') AS warned,
               count(*) FILTER (WHERE t.source = 'sync') AS found_by_sync,
               sum(t.required_fields) AS required, sum(t.unfilled_fields) AS unfilled
        FROM transitions t JOIN records r ON r.id = t.record_id
        WHERE t.occurred_at >= :start AND t.occurred_at < :end AND t.direction IN ('forward', 'enter', 'to_lost')
        GROUP BY 1, 2, 3, 4""",
    # Each block of the period and the first later move of its deal into the stage that was not blocked.
    "passing": f"""
        SELECT b.connection_id, b.to_pipeline, b.to_stage, b.owner, count(*) AS blocked, count(p.at) AS passed,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY {HOURS.format(later='p.at', earlier='b.occurred_at')}),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY {HOURS.format(later='p.at', earlier='b.occurred_at')})
        FROM (SELECT t.*, {OWNER_THEN} AS owner FROM transitions t JOIN records r ON r.id = t.record_id
              WHERE t.decision = 'blocked' AND t.occurred_at >= :start AND t.occurred_at < :end) b
        LEFT JOIN LATERAL (SELECT min(l.occurred_at) AS at FROM transitions l WHERE l.record_id = b.record_id
                           AND l.to_stage = b.to_stage AND l.decision <> 'blocked'
                           AND l.occurred_at > b.occurred_at) p ON true
        GROUP BY 1, 2, 3, 4""",
    # Deals whose last move was blocked and sent back, standing where they were sent.
    "stuck": f"""
        SELECT t.connection_id, t.to_pipeline, t.to_stage, r.owner_external_id AS owner, count(*) AS deals,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY {HOURS.format(later=':now', earlier='t.occurred_at')}),
               max({HOURS.format(later=':now', earlier='t.occurred_at')})
        FROM transitions t JOIN records r ON r.id = t.record_id
        WHERE t.decision = 'blocked' AND r.deleted IS false
          AND (r.stage_external_id = t.from_stage OR (t.from_stage IS NULL
               AND r.pipeline_external_id = t.to_pipeline AND r.stage_external_id <> t.to_stage))
          AND NOT EXISTS (SELECT 1 FROM transitions l WHERE l.record_id = t.record_id
                          AND (l.occurred_at > t.occurred_at OR (l.occurred_at = t.occurred_at AND l.id > t.id)))
        GROUP BY 1, 2, 3, 4""",
    "missing": """
        SELECT i.value ->> 'field' AS field, count(DISTINCT t.id) AS moves
        FROM transitions t CROSS JOIN LATERAL json_array_elements(t.issues) AS i(value)
        WHERE t.decision IN ('blocked', 'warned') AND t.occurred_at >= :start AND t.occurred_at < :end
          AND json_typeof(t.issues) = 'array' AND i.value ->> 'reason' IN ('missing', 'invalid', 'unknown_field')
          AND i.value ->> 'field' IS NOT NULL
        GROUP BY 1 ORDER BY 2 DESC LIMIT 10""",
    "weeks": f"""
        SELECT {WEEK.format(at='t.occurred_at')} AS week, t.direction, count(*) AS moves,
               count(*) FILTER (WHERE t.decision = 'blocked') AS blocked,
               count(*) FILTER (WHERE t.decision <> 'blocked' AND t.stages_passed > 1) AS skips
        FROM transitions t WHERE t.occurred_at >= :start AND t.occurred_at < :end GROUP BY 1, 2""",
    "created": f"""
        SELECT r.owner_external_id, s.best_persona_id, s.best_grade, {WEEK.format(at=CREATED)} AS week,
               count(*) AS deals
        FROM records r LEFT JOIN record_scores s ON s.record_id = r.id
        WHERE r.deleted IS false AND {CREATED} >= :start AND {CREATED} < :end GROUP BY 1, 2, 3, 4""",
    "closed": f"""
        SELECT r.owner_external_id, s.best_persona_id, s.best_grade, {WEEK.format(at=CLOSED)} AS week,
               EXISTS (SELECT 1 FROM transitions b WHERE b.record_id = r.id AND b.decision = 'blocked') AS blocked,
               st.kind AS outcome, count(*) AS deals
        FROM records r LEFT JOIN record_scores s ON s.record_id = r.id
        JOIN pipelines p ON p.connection_id = r.connection_id AND p.external_id = r.pipeline_external_id
        JOIN stages st ON st.pipeline_id = p.id AND st.external_id = r.stage_external_id
        WHERE r.deleted IS false AND {CLOSED} >= :start AND {CLOSED} < :end AND st.kind IN ('won', 'lost')
        GROUP BY 1, 2, 3, 4, 5, 6""",
    "cycle": f"""
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM {CLOSED} - {CREATED}) / 86400)
        FROM records r
        JOIN pipelines p ON p.connection_id = r.connection_id AND p.external_id = r.pipeline_external_id
        JOIN stages st ON st.pipeline_id = p.id AND st.external_id = r.stage_external_id
        WHERE r.deleted IS false AND {CLOSED} >= :start AND {CLOSED} < :end AND st.kind = 'won'
          AND {CLOSED} >= {CREATED}""",
    # How far each deal created in the period went: its moves in order, up to the first skip for strictly.
    "conversion": f"""
        WITH places AS (
            SELECT p.connection_id, p.external_id AS pipeline, st.external_id AS stage,
                   row_number() OVER (PARTITION BY st.pipeline_id ORDER BY st."order", st.id) - 1 AS position
            FROM pipelines p JOIN stages st ON st.pipeline_id = p.id
            WHERE st.kind <> 'lost' AND st.archived IS false),
        moves AS (
            SELECT t.record_id, t.connection_id, t.to_pipeline, t.occurred_at, pl.position,
                   min(t.occurred_at) FILTER (WHERE (t.direction = 'forward' AND t.stages_passed > 1)
                                              OR (t.direction = 'enter' AND pl.position > 0)) OVER w AS broke_at,
                   bool_or(t.direction = 'enter' AND pl.position = 0) OVER w AS started
            FROM records r JOIN transitions t ON t.record_id = r.id
            JOIN places pl ON pl.connection_id = t.connection_id AND pl.pipeline = t.to_pipeline
                          AND pl.stage = t.to_stage
            WHERE r.deleted IS false AND {CREATED} >= :start AND {CREATED} < :end AND t.decision <> 'blocked'
            WINDOW w AS (PARTITION BY t.record_id, t.connection_id, t.to_pipeline))
        SELECT connection_id, to_pipeline, any_reach, strict_reach, count(*) AS deals
        FROM (SELECT record_id, connection_id, to_pipeline, max(position) AS any_reach,
                     coalesce(max(position) FILTER (WHERE started AND (broke_at IS NULL
                                                                        OR occurred_at < broke_at)), -1)
                         AS strict_reach
              FROM moves GROUP BY record_id, connection_id, to_pipeline) d
        GROUP BY 1, 2, 3, 4""",
}

PLAIN_REPORT = "SELECT " + ", ".join(f"(SELECT json_agg(x) FROM ({sql}) AS x) AS {name}"
                                     for name, sql in SECTIONS.items())


def plain_report(engine: Engine, start: datetime, end: datetime, now: datetime) -> dict[str, Any]:
    """Every section of the team's report for [start, end) as JSON rows, from the one plain query, run in a
    transaction tuned as the report's is."""
    with engine.begin() as conn:
        tune(conn)
        row = conn.execute(text(PLAIN_REPORT), {"start": start, "end": end, "now": now}).one()
    return {name: value or [] for name, value in row._mapping.items()}


def same_totals(report: dict[str, Any], plain: dict[str, Any]) -> list[str]:
    """The totals on which the report and the plain query disagree (none: they agree)."""
    pays, stuck = report["pays"], report["compliance"]["stuck"]
    ours = {
        "moves into gated stages": sum(r["moves"] for r in report["compliance"]["rows"]),
        "blocked of those": sum(r["blocked"] for r in report["compliance"]["rows"]),
        "blocks that passed later": sum(r["passed_after_block"] for r in report["compliance"]["rows"]),
        "deals held now": sum(r["deals"] for r in stuck),
        "deals created": report["persona_mix"]["deals"],
        "deals closed": pays["closed"], "deals won": pays["won"],
        "closed deals ever blocked": pays["ever_blocked"]["n"],
        "deals in the conversion": sum(p["deals"] for p in report["conversion"]),
    }
    theirs = {
        "moves into gated stages": sum(r["moves"] for r in plain["compliance"]),
        "blocked of those": sum(r["blocked"] for r in plain["compliance"]),
        "blocks that passed later": sum(r["passed"] for r in plain["passing"]),
        "deals held now": sum(r["deals"] for r in plain["stuck"]),
        "deals created": sum(r["deals"] for r in plain["created"]),
        "deals closed": sum(r["deals"] for r in plain["closed"]),
        "deals won": sum(r["deals"] for r in plain["closed"] if r["outcome"] == "won"),
        "closed deals ever blocked": sum(r["deals"] for r in plain["closed"] if r["blocked"]),
        "deals in the conversion": sum(r["deals"] for r in plain["conversion"]),
    }
    return [f"{name}: report {ours[name]}, plain {theirs[name]}" for name in ours if ours[name] != theirs[name]]

