"""End to end: CRM failures while delivering actions — retried when transient, given up when not."""

from __future__ import annotations

from sqlalchemy import select

from service.jobs.worker import Worker
from service.models import OutboxAction
from tests.e2e.conftest import Stack
from tests.e2e.test_delivery_guarantees import blocked_move


def actions(stack: Stack) -> dict[str, OutboxAction]:
    """Outbox actions by kind."""
    with stack.runtime.uow() as uow:
        return {a.kind: a for a in uow.session.scalars(select(OutboxAction))}


def test_a_429_on_the_revert_is_retried_after_retry_after_and_then_delivered(idle_stack: Stack) -> None:
    stack = idle_stack
    deal = blocked_move(stack)
    stack.sandbox.fail_next("429", count=1, path_prefix=f"/crm/v3/objects/deals/{deal}", method="PATCH",
                            retry_after=0.2)
    Worker(stack.runtime).run_until_idle()
    assert stack.stage(deal) == "appointmentscheduled"
    revert = actions(stack)["revert_stage"]
    assert revert.status == "done"
    calls = stack.sandbox.api_calls(method="PATCH", path_prefix=f"/crm/v3/objects/deals/{deal}")
    statuses = [c["status"] for c in calls]
    assert statuses == [429, 200]


def test_a_401_gives_up_at_once_and_keeps_the_vendors_message(idle_stack: Stack) -> None:
    stack = idle_stack
    deal = blocked_move(stack)
    stack.sandbox.fail_next("401", count=10, path_prefix="/crm/v3/objects/tasks", method="POST")
    Worker(stack.runtime).run_until_idle()
    task = actions(stack)["create_task"]
    assert task.status == "failed"
    assert task.attempts == 1
    assert task.vendor_message
    assert "CRMAuthError" in (task.last_error or "")
    assert stack.sandbox.tasks_for_deal(deal) == []
    assert actions(stack)["revert_stage"].status == "done"


def test_a_crm_outage_reschedules_the_action_with_backoff(idle_stack: Stack) -> None:
    stack = idle_stack
    deal = blocked_move(stack)
    stack.sandbox.fail_next("500", count=20, path_prefix="/crm/v3/objects/tasks", method="POST")
    Worker(stack.runtime).run_until_idle()
    task = actions(stack)["create_task"]
    assert task.status == "pending"
    assert task.attempts == 1
    assert task.next_attempt_at > stack.runtime.clock()
    assert "CRMUnavailable" in (task.last_error or "")
    assert stack.sandbox.tasks_for_deal(deal) == []
