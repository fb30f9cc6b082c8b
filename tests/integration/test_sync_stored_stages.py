"""The per-page read of stored stages: right answers, and an index lookup per id whatever the statistics say."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from adapters.base import DealSnapshot
from service.runtime import Runtime
from service.services.sync import _stored_stages, _stored_stages_query
from tests.integration.test_record_bulk import T0, add_connection, deal, in_bulk

UNIQUE_INDEX = "uq_records_connection_id_external_id"


def test_it_gives_the_stored_stage_of_stored_deals_only(runtime: Runtime) -> None:
    ours, other = add_connection(runtime, "ours"), add_connection(runtime, "other")
    in_bulk(runtime, ours, [deal("1", T0, stage="a"), deal("2", T0, stage="b")])
    in_bulk(runtime, other, [deal("3", T0, stage="c")])
    page = (deal("1", T0, stage="moved"), deal("2", T0), deal("3", T0), deal("4", T0))
    assert stages(runtime, ours, page) == {"1": "a", "2": "b"}
    assert stages(runtime, other, page) == {"3": "c"}
    assert stages(runtime, ours, ()) == {}


def test_each_id_is_looked_up_through_the_unique_index_for_a_connection_the_statistics_do_not_know(
        runtime: Runtime) -> None:
    # A first sync fills the table faster than statistics follow. The planner, believing the new connection
    # holds a handful of rows, once scanned all of them and filtered by id: 13 ms per page at 100,000 records.
    known = add_connection(runtime, "known")
    in_bulk(runtime, known, [deal(f"k{i}", T0) for i in range(200)])
    with runtime.engine.begin() as conn:
        if runtime.engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE records"))
    new = add_connection(runtime, "new")
    in_bulk(runtime, new, [deal(str(i), T0 + timedelta(seconds=i)) for i in range(3000)])
    ids = json.dumps([str(i) for i in range(2500, 3000)])
    plan = explain(runtime, {"connection_id": new, "external_ids": ids})
    assert plan, "no records scan keyed on both columns"
    if runtime.engine.dialect.name == "postgresql":
        assert UNIQUE_INDEX in plan, plan
    assert len(stages(runtime, new, tuple(deal(str(i), T0) for i in range(2500, 3000)))) == 500


def stages(runtime: Runtime, connection_id: int, deals: tuple[DealSnapshot, ...]) -> dict[str, str | None]:
    with runtime.read_uow() as uow:
        return _stored_stages(uow.session, connection_id, deals)


def explain(runtime: Runtime, params: dict[str, Any]) -> str:
    """The plan of the stored-stages query, with the records scans' index conditions (PostgreSQL) or search
    terms (SQLite), one scan per line."""
    dialect = runtime.engine.dialect
    compiled = _stored_stages_query(dialect.name).compile(dialect=dialect)
    with runtime.engine.connect() as conn:
        if dialect.name == "postgresql":
            bound = {**compiled.params, **params}
            rows = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled.string}", bound).scalar_one()
            return "\n".join(records_scans(rows[0]["Plan"]))
        bound_list = [params.get(name, compiled.params.get(name)) for name in compiled.positiontup or ()]
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled.string}", tuple(bound_list)).all()
        return "\n".join(str(row[-1]) for row in rows
                         if "records" in str(row[-1]) and "(connection_id=? AND external_id=?)" in str(row[-1]))


def records_scans(node: dict[str, Any]) -> list[str]:
    """`index name: index condition` of every scan of records in a PostgreSQL JSON plan whose condition
    includes the external id."""
    found = []
    if node.get("Relation Name") == "records" and "external_id" in str(node.get("Index Cond", "")):
        found.append(f"{node.get('Index Name')}: {node['Index Cond']}")
    for child in node.get("Plans", ()):
        found.extend(records_scans(child))
    return found
