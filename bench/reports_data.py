"""A large PostgreSQL dataset for the report benchmark, written by the database itself (generate_series and a
recursive walk, no rows through Python): one connection, 3 pipelines of 4-6 open stages plus won and lost,
20 owners with uneven books, personas and grades, and deals created over a year, each walking its pipeline
with moves that go forward, skip, go back, are blocked and retried, and end won, lost or still open.

Rows are written in the order Qualify would have written them (deals by creation, moves by time), and every
draw is a hash of the deal (and move) number, so a size always gives the same data."""

from __future__ import annotations

from sqlalchemy import Connection, text

PIPELINES, OWNERS, PERSONAS = 3, 20, 3
YEAR_SECONDS = 365 * 86400
FIELDS = (("industry", "Industry"), ("budget", "Budget"), ("timeline", "Timeline"),
          ("decision_maker", "Decision maker"), ("company_size", "Company size"), ("use_case", "Use case"),
          ("competitor", "Competitor"), ("next_step", "Next step"))


def _u(key: str, salt: int) -> str:
    """SQL for a uniform draw in [0, 1) from the bigint expression `key`."""
    return f"((hashint8extended(({key})::bigint, {salt}) & 1048575) / 1048576.0)"


# One move of the walk after the first, from the deal's place `s` and its previous move: closing (won or
# lost) as the last move of a closed deal, back again after a step back, else blocked (a retry follows),
# a step back, a skip, the next stage; at the last open stage a move is a step back or a blocked try to win.
KIND = """CASE WHEN w.closed AND w.j + 1 = w.n - 1 THEN 'close'
     WHEN w.kind = 'back' THEN 'return'
     WHEN r.x < 0.12 THEN 'block'
     WHEN r.x < 0.20 AND w.s >= 1 THEN 'back'
     WHEN r.x < 0.28 AND w.s + 2 <= w.open - 1 THEN 'skip'
     WHEN w.s + 1 <= w.open - 1 THEN 'next'
     WHEN r.x < 0.64 THEN 'back'
     ELSE 'block' END"""
TARGET = """CASE k.kind WHEN 'back' THEN w.s - 1 WHEN 'skip' THEN w.s + 2
     WHEN 'close' THEN CASE WHEN w.won THEN w.open ELSE -1 END ELSE w.s + 1 END"""  # -1: the lost stage

FIELD_ARRAY = "(ARRAY[" + ", ".join(f"['{name}', '{label}']" for name, label in FIELDS) + "])"
ISSUE_JSON = ('{"field": "%s", "label": "%s", "reason": "%s", "constraint": null, "stage": "%s", "mode": "enforce", '
              '"message": "%s is required."}')


def _issue(i: int) -> str:
    """SQL for the text of a move's `i`th field issue, the field drawn by the move's hash f`i`."""
    field = f"{FIELD_ARRAY}[1 + (f{i} % 8)]"
    reason = f"CASE WHEN f{i} % 7 = 0 THEN 'invalid' ELSE 'missing' END"
    return f"format('{ISSUE_JSON}', {field}[1], {field}[2], {reason}, to_stage, {field}[2])"


# A move's issues as JSON text: as many as it has (`issues`, 0-3).
ISSUES = (f"CASE WHEN issues = 0 THEN '[]' ELSE '[' || {_issue(1)}"
          f" || CASE WHEN issues >= 2 THEN ', ' || {_issue(2)} ELSE '' END"
          f" || CASE WHEN issues >= 3 THEN ', ' || {_issue(3)} ELSE '' END || ']' END")

