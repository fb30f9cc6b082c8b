"""End to end: duplicates, parallel deliveries and worker crashes never double a revert or a task."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import select

from adapters.hubspot_webhooks import sign_v3
from service.demo import CLIENT_SECRET
from service.jobs.worker import Worker
from service.models import InboundEvent, OutboxAction
from tests.e2e.conftest import MANAGER, Stack, run_qualify, wait_until


def run_worker_process(stack: Stack, crash_at: str | None = None, *, exits_with: int = 0) -> None:
    """Run `qualify worker --until-idle` in a real subprocess on the stack's database; fails the test, showing
    the worker's output, unless it exits with `exits_with` (137 at a crash point)."""
    done = run_qualify(stack, "worker", "--until-idle", crash_at=crash_at)
    assert done.returncode == exits_with, f"worker exited {done.returncode}:\n{done.stdout}\n{done.stderr}"


def blocked_move(stack: Stack) -> str:
    """A deal created and processed, then moved into a gated stage with nothing filled (not processed yet)."""
    deal = stack.sandbox.ui_create_deal({"dealname": "Crashy", "dealstage": "appointmentscheduled",
                                         "pipeline": "default", "hubspot_owner_id": "101"}, user_id=MANAGER)
    stack.sandbox.wait_webhooks_idle()
    Worker(stack.runtime).run_until_idle()
    stack.sandbox.ui_move_deal(deal, "qualifiedtobuy", user_id=MANAGER)
    stack.sandbox.wait_webhooks_idle()
    return deal


def actions(stack: Stack) -> list[OutboxAction]:
    """Every outbox action."""
    with stack.runtime.uow() as uow:
        return list(uow.session.scalars(select(OutboxAction).order_by(OutboxAction.id)))


def test_worker_killed_after_the_decision_is_committed_delivers_exactly_once_after_restart(idle_stack: Stack) -> None:
    stack = idle_stack
    deal = blocked_move(stack)
    run_worker_process(stack, crash_at="after_decision", exits_with=137)
    assert len(stack.transitions("blocked")) == 1
    assert {a.status for a in actions(stack)} == {"pending"}
    assert stack.reverts(deal) == [] and stack.sandbox.tasks_for_deal(deal) == []
    run_worker_process(stack)
    assert stack.stage(deal) == "appointmentscheduled"
    assert len(stack.reverts(deal)) == 1
    assert len(stack.sandbox.tasks_for_deal(deal)) == 1
    assert {a.status for a in actions(stack)} == {"done"}


def test_worker_killed_after_the_crm_accepted_the_task_does_not_create_it_twice(idle_stack: Stack) -> None:
    stack = idle_stack
    deal = blocked_move(stack)
    run_worker_process(stack, crash_at="after_crm_call:create_task", exits_with=137)
    tasks = stack.sandbox.tasks_for_deal(deal)
    assert len(tasks) == 1
    assert [a.status for a in actions(stack) if a.kind == "create_task"] == ["in_flight"]
    time.sleep(1.2)  # past the in-flight stale timeout, as after a real restart
    run_worker_process(stack)
    assert len(stack.sandbox.tasks_for_deal(deal)) == 1
    task_action = next(a for a in actions(stack) if a.kind == "create_task")
    assert task_action.status == "done"
    assert task_action.crm_object_id == str(tasks[0]["id"])
    assert len(stack.reverts(deal)) == 1


def test_an_event_left_processing_by_a_crash_is_picked_up_again(idle_stack: Stack) -> None:
    stack = idle_stack
    deal = blocked_move(stack)
    run_worker_process(stack, crash_at="before_decision", exits_with=137)
    with stack.runtime.uow() as uow:
        statuses = set(uow.session.scalars(select(InboundEvent.status)))
    assert "processing" in statuses
    time.sleep(1.2)
    run_worker_process(stack)
    assert len(stack.transitions("blocked")) == 1
    assert len(stack.reverts(deal)) == 1
    assert len(stack.sandbox.tasks_for_deal(deal)) == 1


def test_fifty_identical_deliveries_in_parallel_store_one_event_and_act_once(stack: Stack) -> None:
    deal = stack.new_deal()
    stack.sandbox.wait_webhooks_idle()
    stack.sandbox_config(webhook_url=None)
    stack.sandbox.ui_move_deal(deal, "qualifiedtobuy", user_id=MANAGER)
    now_ms = int(time.time() * 1000)
    body = json.dumps([{
        "eventId": 987654, "subscriptionId": 25, "portalId": stack.sandbox.portal_id, "appId": 1160452,
        "occurredAt": now_ms, "subscriptionType": "deal.propertyChange", "attemptNumber": 0,
        "objectId": int(deal), "propertyName": "dealstage", "propertyValue": "qualifiedtobuy",
        "changeSource": "CRM_UI", "sourceId": f"userId:{MANAGER}",
    }]).encode()
    headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": str(now_ms),
               "X-HubSpot-Signature-v3": sign_v3(CLIENT_SECRET, "POST", stack.webhook_url, body, now_ms)}

    def deliver(_: int) -> int:
        return httpx.post(stack.webhook_url, content=body, headers=headers, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(deliver, range(50)))
    assert statuses == [200] * 50
    wait_until(lambda: stack.sandbox.tasks_for_deal(deal))
    time.sleep(0.5)
    with stack.runtime.uow() as uow:
        stored = list(uow.session.scalars(select(InboundEvent).where(InboundEvent.delivery_key.contains("987654"))))
    assert len(stored) == 1
    assert len(stack.reverts(deal)) == 1
    assert len(stack.sandbox.tasks_for_deal(deal)) == 1
