"""POST /v1/gates/preview: a proposed gate set's impact on the open deals and on the recorded moves of the last
days, on a connection whose pipelines were refreshed from a HubSpot sandbox. Expected numbers come from a small
model of the gating rules over the deals and moves each test creates."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from itertools import product
from typing import Any

import pytest
from sqlalchemy import func, select

from service.db import utcnow
from service.models import Connection, CrmUser, Gate, Record, Transition
from service.runtime import Runtime
from tests.api.conftest import assert_problem, define_field, define_gate

# The sandbox's default pipeline ("Sales Pipeline"), its open stages in order.
STAGES = ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent"]
FILLED = {"pain": "it hurts", "budget": 5000, "industry": "retail"}
OWNERS = {"901": "Alice Owner", "902": None}  # 902 has no crm_users row


def preview(client: Any, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return client.post("/v1/gates/preview", json=body, headers=headers)


def blocking_fields(source: str | None, target: str, values: dict[str, Any],
                    enforced: dict[str, list[str]]) -> set[str]:
    """The model: a forward move (or entering, from no stage) passes the gates of every stage after the source
    up to the target; the enforced gates' fields that are not filled block it."""
    end = STAGES.index(target)
    start = STAGES.index(source) + 1 if source is not None else 0
    return {f for stage in STAGES[start:end + 1] for f in enforced.get(stage, []) if values.get(f) is None}


@pytest.fixture
def scenario(client: Any, admin_headers: dict[str, str], connection: dict[str, Any],
             runtime: Runtime) -> dict[str, Any]:
    """Fields pain, budget, industry; saved gates: qualifiedtobuy enforces industry, contractsent audits pain;
    open deals in every combination of filled fields in the first four stages (plus a deleted one, a won one and
    one in the partners pipeline); moves into presentationscheduled and contractsent 10 and 45 days ago."""
    for key, type_ in (("pain", "text"), ("budget", "number"), ("industry", "text")):
        define_field(client, admin_headers, key, type_)
    cid = connection["id"]
    saved = {"qualifiedtobuy": define_gate(client, admin_headers, cid, "qualifiedtobuy", ["industry"]),
             "contractsent": define_gate(client, admin_headers, cid, "contractsent", ["pain"], mode="audit")}
    deals: list[dict[str, Any]] = []
    for i, (stage, pain, budget, industry) in enumerate(product(STAGES[:4], *[(True, False)] * 3)):
        values = {k: FILLED[k] if keep else None for k, keep in zip(FILLED, (pain, budget, industry), strict=True)}
        deals.append({"external_id": f"d{i}", "stage": stage, "values": values, "owner": "901" if i % 3 else "902"})
    extras = [("deleted", "appointmentscheduled", "default", True), ("won", "closedwon", "default", False),
              ("partner", "12345679", "12345678", False)]
    now = utcnow()
    with runtime.uow() as uow:
        session = uow.session
        session.add(CrmUser(connection_id=cid, external_id="901", user_id="901", name=OWNERS["901"]))
        rows = {}
        for deal in deals:
            rows[deal["external_id"]] = Record(
                connection_id=cid, external_id=deal["external_id"], kind="deal", pipeline_external_id="default",
                stage_external_id=deal["stage"], values=deal["values"], owner_external_id=deal["owner"], version=1)
        for external_id, stage, pipeline, deleted in extras:
            session.add(Record(connection_id=cid, external_id=external_id, kind="deal", pipeline_external_id=pipeline,
                               stage_external_id=stage, values={}, deleted=deleted, version=1))
        session.add_all(rows.values())
        session.flush()
        moves = []
        # Each deal moved once into presentationscheduled or contractsent, from the stage before it or from none;
        # blocked then or not; with pain reported missing then or not; 10 or 45 days ago.
        for i, deal in enumerate(deals):
            target = ("presentationscheduled", "contractsent")[i % 2]
            source = None if i % 5 == 0 else STAGES[STAGES.index(target) - 1 - (i % 2)]
            move = {"deal": deal, "source": source, "target": target, "owner": (None, "901", "902")[i % 3],
                    "decision": "blocked" if i % 4 == 0 else ("allowed", "audited")[i % 2],
                    "pain_missing_then": i % 3 == 1, "days_ago": 45 if i % 7 == 0 else 10}
            moves.append(move)
            issues = [{"field": "pain", "label": "Pain", "reason": "missing", "constraint": None, "stage": target,
                       "mode": "audit", "message": "Pain is missing"}] if move["pain_missing_then"] else []
            session.add(Transition(
                connection_id=cid, record_id=rows[deal["external_id"]].id, from_pipeline="default" if source else None,
                from_stage=source, to_pipeline="default", to_stage=target, occurred_at=now - timedelta(days=move[
                    "days_ago"]), owner_id=move["owner"], source="webhook", direction="forward",
                decision=move["decision"], issues=issues, mover_kind="ui"))
        # A move into a stage not proposed is not replayed.
        session.add(Transition(connection_id=cid, record_id=rows["d0"].id, to_pipeline="default",
                               to_stage="qualifiedtobuy", occurred_at=now - timedelta(days=1), owner_id="901",
                               source="webhook", direction="forward", decision="allowed", issues=[], mover_kind="ui"))
        uow.commit()
    return {"cid": cid, "deals": deals, "moves": moves, "saved": saved}


