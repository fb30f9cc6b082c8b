"""End to end: moves whose webhooks were lost are found by sync and gated exactly once."""

from __future__ import annotations

import dataclasses
import time

from sqlalchemy import select

from service.jobs.worker import Worker
from service.models import SyncRun
from service.services.sync_runs import queue_sync, run_queued_syncs
from tests.e2e.conftest import MANAGER, Stack, wait_until
from tests.e2e.test_gate_flow import FILLED


def sync(stack: Stack, full: bool = False) -> SyncRun:
    """Queue and run one sync of the stack's connection; the finished run."""
    runtime = stack.runtime
    run_id = queue_sync(runtime, stack.connection_id, full=full, trigger="test")["id"]
    run_queued_syncs(runtime)
    with runtime.uow() as uow:
        return uow.session.get_one(SyncRun, run_id)


def lose_webhooks(stack: Stack) -> None:
    """From now on the sandbox's webhooks go nowhere (as while Qualify was down)."""
    stack.sandbox.wait_webhooks_idle()
    stack.sandbox_config(webhook_url=None)


def test_a_first_sync_records_existing_deals_without_gating_them(idle_stack: Stack) -> None:
    stack = idle_stack
    lose_webhooks(stack)
    deal = stack.sandbox.ui_create_deal({"dealname": "Old", "dealstage": "contractsent", "pipeline": "default"})
    run = sync(stack)
    assert run.status == "done" and run.created >= 1
    assert stack.record(deal)["stage"] == "contractsent"
    assert stack.transitions() == []


def test_moves_made_while_webhooks_were_lost_are_reverted_by_the_next_sync_once(stack: Stack) -> None:
    blocked = stack.new_deal("Blocked")
    allowed = stack.new_deal("Allowed", **FILLED)
    assert sync(stack).status == "done"  # the baseline
    lose_webhooks(stack)
    stack.sandbox.ui_move_deal(blocked, "qualifiedtobuy", user_id=MANAGER)
    stack.sandbox.ui_move_deal(allowed, "presentationscheduled", user_id=MANAGER)
    time.sleep(0.05)
    run = sync(stack)
    assert run.status == "done" and run.moves == 2
    wait_until(lambda: stack.stage(blocked) == "appointmentscheduled" and stack.sandbox.tasks_for_deal(blocked))
    by_deal = {t["record_id"]: t for t in stack.transitions() if t["source"] == "sync"}
    assert sorted(t["decision"] for t in by_deal.values()) == ["allowed", "blocked"]
    assert stack.stage(allowed) == "presentationscheduled"
    Worker(stack.runtime).run_until_idle()
    again = sync(stack)
    assert again.status == "done"
    time.sleep(0.3)
    assert len(stack.reverts(blocked)) == 1
    assert len(stack.sandbox.tasks_for_deal(blocked)) == 1
    assert len([t for t in stack.transitions() if t["source"] == "sync"]) == 2


def test_a_move_older_than_the_sync_window_is_only_audited(stack: Stack) -> None:
    stack.service.runtime.settings = dataclasses.replace(stack.runtime.settings, sync_window_hours=0.0001)
    deal = stack.new_deal("Late")
    assert sync(stack).status == "done"
    lose_webhooks(stack)
    stack.sandbox.ui_move_deal(deal, "qualifiedtobuy", user_id=MANAGER)
    time.sleep(0.6)  # past the 0.36 s window
    assert sync(stack).status == "done"
    audited = [t for t in stack.transitions() if t["source"] == "sync"]
    assert [t["decision"] for t in audited] == ["audited"]
    assert audited[0]["action"] == "none"
    time.sleep(0.3)
    assert stack.stage(deal) == "qualifiedtobuy"
    assert stack.reverts(deal) == []


def test_a_crm_failure_ends_the_run_as_failed_with_the_error(idle_stack: Stack) -> None:
    stack = idle_stack
    stack.sandbox.fail_next("401", count=5, path_prefix="/crm/v3/objects/deals/search")
    run = sync(stack)
    assert run.status == "failed"
    assert "CRMAuthError" in (run.last_error or "")
    with stack.runtime.uow() as uow:
        assert uow.session.scalars(select(SyncRun.status)).all() == ["failed"]


def test_a_sync_killed_after_a_page_resumes_without_losing_or_duplicating_records(idle_stack: Stack) -> None:
    from sqlalchemy import func

    from service.models import Record
    from tests.e2e.conftest import run_qualify

    stack = idle_stack
    lose_webhooks(stack)
    for i in range(450):
        stack.sandbox.ui_create_deal({"dealname": f"D{i}", "dealstage": "appointmentscheduled", "pipeline": "default"})
    crashed = run_qualify(stack, "sync", str(stack.connection_id), crash_at="after_sync_page")
    assert crashed.returncode == 137
    with stack.runtime.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Record)) == 200  # one committed page
    resumed = run_qualify(stack, "sync", str(stack.connection_id), extra_env={"QUALIFY_SYNC_STALE_SECONDS": "0"})
    assert resumed.returncode == 0, resumed.stderr
    with stack.runtime.uow() as uow:
        externals = list(uow.session.scalars(select(Record.external_id)))
        runs = list(uow.session.scalars(select(SyncRun.status).order_by(SyncRun.id)))
    assert len(externals) == len(set(externals)) == 450
    assert runs == ["failed", "done"]
