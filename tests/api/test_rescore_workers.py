"""A background rescore of more than one batch, scored by worker processes on PostgreSQL (in-process on
SQLite): the same rows as compute_row in this process, only open records, progress and write-backs as
the in-process loop keeps them, and a resumed run starts after its last committed batch."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import select

from adapters.base import PipelineInfo, StageInfo
from service.models import Connection, OutboxAction, Persona, Record, RecordScore, RescoreRun
from service.runtime import Runtime, build_runtime
from service.services import fields, personas, rescore
from service.services.connections import apply_pipelines
from service.services.rescore import execute_rescore, request_rescore, run_queued_rescores, start_run
from service.services.scoring import compute_row, persona_set

CRITERIA = [
    {"field": "industry", "matcher": "in", "values": ["retail"], "weight": 2},
    {"field": "budget", "matcher": "range", "min": 1000, "soft_margin": 500},
    {"field": "region", "matcher": "regex", "pattern": "^eu", "kind": "must"},
    {"field": "industry", "matcher": "equals", "value": "other", "kind": "disqualifier"},
]
INDUSTRIES = ("retail", "it", "other", None)
STAGES = (None, "open1", "won", "lost", "open1")


def workers_runtime(runtime: Runtime) -> Runtime:
    """The test database with batches of 7 records and 2 scoring processes."""
    settings = dataclasses.replace(runtime.settings, rescore_batch_size=7, rescore_workers=2)
    return build_runtime(settings, engine=runtime.engine)


def seed(runtime: Runtime, write_back: bool = False) -> list[int]:
    """Fields, two personas and 40 records (some won, lost or deleted) with one full rescore queued; the
    open records' ids."""
    now = runtime.clock()
    with runtime.uow() as uow:
        fields.add_field(uow.session, {"key": "industry", "label": "Industry", "type": "enum",
                                  "constraints": {"options": ["retail", "it", "other"]}})
        fields.add_field(uow.session, {"key": "budget", "label": "Budget", "type": "number"})
        fields.add_field(uow.session, {"key": "region", "label": "Region", "type": "text"})
        personas.add_persona(uow.session, {"name": "Retail EU", "ring": "target", "criteria": CRITERIA}, now)
        personas.add_persona(uow.session, {"name": "Any EU", "ring": "core", "criteria": CRITERIA[2:]}, now)
        uow.commit()
    assert run_queued_rescores(runtime) == 2  # no records yet
    with runtime.uow() as uow:
        connection = Connection(name="c", kind="hubspot", base_url="https://api.hubapi.com",
                                credentials_encrypted="x", score_write_back={"score": "fit"} if write_back else None)
        uow.session.add(connection)
        uow.session.flush()
        apply_pipelines(uow.session, connection, (PipelineInfo("p", "Sales", 0, (
            StageInfo("open1", "Open", 0), StageInfo("won", "Won", 1, is_closed=True, is_won=True),
            StageInfo("lost", "Lost", 2, is_closed=True))),))
        records = [Record(connection_id=connection.id, external_id=str(i), stage_external_id=STAGES[i % 5],
                          deleted=i % 11 == 10, values={"industry": INDUSTRIES[i % 4], "budget": str(i * 40),
                                                        "region": ("EU-west", "us", None)[i % 3]})
                   for i in range(40)]
        uow.session.add_all(records)
        request_rescore(uow.session, None, trigger="api", now=now)
        uow.commit()
        return [r.id for r in records if r.stage_external_id not in ("won", "lost") and not r.deleted]


def stored(runtime: Runtime) -> dict[int, dict[str, Any]]:
    with runtime.uow() as uow:
        return {r.record_id: {"scores": r.scores, "best_persona_id": r.best_persona_id, "best_score": r.best_score,
                              "best_grade": r.best_grade, "previous_best_score": r.previous_best_score,
                              "trend": r.trend} for r in uow.session.scalars(select(RecordScore))}