PROPOSAL = [{"pipeline": "default", "stage": "presentationscheduled", "requirements": [{"field": "pain"},
                                                                                       {"field": "budget"}]},
            {"pipeline": "Sales Pipeline", "stage": "Contract Sent", "mode": "warn",
             "requirements": [{"field": "budget"}]}]
# The proposal's enforced gates: proposed ones (enforced by the preview) plus the saved enforcing qualifiedtobuy;
# the saved audit gate on contractsent is replaced.
ENFORCED = {"presentationscheduled": ["pain", "budget"], "contractsent": ["budget"], "qualifiedtobuy": ["industry"]}


def expected_open(deals: list[dict[str, Any]], target: str, enforced: dict[str, list[str]]) -> dict[str, Any]:
    checked = [d for d in deals if STAGES.index(d["stage"]) < STAGES.index(target)]
    fails = [blocking_fields(d["stage"], target, d["values"], enforced) for d in checked]
    missing = Counter(f for failing in fails for f in failing)
    return {"would_block": sum(1 for failing in fails if failing), "of": len(checked), "missing": missing,
            "blocked_ids": {d["external_id"] for d, failing in zip(checked, fails, strict=True) if failing},
            "checked_ids": {d["external_id"] for d in checked}}


def expected_replay(moves: list[dict[str, Any]], days: int, enforced: dict[str, list[str]],
                    targets: tuple[str, ...] = ("presentationscheduled", "contractsent")) -> dict[str, Any]:
    replayed = [m for m in moves if m["days_ago"] < days and m["target"] in targets]
    allowed = [m for m in replayed if m["decision"] != "blocked"]
    blocked = [m for m in allowed if blocking_fields(
        m["source"], m["target"], {**m["deal"]["values"], **({"pain": None} if m["pain_missing_then"] else {})},
        enforced)]
    return {"moves": len(replayed), "allowed_then": len(allowed), "would_block": len(blocked),
            "by_owner": Counter(m["owner"] for m in blocked), "owner_moves": Counter(m["owner"] for m in replayed),
            "by_stage": Counter(m["target"] for m in blocked)}


