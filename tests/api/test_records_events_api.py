"""/v1/events (stored webhooks, replay), /v1/records (with completeness), /v1/transitions, /healthz, /readyz.

Rows are inserted with the runtime's unit of work, the way the worker and the sync would store them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service import create_app
from service.config import Settings
from service.db import make_engine
from service.models import InboundEvent, Record, Transition
from service.runtime import Runtime, build_runtime
from tests.api.conftest import assert_problem, define_field, define_gate

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def add_event(runtime: Runtime, connection_id: int, n: int, status: str, error: str | None = None) -> int:
    with runtime.uow() as uow:
        row = InboundEvent(connection_id=connection_id, delivery_key=f"62515:7:{n}:{n}", object_id=str(1000 + n),
                           kind="property_change", occurred_at=T0 + timedelta(minutes=n), payload={"eventId": n},
                           status=status, attempts=1 if status != "received" else 0, error=error,
                           received_at=T0 + timedelta(minutes=n))
        uow.session.add(row)
        uow.session.flush()
        event_id = row.id
        uow.commit()
    return event_id


def add_record(runtime: Runtime, connection_id: int, external_id: str, stage: str | None, owner: str = "101",
               values: dict[str, Any] | None = None, pipeline: str = "default") -> int:
    with runtime.uow() as uow:
        row = Record(connection_id=connection_id, external_id=external_id, kind="deal", name=f"Deal {external_id}",
                     pipeline_external_id=pipeline, stage_external_id=stage, owner_external_id=owner,
                     amount="1500.00", currency="EUR", values=values or {}, crm_modified_at=T0)
        uow.session.add(row)
        uow.session.flush()
        record_id = row.id
        uow.commit()
    return record_id


def add_transition(runtime: Runtime, connection_id: int, record_id: int, to_stage: str, decision: str,
                   minutes: int) -> int:
    issues = [] if decision == "allowed" else [
        {"field": "industry", "label": "Industry", "reason": "missing", "constraint": None, "stage": to_stage,
         "mode": "enforce", "message": "Industry is missing"}]
    with runtime.uow() as uow:
        row = Transition(connection_id=connection_id, record_id=record_id, from_pipeline="default",
                         from_stage="appointmentscheduled", to_pipeline="default", to_stage=to_stage,
                         occurred_at=T0 + timedelta(minutes=minutes), actor="userId:45678", source="webhook",
                         change_source="CRM_UI", direction="forward", decision=decision,
                         mode="enforce" if issues else None, issues=issues,
                         message="Move is blocked" if issues else "Move allowed",
                         action="revert_stage" if decision == "blocked" else "none")
        uow.session.add(row)
        uow.session.flush()
        transition_id = row.id
        uow.commit()
    return transition_id


# ---- events --------------------------------------------------------------------------------------


@pytest.fixture
def events(runtime: Runtime, connection: dict[str, Any]) -> dict[str, int]:
    cid = connection["id"]
    return {"received": add_event(runtime, cid, 1, "received"),
            "failed": add_event(runtime, cid, 2, "failed", "CRMAuthError: token expired"),
            "ignored": add_event(runtime, cid, 3, "ignored", "deal 1003 no longer exists in the CRM"),
            "done": add_event(runtime, cid, 4, "done"),
            "processing": add_event(runtime, cid, 5, "processing")}


def test_given_stored_events_when_listing_then_newest_first_and_filterable_by_status(
        client: Any, manager_headers: dict[str, str], events: dict[str, int], connection: dict[str, Any]) -> None:
    everything = client.get("/v1/events", headers=manager_headers).get_json()
    failed = client.get("/v1/events?status=failed", headers=manager_headers).get_json()
    by_connection = client.get(f"/v1/events?connection_id={connection['id']}&status=done",
                               headers=manager_headers).get_json()

    assert everything["total"] == 5
    assert [e["id"] for e in everything["items"]] == sorted(events.values(), reverse=True)
    assert [e["id"] for e in failed["items"]] == [events["failed"]] and failed["total"] == 1
    assert failed["items"][0]["error"] == "CRMAuthError: token expired"
    assert [e["id"] for e in by_connection["items"]] == [events["done"]]
    assert client.get("/v1/events?connection_id=999", headers=manager_headers).get_json()["total"] == 0
    assert_problem(client.get("/v1/events?status=lost", headers=manager_headers), 422)


def test_given_a_stored_event_when_read_then_all_its_fields_are_shown(
        client: Any, manager_headers: dict[str, str], events: dict[str, int], connection: dict[str, Any]) -> None:
    response = client.get(f"/v1/events/{events['failed']}", headers=manager_headers)

    assert response.status_code == 200
    event = response.get_json()
    assert (event["connection_id"], event["delivery_key"], event["object_id"], event["kind"], event["status"],
            event["attempts"], event["payload"]) == (
        connection["id"], "62515:7:2:2", "1002", "property_change", "failed", 1, {"eventId": 2})
    assert event["occurred_at"].startswith("2024-05-01T09:02:00")
    assert_problem(client.get("/v1/events/4242", headers=manager_headers), 404)


@pytest.mark.parametrize("status", ["failed", "ignored", "done"])
def test_given_a_finished_event_when_replayed_then_202_and_received_again(
        client: Any, admin_headers: dict[str, str], events: dict[str, int], status: str) -> None:
    response = client.post(f"/v1/events/{events[status]}/replay", headers=admin_headers)

    assert response.status_code == 202, response.get_json()
    replayed = response.get_json()
    assert (replayed["id"], replayed["status"], replayed["error"], replayed["processed_at"]) == (
        events[status], "received", None, None)
    assert client.get(f"/v1/events/{events[status]}", headers=admin_headers).get_json()["status"] == "received"
    received = client.get("/v1/events?status=received", headers=admin_headers).get_json()
    assert events[status] in [e["id"] for e in received["items"]]


@pytest.mark.parametrize("status", ["received", "processing"])
def test_given_an_event_in_flight_when_replayed_then_409(client: Any, admin_headers: dict[str, str],
                                                         events: dict[str, int], status: str) -> None:
    response = client.post(f"/v1/events/{events[status]}/replay", headers=admin_headers)

    assert_problem(response, 409, detail_contains=status)


def test_given_an_unknown_event_when_replayed_then_404(client: Any, admin_headers: dict[str, str]) -> None:
    assert_problem(client.post("/v1/events/4242/replay", headers=admin_headers), 404)


# ---- records and transitions ---------------------------------------------------------------------


@pytest.fixture
def deals(client: Any, admin_headers: dict[str, str], runtime: Runtime, connection: dict[str, Any]) -> dict[str, int]:
    """Three deals; gates: qualifiedtobuy needs industry, presentationscheduled needs budget >= 1000."""
    cid = connection["id"]
    define_field(client, admin_headers, "industry", "enum", constraints={"options": ["retail", "it"]})
    define_field(client, admin_headers, "budget", "number", constraints={"min": 1000})
    define_gate(client, admin_headers, cid, "qualifiedtobuy", ["industry"])
    define_gate(client, admin_headers, cid, "presentationscheduled", ["budget"])
    return {
        "early": add_record(runtime, cid, "9001", "appointmentscheduled", values={"industry": "it", "budget": "50"}),
        "later": add_record(runtime, cid, "9002", "presentationscheduled", owner="102"),
        "partner": add_record(runtime, cid, "9003", "12345679", pipeline="12345678"),
    }


def test_given_records_when_listing_then_filtered_by_connection_pipeline_stage_and_owner(
        client: Any, manager_headers: dict[str, str], deals: dict[str, int], connection: dict[str, Any]) -> None:
    def ids(query: str) -> list[int]:
        page = client.get(f"/v1/records?{query}", headers=manager_headers).get_json()
        assert "page=" in query or page["total"] == len(page["items"])
        return [r["id"] for r in page["items"]]

    assert ids("") == [deals["early"], deals["later"], deals["partner"]]
    assert ids(f"connection_id={connection['id']}") == [deals["early"], deals["later"], deals["partner"]]
    assert ids("connection_id=999") == []
    assert ids("pipeline=12345678") == [deals["partner"]]
    assert ids("stage=presentationscheduled") == [deals["later"]]
    assert ids("owner=101&pipeline=default") == [deals["early"]]
    assert ids("page=2&page_size=2") == [deals["partner"]]


def test_given_a_record_when_listed_then_crm_ids_are_attributes(client: Any, manager_headers: dict[str, str],
                                                               deals: dict[str, int]) -> None:
    record = client.get("/v1/records?stage=appointmentscheduled", headers=manager_headers).get_json()["items"][0]

    assert (record["external_id"], record["pipeline"], record["stage"], record["owner"], record["amount"],
            record["currency"], record["deleted"]) == (
        "9001", "default", "appointmentscheduled", "101", "1500.00", "EUR", False)
    assert record["values"] == {"industry": "it", "budget": "50"}


def test_given_a_record_when_read_then_completeness_towards_later_stages_and_its_transitions(
        client: Any, manager_headers: dict[str, str], runtime: Runtime, deals: dict[str, int],
        connection: dict[str, Any]) -> None:
    first = add_transition(runtime, connection["id"], deals["early"], "qualifiedtobuy", "blocked", 1)
    second = add_transition(runtime, connection["id"], deals["early"], "appointmentscheduled", "allowed", 2)

    response = client.get(f"/v1/records/{deals['early']}", headers=manager_headers)

    assert response.status_code == 200, response.get_json()
    detail = response.get_json()
    assert detail["external_id"] == "9001"
    by_stage = {c["stage"]: c for c in detail["completeness"]}
    assert "appointmentscheduled" not in by_stage
    assert (by_stage["qualifiedtobuy"]["outcome"], by_stage["qualifiedtobuy"]["issues"]) == ("allowed", [])
    presentation = by_stage["presentationscheduled"]
    assert presentation["outcome"] == "blocked"
    assert [(i["field"], i["reason"], i["constraint"]) for i in presentation["issues"]] == [
        ("budget", "invalid", "min")]
    assert presentation["label"] == "Presentation Scheduled"
    assert [t["id"] for t in detail["transitions"]] == [second, first]
    assert detail["transitions"][1]["issues"][0]["field"] == "industry"


def test_given_a_record_in_an_unknown_stage_when_read_then_no_completeness_not_an_error(
        client: Any, manager_headers: dict[str, str], runtime: Runtime, deals: dict[str, int],
        connection: dict[str, Any]) -> None:
    orphan = add_record(runtime, connection["id"], "9009", "stage-deleted-in-crm")
    no_stage = add_record(runtime, connection["id"], "9010", None)

    for record_id in (orphan, no_stage):
        response = client.get(f"/v1/records/{record_id}", headers=manager_headers)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["completeness"] == []


def test_given_an_unknown_record_when_read_then_404(client: Any, manager_headers: dict[str, str]) -> None:
    assert_problem(client.get("/v1/records/4242", headers=manager_headers), 404)


def test_given_transitions_when_listing_then_newest_first_and_filtered(
        client: Any, manager_headers: dict[str, str], runtime: Runtime, deals: dict[str, int],
        connection: dict[str, Any]) -> None:
    cid = connection["id"]
    a = add_transition(runtime, cid, deals["early"], "qualifiedtobuy", "blocked", 1)
    b = add_transition(runtime, cid, deals["later"], "contractsent", "allowed", 2)
    c = add_transition(runtime, cid, deals["early"], "qualifiedtobuy", "warned", 3)

    def ids(query: str) -> list[int]:
        return [t["id"] for t in client.get(f"/v1/transitions?{query}", headers=manager_headers).get_json()["items"]]

    assert ids("") == [c, b, a]
    assert ids(f"record_id={deals['early']}") == [c, a]
    assert ids("decision=blocked") == [a]
    assert ids(f"connection_id={cid}&decision=allowed") == [b]
    assert ids("connection_id=999") == []
    assert_problem(client.get("/v1/transitions?decision=maybe", headers=manager_headers), 422)
    transition = client.get("/v1/transitions?decision=blocked", headers=manager_headers).get_json()["items"][0]
    assert (transition["from_stage"], transition["to_stage"], transition["source"], transition["action"]) == (
        "appointmentscheduled", "qualifiedtobuy", "webhook", "revert_stage")


# ---- health --------------------------------------------------------------------------------------


def test_given_a_migrated_database_then_healthz_and_readyz_answer_200(client: Any) -> None:
    healthz, readyz = client.get("/healthz"), client.get("/readyz")

    assert (healthz.status_code, healthz.get_json()["status"]) == (200, "ok")
    assert readyz.status_code == 200
    assert readyz.get_json()["checks"]["database"] == "ok"


def test_given_an_unmigrated_database_then_readyz_answers_503_but_healthz_200(tmp_path: Path,
                                                                              settings: Settings) -> None:
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    app = create_app(settings, runtime=build_runtime(settings, engine=empty))
    client = app.test_client()

    assert client.get("/healthz").status_code == 200
    assert_problem(client.get("/readyz"), 503, detail_contains="migration")
    empty.dispose()
