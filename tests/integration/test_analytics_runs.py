"""Portrait runs over a planted purchase history, on SQLite and PostgreSQL: the stored result, the customers'
segments with hysteresis, progress, failure without half-written results, the data floor, the suggested persona
and its comparison with the current personas."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from service.errors import InvalidInputError, NotFoundError
from service.models import AnalyticsRun, CustomerSegment
from service.runtime import Runtime
from service.services.analytics import runs
from service.services.analytics.runs import get_run, queue_run, run_portrait, run_queued_runs
from service.services.analytics.suggest import create_suggested_persona, suggested_persona
from service.services.analytics.views import abc_xyz_view, latest_result, rfm_view, segment_customers
from service.services.personas import create_persona
from tests.integration.analytics_history import AS_OF, plant, portrait_fields


def _segments(runtime: Runtime) -> dict[int, CustomerSegment]:
    with runtime.read_uow() as uow:
        return {row.customer_id: row for row in uow.session.scalars(select(CustomerSegment))}


def _run(runtime: Runtime, **params: Any) -> dict[str, Any]:
    run = queue_run(runtime, {"as_of": AS_OF, **params})
    return run_portrait(runtime, run["id"])


def test_given_planted_history_when_run_then_wholesale_buyers_are_champions_in_cell_a(runtime: Runtime) -> None:
    planted = plant(runtime)
    seen: list[dict[str, Any]] = []
    run = queue_run(runtime, {"as_of": AS_OF})
    assert run["status"] == "queued"
    done = run_portrait(runtime, run["id"], progress=seen.append)
    assert done["status"] == "done", done["error"]
    assert [v["done"] for v in seen[:-1]] == sorted(v["done"] for v in seen[:-1])
    assert seen[-2]["done"] == seen[-2]["total"] == len(planted.amounts)
    assert get_run(runtime, run["id"])["progress"] == 100.0

    result = latest_result(runtime)
    assert result["as_of"] == AS_OF.isoformat() and result["computed_at"]
    (usd,) = result["currencies"]
    assert usd["enough"] and usd["customers"] == planted.buyers  # the insolvent never paid: not analysed
    assert usd["abc"]["total"] == pytest.approx(float(sum(planted.amounts, Decimal(0))))
    segments = _segments(runtime)
    assert set(segments) == set(planted.wholesale + planted.retail + planted.dealers)
    assert {segments[c].segment for c in planted.wholesale} == {"Champions"}
    a_class = {c for c, s in segments.items() if s.abc == "A"}
    assert a_class and a_class <= set(planted.wholesale)  # wholesale brings ~95 % of the revenue: A is theirs
    assert all(segments[c].xyz is None for c in planted.retail)  # one purchase: ABC only
    champions = next(s for s in rfm_view(runtime)["currencies"][0]["segments"] if s["name"] == "Champions")
    assert champions["customers"] == Counter(s.segment for s in segments.values())["Champions"]
    cells = {r["name"]: r["customers"] for r in abc_xyz_view(runtime)["currencies"][0]["matrix"]}
    assert sum(cells.values()) == planted.buyers
    assert cells["AX"] + cells["AY"] + cells["AZ"] + cells["A-"] == Counter(s.abc for s in segments.values())["A"]
    page = segment_customers(runtime, "champions", page=1, page_size=10)
    assert page["segment"] == "Champions" and page["total"] == champions["customers"] and len(page["items"]) == 10
    assert all(item["values"]["client_type"] == "wholesale" for item in page["items"])


def test_given_planted_history_then_suggestion_recovers_wholesale_north_and_anti_retail(runtime: Runtime) -> None:
    portrait_fields(runtime)
    planted = plant(runtime)
    create_persona(runtime, {"name": "Retail shoppers", "ring": "core", "criteria": [
        {"field": "client_type", "matcher": "equals", "value": "retail", "kind": "nice", "weight": 10}]})
    _run(runtime)
    champions = [c for c, s in _segments(runtime).items() if s.segment == "Champions"]
    wholesale_share = len(set(champions) & set(planted.wholesale)) / len(champions)
    found = suggested_persona(runtime, "Champions")
    assert found["enough"] and found["anti_segment"] == "Lost"
    criteria = {(c["field"], c["kind"], c.get("value")) for c in found["draft"]["criteria"]}
    assert criteria == {("client_type", "nice", "wholesale"), ("region", "nice", "north"),
                        ("client_type", "disqualifier", "retail")}
    assert len(found["evidence"]) == 3 and all(e["text"] for e in found["evidence"])
    (compared,) = found["comparison"]
    assert compared["agrees"] is False and compared["segment_share"] == 0.0
    assert compared["top_value"] == "wholesale" and compared["top_share"] == pytest.approx(wholesale_share)
    assert "0% of your Champions are" in compared["text"]
    assert f"wholesale ({wholesale_share:.0%})" in compared["text"]

    persona = create_suggested_persona(runtime, "Champions")
    assert persona["name"] == "Suggested: Champions" and len(persona["criteria"]) == 3


def test_given_a_failure_while_storing_then_the_run_is_failed_and_nothing_half_written(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    plant(runtime)
    original = runs.store_segments

    def store_then_fail(*args: Any) -> int:
        original(*args)  # every segment is written in the transaction, then the run fails
        raise RuntimeError("disk full")

    monkeypatch.setattr(runs, "store_segments", store_then_fail)
    failed = _run(runtime)
    assert failed["status"] == "failed" and "disk full" in failed["error"]
    assert _segments(runtime) == {}
    with runtime.read_uow() as uow:
        assert uow.session.get_one(AnalyticsRun, failed["id"]).result is None
    with pytest.raises(NotFoundError, match="No portrait run"):
        latest_result(runtime)


def test_given_a_kept_segment_then_hysteresis_holds_it_until_turned_off(runtime: Runtime) -> None:
    planted = plant(runtime)
    _run(runtime)
    champion = planted.wholesale[0]
    with runtime.uow() as uow:  # as if the customer had been Loyal: its position sits just past the border
        uow.session.get_one(CustomerSegment, champion).segment = "Loyal"
        uow.commit()
    _run(runtime, hysteresis=1.5)  # R and F positions are below 6: at most 1 point past Loyal's cells
    kept = _segments(runtime)[champion]
    assert kept.segment == "Loyal"
    _run(runtime, hysteresis=0)
    moved = _segments(runtime)[champion]
    assert (moved.segment, moved.previous_segment) == ("Champions", "Loyal") and moved.changed_at is not None


def test_given_few_customers_then_every_view_says_not_enough_data(runtime: Runtime) -> None:
    plant(runtime, wholesale=5, retail=10, dealers=5, insolvent=0)
    assert _run(runtime)["status"] == "done"
    (usd,) = abc_xyz_view(runtime)["currencies"]
    assert not usd["enough"] and usd["customers"] == 20 and usd["customers_needed"] == 200
    assert usd["message"].startswith("not enough data: 20 customers with purchases, 200 needed")
    assert "abc" not in usd
    assert not suggested_persona(runtime, "Champions")["enough"]
    assert _segments(runtime) == {}


def test_given_no_run_then_views_say_how_to_make_one_and_bad_params_are_refused(runtime: Runtime) -> None:
    with pytest.raises(NotFoundError, match="not enough data"):
        abc_xyz_view(runtime)
    with pytest.raises(InvalidInputError) as bad:
        queue_run(runtime, {"abc_cutoffs": [80, 15, 10], "xyz_mode": "weird"})
    assert bad.value.errors
    assert run_queued_runs(runtime) == 0
    queue_run(runtime, {"as_of": AS_OF})
    assert run_queued_runs(runtime) == 1


def test_given_the_nightly_job_then_one_portrait_run_a_day(runtime: Runtime) -> None:
    from service.jobs.schedule import nightly_portrait

    plant(runtime)
    nightly_portrait(runtime)
    nightly_portrait(runtime)
    with runtime.read_uow() as uow:
        nightly = [r for r in uow.session.scalars(select(AnalyticsRun)) if r.params.get("trigger") == "nightly"]
    assert [(r.status, r.as_of) for r in nightly] == [("done", runtime.clock().date())]


def test_given_the_cli_then_run_shows_progress_and_suggest_create_makes_the_persona(
        runtime: Runtime, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from cryptography.fernet import Fernet

    from service import cli_analytics
    from service.cli import main

    monkeypatch.setenv("QUALIFY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("QUALIFY_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setattr(cli_analytics, "_runtime", lambda settings: runtime)
    portrait_fields(runtime)
    planted = plant(runtime)
    assert main(["analytics", "run", "--as-of", AS_OF.isoformat()]) == 0
    out = capsys.readouterr()
    assert f"USD: {planted.buyers} customers" in out.out
    assert f"{len(planted.amounts)}/{len(planted.amounts)}" in out.err  # the progress bar's last state
    assert main(["analytics", "suggest", "Champions", "--create"]) == 0
    printed = capsys.readouterr().out
    assert "disqualifier client_type = retail" in printed
    assert re.search(r"persona \d+ created: Suggested: Champions", printed)
    assert main(["analytics", "suggest", "Nobody"]) == 2
    assert "Unknown segment 'Nobody'" in capsys.readouterr().err


def test_given_a_run_taken_by_another_process_then_it_is_not_run_twice(runtime: Runtime) -> None:
    plant(runtime)
    run = queue_run(runtime, {"as_of": AS_OF})
    with runtime.uow() as uow:  # another process claimed it a moment ago
        uow.session.get_one(AnalyticsRun, run["id"]).status = "running"
        uow.session.get_one(AnalyticsRun, run["id"]).started_at = runtime.clock()
        uow.commit()

    assert run_portrait(runtime, run["id"])["status"] == "running"
    assert run_queued_runs(runtime) == 0
    assert _segments(runtime) == {}  # nothing computed by this process


def test_given_a_run_left_running_by_a_stopped_process_then_the_next_tick_runs_it_again(runtime: Runtime) -> None:
    from datetime import timedelta

    planted = plant(runtime)
    run = queue_run(runtime, {"as_of": AS_OF})
    with runtime.uow() as uow:  # its process died two hours ago, mid-run
        row = uow.session.get_one(AnalyticsRun, run["id"])
        row.status, row.started_at, row.done = "running", runtime.clock() - timedelta(hours=2), 5
        uow.commit()

    assert run_queued_runs(runtime) == 1

    done = get_run(runtime, run["id"])
    assert done["status"] == "done" and done["done"] == done["total"] == len(planted.amounts)
    assert set(_segments(runtime)) == set(planted.wholesale + planted.retail + planted.dealers)
