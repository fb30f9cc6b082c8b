"""The SQL that keeps what the report reads of transitions exact: the day counts (transition_days,
transition_field_days) and, on each blocked move, when the deal passed the stage after all and whether it moved
since (passed_at, followed). Row triggers on transitions for PostgreSQL and SQLite, and the statements that fill
all of it from the transitions already stored; migration 0008 and `Base.metadata.create_all` both run these.

A move is counted when it has a pipeline and its deal had an owner then that the move recorded (owner_id and
to_pipeline not NULL, and mover_kind not NULL: moves recorded before migration 0005 kept neither, and the
report gives them the deal's owner now); the report counts the others from transitions themselves. A
move's day is its UTC date. Triggers add a new move, take away a deleted one, and do both for an update of a
counted column; a count that falls to zero is deleted. PostgreSQL locks a count's row from the update to the
commit of the moving transaction. Any change to a deal's moves settles the deal's blocked moves again."""

from __future__ import annotations

AUTOMATED = ("api", "automation", "import", "integration")  # moves not made by a person in the CRM's UI
FIELD_REASONS = ("missing", "invalid", "unknown_field")  # the issues that name a field that was not filled
FIELD_DECISIONS = ("blocked", "warned")  # the moves whose issues the report counts


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


# What transition_days adds up per move of row `{r}` (NEW or OLD): name -> SQL (both dialects).
MEASURES = {
    "moves": "1",
    "allowed": "CASE WHEN {r}.decision = 'allowed' THEN 1 ELSE 0 END",
    "blocked": "CASE WHEN {r}.decision = 'blocked' THEN 1 ELSE 0 END",
    "warned": "CASE WHEN {r}.decision = 'warned' THEN 1 ELSE 0 END",
    "audited": "CASE WHEN {r}.decision = 'audited' AND NOT {r}.too_old THEN 1 ELSE 0 END",
    "found_by_sync": "CASE WHEN {r}.source = 'sync' THEN 1 ELSE 0 END",
    "automated": f"CASE WHEN {{r}}.mover_kind IN ({_quoted(AUTOMATED)}) THEN 1 ELSE 0 END",
    "too_old": "CASE WHEN {r}.too_old THEN 1 ELSE 0 END",
    "required": "coalesce({r}.required_fields, 0)",
    "unfilled": "coalesce({r}.unfilled_fields, 0)",
    "skips": "CASE WHEN {r}.decision <> 'blocked' AND {r}.stages_passed > 1 THEN 1 ELSE 0 END",
}
MOVE_KEYS = ("day", "connection_id", "to_pipeline", "to_stage", "owner_id", "direction")
FIELD_KEYS = ("day", "connection_id", "to_pipeline", "owner_id", "field", "label")
# The columns whose update the triggers follow (what the counts and the blocked moves' facts depend on).
WATCHED = ("record_id", "connection_id", "to_pipeline", "to_stage", "owner_id", "direction", "decision", "occurred_at",
           "too_old", "source", "mover_kind", "required_fields", "unfilled_fields", "stages_passed", "issues")


def _day(dialect: str, r: str) -> str:
    return f"date({r}.occurred_at)" if dialect == "sqlite" else f"({r}.occurred_at AT TIME ZONE 'UTC')::date"


def _counted(r: str) -> str:
    return f"{r}.owner_id IS NOT NULL AND {r}.to_pipeline IS NOT NULL AND {r}.mover_kind IS NOT NULL"


def _move_values(dialect: str, r: str) -> list[str]:
    return [_day(dialect, r), *(f"{r}.{k}" for k in MOVE_KEYS[1:]), *(m.format(r=r) for m in MEASURES.values())]


def _move_key(dialect: str, r: str) -> str:
    return " AND ".join([f"day = {_day(dialect, r)}", *(f"{k} = {r}.{k}" for k in MOVE_KEYS[1:])])


