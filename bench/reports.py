"""Benchmark of the qualification report on PostgreSQL: a million deals and about five million moves
(bench/reports_data.py), the whole report for 90 days and for one owner, against the same aggregation written
as one plain SQL query in the same run.

    python -m bench.reports [--deals 1000000] [--transitions 5000000] [--rounds 5] [--keep | --schema NAME]
                            [--statements] [--explain]

Prints the fill time, the report's first call, the medians of alternating warm rounds of the report, one owner's
report and the plain query (in a transaction tuned as the report's), and the median of the rounds' ratios; with
--statements, each of the report's SQL statements and its time, with --explain its plan. Exits 1 unless the
report's compliance and completeness numbers equal the plain query's. Not a test (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, make_url, text

from bench.common import bench_settings
from bench.reports_data import fill
from bench.reports_plain import plain_report, same_totals
from service.db import make_engine, utcnow
from service.migrate import upgrade
from service.runtime import Runtime, build_runtime
from service.services.reports.counts import move_cells
from service.services.reports.filters import ReportFilter, tune
from service.services.reports.qualification import qualification_report
from tests.conftest import PG_URL

OWNER = "o7"  # an owner with an average book (owner 1 has the most deals)

# The compliance aggregation (the report's core table) as one plain query: what a person would write by hand.
PLAIN_COMPLIANCE = """
SELECT t.connection_id, t.to_pipeline, t.to_stage,
       CASE WHEN t.mover_kind IS NULL THEN r.owner_external_id ELSE t.owner_id END AS owner,
       count(*) AS moves,
       count(*) FILTER (WHERE t.decision = 'allowed') AS allowed,
       count(*) FILTER (WHERE t.decision = 'blocked') AS blocked,
       count(*) FILTER (WHERE t.decision = 'warned') AS warned,
       count(*) FILTER (WHERE t.decision = 'audited' AND NOT t.too_old) AS audited,
       count(*) FILTER (WHERE t.source = 'sync') AS found_by_sync,
       count(*) FILTER (WHERE t.mover_kind IN ('api', 'automation', 'import', 'integration')) AS automated,
       count(*) FILTER (WHERE t.too_old) AS too_old,
       sum(t.required_fields) AS required, sum(t.unfilled_fields) AS unfilled
FROM transitions t JOIN records r ON r.id = t.record_id
WHERE t.occurred_at >= :start AND t.occurred_at < :end AND t.direction IN ('forward', 'enter', 'to_lost')
  AND (CAST(:owner AS text) IS NULL
       OR CASE WHEN t.mover_kind IS NULL THEN r.owner_external_id ELSE t.owner_id END = :owner)
GROUP BY 1, 2, 3, 4
"""


def schema_url(schema: str) -> str:
    """The test database's URL with `schema` first on the search path."""
    return make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)


def create_schema() -> str:
    """A new schema in the test PostgreSQL database, and its name."""
    schema = f"qb_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return schema


def drop_schema(schema: str) -> None:
    """Drop a benchmark schema and everything in it."""
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@dataclass
class Statement:
    """One SQL statement the report ran: which report function ran it, the SQL and its parameters, its time."""

    caller: str
    sql: str
    parameters: Any
    seconds: float


