"""The SQL that keeps deal_reaches exact: per deal and pipeline, the stages its moves reached (not blocked), the
stages it reached strictly, and how many of its moves were blocked. A row trigger on transitions settles the
deal's rows again whenever its moves change (PostgreSQL: one plpgsql function; SQLite: three triggers); the same
SQL fills the table from the moves already stored. Migration 0009 and `Base.metadata.create_all` run these.

Strictly: the deal entered the pipeline at its first stage (an `enter` move that passed one stage), and only its
moves before the first one that passed more than one stage (a skip, or an entry further in) count. Stages are
kept as ids joined by the unit separator (char 31), so the report places them in the pipeline's order as it is
when the report runs: reordering or archiving stages needs no refill.

On PostgreSQL the trigger first locks the deal's record row (FOR NO KEY UPDATE, as the worker's own update of
the deal does): two transactions adding moves of one deal would otherwise each settle it from a snapshot
without the other's move. The trigger is named so it fires before transitions_rollup (PostgreSQL fires a
table's triggers in name order), whose settling of the blocked moves the lock then covers too."""

from __future__ import annotations

SEPARATOR = "\x1f"  # between the stage ids of a row (no CRM's stage id holds it)
# The transition columns whose change can change a deal's reaches.
WATCHED = ("record_id", "connection_id", "to_pipeline", "to_stage", "decision", "direction", "stages_passed",
           "occurred_at")
_HAPPENED = "t.decision <> 'blocked'"
_BREAKS = f"{_HAPPENED} AND t.direction IN ('forward', 'enter') AND t.stages_passed > 1"
_STARTS = f"{_HAPPENED} AND t.direction = 'enter' AND t.stages_passed = 1"


def _stages(dialect: str, flag: str) -> str:
    """The ids of the stages whose `flag` is 1, joined (PostgreSQL in id order; SQLite in no given order)."""
    if dialect == "sqlite":
        return f"group_concat(CASE WHEN {flag} = 1 THEN to_stage END, char(31))"
    return f"string_agg(CASE WHEN {flag} = 1 THEN to_stage END, chr(31) ORDER BY to_stage)"


def reaches_of(dialect: str, where: str) -> str:
    """The INSERT that writes the reaches of the deals whose moves `t` pass `where` (their old rows gone)."""
    return (
        "INSERT INTO deal_reaches (record_id, connection_id, pipeline, stages, strict_stages, blocked) "
        f"SELECT record_id, connection_id, pipeline, {_stages(dialect, 'reached')}, "
        f"{_stages(dialect, 'strict')}, sum(blocked) FROM ("
        "SELECT m.record_id, m.connection_id, m.pipeline, m.to_stage, "
        "max(CASE WHEN m.decision <> 'blocked' THEN 1 ELSE 0 END) AS reached, "
        "max(CASE WHEN m.decision <> 'blocked' AND m.started = 1 AND (m.broke_at IS NULL "
        "OR m.occurred_at < m.broke_at) THEN 1 ELSE 0 END) AS strict, "
        "sum(CASE WHEN m.decision = 'blocked' THEN 1 ELSE 0 END) AS blocked FROM ("
        "SELECT t.record_id, t.connection_id, coalesce(t.to_pipeline, '') AS pipeline, t.to_stage, t.decision, "
        f"t.occurred_at, min(CASE WHEN {_BREAKS} THEN t.occurred_at END) OVER w AS broke_at, "
        f"max(CASE WHEN {_STARTS} THEN 1 ELSE 0 END) OVER w AS started "
        f"FROM transitions t WHERE {where} "
        "WINDOW w AS (PARTITION BY t.record_id, t.connection_id, coalesce(t.to_pipeline, ''))) AS m "
        "GROUP BY m.record_id, m.connection_id, m.pipeline, m.to_stage) AS s "
        "GROUP BY record_id, connection_id, pipeline"
    )


def settle(dialect: str, r: str) -> list[str]:
    """Statements that write the reaches of `r`'s deal (NEW or OLD) again from its moves."""
    return [f"DELETE FROM deal_reaches WHERE record_id = {r}.record_id",
            reaches_of(dialect, f"t.record_id = {r}.record_id")]


def fill(dialect: str) -> list[str]:
    """Statements that fill an empty deal_reaches from every stored move."""
    return [reaches_of(dialect, "1 = 1")]


def create_triggers(dialect: str) -> list[str]:
    """DDL of the triggers that keep deal_reaches."""
    watched = ", ".join(WATCHED)
    if dialect == "sqlite":
        def body(*rows: str) -> str:
            return "BEGIN " + "; ".join(s for r in rows for s in settle(dialect, r)) + "; END"
        return [
            f"CREATE TRIGGER deal_reaches_insert AFTER INSERT ON transitions {body('NEW')}",
            f"CREATE TRIGGER deal_reaches_delete AFTER DELETE ON transitions {body('OLD')}",
            f"CREATE TRIGGER deal_reaches_update AFTER UPDATE OF {watched} ON transitions {body('OLD', 'NEW')}",
        ]

    def settled(r: str) -> str:
        return (f"PERFORM 1 FROM records WHERE id = {r}.record_id FOR NO KEY UPDATE; "
                + "; ".join(settle(dialect, r)))
    return [
        "CREATE FUNCTION deal_reaches_settle() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP <> 'INSERT' THEN {settled('OLD')}; END IF; "
        "IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.record_id <> OLD.record_id) THEN "
        f"{settled('NEW')}; END IF; RETURN NULL; END $$",
        f"CREATE TRIGGER deal_reaches_settle AFTER INSERT OR DELETE OR UPDATE OF {watched} ON transitions "
        "FOR EACH ROW EXECUTE FUNCTION deal_reaches_settle()",
    ]


def drop_triggers(dialect: str) -> list[str]:
    """DDL that removes what `create_triggers` made."""
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS deal_reaches_{op}" for op in ("insert", "delete", "update")]
    return ["DROP TRIGGER IF EXISTS deal_reaches_settle ON transitions",
            "DROP FUNCTION IF EXISTS deal_reaches_settle()"]
