"""Background rescoring on a real database: open records only, batches committed with progress, an
interrupted run resumed from its last batch, the nightly run queued once a day, and `qualify rescore`."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from service.cli import main
from service.config import Settings
from service.db import make_engine
from service.migrate import upgrade
from service.models import Connection, Field, Persona, Pipeline, Record, RecordScore, RescoreRun, Stage
from service.runtime import Runtime, build_runtime
from service.services.rescore import queue_nightly_rescore, request_rescore, run_queued_rescores

CRITERIA = [{"field": "industry", "matcher": "in", "values": ["retail"], "weight": 2}]


def seed(runtime: Runtime, stages: list[str], deleted: tuple[int, ...] = ()) -> list[int]:
    """A persona, a pipeline with open/won/lost stages and one record per entry of `stages`."""
    with runtime.uow() as uow:
        uow.session.add(Field(key="industry", label="Industry", type="enum", constraints={"options": ["retail", "it"]}))
        uow.session.add(Persona(name="Retail", criteria=CRITERIA, thresholds={"A": 80, "B": 60, "C": 40}))
        connection = Connection(name="c", kind="hubspot", base_url="https://api.hubapi.com", credentials_encrypted="x")
        pipeline = Pipeline(external_id="default", label="Sales", connection=connection)
        for order, (stage, kind) in enumerate([("new", "open"), ("won", "won"), ("lost", "lost")]):
            uow.session.add(Stage(external_id=stage, label=stage, order=order, kind=kind, pipeline=pipeline))
        uow.session.add(connection)
        uow.session.flush()
        rows = [Record(connection_id=connection.id, external_id=str(i), pipeline_external_id="default",
                       stage_external_id=stage, deleted=i in deleted,
                       values={"industry": "retail" if i % 2 else "it"}) for i, stage in enumerate(stages)]
        uow.session.add_all(rows)
        uow.commit()
        return [r.id for r in rows]


def scored(runtime: Runtime) -> dict[int, int]:
    with runtime.read_uow() as uow:
        return {r.record_id: r.best_score for r in uow.session.scalars(select(RecordScore))}


def test_a_rescore_scores_open_records_in_committed_batches(runtime: Runtime) -> None:
    runtime.settings = dataclasses.replace(runtime.settings, rescore_batch_size=2)
    ids = seed(runtime, ["new", "new", "won", "new", "lost", "new", "new"], deleted=(6,))
    seen: list[tuple[int, int]] = []
    with runtime.uow() as uow:
        request_rescore(uow.session, None, trigger="test", now=runtime.clock())
        uow.commit()

    assert run_queued_rescores(runtime, progress=lambda run: seen.append((run.done, run.total))) == 1

    assert seen == [(2, 4), (4, 4)]  # two batches of two; the won, lost and deleted records are not open
    assert scored(runtime) == {ids[0]: 0, ids[1]: 100, ids[3]: 100, ids[5]: 100}
    with runtime.read_uow() as uow:
        run = uow.session.scalars(select(RescoreRun)).one()
    assert (run.status, run.done, run.total, run.last_record_id) == ("done", 4, 4, ids[5])


def test_a_run_whose_process_died_resumes_after_its_last_committed_batch(runtime: Runtime) -> None:
    ids = seed(runtime, ["new"] * 4)
    long_ago = runtime.clock() - timedelta(seconds=runtime.settings.rescore_stale_seconds + 60)
    with runtime.uow() as uow:
        uow.session.add(RescoreRun(persona_id=None, trigger="test", status="running", total=4, done=2,
                                   last_record_id=ids[1], started_at=long_ago, queued_at=long_ago))
        uow.commit()

    assert run_queued_rescores(runtime) == 1

    assert set(scored(runtime)) == {ids[2], ids[3]}  # the first batch was committed before the crash
    with runtime.read_uow() as uow:
        run = uow.session.scalars(select(RescoreRun)).one()
    assert (run.status, run.done, run.total) == ("done", 4, 4)


def test_a_running_run_that_is_not_stale_is_left_alone(runtime: Runtime) -> None:
    seed(runtime, ["new"])
    with runtime.uow() as uow:
        uow.session.add(RescoreRun(status="running", started_at=runtime.clock(), queued_at=runtime.clock()))
        uow.commit()

    assert run_queued_rescores(runtime) == 0


def test_the_nightly_rescore_is_queued_once_after_its_hour(runtime: Runtime) -> None:
    seed(runtime, ["new"])
    hour = runtime.settings.rescore_nightly_hour
    day = datetime(2026, 11, 23, tzinfo=UTC)

    runtime.clock = lambda: day.replace(hour=hour - 1, minute=59)
    assert queue_nightly_rescore(runtime) is None
    runtime.clock = lambda: day.replace(hour=hour, minute=1)
    assert queue_nightly_rescore(runtime) is not None
    assert queue_nightly_rescore(runtime) is None
    runtime.clock = lambda: (day + timedelta(days=1)).replace(hour=hour + 1)
    assert queue_nightly_rescore(runtime) is not None


def test_a_queued_full_rescore_absorbs_later_requests(runtime: Runtime) -> None:
    seed(runtime, ["new"])
    with runtime.uow() as uow:
        persona_id = uow.session.scalars(select(Persona.id)).one()
        full = request_rescore(uow.session, None, trigger="test", now=runtime.clock())
        again = request_rescore(uow.session, persona_id, trigger="test", now=runtime.clock())
        uow.commit()

    assert again.id == full.id


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    key = Fernet.generate_key().decode()
    for name, value in {"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": url, "SECRET_KEY": key}.items():
        monkeypatch.setenv(f"QUALIFY_{name}", value)
    engine = make_engine(url)
    upgrade(engine)
    return build_runtime(Settings(instance_path=str(tmp_path), database_url=url, secret_key=key), engine=engine)


def test_qualify_rescore_scores_with_progress_and_names_an_unknown_persona(
        cli_env: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    ids = seed(cli_env, ["new", "new", "won"])

    assert main(["rescore", "--persona", "Retail"]) == 0
    out: Any = capsys.readouterr()
    assert "rescore run 1: done; 2 records scored" in out.out
    assert "scored 2/2 records (100%)" in out.err
    assert scored(cli_env) == {ids[0]: 0, ids[1]: 100}
    assert main(["rescore", "--persona", "Nobody"]) == 2
    assert "No persona with id or name 'Nobody'" in capsys.readouterr().err
    cli_env.dispose()
