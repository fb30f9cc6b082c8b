"""Benchmark of a whole portrait run as the service does it: `qualify analytics run` over N purchases of M
customers stored in the database (SQLite file and PostgreSQL), from reading the purchases to the stored segments
and result, with the time of each phase.

    python -m bench.analytics_run [--purchases 1000000] [--customers 100000] [--no-sqlite] [--no-postgres]

The purchases are bench.analytics' seeded data (every customer buys once, the rest skewed to a few heavy buyers,
days over two years, log-normal amounts), written straight into `customers` and `purchases` (not timed). Then one
run is queued and run twice (the second keeps the first's segments, as the nightly run does); each prints its
phases: reading the purchases into columns, the analyses, storing the segments and result. The issue's goal is
under 10 s for RFM + ABC-XYZ over 1,000,000 purchases of 100,000 customers. Not a test (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.analytics import AS_OF
from bench.common import bench_settings
from bench.reports import create_schema, drop_schema, schema_url
from service.config import Settings
from service.db import utcnow
from service.migrate import upgrade
from service.models import Customer, Purchase
from service.runtime import Runtime, build_runtime
from service.services.analytics import runs

CHUNK = 50_000


def fill(runtime: Runtime, n: int, customers: int, seed: int) -> None:
    """The seeded purchases (bench.analytics' distribution) of `customers` customers, `n` in all."""
    rng = random.Random(seed)
    now = utcnow()
    days = [AS_OF - timedelta(days=d) for d in range(730)]
    with runtime.engine.begin() as conn:
        for start in range(0, customers, CHUNK):
            conn.execute(insert(Customer), [
                {"id": i + 1, "source": "bench", "kind": "customer", "external_id": str(i), "name": None,
                 "values": {}, "created_at": now, "updated_at": now}
                for i in range(start, min(customers, start + CHUNK))])
        for start in range(0, n, CHUNK):
            rows: list[dict[str, Any]] = []
            for i in range(start, min(n, start + CHUNK)):
                customer = i if i < customers else int(customers * rng.random() ** 3)
                rows.append({"customer_id": customer + 1, "source": "bench", "external_id": str(i),
                             "amount": max(1, int(rng.lognormvariate(8.5, 1.0))) / 100, "currency": "USD",
                             "purchased_on": days[rng.randrange(730)], "created_at": now})
            conn.execute(insert(Purchase), rows)


class Phases:
    """The time of each phase of a run, from its progress reports."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.read_done: float | None = None
        self.total = 0

    def __call__(self, view: dict[str, Any]) -> None:
        if view.get("total") and view.get("done") == view["total"] and self.read_done is None:
            self.read_done, self.total = time.perf_counter(), view["total"]


def one_run(runtime: Runtime, label: str) -> float:
    """Queue and run a portrait run; print its phases; its seconds."""
    run = runs.queue_run(runtime, {"as_of": AS_OF.isoformat()}, trigger="bench")
    phases = Phases()
    view = runs.run_portrait(runtime, run["id"], progress=phases)
    seconds = time.perf_counter() - phases.start
    assert view["status"] == "done", view.get("error")
    read = (phases.read_done or phases.start) - phases.start
    print(f"  {label}: {seconds:.2f} s in all (goal < 10 s): reading {phases.total:,} purchases {read:.2f} s, "
          f"analyses and storing {seconds - read:.2f} s", flush=True)
    return seconds


@contextmanager
def database(kind: str) -> Iterator[Settings]:
    """Settings of a fresh SQLite file or PostgreSQL schema, migrated; removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        settings = bench_settings(Path(folder))
        if kind == "sqlite":
            yield settings
            return
        schema = create_schema()
        try:
            yield replace(settings, database_url=schema_url(schema))
        finally:
            drop_schema(schema)


def bench(kind: str, n: int, customers: int, seed: int) -> None:
    """Fill one database and time two runs over it."""
    with database(kind) as settings:
        runtime = build_runtime(settings)
        upgrade(runtime.engine)
        try:
            started = time.perf_counter()
            fill(runtime, n, customers, seed)
            print(f"{kind}: {n:,} purchases of {customers:,} customers written in "
                  f"{time.perf_counter() - started:.0f} s (not timed)", flush=True)
            one_run(runtime, "first run (every segment new)")
            one_run(runtime, "second run (segments kept through the hysteresis)")
        finally:
            runtime.dispose()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on the backends asked for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    for kind in ("sqlite", "postgresql"):
        if not getattr(args, f"no_{'postgres' if kind == 'postgresql' else kind}"):
            bench(kind, args.purchases, args.customers, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
