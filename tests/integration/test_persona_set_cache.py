"""The compiled persona set is asked for on every sync page and worker batch: while neither personas nor fields
change it costs one light query, and any change is seen at once (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from service.models import Field, Persona
from service.runtime import Runtime
from service.services.scoring import persona_set

CRITERIA = [{"field": "industry", "matcher": "in", "values": ["retail"], "weight": 2}]


def statements_of(runtime: Runtime, call: Any) -> tuple[Any, int]:
    """What `call(session)` returns and how many queries it ran (SQLite's BEGIN IMMEDIATE is not one)."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        with runtime.uow() as uow:
            result = call(uow.session)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    return result, len(seen)


def test_an_unchanged_set_costs_one_query_and_a_change_is_seen(runtime: Runtime) -> None:
    with runtime.uow() as uow:
        uow.session.add(Field(key="industry", label="Industry", type="enum", constraints={"options": ["retail", "it"]}))
        uow.session.add(Persona(name="Retail", criteria=CRITERIA, thresholds={"A": 80, "B": 60, "C": 40}))
        uow.commit()
    first, _ = statements_of(runtime, persona_set)
    again, queries = statements_of(runtime, persona_set)
    assert again is first and queries == 1
    assert [s.name for s in first.specs] == ["Retail"]

    with runtime.uow() as uow:
        persona = uow.session.query(Persona).one()
        persona.name, persona.version = "Retail chains", persona.version + 1
        uow.session.add(Persona(name="IT", criteria=[{**CRITERIA[0], "values": ["it"]}],
                                thresholds={"A": 80, "B": 60, "C": 40}))
        uow.commit()
    changed, _ = statements_of(runtime, persona_set)
    assert [s.name for s in changed.specs] == ["Retail chains", "IT"]

    with runtime.uow() as uow:
        field = uow.session.query(Field).one()
        field.constraints = {"options": ["retail", "it", "banks"]}
        uow.commit()
    refreshed, _ = statements_of(runtime, persona_set)
    assert refreshed is not changed and refreshed.fields["industry"].constraints.options == ("retail", "it", "banks")
