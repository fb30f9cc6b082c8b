"""Benchmark a full rescore end to end: N records x 5 personas of 20 criteria, read, scored and written
through the real code path (`request_rescore` + `run_queued_rescores`), on PostgreSQL or SQLite.

Run: ``python -m bench.rescore [--records N] [--postgres URL] [--sqlite]`` (default 1,000,000 records on
the PostgreSQL test database, in a fresh schema dropped afterwards; ``--batch-size``/``--workers``
override QUALIFY_RESCORE_BATCH_SIZE/_WORKERS, ``--passes 2`` adds a rescore that replaces the scores,
``--explain`` shows the plan of a batch read, ``--profile`` profiles this process). The fields, personas,
connection and pipeline are made through the service layer; the records (bench.rescore_data: seeded,
~15% blanks, won, lost and deleted ones the rescore must skip) by COPY / executemany. Prints seconds,
records/s, evaluations/s (records x personas), the CPU of this process, of its worker processes and of
PostgreSQL, the peak RSS during the rescore (VmHWM after resetting it, a 20 ms VmRSS sampler, and the
sampled sum with the worker processes), the rows written, and a same-run in-memory baseline (prepare +
quick, then compute_row, over the same values, streamed, in this one process) so the database's share
is visible. Exits 1 unless 1,000 random stored rows equal a fresh scoring of their stored values and
exactly the open records were scored. Not a test: timings are printed next to the target (<= 60 s,
< 1 GiB), never asserted; the machine may be shared, so compare CPU seconds too.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from adapters.base import PipelineInfo, StageInfo
from bench.common import bench_settings
from bench.measure import RssSampler, machine_busy_seconds, postgres_cpu_seconds, reset_peak_rss, status_kib
from bench.rescore_data import (
    FIELDS,
    OPEN_STAGES,
    STAGES,
    persona_definitions,
    seed_records,
    stage_chunks,
    value_chunks,
)
from bench.sync import print_profile, scratch_database
from service.db import make_engine
from service.domain.scoring import best_fit, prepare
from service.migrate import upgrade
from service.models import Record, RecordScore, RescoreRun
from service.runtime import Runtime, build_runtime
from service.services import connections, fields, personas
from service.services.rescore import open_records, request_rescore, run_queued_rescores
from service.services.scoring import PersonaSet, compute_row, persona_set

PG_URL = os.environ.get("QUALIFY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGET_SECONDS = 60.0
MIB = 1024 * 1024


def set_up(runtime: Runtime, seed: int) -> int:
    """Fields, a connection with an open/won/lost pipeline and 5 personas via the service layer, their own
    queued rescores run while there are no records; returns the connection id."""
    now = runtime.clock()
    with runtime.uow() as uow:
        for spec in FIELDS:
            fields.add_field(uow.session, {**spec, "label": spec["key"].replace("_", " ").title()})
        conn = connections.add_connection(runtime, uow.session, {
            "name": "bench", "kind": "hubspot", "base_url": "http://127.0.0.1:9", "access_token": "pat-bench",
            "client_secret": "bench-secret"})
        stages = tuple(StageInfo(s, s.title(), i, is_closed=s.startswith("closed"), is_won=s == "closedwon")
                       for i, s in enumerate(STAGES))
        connections.apply_pipelines(uow.session, conn, (PipelineInfo("default", "Sales", 0, stages),))
        for definition in persona_definitions(seed):
            personas.add_persona(uow.session, definition, now)
        uow.commit()
        connection_id = conn.id
    run_queued_rescores(runtime)
    return connection_id


def timed_rescore(runtime: Runtime, profile: cProfile.Profile | None) -> dict[str, Any]:
    """Queue a full rescore and run it; seconds, CPU and memory figures."""
    with runtime.uow() as uow:
        request_rescore(uow.session, None, trigger="bench", now=runtime.clock())
        uow.commit()
    hwm = reset_peak_rss()
    sampler = RssSampler()
    sampler.start()
    cpu, pg_cpu, busy, started = os.times(), postgres_cpu_seconds(), machine_busy_seconds(), time.perf_counter()
    if profile is not None:
        profile.enable()
    ran = run_queued_rescores(runtime)
    if profile is not None:
        profile.disable()
    seconds = time.perf_counter() - started
    after, (sampled, tree) = os.times(), sampler.stop()
    return {"seconds": seconds, "ran": ran, "cpu": after.user + after.system - cpu.user - cpu.system,
            "workers_cpu": after.children_user + after.children_system - cpu.children_user - cpu.children_system,
            "pg_cpu": postgres_cpu_seconds() - pg_cpu, "busy": machine_busy_seconds() - busy, "sampled": sampled,
            "tree": tree,
            "hwm": status_kib("VmHWM") if hwm else 0}


def verify(runtime: Runtime, open_count: int, sample: int) -> list[str]:
    """Problems found: stored rows that differ from a fresh scoring of their values (a random sample), rows of
    closed or deleted records, a count other than the open records."""
    problems: list[str] = []
    with runtime.uow() as uow:
        session = uow.session
        current = persona_set(session)
        rings = current.rings()
        stored = session.scalar(select(func.count()).select_from(RecordScore)) or 0
        if stored != open_count:
            problems.append(f"{stored} record_scores rows, {open_count} open records")
        closed = session.scalar(select(func.count()).select_from(RecordScore).join(Record).where(
            (Record.deleted.is_(True)) | Record.stage_external_id.not_in(OPEN_STAGES))) or 0
        if closed:
            problems.append(f"{closed} closed or deleted records were scored")
        ids = list(session.scalars(select(RecordScore.record_id).order_by(func.random()).limit(sample)))
        for rid, at, scores, best, values in session.execute(
                select(RecordScore.record_id, RecordScore.computed_at, RecordScore.scores,
                       RecordScore.best_persona_id, Record.values).join(Record).where(RecordScore.record_id.in_(ids))):
            prepared = prepare(values or {}, current.fields, at.date())
            fresh = [(s.id, s.version, *c.quick(prepared))
                     for c, s in zip(current.compiled, current.specs, strict=True)]
            want = [(pid, v, score, str(grade), k, dq) for pid, v, score, grade, k, dq in fresh]
            got = [(s["persona_id"], s["version"], s["score"], s["grade"], s["completeness"], s["disqualified"])
                   for s in scores]
            floor = runtime.settings.persona_floor
            if got != want or best != best_fit([(w[0], w[2], rings[w[0]]) for w in want], floor):
                problems.append(f"record {rid}: stored {got} best {best}, fresh {want}")
    return problems[:10]


def baseline(current: PersonaSet, n: int, seed: int, today: date, floor: int) -> tuple[int, float, float]:
    """(records, seconds of prepare + quick, seconds of compute_row) over the open records' values, in memory."""
    quicks = [c.quick for c in current.compiled]
    now = datetime.now(UTC)
    count, pure, rows = 0, 0.0, 0.0
    for texts, (stages, deleted) in zip(value_chunks(n, seed, today), stage_chunks(n, seed), strict=True):
        values = [json.loads(t) for t, s, d in zip(texts, stages, deleted, strict=True) if s in OPEN_STAGES and not d]
        count += len(values)
        started = time.perf_counter()
        for v in values:
            prepared = current.preparer(v, today)
            for quick in quicks:
                quick(prepared)
        middle = time.perf_counter()
        for i, v in enumerate(values):
            compute_row(current, i, v, today, now, None, floor)
        pure, rows = pure + middle - started, rows + time.perf_counter() - middle
    return count, pure, rows


