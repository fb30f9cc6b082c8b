"""A large PostgreSQL dataset for the report benchmark, written by the database itself (generate_series): one
connection, 3 pipelines of 5 open stages plus won and lost, 20 owners, deals with amounts and dates over a year,
their scores, and moves with decisions, issues and the people who made them."""

from __future__ import annotations

from sqlalchemy import Connection, text

PIPELINES, OPEN_STAGES, OWNERS, PERSONAS = 3, 5, 20, 3
YEAR_SECONDS = 365 * 86400

SCRIPT = """
INSERT INTO connections (id, name, kind, base_url, credentials_encrypted, signature_versions, language, active,
                         self_hosted, config_version, sync_interval_seconds, created_at, updated_at)
VALUES (1, 'bench', 'hubspot', 'https://api.hubapi.com', 'x', '["v3"]', 'en', true, false, 1, 300, now(), now());

INSERT INTO pipelines (id, connection_id, external_id, label, "order", archived)
SELECT p, 1, 'p' || p, 'Pipeline ' || p, p, false FROM generate_series(1, :pipelines) p;

INSERT INTO stages (pipeline_id, external_id, label, "order", kind, archived)
SELECT p, 's' || s, 'Stage ' || s, s,
       CASE WHEN s <= :open_stages THEN 'open' WHEN s = :open_stages + 1 THEN 'won' ELSE 'lost' END, false
FROM generate_series(1, :pipelines) p, generate_series(1, :open_stages + 2) s;

INSERT INTO crm_users (connection_id, external_id, user_id, name, email, active, updated_at)
SELECT 1, 'o' || o, 'u' || o, 'Owner ' || o, 'owner' || o || '@example.com', o <> :owners, now()
FROM generate_series(1, :owners) o;

INSERT INTO personas (id, name, ring, thresholds, must_cap, criteria, active, version, review_interval_days,
                      created_at, updated_at)
SELECT p, 'Persona ' || p, 'target', '{"A": 80, "B": 60, "C": 40}', 'C', '[]', true, 1, 182, now(), now()
FROM generate_series(1, :personas) p;

INSERT INTO records (id, connection_id, external_id, kind, name, pipeline_external_id, stage_external_id,
                     owner_external_id, amount, amount_value, currency, "values", crm_created_at, closed_at,
                     stage_changed_at, deleted, version, created_at, updated_at)
SELECT d::int, 1, d::text, 'deal', 'Deal ' || d, 'p' || (1 + d % :pipelines),
       's' || (1 + (d * 7) % (:open_stages + 2)), 'o' || (1 + (d * 13) % :owners),
       ((d % 997) * 100)::text, (d % 997) * 100, 'USD', '{}',
       now() - make_interval(secs => (d * 7919) % :year),
       CASE WHEN (d * 7) % (:open_stages + 2) >= :open_stages
            THEN now() - make_interval(secs => ((d * 7919) % :year) / 2) END,
       now() - make_interval(secs => ((d * 7919) % :year) / 3), false, 1, now(), now()
FROM generate_series(1::bigint, :deals) d;

INSERT INTO record_scores (record_id, computed_at, best_persona_id, best_score, best_grade, trend, scores, written)
SELECT d::int, now(), CASE WHEN d % 5 = 0 THEN NULL ELSE 1 + d % :personas END, 20 + d % 80,
       (ARRAY['A', 'B', 'C', 'D'])[1 + d % 4], 'steady', '[]', '{}'
FROM generate_series(1, :deals) d;

INSERT INTO transitions (connection_id, record_id, from_pipeline, from_stage, to_pipeline, to_stage, occurred_at,
                         actor, mover_user_id, mover_kind, owner_id, source, change_source, direction, decision,
                         mode, issues, message, action, too_old, required_fields, unfilled_fields, stages_passed,
                         created_at)
SELECT 1, r, 'p' || (1 + r % :pipelines), 's' || (1 + t % :open_stages), 'p' || (1 + r % :pipelines),
       's' || (1 + (t + 1) % (:open_stages + 2)), now() - make_interval(secs => (t * 104729) % :year),
       'userId:u' || (1 + t % :owners), 'u' || (1 + t % :owners),
       (ARRAY['ui', 'ui', 'ui', 'api', 'automation', 'import'])[1 + t % 6], 'o' || (1 + (r * 13) % :owners),
       CASE WHEN t % 10 = 0 THEN 'sync' ELSE 'webhook' END, NULL,
       (ARRAY['forward', 'forward', 'forward', 'enter', 'backward', 'to_lost'])[1 + t % 6],
       (ARRAY['allowed', 'allowed', 'allowed', 'blocked', 'warned', 'audited', 'allowed'])[1 + t % 7],
       'enforce',
       CASE WHEN t % 7 IN (3, 4) THEN '[{"field": "industry", "label": "Industry", "reason": "missing"},
                                      {"field": "budget", "label": "Budget", "reason": "missing"}]'
            ELSE '[]' END::json,
       '', 'none', t % 50 = 0, 3, CASE WHEN t % 7 IN (3, 4) THEN 2 ELSE 0 END, 1 + (t % 9 = 0)::int, now()
FROM (SELECT t, (1 + (t * 2654435761) % :deals)::int AS r FROM generate_series(1::bigint, :transitions) t) moves;
"""


def fill(conn: Connection, deals: int, transitions: int) -> None:
    """Write the dataset into an empty, migrated schema on `conn` and analyze it."""
    params = {"pipelines": PIPELINES, "open_stages": OPEN_STAGES, "owners": OWNERS, "personas": PERSONAS,
              "year": YEAR_SECONDS, "deals": deals, "transitions": transitions}
    for statement in SCRIPT.split(";\n"):
        if statement.strip():
            conn.execute(text(statement), {k: v for k, v in params.items() if f":{k}" in statement})
    conn.execute(text("ANALYZE"))
