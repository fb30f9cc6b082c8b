"""Writing many deal snapshots whose stage did not move with one upsert statement.

The bulk counterpart of `deals.apply_snapshot` for sync pages: same stored fields, same rules
(crm_modified_at only moves forward, deleted cleared, version + 1), but one
`INSERT ... ON CONFLICT (connection_id, external_id) DO UPDATE ... RETURNING` per page instead of
one ORM flush per deal. The statement is built once per dialect and reads the whole page from one
JSON parameter (jsonb_array_elements on PostgreSQL, json_each on SQLite) holding only what differs from row
to row: ~15 bound parameters per row would cost more to process than the database takes to write the row.
Stage fields are written only for records it creates (a baseline sync records a deal where it
stands); an existing record's stage is left to `observe`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    Dialect,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    case,
    false,
    func,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from adapters.base import DealSnapshot
from adapters.registry import kind_of
from service.db import utc_text, utcnow
from service.models import Connection, Record
from service.services.deals import MappedField, amount_value, portrait_values
from service.services.stored_config import placeholders_of

RECORDS: Table = Record.metadata.tables[Record.__tablename__]
# What differs from row to row travels in the JSON rows; the rest (connection, times of the write, the
# constant columns of a new record) is one parameter per page.
ROW_COLUMNS = ("external_id", "name", "owner_external_id", "amount", "values", "crm_modified_at",
               "pipeline_external_id", "stage_external_id", "amount_value", "currency", "crm_created_at", "closed_at",
               "company_external_id", "contact_external_id")
TIME_COLUMNS = ("crm_modified_at", "crm_created_at", "closed_at")
PAGE_COLUMNS = ("connection_id", "kind", "stage_changed_at", "deleted", "version", "created_at", "updated_at")

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
    separator = kind_of(connection.kind).multi_separator
    values = {s.id: portrait_values(s, mapping, placeholders, separator) for s in latest.values()}
    dialect = session.get_bind().dialect
    stamp = _time_text(dialect)
    rows = [(s.id, s.name, s.owner_id, s.amount, values[s.id], None if s.modified_at is None else stamp(s.modified_at),
             s.pipeline_id, s.stage_id, _text(amount_value(s.amount)), s.currency,
             None if s.created_at is None else stamp(s.created_at), None if s.closed_at is None else stamp(s.closed_at),
             s.company_id, s.contact_id)
            for s in latest.values()]  # in ROW_COLUMNS order
    written = session.execute(_upsert(dialect.name), {
        "rows": json.dumps(rows), "connection_id": connection.id, "now": now, "written_at": utcnow()})
    ids = {str(external_id): int(record_id) for record_id, external_id in written.all()}
    return [(ids[external_id], values[external_id]) for external_id in latest]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _time_text(dialect: Dialect) -> Callable[[datetime], str]:
    """How a time is written inside the JSON rows: as the text the database's UTCDateTime column holds."""
    return sqlite_time_text if dialect.name == "sqlite" else utc_text


def sqlite_time_text(value: datetime) -> str:
    """An aware time as the text SQLAlchemy's DateTime stores on SQLite for a UTCDateTime column
    ("2026-11-23 02:50:59.000000", in UTC); ValueError if naive."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


@cache
def _upsert(dialect: str) -> ReturningInsert[Any]:
    """The upsert of record rows from one JSON array parameter `rows` (arrays in ROW_COLUMNS order) and the
    page's `connection_id`, `now` (a new record's stage change time when its deal has no modification time)
    and `written_at`."""
    rows = bindparam("rows", type_=Text)
    positions: list[Any] = [literal_column(str(i)) for i in range(len(ROW_COLUMNS))]
    if dialect == "postgresql":
        # jsonb: parsed once, its elements found by position (json_to_recordset over objects costs ~50% more,
        # and `->>` on json re-reads the element text for every column). jsonb orders an object's keys its own
        # way, which the stored "values" object keeps.
        row = func.jsonb_array_elements(sql_cast(rows, JSONB)).table_valued("value").c.value
        # Strings are left as text (a cast to VARCHAR(n) would cut a long value instead of refusing it).
        fields: list[Any] = [row.op("->>")(at) for at in positions]
        at_values = ROW_COLUMNS.index("values")
        fields[at_values] = sql_cast(row.op("->")(positions[at_values]), JSON)
        for name in (*TIME_COLUMNS, "amount_value"):
            at = ROW_COLUMNS.index(name)
            fields[at] = sql_cast(fields[at], RECORDS.c[name].type)
        make: Callable[[Table], postgresql.Insert | sqlite.Insert] = postgresql.insert
    elif dialect == "sqlite":
        row = func.json_each(rows).table_valued("value").c.value
        # No type_coerce to the columns' types: the JSON already holds the stored text, and `->>` (SQLite
        # 3.38+) gives the "values" object back as JSON text.
        fields = [row.op("->>")(at) for at in positions]
        make = sqlite.insert
    else:
        raise ValueError(f"bulk upsert is not supported on {dialect}")
    modified = fields[ROW_COLUMNS.index("crm_modified_at")]
    written_at = bindparam("written_at", type_=RECORDS.c.updated_at.type)
    per_page = [bindparam("connection_id", type_=RECORDS.c.connection_id.type), literal("deal", String),
                func.coalesce(modified, bindparam("now", type_=RECORDS.c.stage_changed_at.type)), false(),
                literal(1, Integer), written_at, written_at]  # in PAGE_COLUMNS order
    # The WHERE tells SQLite's parser that the ON CONFLICT belongs to the INSERT, not to a join.
    insert = make(RECORDS).from_select([*ROW_COLUMNS, *PAGE_COLUMNS], select(*fields, *per_page).where(true()))
    incoming, stored = insert.excluded, RECORDS.c
    return insert.on_conflict_do_update(
        index_elements=[stored.connection_id, stored.external_id],
        set_={
            "name": incoming.name, "owner_external_id": incoming.owner_external_id, "amount": incoming.amount,
            "amount_value": incoming.amount_value, "currency": incoming.currency,
            "crm_created_at": incoming.crm_created_at, "closed_at": incoming.closed_at, "values": incoming["values"],
            "company_external_id": incoming.company_external_id, "contact_external_id": incoming.contact_external_id,
            # A NULL incoming time compares as NULL, so it keeps the stored one.
            "crm_modified_at": case(
                (stored.crm_modified_at.is_(None), incoming.crm_modified_at),
                (incoming.crm_modified_at >= stored.crm_modified_at, incoming.crm_modified_at),
                else_=stored.crm_modified_at),
            "deleted": False, "version": func.coalesce(stored.version, 0) + 1, "updated_at": incoming.updated_at,
        },
    ).returning(stored.id, stored.external_id)