def test_given_a_proposal_when_previewing_then_open_deals_and_replayed_moves_are_counted_as_the_rules_say(
        client: Any, admin_headers: dict[str, str], scenario: dict[str, Any]) -> None:
    response = preview(client, admin_headers, {"connection_id": scenario["cid"], "gates": PROPOSAL, "days": 30})

    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    stages = answer["open_deals"]["stages"]
    assert [(s["stage"], s["stage_label"], s["mode"]) for s in stages] == [
        ("presentationscheduled", "Presentation Scheduled", "audit"), ("contractsent", "Contract Sent", "warn")]
    union_blocked, union_checked = set(), set()
    for got in stages:
        want = expected_open(scenario["deals"], got["stage"], ENFORCED)
        assert (got["would_block"], got["of"]) == (want["would_block"], want["of"]), got["stage"]
        assert [(m["field"], m["deals"]) for m in got["missing"]] == sorted(
            want["missing"].items(), key=lambda kv: (-kv[1], kv[0]))
        assert 0 < got["would_block"] < got["of"]
        union_blocked |= want["blocked_ids"]
        union_checked |= want["checked_ids"]
    assert answer["open_deals"]["totals"] == {"would_block": len(union_blocked), "of": len(union_checked)}
    assert "persona" in answer["open_deals"]["rule"]
    replay, want = answer["replay"], expected_replay(scenario["moves"], 30, ENFORCED)
    assert (replay["moves"], replay["allowed_then"], replay["would_block"]) == (
        want["moves"], want["allowed_then"], want["would_block"])
    assert 0 < replay["would_block"] < replay["allowed_then"] < replay["moves"]
    assert {s["stage"]: s["would_block"] for s in replay["by_stage"]} == {
        "presentationscheduled": want["by_stage"]["presentationscheduled"],
        "contractsent": want["by_stage"]["contractsent"]}
    assert sum(s["moves"] for s in replay["by_stage"]) == want["moves"]
    assert {(o["owner_id"], o["owner_name"], o["moves"], o["would_block"]) for o in replay["by_owner"]} == {
        (owner, OWNERS.get(owner) if owner else None, n, want["by_owner"][owner])
        for owner, n in want["owner_moves"].items()}
    assert [o["would_block"] for o in replay["by_owner"]] == sorted(
        (o["would_block"] for o in replay["by_owner"]), reverse=True)
    assert "missing" in replay["rule"] and "lower bound" in replay["rule"]


def test_given_a_field_reported_missing_then_but_filled_now_when_replaying_then_the_move_counts_as_blocked(
        client: Any, admin_headers: dict[str, str], scenario: dict[str, Any]) -> None:
    body = {"connection_id": scenario["cid"], "gates": [{"pipeline": "default", "stage": "presentationscheduled",
                                                         "requirements": [{"field": "pain"}]}]}
    enforced = {"presentationscheduled": ["pain"], "qualifiedtobuy": ["industry"]}
    only_then = [m for m in scenario["moves"] if m["target"] == "presentationscheduled" and m["pain_missing_then"]
                 and m["decision"] != "blocked" and m["deal"]["values"]["pain"] is not None
                 and not blocking_fields(m["source"], m["target"], m["deal"]["values"], enforced)]

    replay = preview(client, admin_headers, body).get_json()["replay"]

    assert only_then, "the scenario must hold such a move"
    assert replay["would_block"] == expected_replay(
        scenario["moves"], 90, enforced, ("presentationscheduled",))["would_block"]
    assert replay["days"] == 90


def test_given_remove_when_previewing_then_the_saved_gate_is_left_out(
        client: Any, admin_headers: dict[str, str], scenario: dict[str, Any]) -> None:
    body = {"connection_id": scenario["cid"], "gates": PROPOSAL[:1],
            "remove": [{"pipeline": "default", "stage": "Qualified To Buy"}]}
    enforced = {"presentationscheduled": ["pain", "budget"]}

    with_saved = preview(client, admin_headers, {**body, "remove": []}).get_json()
    response = preview(client, admin_headers, body)

    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["removed"] == [{"pipeline": "default", "stage": "qualifiedtobuy", "stage_label": "Qualified To Buy",
                                  "gate_id": scenario["saved"]["qualifiedtobuy"]["id"]}]
    got, want = answer["open_deals"]["stages"][0], expected_open(scenario["deals"], "presentationscheduled", enforced)
    assert (got["would_block"], got["of"]) == (want["would_block"], want["of"])
    assert got["would_block"] < with_saved["open_deals"]["stages"][0]["would_block"]
    assert answer["replay"]["would_block"] == expected_replay(
        scenario["moves"], 90, enforced, ("presentationscheduled",))["would_block"]