SCRIPT = f"""
SET LOCAL work_mem = '512MB';
SET LOCAL maintenance_work_mem = '512MB';

INSERT INTO connections (id, name, kind, base_url, credentials_encrypted, signature_versions, language, active,
                         self_hosted, config_version, sync_interval_seconds, created_at, updated_at)
VALUES (1, 'bench', 'hubspot', 'https://api.hubapi.com', 'x', '["v3"]', 'en', true, false, 1, 300, now(), now());

INSERT INTO pipelines (id, connection_id, external_id, label, "order", archived)
SELECT p, 1, 'p' || p, 'Pipeline ' || p, p, false FROM generate_series(1, :pipelines) p;

INSERT INTO stages (pipeline_id, external_id, label, "order", kind, archived)
SELECT p, 's' || s, CASE WHEN s <= 4 + p % 3 THEN 'Stage ' || s WHEN s = 5 + p % 3 THEN 'Won' ELSE 'Lost' END, s,
       CASE WHEN s <= 4 + p % 3 THEN 'open' WHEN s = 5 + p % 3 THEN 'won' ELSE 'lost' END, false
FROM generate_series(1, :pipelines) p, generate_series(1, 6 + p % 3) s;

INSERT INTO crm_users (connection_id, external_id, user_id, name, email, active, updated_at)
SELECT 1, 'o' || o, 'u' || o, 'Owner ' || o, 'owner' || o || '@example.com', o <> :owners, now()
FROM generate_series(1, :owners) o;

INSERT INTO personas (id, name, ring, thresholds, must_cap, criteria, active, version, review_interval_days,
                      created_at, updated_at)
SELECT p, 'Persona ' || p, 'target', '{{"A": 80, "B": 60, "C": 40}}', 'C', '[]', true, 1, 182, now(), now()
FROM generate_series(1, :personas) p;

-- Deals by creation over the last year; owners' books uneven (owner 1 the busiest); a better grade wins more.
CREATE TEMP TABLE bench_deals ON COMMIT DROP AS
SELECT d, p, (4 + p % 3)::int AS open, 1 + floor(:owners * power({_u('d', 1)}, 1.6))::int AS owner,
       CASE WHEN {_u('d', 2)} < 0.2 THEN NULL ELSE 1 + floor(:personas * {_u('d', 3)})::int END AS persona,
       g, (:year * (1 - (d - 0.5) / :deals))::bigint AS age, 1 + floor({_u('d', 4)} * (2 * :per_deal - 1))::int AS n,
       {_u('d', 5)} < 0.55 AS fated, {_u('d', 6)} < (ARRAY[0.6, 0.45, 0.3, 0.15])[1 + g] AS won,
       CASE WHEN {_u('d', 7)} < 0.1 THEN 1 ELSE 0 END AS entry, 0.2 + 0.8 * {_u('d', 8)} AS span
FROM (SELECT d, (1 + d % :pipelines)::int AS p, CASE WHEN {_u('d', 9)} < 0.15 THEN 0 WHEN {_u('d', 9)} < 0.45 THEN 1
                                             WHEN {_u('d', 9)} < 0.75 THEN 2 ELSE 3 END AS g
      FROM generate_series(1::bigint, :deals) d) deals;

-- Each deal's moves, one step of the walk per round: where it stands (s) after each move.
CREATE TEMP TABLE bench_walk ON COMMIT DROP AS
WITH RECURSIVE walk(d, j, n, open, closed, won, s, kind, from_pos, to_pos) AS (
    SELECT d, 0, n, open, fated AND n >= 3, won, entry, 'enter'::text, NULL::int, entry FROM bench_deals
    UNION ALL
    SELECT d, j, n, open, closed, won, CASE WHEN kind = 'block' THEN s ELSE to_pos END, kind, s, to_pos
    FROM (SELECT w.d, w.j + 1 AS j, w.n, w.open, w.closed, w.won, w.s, k.kind, {TARGET} AS to_pos
          FROM walk w CROSS JOIN LATERAL (SELECT {_u('w.d * 64 + w.j + 1', 11)} AS x) r
               CROSS JOIN LATERAL (SELECT {KIND} AS kind) k WHERE w.j + 1 < w.n) step
)
SELECT d, j, n, kind, from_pos, to_pos, s FROM walk;

INSERT INTO records (id, connection_id, external_id, kind, name, pipeline_external_id, stage_external_id,
                     owner_external_id, amount, amount_value, currency, "values", crm_created_at, closed_at,
                     stage_changed_at, deleted, version, created_at, updated_at)
SELECT x.d, 1, x.d::text, 'deal', 'Deal ' || x.d, 'p' || x.p,
       's' || CASE WHEN last.s < 0 THEN x.open + 2 ELSE last.s + 1 END, 'o' || x.owner,
       amount::text, amount, 'USD', '{{}}', created,
       CASE WHEN last.kind = 'close' THEN created + make_interval(secs => x.age * x.span * (x.n - 1) / x.n) END,
       created + make_interval(secs => x.age * x.span * (x.n - 1) / x.n), {_u('x.d', 10)} < 0.01, 1,
       created + interval '5 minutes', now()
FROM (SELECT *, now() - make_interval(secs => age) AS created,
             (500 + floor(50000 * power({_u('d', 14)}, 3)))::numeric(20, 4) AS amount FROM bench_deals) x
JOIN bench_walk last ON last.d = x.d AND last.j = x.n - 1
ORDER BY x.d;

INSERT INTO record_scores (record_id, computed_at, best_persona_id, best_score, best_grade, trend, scores, written)
SELECT d, now(), persona, (ARRAY[88, 70, 50, 25])[1 + g] + d % 10, (ARRAY['A', 'B', 'C', 'D'])[1 + g],
       'steady', '[]', '{{}}'
FROM bench_deals WHERE d % 50 <> 0;

INSERT INTO transitions (connection_id, record_id, from_pipeline, from_stage, to_pipeline, to_stage, occurred_at,
                         actor, mover_user_id, mover_kind, owner_id, source, change_source, direction, decision,
                         mode, issues, message, action, too_old, required_fields, unfilled_fields, stages_passed,
                         created_at)
SELECT 1, d, CASE WHEN from_pos IS NOT NULL THEN pipeline END, from_stage, pipeline, to_stage, occurred_at,
       'userId:u' || mover, 'u' || mover, mover_kind, owner_id, source, NULL, direction, decision,
       CASE decision WHEN 'blocked' THEN 'enforce' WHEN 'warned' THEN 'warn' WHEN 'audited' THEN 'audit' END,
       ({ISSUES})::json, '', CASE decision WHEN 'blocked' THEN 'revert+task' WHEN 'warned' THEN 'task' ELSE 'none' END,
       too_old, required, issues, stages_passed, occurred_at
FROM (SELECT m.*, CASE decision WHEN 'blocked' THEN 1 + (f1 % 3) WHEN 'warned' THEN 1 + (f1 % 2)
                                WHEN 'audited' THEN 1 ELSE 0 END AS issues
      FROM (SELECT w.d, 'p' || x.p AS pipeline,
                   's' || CASE WHEN w.from_pos < 0 THEN x.open + 2 ELSE w.from_pos + 1 END AS from_stage,
                   w.from_pos,
                   's' || CASE WHEN w.to_pos < 0 THEN x.open + 2 ELSE w.to_pos + 1 END AS to_stage,
                   now() - make_interval(secs => x.age) + make_interval(secs => x.age * x.span * w.j / w.n)
                     + make_interval(secs => w.j * 60) AS occurred_at,
                   CASE WHEN v < 0.9 THEN x.owner ELSE 1 + floor(:owners * v2)::int END AS mover,
                   CASE WHEN v < 0.7 THEN 'ui' WHEN v < 0.8 THEN 'api' WHEN v < 0.9 THEN 'automation'
                        WHEN v < 0.95 THEN 'import' ELSE 'integration' END AS mover_kind,
                   CASE WHEN v2 < 0.02 THEN NULL WHEN v2 < 0.07 THEN 'o' || (1 + x.owner % :owners)
                        ELSE 'o' || x.owner END AS owner_id,
                   CASE WHEN sync THEN 'sync' ELSE 'webhook' END AS source,
                   CASE w.kind WHEN 'enter' THEN 'enter' WHEN 'back' THEN 'backward'
                        WHEN 'close' THEN CASE WHEN w.to_pos < 0 THEN 'to_lost' ELSE 'forward' END
                        ELSE 'forward' END AS direction,
                   CASE WHEN w.kind = 'block' THEN 'blocked' WHEN w.kind = 'back' THEN 'allowed'
                        WHEN sync AND v3 < 0.3 THEN 'audited' WHEN v3 < 0.07 THEN 'warned'
                        WHEN v3 < 0.12 THEN 'audited' ELSE 'allowed' END AS decision,
                   sync AND v3 < 0.3 AND w.kind NOT IN ('block', 'back') AS too_old,
                   CASE WHEN w.kind = 'back' THEN 0 ELSE 3 + floor(4 * v4)::int END AS required,
                   CASE w.kind WHEN 'enter' THEN w.to_pos + 1 WHEN 'back' THEN 0 WHEN 'skip' THEN 2
                        WHEN 'close' THEN CASE WHEN w.to_pos < 0 THEN 0 ELSE x.open - w.from_pos END
                        ELSE 1 END AS stages_passed,
                   (hashint8extended(w.d * 64 + w.j, 20) & 65535) AS f1,
                   (hashint8extended(w.d * 64 + w.j, 21) & 65535) AS f2,
                   (hashint8extended(w.d * 64 + w.j, 22) & 65535) AS f3
            FROM bench_walk w JOIN bench_deals x ON x.d = w.d,
                 LATERAL (SELECT {_u('w.d * 64 + w.j', 15)} AS v, {_u('w.d * 64 + w.j', 16)} AS v2,
                                 {_u('w.d * 64 + w.j', 17)} AS v3, {_u('w.d * 64 + w.j', 18)} AS v4,
                                 {_u('w.d * 64 + w.j', 19)} < 0.08 AS sync) r) m) moves
ORDER BY occurred_at;

DROP TABLE bench_walk;
DROP TABLE bench_deals
"""


def fill(conn: Connection, deals: int, transitions: int) -> int:
    """Write the dataset into an empty, migrated schema on `conn` and analyze it; about `transitions` moves
    (each deal draws how many it makes), and how many were written."""
    params = {"pipelines": PIPELINES, "owners": OWNERS, "personas": PERSONAS, "year": YEAR_SECONDS,
              "deals": deals, "per_deal": max(transitions / deals, 1.0)}
    for statement in SCRIPT.split(";\n"):
        if statement.strip():
            conn.execute(text(statement), {k: v for k, v in params.items() if f":{k}" in statement})
    written = conn.execute(text("SELECT count(*) FROM transitions")).scalar_one()
    conn.execute(text("ANALYZE"))
    return int(written)