def explain(runtime: Runtime, batch: int) -> None:
    """EXPLAIN ANALYZE of one batch read from the middle of the records (PostgreSQL)."""
    with runtime.engine.connect() as conn:
        middle = conn.scalar(select(func.max(Record.id))) // 2
        statement = open_records(middle).limit(batch).compile(runtime.engine, compile_kwargs={"literal_binds": True})
        for (line,) in conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {statement}")):
            print(f"  plan: {line}")


def main(argv: list[str] | None = None) -> int:
    """Seed, rescore (timed), verify and compare with the in-memory baseline; 1 when the results are wrong."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=PG_URL, help="PostgreSQL URL (a scratch schema is made in it)")
    parser.add_argument("--sqlite", action="store_true", help="a scratch SQLite file instead of PostgreSQL")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-size", type=int, help="QUALIFY_RESCORE_BATCH_SIZE (default: the setting's)")
    parser.add_argument("--workers", type=int, help="QUALIFY_RESCORE_WORKERS (default: the setting's)")
    parser.add_argument("--passes", type=int, default=1, help="rescores in a row (later ones replace scores)")
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE a batch read (PostgreSQL)")
    parser.add_argument("--profile", action="store_true", help="cProfile the rescore (slows it down)")
    args = parser.parse_args(argv)
    url = None if args.sqlite else args.postgres
    name = "SQLite" if args.sqlite else "PostgreSQL"
    with tempfile.TemporaryDirectory() as tmp, scratch_database(url, tmp) as db:
        settings = bench_settings(Path(tmp))
        if args.batch_size:
            settings = replace(settings, rescore_batch_size=args.batch_size)
        if args.workers:
            settings = replace(settings, rescore_workers=args.workers)
        runtime = build_runtime(settings, engine=make_engine(db))
        upgrade(runtime.engine)
        connection_id = set_up(runtime, args.seed)
        today = runtime.clock().date()
        started = time.perf_counter()
        open_count = seed_records(runtime, connection_id, args.records, args.seed, today)
        seeded = time.perf_counter() - started
        if not args.sqlite:
            with runtime.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE records"))
        print(f"{name}: seeded {args.records:,} records ({open_count:,} open) in {seeded:.1f} s, vacuumed in "
              f"{time.perf_counter() - started - seeded:.1f} s; {len(FIELDS)} fields, 5 personas x 20 criteria; "
              f"batch {settings.rescore_batch_size}, "
              f"workers {'- (SQLite: in-process)' if args.sqlite else settings.rescore_workers}")
        if args.explain and not args.sqlite:
            explain(runtime, settings.rescore_batch_size)
        profile = cProfile.Profile() if args.profile else None
        for number in range(1, args.passes + 1):
            r = timed_rescore(runtime, profile)
            r["others"] = r["busy"] - r["cpu"] - r["workers_cpu"] - r["pg_cpu"]  # the machine may be shared
            with runtime.uow() as uow:
                written = uow.session.scalar(select(func.count()).select_from(RecordScore)) or 0
                run = uow.session.scalars(select(RescoreRun).order_by(RescoreRun.id.desc())).first()
            assert run is not None
            rate = open_count / r["seconds"]
            peak = max(r["hwm"], r["sampled"], r["tree"])
            verdict = "met" if r["seconds"] <= TARGET_SECONDS and peak < 1024 * 1024 else "NOT met"
            print(f"{name} rescore pass {number} ({'no previous scores' if number == 1 else 'replacing scores'}): "
                  f"{open_count:,} open records x 5 personas in {r['seconds']:.1f} s = {rate:,.0f} records/s, "
                  f"{rate * 5:,.0f} evaluations/s; CPU python {r['cpu']:.1f} s + workers {r['workers_cpu']:.1f} s, "
                  f"postgres {r['pg_cpu']:.1f} s, other processes {r['others']:.1f} s; "
                  f"peak RSS during the rescore {r['hwm'] / 1024:.0f} MiB (VmHWM; "
                  f"sampled {r['sampled'] / 1024:.0f} MiB; with worker processes {r['tree'] / 1024:.0f} MiB); "
                  f"record_scores rows {written:,}; run {run.status} {run.done:,}/{run.total:,}; "
                  f"target <= {TARGET_SECONDS:.0f} s and < 1 GiB: {verdict}")
        if profile is not None:
            print_profile(profile, 25)
        problems = verify(runtime, open_count, args.sample)
        print(f"verified {args.sample} random rows against a fresh scoring, counts and skipped closed records: "
              f"{'ok' if not problems else 'FAILED'}")
        for problem in problems:
            print(f"  MISMATCH {problem}")
        if not args.no_baseline:
            with runtime.uow() as uow:
                current = persona_set(uow.session)
            count, pure, rows = baseline(current, args.records, args.seed, today, settings.persona_floor)
            print(f"baseline in memory, same {count:,} records: prepare + quick {pure:.1f} s = {count / pure:,.0f} "
                  f"records/s ({count * 5 / pure:,.0f} evaluations/s); compute_row {rows:.1f} s = "
                  f"{count / rows:,.0f} records/s; rescore pass {args.passes} takes {r['seconds'] / pure:.1f}x "
                  f"prepare + quick, {r['seconds'] / rows:.1f}x compute_row")
        runtime.dispose()
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (ru_maxrss, "
          "seeding and baseline included)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
