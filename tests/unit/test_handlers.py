"""The service layer on its own: process_event and deliver_action against a fake CRM and in-memory SQLite.

Each test sets up gates (and personas) as model rows, acts in the fake CRM as a manager would, hands the
webhooks it emitted to process_event, delivers the queued actions with deliver_action, and checks the stored
rows and what the fake CRM received. Expectations come from the set-up, never from what the code answered.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from adapters.errors import CRMRateLimited, CRMRejected, CRMUnavailable
from service.models import ActionStatus, EventStatus, InboundEvent
from service.runtime import SHARED_ADAPTERS
from service.services.events import process_event
from service.services.moves import Observation, Seen, observe
from tests.fakes import add_event, add_field, add_pipeline, map_field

if TYPE_CHECKING:
    from tests.unit.conftest import Harness

MANAGER = "userId:45678"
OWNER = "101"
PIPELINE = "sales"
STAGES = (("lead", "Lead", "open"), ("qualification", "Qualification", "open"),
          ("presentation", "Presentation", "open"), ("proposal", "Proposal", "open"),
          ("won", "Won", "won"), ("lost", "Lost", "lost"))
FIELDS: dict[str, tuple[str, str, dict[str, Any]]] = {  # key: (label, type, constraints)
    "industry": ("Industry", "enum", {"options": ["retail", "manufacturing", "finance", "other"]}),
    "company_size": ("Company size", "integer", {"min": 1}),
    "decision_maker": ("Decision maker", "boolean", {}),
}
FILLED = {"industry": "retail", "company_size": "120", "decision_maker": "true"}
QUALIFICATION_NEEDS = ("industry", "company_size")
PRESENTATION_NEEDS = ("decision_maker",)


def new_deal(sales: Harness, **properties: str) -> str:
    """A deal the manager created in the first stage, already seen by Qualify; a minute passes."""
    deal = sales.crm.create_deal(PIPELINE, STAGES[0][0], owner_id=OWNER, by=MANAGER, **properties)
    sales.process_new()
    sales.clock.advance(60)
    return deal


def manager_moves(sales: Harness, deal: str, stage: str) -> InboundEvent:
    """A minute later the manager moves the deal; Qualify processes the webhook."""
    sales.clock.advance(60)
    sales.crm.ui_move(deal, stage, by=MANAGER)
    return sales.process_new()[-1]


@pytest.fixture
def sales(harness: Harness) -> Harness:
    """One pipeline and three portrait fields, each mapped from the CRM property of the same name; no gates."""
    with harness.setting_up() as (session, connection):
        add_pipeline(session, connection, PIPELINE, "Sales", STAGES)
        for key, (label, type_, constraints) in FIELDS.items():
            map_field(session, connection, add_field(session, key, label, type_, **constraints), key)
    return harness


def test_given_enforced_gate_when_move_skips_a_stage_with_fields_missing_then_revert_and_task_are_queued(
        sales: Harness) -> None:
    sales.gate("qualification", "enforce", QUALIFICATION_NEEDS)
    sales.gate("presentation", "enforce", PRESENTATION_NEEDS)
    deal = new_deal(sales)

    event = manager_moves(sales, deal, "presentation")

    move = sales.transitions(deal)[-1]
    assert (event.status, move.event_id) == (EventStatus.DONE, event.id)
    assert (move.from_stage, move.to_stage, move.decision, move.action) == ("lead", "presentation", "blocked",
                                                                            "revert+task")
    assert move.actor == MANAGER
    expected = {key: "qualification" for key in QUALIFICATION_NEEDS} | {key: "presentation" for key in
                                                                         PRESENTATION_NEEDS}
    assert {i["field"]: i["stage"] for i in move.issues} == expected
    assert {i["reason"] for i in move.issues} == {"missing"}
    revert, = sales.actions(deal, "revert_stage")
    assert (revert.payload["stage"], revert.payload["blocked_stage"]) == ("lead", "presentation")
    task, = sales.actions(deal, "create_task")
    assert (task.payload["deal_id"], task.payload["owner_id"]) == (deal, OWNER)
    assert sales.record(deal).stage_external_id == "lead"  # where the deal will be once reverted
    assert (sales.crm.moves, sales.crm.tasks) == ([], {})  # the CRM hears of it only through the outbox


def test_given_a_queued_revert_when_delivered_then_the_fake_crm_deal_is_back_and_the_echo_is_ignored(
        sales: Harness) -> None:
    sales.gate("qualification", "enforce", QUALIFICATION_NEEDS)
    deal = new_deal(sales)
    manager_moves(sales, deal, "qualification")
    transitions_before = len(sales.transitions(deal))
    revert, = sales.actions(deal, "revert_stage")

    delivered = sales.deliver(revert)
    echo, = sales.process_new()

    assert delivered.status == ActionStatus.DONE
    assert sales.crm.moves == [(deal, "lead", None)]
    assert sales.crm.deals[deal].stage_id == "lead"
    assert echo.status == EventStatus.IGNORED and "echo" in (echo.error or "")
    assert len(sales.transitions(deal)) == transitions_before
    assert sales.record(deal).stage_external_id == "lead"


def test_given_a_queued_task_when_delivered_then_the_owner_gets_a_task_listing_the_missing_fields(
        sales: Harness) -> None:
    sales.gate("qualification", "enforce", QUALIFICATION_NEEDS)
    deal = new_deal(sales, decision_maker="true")
    manager_moves(sales, deal, "qualification")
    queued, = sales.actions(deal, "create_task")

    delivered = sales.deliver(queued)

    task = sales.crm.tasks[str(delivered.crm_object_id)]
    assert (task.deal_id, task.owner_id) == (deal, OWNER)
    for key in QUALIFICATION_NEEDS:
        assert FIELDS[key][0] in task.body
    assert FIELDS["decision_maker"][0] not in task.body
    assert queued.payload["marker"] in task.body


def test_given_a_warn_gate_when_move_lacks_fields_then_only_a_task_is_queued_and_the_deal_stays(
        sales: Harness) -> None:
    sales.gate("qualification", "warn", QUALIFICATION_NEEDS)
    deal = new_deal(sales)

    manager_moves(sales, deal, "qualification")

    move = sales.transitions(deal)[-1]
    assert (move.decision, move.action, move.mode) == ("warned", "task", "warn")
    assert [a.kind for a in sales.actions(deal)] == ["create_task"]
    assert sales.record(deal).stage_external_id == "qualification"


def test_given_an_audit_gate_when_move_lacks_fields_then_it_is_only_recorded(sales: Harness) -> None:
    sales.gate("qualification", "audit", QUALIFICATION_NEEDS)
    deal = new_deal(sales)

    manager_moves(sales, deal, "qualification")

    move = sales.transitions(deal)[-1]
    assert (move.decision, move.action) == ("audited", "none")
    assert {i["field"] for i in move.issues} == set(QUALIFICATION_NEEDS)
    assert sales.actions(deal) == []
    assert sales.record(deal).stage_external_id == "qualification"


def test_given_filled_fields_when_deal_moves_past_the_gates_then_it_is_allowed_and_nothing_is_queued(
        sales: Harness) -> None:
    sales.gate("qualification", "enforce", QUALIFICATION_NEEDS)
    sales.gate("presentation", "enforce", PRESENTATION_NEEDS)
    deal = new_deal(sales, **FILLED)

    manager_moves(sales, deal, "presentation")

    move = sales.transitions(deal)[-1]
    assert (move.decision, move.action, move.issues) == ("allowed", "none", [])
    assert sales.actions(deal) == []
    assert sales.record(deal).stage_external_id == "presentation"


def test_given_a_deal_past_a_gate_when_moved_back_with_its_fields_cleared_then_it_is_allowed(sales: Harness) -> None:
    sales.gate("qualification", "enforce", QUALIFICATION_NEEDS)
    deal = new_deal(sales, **FILLED)
    manager_moves(sales, deal, "presentation")
    sales.crm.ui_update(deal, by=MANAGER, **dict.fromkeys(QUALIFICATION_NEEDS, ""))
    sales.process_new()

    manager_moves(sales, deal, "qualification")

    back = sales.transitions(deal)[-1]
    assert (back.from_stage, back.to_stage) == ("presentation", "qualification")
    assert (back.direction, back.decision, back.action) == ("backward", "allowed", "none")
    assert sales.actions(deal) == []


def test_given_a_persona_requirement_when_the_lead_scores_below_min_score_then_blocked_with_a_persona_issue(
        sales: Harness) -> None:
    criteria: list[dict[str, Any]] = [
        {"field": "industry", "matcher": "in", "values": ["retail", "manufacturing"]},
        {"field": "company_size", "matcher": "range", "min": 50, "max": 1000},
    ]
    persona_id = sales.persona("Retail buyer", criteria)
    sales.gate("proposal", "enforce", persona_requirement={"persona_id": persona_id, "min_score": 70})
    deal = new_deal(sales, industry="other", company_size="120")  # industry mismatches (-1), size matches (+1)
    expected_score = round(50 + 50 * (-1 + 1) / len(criteria))  # scoring.py: 50 + 50 * sum(w * s) / sum(w)

    manager_moves(sales, deal, "proposal")

    move = sales.transitions(deal)[-1]
    assert (move.decision, move.action) == ("blocked", "revert+task")
    issue, = move.issues
    assert (issue["reason"], issue["stage"], issue["field"]) == ("persona", "proposal", "industry")
    assert f"Retail buyer is {expected_score}, needs at least 70" in issue["message"]
    assert [a.kind for a in sales.actions(deal)] == ["revert_stage", "create_task"]


def test_given_a_persona_requirement_when_the_lead_fits_then_the_move_is_allowed(sales: Harness) -> None:
    persona_id = sales.persona("Retail buyer", [{"field": "industry", "matcher": "equals", "value": "retail"}])
    sales.gate("proposal", "enforce", persona_requirement={"persona_id": persona_id, "min_score": 70})
    deal = new_deal(sales, industry="retail")

    manager_moves(sales, deal, "proposal")

    assert sales.transitions(deal)[-1].decision == "allowed"
    assert sales.actions(deal) == []


def test_given_the_same_move_reported_twice_then_one_transition_and_one_revert(sales: Harness) -> None:
    sales.gate("qualification", "enforce", QUALIFICATION_NEEDS)
    deal = new_deal(sales)
    manager_moves(sales, deal, "qualification")
    transitions = len(sales.transitions(deal))

    again = sales.process(dataclasses.replace(sales.crm.webhooks[-1], delivery_key="redelivered"))

    assert again.status == EventStatus.DONE
    assert len(sales.transitions(deal)) == transitions
    assert len(sales.actions(deal, "revert_stage")) == 1


def test_given_the_deal_moved_on_before_the_revert_is_delivered_then_it_is_not_reverted(sales: Harness) -> None:
    sales.gate("qualification", "enforce", QUALIFICATION_NEEDS)
    deal = new_deal(sales)
    manager_moves(sales, deal, "qualification")
    sales.crm.ui_move(deal, "lost", by=MANAGER)  # its webhook is not processed yet
    revert, = sales.actions(deal, "revert_stage")

    delivered = sales.deliver(revert)

    assert delivered.status == ActionStatus.DONE and "not reverted" in (delivered.note or "")
    assert sales.crm.moves == []
    assert sales.crm.deals[deal].stage_id == "lost"


def test_given_a_task_created_before_a_timeout_when_retried_then_the_existing_task_is_found_by_its_marker(
        sales: Harness) -> None:
    sales.gate("qualification", "warn", QUALIFICATION_NEEDS)
    deal = new_deal(sales)
    manager_moves(sales, deal, "qualification")
    queued, = sales.actions(deal, "create_task")
    sales.crm.fail_next(CRMUnavailable("POST /tasks timed out"), on="create_task", applied=True)

    first = sales.deliver(queued)
    sales.clock.now = first.next_attempt_at
    retried = sales.deliver(first)

    assert first.status == ActionStatus.PENDING and "timed out" in (first.last_error or "")
    created, = sales.crm.tasks
    assert (retried.status, retried.crm_object_id, retried.attempts) == (ActionStatus.DONE, created, 2)
    assert sales.crm.calls.count("create_task") == 1


def test_given_crm_rate_limited_with_retry_after_when_delivering_then_the_action_waits_at_least_that_long(
        sales: Harness) -> None:
    retry_after = 120.0
    sales.gate("qualification", "warn", QUALIFICATION_NEEDS)
    deal = new_deal(sales)
    manager_moves(sales, deal, "qualification")
    queued, = sales.actions(deal, "create_task")
    sales.crm.fail_next(CRMRateLimited("POST /tasks -> 429", status=429, retry_after=retry_after), on="create_task")

    delivered = sales.deliver(queued)

    assert delivered.status == ActionStatus.PENDING
    assert delivered.next_attempt_at >= sales.clock() + timedelta(seconds=retry_after)
    assert sales.crm.tasks == {}


def test_given_the_crm_rejects_a_task_when_delivering_then_the_action_fails_with_the_vendors_message(
        sales: Harness) -> None:
    sales.gate("qualification", "warn", QUALIFICATION_NEEDS)
    deal = new_deal(sales)
    manager_moves(sales, deal, "qualification")
    queued, = sales.actions(deal, "create_task")
    sales.crm.fail_next(CRMRejected("POST /tasks -> 400", status=400, vendor_message="owner is inactive"),
                        on="create_task")

    delivered = sales.deliver(queued)

    assert (delivered.status, delivered.vendor_message, delivered.attempts) == (ActionStatus.FAILED,
                                                                                "owner is inactive", 1)


def test_given_the_deal_is_gone_from_the_crm_when_its_move_event_is_processed_then_the_event_is_ignored(
        sales: Harness) -> None:
    sales.gate("qualification", "enforce", QUALIFICATION_NEEDS)
    deal = new_deal(sales)
    sales.crm.ui_move(deal, "qualification", by=MANAGER)
    sales.crm.ui_delete(deal, by=MANAGER)

    moved, deleted = sales.process_new()

    assert moved.status == EventStatus.IGNORED and deal in (moved.error or "")
    assert len(sales.transitions(deal)) == 1  # only the deal's creation
    assert sales.actions(deal) == []
    assert deleted.status == EventStatus.DONE


def test_given_a_deal_deleted_event_when_processed_then_the_record_is_marked_deleted(sales: Harness) -> None:
    deal = new_deal(sales)
    reads = sales.crm.calls.count("get_deal")

    sales.crm.ui_delete(deal, by=MANAGER)
    event, = sales.process_new()

    assert event.status == EventStatus.DONE
    assert sales.record(deal).deleted is True
    assert sales.crm.calls.count("get_deal") == reads  # nothing to read of a deleted deal


def test_given_the_crm_rate_limits_reading_the_deal_then_the_event_waits_for_retry_after(sales: Harness) -> None:
    retry_after = 30.0
    deal = new_deal(sales)
    sales.crm.fail_next(CRMRateLimited("GET /deals -> 429", status=429, retry_after=retry_after), on="get_deal")

    event = manager_moves(sales, deal, "qualification")

    assert (event.status, event.processed_at) == (EventStatus.RECEIVED, None)
    assert event.available_at is not None
    assert event.available_at >= sales.clock() + timedelta(seconds=retry_after)
    assert len(sales.transitions(deal)) == 1  # nothing decided yet


def test_given_crm_failures_then_the_handlers_reuse_one_adapter_which_closes_with_the_runtime(sales: Harness) -> None:
    sales.gate("qualification", "enforce", QUALIFICATION_NEEDS)
    deal = new_deal(sales)
    manager_moves(sales, deal, "qualification")
    sales.crm.fail_next(CRMUnavailable("GET /deals -> 503", status=503), on="get_deal")

    for action in sales.actions(deal):
        sales.deliver(action)

    assert (sales.crm.opened, sales.crm.closed) == (1, 0)  # the event's and both actions' calls: one adapter
    sales.runtime.cache[SHARED_ADAPTERS].close()  # as Runtime.dispose does
    assert sales.crm.closed == 1


def test_given_the_crm_down_while_reading_a_deal_then_the_connections_other_waiting_events_wait_as_long(
        sales: Harness) -> None:
    waiting_deal, failing_deal = new_deal(sales), new_deal(sales)
    sales.crm.ui_move(waiting_deal, "qualification", by=MANAGER)
    with sales.setting_up() as (session, connection):  # stored by intake, not claimed yet
        waiting = add_event(session, connection, sales.crm.webhooks[-1], sales.clock())
        waiting.status, waiting.attempts, waiting.started_at = EventStatus.RECEIVED, 0, None
        waiting_id = waiting.id
    sales.clock.advance(60)
    sales.crm.ui_move(failing_deal, "qualification", by=MANAGER)
    sales.crm.fail_next(CRMUnavailable("GET /deals -> 503", status=503), on="get_deal")

    failed = sales.process(sales.crm.webhooks[-1])

    waiting = sales.one(InboundEvent, waiting_id)
    assert failed.status == EventStatus.RECEIVED and failed.available_at is not None
    assert failed.available_at > sales.clock()
    assert (waiting.status, waiting.available_at, waiting.attempts) == (EventStatus.RECEIVED, failed.available_at, 0)


def test_given_a_sync_read_before_a_revert_was_delivered_when_written_after_then_the_move_is_not_gated_again(
        sales: Harness) -> None:
    sales.gate("qualification", "enforce", QUALIFICATION_NEEDS)
    deal = new_deal(sales)
    manager_moves(sales, deal, "qualification")  # blocked: revert and task queued
    decided = len(sales.transitions(deal))
    read_at = sales.clock()
    stale = sales.crm.get_deal(deal, [])  # a sync page reads the deal still in the blocked stage
    sales.clock.advance(5)
    for action in sales.actions(deal):  # the revert (held back by the CRM's limits, say) is delivered first
        sales.deliver(action)
    sales.clock.advance(5)

    with sales.setting_up() as (session, connection):  # the sync page is written now
        observed = observe(sales.runtime, session, connection, Observation(stale, seen_at=read_at, origin="sync"))

    assert stale.stage_id == "qualification" and sales.crm.deals[deal].stage_id == STAGES[0][0]
    assert observed.seen == Seen.OUTDATED
    assert len(sales.transitions(deal)) == decided
    assert [a.kind for a in sales.actions(deal)] == ["revert_stage", "create_task"]


def test_given_the_database_drops_at_commit_while_applying_an_event_then_it_is_read_again_later(
        sales: Harness) -> None:
    sales.gate("qualification", "enforce", QUALIFICATION_NEEDS)
    deal = new_deal(sales)
    drops = [OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))]

    def drop_once(connection: Any) -> None:
        if drops:  # the server went away: its transaction is gone, and the client hears of it at COMMIT
            connection.connection.dbapi_connection.rollback()
            raise drops.pop()

    sales.clock.advance(60)
    sales.crm.ui_move(deal, "qualification", by=MANAGER)
    with sales.setting_up() as (session, connection):  # stored by intake and claimed
        event_id = add_event(session, connection, sales.crm.webhooks[-1], sales.clock()).id
    event.listen(sales.runtime.engine, "commit", drop_once)
    try:
        process_event(sales.runtime, event_id)
    finally:
        event.remove(sales.runtime.engine, "commit", drop_once)
    stored = sales.one(InboundEvent, event_id)

    assert drops == []  # the commit of the decision was the one lost
    assert (stored.status, stored.processed_at) == (EventStatus.RECEIVED, None)
    assert stored.available_at is not None and stored.available_at > sales.clock()
    assert sales.actions(deal) == []  # nothing of the lost attempt was kept
