"""Writing many deal snapshots whose stage did not move with one upsert statement.

The bulk counterpart of `deals.apply_snapshot` for sync pages: same stored fields, same rules
(crm_modified_at only moves forward, deleted cleared, version + 1), but one
`INSERT ... ON CONFLICT (connection_id, external_id) DO UPDATE ... RETURNING` per page instead of
one ORM flush per deal. The statement is built once per dialect and reads the whole page from one
JSON parameter (json_to_recordset on PostgreSQL, json_each on SQLite): ~15 bound parameters per row
would cost more to process than the database takes to write the row.
Stage fields are written only for records it creates (a baseline sync records a deal where it
stands); an existing record's stage is left to `observe`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import JSON, Dialect, Table, Text, bindparam, case, column, func, literal_column, select, true
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from adapters.base import DealSnapshot
from service.db import utc_text, utcnow
from service.models import Connection, Record
from service.services.deals import MULTI_SEPARATORS, MappedField, portrait_values
from service.services.policy import placeholders_of

RECORDS: Table = Record.metadata.tables[Record.__tablename__]
COLUMNS = ("connection_id", "external_id", "kind", "name", "owner_external_id", "amount", "values",
           "crm_modified_at", "pipeline_external_id", "stage_external_id", "stage_changed_at", "deleted",
           "version", "created_at", "updated_at")

WrittenRecord = tuple[int, dict[str, Any]]


def upsert_unmoved(session: Session, connection: Connection, snapshots: Iterable[DealSnapshot],
                   mapping: list[MappedField], now: datetime) -> list[WrittenRecord]:
    """Create or refresh the records of deals whose stage did not move, in the session's transaction;
    returns (record id, stored portrait values) of every record written, in snapshot order.

    A new record gets the snapshot's pipeline and stage, changed at its modification time (else `now`).
    A deal given twice is written once, from its last snapshot. Raises ValueError on a database other
    than PostgreSQL or SQLite.
    """
    latest = {snapshot.id: snapshot for snapshot in snapshots}
    if not latest:
        return []
    placeholders = placeholders_of(connection)
    separator = MULTI_SEPARATORS.get(connection.kind, ";")
    written_at = utcnow()
    values = {s.id: portrait_values(s, mapping, placeholders, separator) for s in latest.values()}
    dialect = session.get_bind().dialect
    stamp = _time_text(dialect)
    at, at_now = stamp(written_at), stamp(now)

    def row(s: DealSnapshot) -> tuple[Any, ...]:  # in COLUMNS order
        modified = None if s.modified_at is None else stamp(s.modified_at)
        return (connection.id, s.id, "deal", s.name, s.owner_id, s.amount, values[s.id], modified, s.pipeline_id,
                s.stage_id, modified or at_now, False, 1, at, at)

    rows = [row(s) for s in latest.values()]
    # json_to_recordset reads objects; SQLite reads arrays, whose elements it finds faster than keys.
    page = [dict(zip(COLUMNS, r, strict=True)) for r in rows] if dialect.name == "postgresql" else rows
    written = session.execute(_upsert(dialect.name), {"rows": json.dumps(page)})
    ids = {str(external_id): int(record_id) for record_id, external_id in written.all()}
    return [(ids[external_id], values[external_id]) for external_id in latest]


def _time_text(dialect: Dialect) -> Callable[[datetime], str]:
    """How a time is written inside the JSON rows: as the text the database's UTCDateTime column holds."""
    if dialect.name == "sqlite":  # SQLite stores the text of SQLAlchemy's DateTime ("2026-11-23 02:50:59.000000")
        process = RECORDS.c.crm_modified_at.type.dialect_impl(dialect).bind_processor(dialect)
        assert process is not None
        return cast(Callable[[datetime], str], process)
    return utc_text


@cache
def _upsert(dialect: str) -> ReturningInsert[Any]:
    """The upsert of record rows from one JSON array parameter `rows`: of objects keyed by COLUMNS on
    PostgreSQL, of arrays in COLUMNS order on SQLite."""
    rows = bindparam("rows", type_=Text)
    if dialect == "postgresql":
        source = func.json_to_recordset(sql_cast(rows, JSON)).table_valued(
            *(column(name, RECORDS.c[name].type) for name in COLUMNS)).render_derived(with_types=True)
        insert: postgresql.Insert | sqlite.Insert = postgresql.insert(RECORDS).from_select(
            list(COLUMNS), select(*source.c))
    elif dialect == "sqlite":
        each = func.json_each(rows).table_valued("value")
        # No type_coerce to the columns' types: the JSON already holds the stored text, and `->>` (SQLite
        # 3.38+) gives the "values" object back as JSON text. The WHERE tells SQLite's parser that the
        # ON CONFLICT belongs to the INSERT, not to a join.
        fields = [each.c.value.op("->>")(literal_column(str(i))) for i in range(len(COLUMNS))]
        insert = sqlite.insert(RECORDS).from_select(list(COLUMNS), select(*fields).where(true()))
    else:
        raise ValueError(f"bulk upsert is not supported on {dialect}")
    incoming, stored = insert.excluded, RECORDS.c
    return insert.on_conflict_do_update(
        index_elements=[stored.connection_id, stored.external_id],
        set_={
            "name": incoming.name, "owner_external_id": incoming.owner_external_id, "amount": incoming.amount,
            "values": incoming["values"],
            # A NULL incoming time compares as NULL, so it keeps the stored one.
            "crm_modified_at": case(
                (stored.crm_modified_at.is_(None), incoming.crm_modified_at),
                (incoming.crm_modified_at >= stored.crm_modified_at, incoming.crm_modified_at),
                else_=stored.crm_modified_at),
            "deleted": False, "version": func.coalesce(stored.version, 0) + 1, "updated_at": incoming.updated_at,
        },
    ).returning(stored.id, stored.external_id)