def test_given_a_preview_when_it_answers_then_nothing_is_written(
        client: Any, admin_headers: dict[str, str], scenario: dict[str, Any], runtime: Runtime) -> None:
    def state() -> tuple[Any, ...]:
        with runtime.read_uow() as uow:
            gates = uow.session.execute(select(Gate.id, Gate.stage_id, Gate.mode, Gate.requirements)
                                        .order_by(Gate.id)).all()
            version = uow.session.get_one(Connection, scenario["cid"]).config_version
            return (tuple(map(tuple, gates)), version, uow.session.scalar(select(func.count(Transition.id))))

    before = state()
    body = {"connection_id": scenario["cid"], "gates": PROPOSAL, "remove": [{"pipeline": "default",
                                                                          "stage": "qualifiedtobuy"}]}
    assert preview(client, admin_headers, body).status_code == 200

    assert state() == before


def test_given_an_unknown_stage_or_field_when_previewing_then_422_names_the_gate_and_suggests(
        client: Any, admin_headers: dict[str, str], scenario: dict[str, Any]) -> None:
    stage = {"connection_id": scenario["cid"], "gates": [
        PROPOSAL[0], {"pipeline": "default", "stage": "Contract Snt", "requirements": [{"field": "pain"}]}]}
    field = {"connection_id": scenario["cid"], "gates": [
        {"pipeline": "default", "stage": "contractsent", "requirements": [{"field": "pian"}]}]}
    removed = {"connection_id": scenario["cid"], "remove": [{"pipeline": "default", "stage": "nowhere"}]}

    problem = assert_problem(preview(client, admin_headers, stage), 422, detail_contains="Contract Sent")
    assert "contractsent" in problem["errors"]["gates[1].stage"][0]
    problem = assert_problem(preview(client, admin_headers, field), 422)
    assert "pian" in problem["errors"]["gates[0].requirements[0].field"][0]
    assert "remove[0].stage" in assert_problem(preview(client, admin_headers, removed), 422)["errors"]


def test_given_a_stage_twice_or_an_empty_gate_when_previewing_then_422(
        client: Any, admin_headers: dict[str, str], scenario: dict[str, Any]) -> None:
    twice = {"connection_id": scenario["cid"], "gates": PROPOSAL,
             "remove": [{"pipeline": "default", "stage": "contractsent"}]}
    empty = {"connection_id": scenario["cid"], "gates": [{"pipeline": "default", "stage": "contractsent"}]}

    assert "remove[0].stage" in assert_problem(preview(client, admin_headers, twice), 422)["errors"]
    assert "gates[0].requirements" in assert_problem(preview(client, admin_headers, empty), 422)["errors"]
    assert_problem(preview(client, admin_headers, {"connection_id": scenario["cid"]}), 422)
    assert_problem(preview(client, admin_headers, {"connection_id": 999_999, "gates": PROPOSAL}), 404)


@pytest.mark.parametrize("days", [0, 731, "many"])
def test_given_days_out_of_bounds_when_previewing_then_422(
        client: Any, admin_headers: dict[str, str], scenario: dict[str, Any], days: Any) -> None:
    body = {"connection_id": scenario["cid"], "gates": PROPOSAL, "days": days}

    assert "days" in assert_problem(preview(client, admin_headers, body), 422)["errors"]


def test_given_days_at_the_bounds_when_previewing_then_200(
        client: Any, admin_headers: dict[str, str], scenario: dict[str, Any]) -> None:
    for days in (1, 730):
        response = preview(client, admin_headers, {"connection_id": scenario["cid"], "gates": PROPOSAL, "days": days})
        assert response.status_code == 200, response.get_json()
        want = expected_replay(scenario["moves"], days, ENFORCED)
        assert (response.get_json()["replay"]["moves"], response.get_json()["replay"]["would_block"]) == (
            want["moves"], want["would_block"])


def test_given_a_manager_key_when_previewing_then_403(
        client: Any, manager_headers: dict[str, str], connection: dict[str, Any]) -> None:
    body = {"connection_id": connection["id"], "gates": PROPOSAL}

    assert_problem(preview(client, manager_headers, body), 403)
