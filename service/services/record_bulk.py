"""Writing many deal snapshots whose stage did not move with one upsert statement.

The bulk counterpart of `deals.apply_snapshot` for sync pages: same stored fields, same rules
(crm_modified_at only moves forward, deleted cleared, version + 1), but one
`INSERT ... ON CONFLICT (connection_id, external_id) DO UPDATE ... RETURNING` per page instead of
one ORM flush per deal. The statement is built once per dialect: on PostgreSQL it reads the page
from one JSON parameter (json_to_recordset), on SQLite it runs with one parameter set per row,
which SQLAlchemy sends as multi-row VALUES batches ("insertmanyvalues").
Stage fields are written only for records it creates (a baseline sync records a deal where it
stands); an existing record's stage is left to `observe`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, Table, Text, bindparam, case, cast, column, func, select
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
    dialect = session.get_bind().dialect.name
    # On PostgreSQL the rows go as one JSON parameter instead of ~15 per row (psycopg re-parses, does not
    # cache, long statements), so times are written as the UTC text UTCDateTime stores.
    stamp: Callable[[datetime], Any] = utc_text if dialect == "postgresql" else _same
    at, at_now = stamp(written_at), stamp(now)

    def row(s: DealSnapshot) -> dict[str, Any]:
        modified = None if s.modified_at is None else stamp(s.modified_at)
        return {
            "connection_id": connection.id, "external_id": s.id, "kind": "deal", "name": s.name,
            "owner_external_id": s.owner_id, "amount": s.amount, "values": values[s.id],
            "crm_modified_at": modified, "pipeline_external_id": s.pipeline_id,
            "stage_external_id": s.stage_id, "stage_changed_at": modified or at_now, "deleted": False,
            "version": 1, "created_at": at, "updated_at": at,
        }

    rows = [row(s) for s in latest.values()]
    if dialect == "postgresql":
        written = session.execute(_upsert(dialect), {"rows": json.dumps(rows)})
    else:
        written = session.execute(_upsert(dialect), rows)
    ids = {str(row.external_id): int(row.id) for row in written}
    return [(ids[external_id], values[external_id]) for external_id in latest]


def _same(value: datetime) -> datetime:
    return value


@cache
def _upsert(dialect: str) -> ReturningInsert[Any]:
    """The upsert of record rows: on PostgreSQL from one JSON array parameter `rows`, on SQLite one
    parameter set per row (SQLAlchemy batches them into multi-row VALUES)."""
    if dialect == "postgresql":
        source = func.json_to_recordset(cast(bindparam("rows", type_=Text), JSON)).table_valued(
            *(column(name, RECORDS.c[name].type) for name in COLUMNS)).render_derived(with_types=True)
        insert: postgresql.Insert | sqlite.Insert = postgresql.insert(RECORDS).from_select(
            list(COLUMNS), select(*source.c))
    elif dialect == "sqlite":
        insert = sqlite.insert(RECORDS)
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