def _issue_parts(dialect: str, r: str) -> tuple[str, str, str, str]:
    """(a FROM item over the move's issues, its field, its label or '', the conditions of a field issue)."""
    if dialect == "sqlite":
        field, label, kind = "json_extract(i.value, '$.field')", "json_extract(i.value, '$.label')", "json_type"
        source, reason = f"json_each({r}.issues) AS i", "json_extract(i.value, '$.reason')"
    else:
        field, label, kind = "i.value ->> 'field'", "i.value ->> 'label'", "json_typeof"
        source, reason = f"json_array_elements({r}.issues) AS i(value)", "i.value ->> 'reason'"
    where = (f"{r}.decision IN ({_quoted(FIELD_DECISIONS)}) AND {kind}({r}.issues) = 'array' "
             f"AND {reason} IN ({_quoted(FIELD_REASONS)}) AND {field} IS NOT NULL")
    return source, field, f"coalesce({label}, '')", where


def _issues(dialect: str, r: str) -> str:
    """The distinct (field, label) of the move's field issues (none for other moves)."""
    source, field, label, where = _issue_parts(dialect, r)
    return f"SELECT DISTINCT {field} AS field, {label} AS label FROM {source} WHERE {where}"


def add_move(dialect: str, r: str = "NEW", only: str = "true") -> list[str]:
    """Statements that count the move `r` when `only` holds (it must be eligible: see `_counted`)."""
    keys, measures = ", ".join(MOVE_KEYS), ", ".join(MEASURES)
    updates = ", ".join(f"{m} = transition_days.{m} + excluded.{m}" for m in MEASURES)
    fields = ", ".join(FIELD_KEYS)
    # Each SELECT has a WHERE: SQLite's parser needs one before ON CONFLICT.
    return [
        f"INSERT INTO transition_days ({keys}, {measures}) SELECT {', '.join(_move_values(dialect, r))} "
        f"WHERE {only} ON CONFLICT ({keys}) DO UPDATE SET {updates}",
        f"INSERT INTO transition_field_days ({fields}, moves) SELECT {_day(dialect, r)}, {r}.connection_id, "
        f"{r}.to_pipeline, {r}.owner_id, f.field, f.label, 1 FROM ({_issues(dialect, r)}) AS f WHERE {only} "
        f"ON CONFLICT ({fields}) DO UPDATE SET moves = transition_field_days.moves + 1",
    ]


def remove_move(dialect: str, r: str = "OLD", only: str = "true") -> list[str]:
    """Statements that take the move `r` out of the counts when `only` holds, deleting counts that reach 0."""
    taken = ", ".join(f"{m} = {m} - ({sql.format(r=r)})" for m, sql in MEASURES.items())
    move_key = f"{only} AND {_move_key(dialect, r)}"
    field_key = (f"{only} AND day = {_day(dialect, r)} AND connection_id = {r}.connection_id "
                 f"AND to_pipeline = {r}.to_pipeline AND owner_id = {r}.owner_id")
    return [
        f"UPDATE transition_days SET {taken} WHERE {move_key}",
        f"DELETE FROM transition_days WHERE {move_key} AND moves = 0",
        f"UPDATE transition_field_days SET moves = moves - 1 WHERE {field_key} "
        f"AND (field, label) IN ({_issues(dialect, r)})",
        f"DELETE FROM transition_field_days WHERE {field_key} AND moves = 0",
    ]


# What a blocked move of `transitions` says once later moves are known: when the deal entered the stage after
# all (its first later move into it that was not blocked), and whether any later move of the deal exists.
PASSED_AT = ("(SELECT min(l.occurred_at) FROM transitions l WHERE l.record_id = transitions.record_id "
             "AND l.to_stage = transitions.to_stage AND l.decision <> 'blocked' "
             "AND l.occurred_at > transitions.occurred_at)")
FOLLOWED = ("EXISTS (SELECT 1 FROM transitions l WHERE l.record_id = transitions.record_id "
            "AND l.occurred_at >= transitions.occurred_at "
            "AND (l.occurred_at > transitions.occurred_at OR l.id > transitions.id))")


def settle_blocked(dialect: str, r: str) -> str:
    """The statement that brings passed_at and followed of the blocked moves of `r`'s deal up to date (a deal
    has few; rows already right are not written)."""
    differs = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
    return (f"UPDATE transitions SET passed_at = {PASSED_AT}, followed = {FOLLOWED} "
            f"WHERE record_id = {r}.record_id AND decision = 'blocked' "
            f"AND (passed_at {differs} {PASSED_AT} OR followed {differs} {FOLLOWED})")


