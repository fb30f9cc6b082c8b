"""End to end: a manager moves HubSpot sandbox deals; Qualify gates them over real HTTP."""

from __future__ import annotations

import time

from tests.e2e.conftest import MANAGER, Stack, wait_until

FILLED = {"industry": "retail", "company_size": "120", "decision_maker": "true", "budget": "25000",
          "pain_points": "Manual order entry loses orders"}


def test_blocked_move_is_reverted_and_a_task_lists_the_missing_fields_within_two_seconds(stack: Stack) -> None:
    deal = stack.new_deal()
    started = time.monotonic()
    stack.sandbox.ui_move_deal(deal, "presentationscheduled", user_id=MANAGER)
    wait_until(lambda: stack.stage(deal) == "appointmentscheduled" and stack.sandbox.tasks_for_deal(deal),
               timeout=2.0)
    elapsed = time.monotonic() - started
    assert elapsed <= 2.0
    task = stack.sandbox.tasks_for_deal(deal)[0]["properties"]
    # Budget is conditional on the industry, which is not filled yet, so it is not listed.
    for label in ("Industry", "Company size", "Pain points"):
        assert label in task["hs_task_body"]
    assert "Budget" not in task["hs_task_body"]
    assert task["hubspot_owner_id"] == "101"
    blocked = stack.transitions("blocked")
    assert len(blocked) == 1
    assert blocked[0]["from_stage"] == "appointmentscheduled"
    assert blocked[0]["to_stage"] == "presentationscheduled"
    assert blocked[0]["actor"] == f"userId:{MANAGER}"
    assert {i["field"] for i in blocked[0]["issues"]} >= {"industry", "company_size", "decision_maker"}


def test_qualifys_own_revert_comes_back_as_a_webhook_and_is_not_gated_again(stack: Stack) -> None:
    deal = stack.new_deal()
    stack.sandbox.ui_move_deal(deal, "qualifiedtobuy", user_id=MANAGER)
    wait_until(lambda: stack.stage(deal) == "appointmentscheduled")
    stack.sandbox.wait_webhooks_idle()
    echo = wait_until(lambda: [e for e in stack.api.get("/v1/events", params={"status": "ignored"}).json()["items"]
                               if "echo" in (e["error"] or "")])
    assert echo[0]["payload"]["changeSource"] != "CRM_UI"
    time.sleep(0.3)
    assert len(stack.reverts(deal)) == 1
    assert len(stack.transitions("blocked")) == 1
    assert stack.record(deal)["stage"] == "appointmentscheduled"


def test_the_same_webhook_delivered_twice_gives_one_transition_one_revert_one_task(stack: Stack) -> None:
    deal = stack.new_deal()
    stack.sandbox_config(duplicate_deliveries=2)
    stack.sandbox.ui_move_deal(deal, "qualifiedtobuy", user_id=MANAGER)
    wait_until(lambda: stack.sandbox.tasks_for_deal(deal))
    stack.sandbox.wait_webhooks_idle()
    time.sleep(0.5)
    assert len(stack.transitions("blocked")) == 1
    assert len(stack.reverts(deal)) == 1
    assert len(stack.sandbox.tasks_for_deal(deal)) == 1


def test_fields_filled_then_moved_is_allowed_without_a_task(stack: Stack) -> None:
    deal = stack.new_deal()
    stack.sandbox.ui_update_deal(deal, FILLED, user_id=MANAGER)
    stack.sandbox.ui_move_deal(deal, "presentationscheduled", user_id=MANAGER)
    allowed = wait_until(lambda: [t for t in stack.transitions("allowed") if t["to_stage"] == "presentationscheduled"])
    assert allowed[0]["action"] == "none"
    time.sleep(0.3)
    assert stack.stage(deal) == "presentationscheduled"
    assert stack.sandbox.tasks_for_deal(deal) == []
    assert stack.reverts(deal) == []


def test_invalid_value_blocks_with_the_failed_constraint(stack: Stack) -> None:
    deal = stack.new_deal(**{**FILLED, "company_size": "0"})
    stack.sandbox.ui_move_deal(deal, "qualifiedtobuy", user_id=MANAGER)
    blocked = wait_until(lambda: stack.transitions("blocked"))
    issue = next(i for i in blocked[0]["issues"] if i["field"] == "company_size")
    assert issue["reason"] == "invalid"
    assert issue["constraint"] == "min"


def test_warn_mode_creates_a_task_but_leaves_the_deal_where_it_was_moved(stack: Stack) -> None:
    gate = stack.api.get("/v1/gates").json()["items"][0]
    stack.api.patch(f"/v1/gates/{gate['id']}", json={"mode": "warn"}).raise_for_status()
    deal = stack.new_deal()
    stack.sandbox.ui_move_deal(deal, "qualifiedtobuy", user_id=MANAGER)
    wait_until(lambda: stack.sandbox.tasks_for_deal(deal))
    warned = stack.transitions("warned")
    assert len(warned) == 1 and warned[0]["action"] == "task"
    time.sleep(0.3)
    assert stack.stage(deal) == "qualifiedtobuy"
    assert stack.reverts(deal) == []


def test_audit_mode_only_records_the_decision(stack: Stack) -> None:
    gate = stack.api.get("/v1/gates").json()["items"][0]
    stack.api.patch(f"/v1/gates/{gate['id']}", json={"mode": "audit"}).raise_for_status()
    deal = stack.new_deal()
    stack.sandbox.ui_move_deal(deal, "qualifiedtobuy", user_id=MANAGER)
    audited = wait_until(lambda: stack.transitions("audited"))
    assert audited[0]["action"] == "none"
    time.sleep(0.3)
    assert stack.stage(deal) == "qualifiedtobuy"
    assert stack.reverts(deal) == []
    assert stack.sandbox.tasks_for_deal(deal) == []


def test_moving_backwards_is_always_allowed(stack: Stack) -> None:
    deal = stack.new_deal(**FILLED)
    stack.sandbox.ui_move_deal(deal, "presentationscheduled", user_id=MANAGER)
    wait_until(lambda: stack.transitions("allowed") and stack.record(deal)["stage"] == "presentationscheduled")
    stack.sandbox.ui_update_deal(deal, {"industry": "", "pain_points": ""}, user_id=MANAGER)
    stack.sandbox.ui_move_deal(deal, "appointmentscheduled", user_id=MANAGER)
    back = wait_until(lambda: [t for t in stack.transitions() if t["direction"] == "backward"])
    assert back[0]["decision"] == "allowed"
    assert stack.reverts(deal) == []
