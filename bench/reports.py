"""Benchmark of the qualification report on PostgreSQL: a million deals and five million moves
(bench/reports_data.py), the whole report for 90 days warm and for one owner, against the same aggregation
written as plain SQL in the same run.

    python -m bench.reports [--deals 1000000] [--transitions 5000000] [--rounds 3] [--keep]

Prints the times (median of the warm rounds) and the ratios; not a test (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, make_url, text

from bench.common import bench_settings
from bench.reports_data import fill
from service.db import make_engine, utcnow
from service.migrate import upgrade
from service.runtime import build_runtime
from service.services.reports.filters import ReportFilter
from service.services.reports.qualification import qualification_report
from tests.conftest import PG_URL

# The compliance aggregation (the report's core table) as one plain query: what a person would write by hand.
PLAIN_COMPLIANCE = """
SELECT t.to_pipeline, t.to_stage, coalesce(t.owner_id, r.owner_external_id) AS owner, count(*) AS moves,
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
  AND (CAST(:owner AS text) IS NULL OR coalesce(t.owner_id, r.owner_external_id) = :owner)
GROUP BY 1, 2, 3
"""


def schema_engine() -> tuple[Engine, str]:
    """An engine on a new schema of the test PostgreSQL database, and the schema's name."""
    schema = f"qb_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return make_engine(url.render_as_string(hide_password=False)), schema


def timed(call: Callable[[], Any], rounds: int) -> tuple[float, float]:
    """(the first call's seconds, the median of `rounds` more)."""
    started = time.perf_counter()
    call()
    first = time.perf_counter() - started
    warm = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        warm.append(time.perf_counter() - started)
    return first, statistics.median(warm)


def main() -> None:
    """Fill, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--transitions", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the schema (to measure again)")
    args = parser.parse_args()
    engine, schema = schema_engine()
    try:
        started = time.perf_counter()
        upgrade(engine)
        with engine.begin() as conn:
            fill(conn, args.deals, args.transitions)
        print(f"filled {args.deals:,} deals and {args.transitions:,} moves in {time.perf_counter() - started:.1f} s")
        with tempfile.TemporaryDirectory() as tmp:
            runtime = build_runtime(bench_settings(Path(tmp)), engine=engine)
            end = utcnow()
            team = ReportFilter(start=end - timedelta(days=90), end=end)
            one = ReportFilter(start=team.start, end=end, owner="o7")
            cold, warm = timed(lambda: qualification_report(runtime, team), args.rounds)
            _, owner = timed(lambda: qualification_report(runtime, one), args.rounds)
            params = {"start": team.start, "end": end, "owner": None}
            with engine.connect() as conn:
                _, plain = timed(lambda: conn.execute(text(PLAIN_COMPLIANCE), params).all(), args.rounds)
                _, plain_owner = timed(lambda: conn.execute(text(PLAIN_COMPLIANCE), {**params, "owner": "o7"}).all(),
                                       args.rounds)
            print(f"whole report, 90 days: first {cold:.2f} s, warm {warm:.2f} s (goal < 2 s)")
            print(f"one owner: warm {owner:.2f} s (goal < 1 s)")
            print(f"compliance as one plain SQL query: {plain:.2f} s; one owner {plain_owner:.2f} s")
            print(f"ratio, whole report / plain query: {warm / plain:.2f}; one owner: {owner / plain_owner:.2f} "
                  "(goal <= 1.5)")
    finally:
        if not args.keep:
            admin = make_engine(PG_URL)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
        engine.dispose()


if __name__ == "__main__":
    main()
