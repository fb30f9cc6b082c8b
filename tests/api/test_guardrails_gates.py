"""Guardrails on gates: stage and pipeline given by id or label (closest names suggested on a miss), the
existing gate named on a conflict, and a gate created without a mode audits first and says how many open deals
it would block."""

from __future__ import annotations

from typing import Any

from service.models import Record
from service.runtime import Runtime
from tests.api.conftest import assert_problem, define_field


def gate(client: Any, headers: dict[str, str], cid: int, pipeline: str, stage: str, **extra: Any) -> Any:
    body = {"connection_id": cid, "pipeline": pipeline, "stage": stage, "requirements": [{"field": "pain"}], **extra}
    return client.post("/v1/gates", json=body, headers=headers)


def test_given_stage_and_pipeline_labels_when_creating_a_gate_then_they_resolve_and_a_miss_suggests_the_closest(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    define_field(client, admin_headers, "pain")

    created = gate(client, admin_headers, connection["id"], "sales pipeline", "QUALIFIED TO BUY")
    missed = gate(client, admin_headers, connection["id"], "default", "Presentation Schedule")

    assert created.status_code == 201, created.get_json()
    assert (created.get_json()["pipeline"], created.get_json()["stage"]) == ("default", "qualifiedtobuy")
    problem = assert_problem(missed, 422, detail_contains="Presentation Scheduled")
    assert "presentationscheduled" in problem["errors"]["stage"][0]


def test_given_a_stage_with_a_gate_when_adding_another_then_409_names_the_existing_gate(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    define_field(client, admin_headers, "pain")
    first = gate(client, admin_headers, connection["id"], "default", "qualifiedtobuy").get_json()

    second = gate(client, admin_headers, connection["id"], "default", "qualifiedtobuy")

    assert_problem(second, 409, detail_contains=f"gate {first['id']}")


def test_given_no_mode_when_creating_a_gate_then_it_audits_and_counts_the_open_deals_it_would_block(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any], runtime: Runtime) -> None:
    define_field(client, admin_headers, "pain")
    deals = [("1", "default", "appointmentscheduled", None, False),
             ("2", "default", "qualifiedtobuy", "it hurts", False),
             ("3", "default", "qualifiedtobuy", None, False), ("4", "default", "contractsent", None, False),
             ("5", "default", "closedwon", None, False), ("6", "default", "appointmentscheduled", None, True),
             ("7", "12345678", "12345679", None, False)]
    with runtime.uow() as uow:
        for external_id, pipeline, stage, pain, deleted in deals:
            uow.session.add(Record(connection_id=connection["id"], external_id=external_id, kind="deal",
                                   pipeline_external_id=pipeline, stage_external_id=stage, values={"pain": pain},
                                   deleted=deleted, version=1))
        uow.commit()

    response = gate(client, admin_headers, connection["id"], "default", "presentationscheduled")

    assert response.status_code == 201, response.get_json()
    view = response.get_json()
    assert view["mode"] == "audit"
    assert (view["would_block"]["count"], view["would_block"]["of"]) == (2, 3)
    assert "enforce" in view["would_block"]["rule"]