@contextmanager
def statements(engine: Engine) -> Iterator[list[Statement]]:
    """The SQL statements run on `engine` inside the block, with their times (psycopg's client-side cursors:
    the database's time and the rows' transfer)."""
    ran: list[Statement] = []
    started: dict[int, float] = {}

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        started[id(cursor)] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seconds = time.perf_counter() - started.pop(id(cursor))
        caller = next((f"{Path(frame.filename).stem}.{frame.function}" for frame in inspect.stack()
                       if "services/reports" in frame.filename), "?")
        ran.append(Statement(caller, statement, parameters, seconds))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield ran
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def main() -> None:
    """Fill (or reuse a kept schema), measure, print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--transitions", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the schema (to measure again with --schema)")
    parser.add_argument("--schema", help="measure a schema kept by an earlier --keep (migrated to head first)")
    parser.add_argument("--statements", action="store_true", help="print each SQL statement's time")
    parser.add_argument("--explain", action="store_true", help="and its plan (EXPLAIN ANALYZE: runs it again)")
    args = parser.parse_args()
    schema = args.schema or create_schema()
    engine = make_engine(schema_url(schema))
    done = False
    try:
        if args.schema:
            upgrade(engine)
        else:
            prepare(engine, args.deals, args.transitions)
            print(f"(schema {schema})")
        same = measure(engine, args.rounds, args.statements, args.explain)
        if not args.schema:
            write_cost(engine)
        done = True
    finally:
        engine.dispose()
        if not (args.schema or (args.keep and done)):  # a failed fill is never kept
            drop_schema(schema)
    sys.exit(0 if same else 1)


def prepare(engine: Engine, deals: int, transitions: int) -> None:
    """Fill a schema at the migration before the report's (as a deployment upgrading with its data would be),
    upgrade it, and vacuum it (as autovacuum would after so many writes); print each step's time."""
    started = time.perf_counter()
    upgrade(engine, "0007")
    with engine.begin() as conn:
        written = fill(conn, deals, transitions)
    print(f"filled {deals:,} deals and {written:,} moves in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    upgrade(engine)
    print(f"migrations 0008 and 0009 (indexes, day counts, blocked moves settled, deal reaches) in "
          f"{time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    print(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")


WRITTEN = 20_000


def write_cost(engine: Engine) -> None:
    """What the triggers add to writing moves: WRITTEN copies of the newest moves inserted in one statement, with
    the triggers and without (each rolled back), and deleted again."""
    copy = ("INSERT INTO transitions (connection_id, record_id, from_pipeline, from_stage, to_pipeline, to_stage, "
            "occurred_at, actor, mover_user_id, mover_kind, owner_id, source, direction, decision, mode, issues, "
            "message, action, too_old, required_fields, unfilled_fields, stages_passed, created_at) "
            "SELECT connection_id, record_id, from_pipeline, from_stage, to_pipeline, to_stage, "
            "occurred_at + interval '1 second', actor, mover_user_id, mover_kind, owner_id, source, direction, "
            "decision, mode, issues, message, action, too_old, required_fields, unfilled_fields, stages_passed, now() "
            "FROM transitions ORDER BY id DESC LIMIT :n")
    spent: dict[Any, float] = {}
    for triggers in (True, False):
        with engine.begin() as conn:
            if not triggers:
                conn.execute(text("ALTER TABLE transitions DISABLE TRIGGER USER"))
            started = time.perf_counter()
            conn.execute(text(copy), {"n": WRITTEN})
            spent[triggers] = time.perf_counter() - started
            started = time.perf_counter()
            conn.execute(text("DELETE FROM transitions WHERE created_at = now()"))
            spent[(triggers, "delete")] = time.perf_counter() - started
            conn.rollback()
    print(f"writing {WRITTEN:,} moves: {spent[True]:.2f} s with the triggers, {spent[False]:.2f} s without "
          f"({(spent[True] - spent[False]) / WRITTEN * 1e6:.0f} us a move more); deleting them: "
          f"{spent[(True, 'delete')]:.2f} s and {spent[(False, 'delete')]:.2f} s")


def plain(engine: Engine, f: ReportFilter) -> Callable[[], list[Any]]:
    """The plain compliance query for `f`'s period and owner, run in a transaction tuned as the report's is."""
    def run() -> list[Any]:
        with engine.begin() as conn:
            tune(conn)
            return list(conn.execute(text(PLAIN_COMPLIANCE), {"start": f.start, "end": f.end, "owner": f.owner}))
    return run


def cells(runtime: Runtime, f: ReportFilter) -> list[dict[str, Any]]:
    """The report's counts of its moves alone (compliance, completeness, weekly trend, directions)."""
    with runtime.read_uow() as uow:
        tune(uow.session)
        return move_cells(uow.session, f)


def same_numbers(report: dict[str, Any], rows: list[Any]) -> bool:
    """Whether the report's compliance and completeness cells hold the plain query's numbers."""
    names = ("moves", "allowed", "blocked", "warned", "audited", "found_by_sync", "automated", "too_old")
    plain_cells = {(r.to_pipeline, r.to_stage, r.owner): (*(getattr(r, n) for n in names), r.required)
                   for r in rows}
    required = {(r["pipeline"], r["stage"], r["owner"]): r["required"] for r in report["completeness"]["rows"]}
    cells = {(r["pipeline"], r["stage"], r["owner"]): (*(r[n] for n in names), required[(r["pipeline"], r["stage"],
                                                                                          r["owner"])])
             for r in report["compliance"]["rows"]}
    return cells == plain_cells


def measure(engine: Engine, rounds: int, show: bool, explain: bool) -> bool:
    """Time the report (whole team, one owner) and the plain query in alternating rounds; print the medians
    and the median of each round's ratio, and with `show` each statement's time, with `explain` its plan too.
    False when the report's compliance numbers differ from the plain query's."""
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        runtime = build_runtime(bench_settings(Path(tmp)), engine=engine)
        end = utcnow()
        team = ReportFilter(start=end - timedelta(days=90), end=end)
        one = ReportFilter(start=team.start, end=end, owner=OWNER)
        started = time.perf_counter()
        first = qualification_report(runtime, team)
        cold = time.perf_counter() - started
        same = same_numbers(first, plain(engine, team)()) and same_numbers(
            qualification_report(runtime, one), plain(engine, one)())
        differ = same_totals(first, plain_report(engine, team.start, team.end, runtime.clock()))
        times: dict[str, list[float]] = {"team": [], "plain": [], "owner": [], "plain owner": [], "cells": [],
                                         "plain report": []}
        for _ in range(rounds):
            for name, call in (("team", lambda: qualification_report(runtime, team)), ("plain", plain(engine, team)),
                               ("plain report", lambda: plain_report(engine, team.start, team.end, utcnow())),
                               ("owner", lambda: qualification_report(runtime, one)),
                               ("plain owner", plain(engine, one)), ("cells", lambda: cells(runtime, team))):
                started = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - started)
        med = {name: statistics.median(spent) for name, spent in times.items()}

        def ratio_of(name: str, base: str) -> float:
            return statistics.median(r / p for r, p in zip(times[name], times[base], strict=True))
        ratio, ratio_owner = ratio_of("team", "plain"), ratio_of("owner", "plain owner")
        print(f"whole report, 90 days: first {cold:.2f} s, warm {med['team']:.2f} s (median of {rounds}; "
              f"goal < 2 s)")
        print(f"one owner ({OWNER}): warm {med['owner']:.2f} s (goal < 1 s)")
        print(f"compliance as one plain SQL query: {med['plain']:.2f} s; one owner {med['plain owner']:.2f} s; "
              f"the report's compliance numbers {'equal' if same else 'DIFFER FROM'} the plain query's")
        print(f"ratio, whole report / plain query (median of the rounds' ratios): {ratio:.2f}; one owner: "
              f"{ratio_owner:.2f} (goal <= 1.5)")
        print(f"the whole report as one plain SQL query (bench/reports_plain.py): {med['plain report']:.2f} s; "
              f"ratio, whole report / it: {ratio_of('team', 'plain report'):.2f} (goal <= 1.5); its totals "
              + ("equal the report's" if not differ else "DIFFER: " + "; ".join(differ)))
        print(f"the same aggregation as the report makes it (its moves' counts, counts.move_cells, which also give "
              f"the weekly trend and the directions): {med['cells']:.2f} s, {ratio_of('cells', 'plain'):.2f} of the "
              "plain query")
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
        if show or explain:  # one section after another, so each statement's time is its own
            runtime.settings = dataclasses.replace(runtime.settings, report_connections=1)
            for name, f in (("whole report", team), ("one owner", one)):
                with statements(engine) as ran:
                    qualification_report(runtime, f)
                print(f"{name}, statements one after another (s):")
                for statement in sorted(ran, key=lambda s: -s.seconds):
                    if statement.sql.startswith("SET "):
                        continue
                    print(f"  {statement.seconds:6.3f}  {statement.caller:30} {' '.join(statement.sql.split())[:70]}")
                    if explain:
                        with engine.begin() as conn:
                            tune(conn)
                            plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement.sql}",
                                                        statement.parameters).scalars()
                            print("\n".join(f"          {line}" for line in plan))
    return same and not differ


if __name__ == "__main__":
    main()
