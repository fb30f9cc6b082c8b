"""The bulk upsert of unmoved deals stores exactly what the single-record path stores (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Text, cast, select
from sqlalchemy.exc import DataError

from adapters.base import DealSnapshot
from service.domain.fields import Constraints, FieldSpec, FieldType
from service.models import Connection, Record
from service.runtime import Runtime
from service.services.deals import MappedField, apply_snapshot
from service.services.record_bulk import upsert_unmoved

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=30)
MAPPING = [
    MappedField("industry", FieldSpec("industry", "Industry", FieldType.TEXT), {}),
    MappedField("budget", FieldSpec("budget", "Budget", FieldType.NUMBER), {}),
    MappedField("channels", FieldSpec("channels", "Channels", FieldType.MULTI_ENUM,
                                      Constraints(options=("web", "phone"))), {"1": "web", "2": "phone"}),
]
# What the comparison leaves out: keys and the wall-clock bookkeeping times.
UNCOMPARED = {"id", "connection_id", "created_at", "updated_at"}


def add_connection(runtime: Runtime, name: str) -> int:
    with runtime.uow() as uow:
        row = Connection(name=name, kind="hubspot", base_url="http://127.0.0.1:9",
                         credentials_encrypted=runtime.vault.encrypt({"access_token": "t", "client_secret": "s"}))
        uow.session.add(row)
        uow.commit()
        return row.id


def deal(deal_id: str, modified_at: datetime | None, name: str = "Acme", stage: str = "appointmentscheduled",
         **properties: str | None) -> DealSnapshot:
    return DealSnapshot(id=deal_id, pipeline_id="default", stage_id=stage, owner_id="101", amount="1200",
                        name=name, modified_at=modified_at, properties=properties)


def one_by_one(runtime: Runtime, connection_id: int, snapshots: list[DealSnapshot]) -> None:
    """The single-record path sync used before the bulk one, for comparison."""
    with runtime.uow() as uow:
        connection = uow.session.get_one(Connection, connection_id)
        for snapshot in snapshots:
            record = uow.session.scalars(select(Record).where(
                Record.connection_id == connection_id, Record.external_id == snapshot.id)).first()
            new = record is None
            record = apply_snapshot(uow.session, connection, record, snapshot, MAPPING)
            if new:
                record.pipeline_external_id, record.stage_external_id = snapshot.pipeline_id, snapshot.stage_id
                record.stage_changed_at = snapshot.modified_at or NOW
            uow.session.flush()
        uow.commit()


def in_bulk(runtime: Runtime, connection_id: int, snapshots: list[DealSnapshot]) -> list[tuple[int, dict[str, Any]]]:
    with runtime.uow() as uow:
        connection = uow.session.get_one(Connection, connection_id)
        written = upsert_unmoved(uow.session, connection, snapshots, MAPPING, NOW)
        uow.commit()
    return written


def stored(runtime: Runtime, connection_id: int) -> dict[str, dict[str, Any]]:
    with runtime.uow() as uow:
        rows = uow.session.scalars(select(Record).where(Record.connection_id == connection_id))
        return {r.external_id: {c.key: getattr(r, c.key) for c in Record.__table__.columns} for r in rows}


def meddle(runtime: Runtime, connection_id: int) -> None:
    """What webhooks may do between two syncs: move deal A, delete deal C."""
    with runtime.uow() as uow:
        records = {r.external_id: r for r in uow.session.scalars(
            select(Record).where(Record.connection_id == connection_id))}
        records["A"].stage_external_id, records["A"].stage_changed_at = "closedwon", T0 + timedelta(days=2)
        records["C"].deleted = True
        uow.commit()


FIRST = [deal("A", T0 + timedelta(days=1), industry="SaaS", budget="15000", channels="1;2"),
         deal("B", None, industry="  ", budget="n/a"),
         deal("C", T0 + timedelta(days=1), stage="qualifiedtobuy")]
SECOND = [deal("A", T0, name="Acme 2", industry="Retail", channels="2"),  # an older read: the time must not go back
          deal("B", T0 + timedelta(days=3), name="B 2", budget="7"),
          deal("C", None, stage="qualifiedtobuy"),
          deal("D", T0 + timedelta(days=4), stage="contractsent")]


def test_given_the_same_snapshots_then_bulk_and_single_record_paths_store_the_same_records(runtime: Runtime) -> None:
    single, bulk = add_connection(runtime, "single"), add_connection(runtime, "bulk")
    one_by_one(runtime, single, FIRST)
    in_bulk(runtime, bulk, FIRST)
    meddle(runtime, single)
    meddle(runtime, bulk)
    one_by_one(runtime, single, SECOND)
    in_bulk(runtime, bulk, SECOND)

    def comparable(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {key: {c: v for c, v in row.items() if c not in UNCOMPARED} for key, row in records.items()}

    assert comparable(stored(runtime, bulk)) == comparable(stored(runtime, single))
    records = stored(runtime, bulk)
    assert records["A"]["crm_modified_at"] == T0 + timedelta(days=1)
    assert (records["A"]["stage_external_id"], records["A"]["name"]) == ("closedwon", "Acme 2")
    assert records["B"]["crm_modified_at"] == T0 + timedelta(days=3)
    assert records["B"]["stage_changed_at"] == NOW  # first seen without a modification time
    assert (records["C"]["deleted"], records["C"]["crm_modified_at"]) == (False, T0 + timedelta(days=1))
    assert {key: row["version"] for key, row in records.items()} == {"A": 2, "B": 2, "C": 2, "D": 1}
    assert (records["D"]["stage_external_id"], records["D"]["stage_changed_at"]) == ("contractsent",
                                                                                       T0 + timedelta(days=4))


def test_the_bulk_path_stores_times_as_the_same_text_as_the_single_record_path(runtime: Runtime) -> None:
    # Times are compared as text in SQL (crm_modified_at only moves forward; cursors, reports): a bulk row in
    # another text form would sort wrongly against the rest on SQLite.
    single, bulk = add_connection(runtime, "single"), add_connection(runtime, "bulk")
    one_by_one(runtime, single, FIRST)
    in_bulk(runtime, bulk, FIRST)

    def texts(connection_id: int) -> dict[str, tuple[str | None, str | None]]:
        with runtime.uow() as uow:
            rows = uow.session.execute(select(Record.external_id, cast(Record.crm_modified_at, Text),
                                              cast(Record.stage_changed_at, Text))
                                       .where(Record.connection_id == connection_id))
            return {external_id: (modified, changed) for external_id, modified, changed in rows}

    assert texts(bulk) == texts(single)
    assert texts(bulk)["A"][0] is not None


def test_the_bulk_path_returns_the_written_record_ids_with_their_stored_values(runtime: Runtime) -> None:
    connection_id = add_connection(runtime, "bulk")
    in_bulk(runtime, connection_id, FIRST)
    created = stored(runtime, connection_id)
    written = in_bulk(runtime, connection_id, SECOND)
    records = stored(runtime, connection_id)
    assert written == [(records[key]["id"], records[key]["values"]) for key in ("A", "B", "C", "D")]
    assert records["A"]["values"]["industry"] == "Retail"
    assert records["A"]["created_at"] == created["A"]["created_at"]
    assert records["A"]["updated_at"] > created["A"]["updated_at"]


def test_a_deal_given_twice_is_written_once_from_its_last_snapshot(runtime: Runtime) -> None:
    connection_id = add_connection(runtime, "bulk")
    written = in_bulk(runtime, connection_id, [deal("A", T0, name="first"), deal("A", T0, name="second")])
    records = stored(runtime, connection_id)
    assert len(written) == 1 and written[0][0] == records["A"]["id"]
    assert (records["A"]["name"], records["A"]["version"]) == ("second", 1)


def test_nothing_to_write_is_no_statement_and_no_result(runtime: Runtime) -> None:
    connection_id = add_connection(runtime, "bulk")
    assert in_bulk(runtime, connection_id, []) == []
    assert stored(runtime, connection_id) == {}


def test_a_value_longer_than_its_column_is_never_cut(runtime: Runtime) -> None:
    connection_id = add_connection(runtime, "bulk")
    long_name = "N" * 301  # records.name is VARCHAR(300)
    if runtime.engine.dialect.name == "postgresql":
        with pytest.raises(DataError):
            in_bulk(runtime, connection_id, [deal("A", T0, name=long_name)])
        assert stored(runtime, connection_id) == {}
    else:  # SQLite does not enforce lengths: the whole value is kept
        in_bulk(runtime, connection_id, [deal("A", T0, name=long_name)])
        assert stored(runtime, connection_id)["A"]["name"] == long_name
