"""End to end on the HubSpot sandbox: the worker scores every changed deal against the personas, a gate
that requires a persona fit reverts a move of a lead that does not fit (saying which criterion failed),
and the best fit is written back to CRM properties once, without a loop through the echoed webhook."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import MANAGER, Stack, wait_until

PERSONA = {
    "name": "Retail decision maker", "ring": "core", "criteria": [
        {"field": "industry", "matcher": "in", "values": ["retail", "manufacturing"], "weight": 2},
        {"field": "company_size", "matcher": "range", "min": 50, "max": 1000},
        {"field": "decision_maker", "matcher": "boolean", "value": True, "kind": "must"},
        {"field": "industry", "matcher": "equals", "value": "finance", "kind": "disqualifier"},
    ]}
# The app subscribes to changes of the portrait properties (and, to prove there is no loop, of the
# properties Qualify writes back), not only to stage moves.
WATCHED = ["dealstage", "pipeline", "industry", "company_size", "decision_maker", "qualify_fit_score",
           "qualify_fit_grade", "qualify_persona"]
FILLED = {"company_size": "120", "decision_maker": "true", "budget": "25000",
          "pain_points": "Manual order entry loses orders"}


def create_persona(stack: Stack) -> dict[str, Any]:
    response = stack.api.post("/v1/personas", json=PERSONA)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def scores(stack: Stack, deal: str) -> dict[str, Any]:
    record = stack.record(deal)
    assert record is not None
    return stack.api.get(f"/v1/records/{record['id']}/scores").json()  # type: ignore[no-any-return]


def test_a_changed_deal_is_scored_by_the_worker_with_reasons(stack: Stack) -> None:
    stack.sandbox_config(subscribed_properties=WATCHED)
    create_persona(stack)
    deal = stack.new_deal(**FILLED, industry="retail")

    fit = wait_until(lambda: (s := scores(stack, deal))["computed_at"] and s)

    assert fit["best"]["persona_name"] == "Retail decision maker"
    assert (fit["scores"][0]["score"], fit["scores"][0]["grade"]) == (100, "A")
    stack.sandbox.ui_update_deal(deal, {"industry": "finance"}, user_id=MANAGER)
    later = wait_until(lambda: (s := scores(stack, deal))["scores"][0]["disqualified"] and s)
    assert (later["scores"][0]["score"], later["no_persona"], later["trend"]) == (0, True, "declining")
    assert later["scores"][0]["top_negative"][0]["field"] == "industry"


def test_a_gate_requiring_a_persona_fit_reverts_a_lead_that_does_not_fit(stack: Stack) -> None:
    persona = create_persona(stack)
    gate = stack.api.post("/v1/gates", json={
        "connection_id": stack.connection_id, "pipeline": "default", "stage": "decisionmakerboughtin",
        "mode": "enforce", "persona_requirement": {"persona_id": persona["id"], "min_score": 70}})
    assert gate.status_code == 201, gate.text
    deal = stack.new_deal(**{**FILLED, "industry": "other", "company_size": "5"})  # 50 + 50 * (-2 - 1 + 1) / 4 = 25

    stack.sandbox.ui_move_deal(deal, "decisionmakerboughtin", user_id=MANAGER)

    wait_until(lambda: stack.stage(deal) == "appointmentscheduled" and stack.sandbox.tasks_for_deal(deal))
    blocked = stack.transitions("blocked")[0]
    persona_issue = next(i for i in blocked["issues"] if i["reason"] == "persona")
    assert persona_issue["stage"] == "decisionmakerboughtin"
    assert persona_issue["field"] == "industry"  # the criterion that cost the most (-25 of the 75 lost)
    assert "Retail decision maker is 25, needs at least 70" in persona_issue["message"]
    assert "Retail decision maker" in stack.sandbox.tasks_for_deal(deal)[0]["properties"]["hs_task_body"]


def test_a_fitting_lead_passes_the_persona_gate(stack: Stack) -> None:
    persona = create_persona(stack)
    stack.api.post("/v1/gates", json={
        "connection_id": stack.connection_id, "pipeline": "default", "stage": "decisionmakerboughtin",
        "persona_requirement": {"persona_id": persona["id"], "min_score": 70, "not_disqualified": True}}
    ).raise_for_status()
    deal = stack.new_deal(**FILLED, industry="retail")

    stack.sandbox.ui_move_deal(deal, "decisionmakerboughtin", user_id=MANAGER)

    wait_until(lambda: [t for t in stack.transitions("allowed") if t["to_stage"] == "decisionmakerboughtin"])
    assert stack.stage(deal) == "decisionmakerboughtin"


def test_the_best_fit_is_written_back_once_and_the_echo_does_not_loop(stack: Stack) -> None:
    stack.api.patch(f"/v1/connections/{stack.connection_id}", json={"score_write_back": {
        "score": "qualify_fit_score", "grade": "qualify_fit_grade", "persona": "qualify_persona"}}
    ).raise_for_status()
    stack.sandbox_config(subscribed_properties=WATCHED)
    create_persona(stack)
    deal = stack.new_deal(**FILLED, industry="retail")

    written = wait_until(lambda: (p := stack.sandbox.deal(deal)["properties"]).get("qualify_persona") and p)
    stack.sandbox.wait_webhooks_idle()
    time.sleep(0.5)  # the echo of the write is processed: it must not queue another write

    assert (written["qualify_fit_score"], written["qualify_fit_grade"]) == ("100", "A")
    writes = [c for c in stack.reverts(deal) if "qualify_fit_score" in str(c.get("json"))]
    assert len(writes) == 1, writes
    stack.sandbox.ui_update_deal(deal, {"company_size": "5000"}, user_id=MANAGER)  # 50 + 50 * (3 - 1) / 4 = 75
    wait_until(lambda: stack.sandbox.deal(deal)["properties"].get("qualify_fit_grade") == "B")
    assert stack.sandbox.deal(deal)["properties"]["qualify_persona"] == "Retail decision maker"