def expected(runtime: Runtime, ids: list[int], previous: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """What compute_row in this process gives for the records (against the stored previous rows)."""
    with runtime.uow() as uow:
        current = persona_set(uow.session)
        values = {rid: v for rid, v in uow.session.execute(select(Record.id, Record.values).where(Record.id.in_(ids)))}
    now = runtime.clock()
    rows = {rid: compute_row(current, rid, values[rid], now.date(), now, previous.get(rid),
                             runtime.settings.persona_floor) for rid in ids}
    return {rid: {k: v for k, v in row.items() if k not in ("record_id", "computed_at")} for rid, row in rows.items()}


def test_given_many_batches_then_workers_store_what_compute_row_gives_and_the_trend_on_a_rescore(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    pooled = workers_runtime(runtime)
    pooled_runs: list[int] = []
    run = rescore.PooledRescore.run
    monkeypatch.setattr(rescore.PooledRescore, "run", lambda self, run_id, progress: (
        pooled_runs.append(run_id), run(self, run_id, progress))[1])
    open_ids = seed(pooled)

    assert run_queued_rescores(pooled) == 1
    first, want_first = stored(pooled), expected(pooled, open_ids, {})
    with pooled.uow() as uow:
        retail = uow.session.scalars(select(Persona.id).where(Persona.name == "Retail EU")).one()
    personas.update_persona(pooled, retail, {"criteria": CRITERIA[:3]})
    assert run_queued_rescores(pooled) == 1
    second = stored(pooled)

    assert sorted(first) == open_ids
    assert first == want_first
    assert second == expected(pooled, open_ids, first)
    assert {row["trend"] for row in second.values()} - {"not_enough_info"}
    with pooled.uow() as uow:
        runs = list(uow.session.scalars(select(RescoreRun).order_by(RescoreRun.id)))
    assert [(r.status, r.done, r.total, r.last_record_id) for r in runs] == [
        ("done", 0, 0, 0)] * 2 + [("done", len(open_ids), len(open_ids), open_ids[-1])] * 2
    assert pooled_runs == ([r.id for r in runs[2:]] if runtime.engine.dialect.name == "postgresql" else [])


def test_given_write_back_when_workers_score_then_each_record_queues_its_score(runtime: Runtime) -> None:
    pooled = workers_runtime(runtime)
    open_ids = seed(pooled, write_back=True)

    run_queued_rescores(pooled)

    scores = stored(pooled)
    with pooled.uow() as uow:
        actions = list(uow.session.scalars(select(OutboxAction).where(OutboxAction.kind == "write_fields")))
        written = {rid: w for rid, w in uow.session.execute(select(RecordScore.record_id, RecordScore.written))}
    assert sorted(a.record_id for a in actions if a.record_id is not None) == sorted(open_ids)
    assert {a.record_id: a.payload["properties"] for a in actions} == {
        rid: {"fit": str(row["best_score"])} for rid, row in scores.items()}
    assert written == {rid: {"fit": str(row["best_score"])} for rid, row in scores.items()}


def test_given_a_run_whose_process_died_then_it_resumes_after_its_last_batch(runtime: Runtime) -> None:
    pooled = workers_runtime(runtime)
    open_ids = seed(pooled)
    with pooled.uow() as uow:
        run_id = uow.session.scalars(select(RescoreRun.id).where(RescoreRun.status == "queued")).one()
    start_run(pooled, run_id)
    with pooled.uow() as uow:  # as if the first 7 open records were committed before the process died
        run = uow.session.get_one(RescoreRun, run_id)
        run.done, run.last_record_id = 7, open_ids[6]
        uow.commit()

    run = execute_rescore(pooled, run_id)

    assert (run.status, run.done, run.total, run.last_record_id) == ("done", len(open_ids), len(open_ids),
                                                                     open_ids[-1])
    assert sorted(stored(pooled)) == open_ids[7:]