def create_triggers(dialect: str) -> list[str]:
    """DDL of the triggers that keep the day counts and the blocked moves' passed_at and followed (PostgreSQL:
    one function and one trigger; SQLite: six)."""
    watched = ", ".join(WATCHED)
    if dialect == "sqlite":
        def body(statements: list[str]) -> str:
            return "BEGIN " + "; ".join(statements) + "; END"
        return [
            f"CREATE TRIGGER transitions_rollup_insert AFTER INSERT ON transitions WHEN {_counted('NEW')} "
            f"{body(add_move(dialect))}",
            f"CREATE TRIGGER transitions_rollup_delete AFTER DELETE ON transitions WHEN {_counted('OLD')} "
            f"{body(remove_move(dialect))}",
            # Either side of an update may be counted or not: each statement checks its own.
            f"CREATE TRIGGER transitions_rollup_update AFTER UPDATE OF {watched} ON transitions "
            + body(remove_move(dialect, only=_counted("OLD")) + add_move(dialect, only=_counted("NEW"))),
            "CREATE TRIGGER transitions_blocked_insert AFTER INSERT ON transitions "
            + body([settle_blocked(dialect, "NEW")]),
            "CREATE TRIGGER transitions_blocked_delete AFTER DELETE ON transitions "
            + body([settle_blocked(dialect, "OLD")]),
            f"CREATE TRIGGER transitions_blocked_update AFTER UPDATE OF {watched} ON transitions "
            + body([settle_blocked(dialect, "OLD"), settle_blocked(dialect, "NEW")]),
        ]
    return [
        "CREATE FUNCTION transitions_rollup() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP <> 'INSERT' AND {_counted('OLD')} THEN {'; '.join(remove_move(dialect))}; END IF; "
        f"IF TG_OP <> 'DELETE' AND {_counted('NEW')} THEN {'; '.join(add_move(dialect))}; END IF; "
        f"IF TG_OP <> 'INSERT' THEN {settle_blocked(dialect, 'OLD')}; END IF; "
        f"IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.record_id <> OLD.record_id) THEN "
        f"{settle_blocked(dialect, 'NEW')}; END IF; "
        "RETURN NULL; END $$",
        f"CREATE TRIGGER transitions_rollup AFTER INSERT OR DELETE OR UPDATE OF {watched} ON transitions "
        "FOR EACH ROW EXECUTE FUNCTION transitions_rollup()",
    ]


def drop_triggers(dialect: str) -> list[str]:
    """DDL that removes what `create_triggers` made."""
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS transitions_{what}_{op}" for what in ("rollup", "blocked")
                for op in ("insert", "delete", "update")]
    return ["DROP TRIGGER IF EXISTS transitions_rollup ON transitions", "DROP FUNCTION IF EXISTS transitions_rollup()"]


def fill_counts(dialect: str) -> list[str]:
    """Statements that count every stored transition into empty day counts and settle every blocked move."""
    keys, fields = ", ".join(MOVE_KEYS), ", ".join(FIELD_KEYS)
    grouped = ", ".join([_day(dialect, "t"), *(f"t.{k}" for k in MOVE_KEYS[1:])])
    sums = ", ".join(f"sum({sql.format(r='t')})" for sql in MEASURES.values())
    source, field, label, where = _issue_parts(dialect, "t")
    by_field = f"{_day(dialect, 't')}, t.connection_id, t.to_pipeline, t.owner_id, {field}, {label}"
    return [
        f"INSERT INTO transition_days ({keys}, {', '.join(MEASURES)}) SELECT {grouped}, {sums} FROM transitions t "
        f"WHERE {_counted('t')} GROUP BY {grouped}",
        # A move counts once per (field, label), as its trigger counts it.
        f"INSERT INTO transition_field_days ({fields}, moves) SELECT {by_field}, count(DISTINCT t.id) "
        f"FROM transitions t {'JOIN' if dialect == 'sqlite' else 'JOIN LATERAL'} {source} ON true "
        f"WHERE {_counted('t')} AND {where} GROUP BY {by_field}",
        f"UPDATE transitions SET passed_at = {PASSED_AT}, followed = {FOLLOWED} WHERE decision = 'blocked'",
    ]
