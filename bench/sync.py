"""Benchmark incremental sync on each CRM sandbox (HubSpot, Pipedrive, amoCRM, Bitrix24).

1. Throughput with the sandbox's rate limit off: records/s end to end through Qualify (connection,
   pipelines refresh, request_sync + run_queued_syncs) against a bare httpx loop fetching the same pages
   with the same queries, on SQLite and, with --postgres, PostgreSQL.
2. With the CRM's published limit on in the sandbox and Qualify's default limiter: the achieved request
   rate as a share of that limit (and of Qualify's own cap), the busiest window and the 429/503 answers.

Run: ``python -m bench.sync --crm hubspot|pipedrive|amocrm|bitrix24|all [--deals N] [--postgres URL]``.
Per-CRM pieces are in bench.sync_crms, the sandbox's child process in bench.sync_sandbox, rate arithmetic
in bench.sync_stats. Not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import make_url, select, text

from adapters.leaky_bucket import CLIENT_HEADROOM, LeakyBucket
from adapters.ratelimit import RateLimiter, forget_limiter
from adapters.registry import kind_of
from bench.common import bench_settings
from bench.sync_crms import CRM, CRMS, HUGE
from bench.sync_sandbox import running
from bench.sync_stats import bucket_phases, busiest, server_seconds, windowed_rate
from service.db import make_engine
from service.migrate import upgrade
from service.models import SyncRun
from service.runtime import build_runtime
from service.services.connections import add_connection, refresh_pipelines
from service.services.sync import EPOCH
from service.services.sync_runs import request_sync, run_queued_syncs

REJECTED = (429, 503)


@dataclass(frozen=True)
class Pass:
    """One fetch of every page: records, page requests, seconds, and the requests as the sandbox logged them."""

    records: int
    seconds: float
    calls: list[dict[str, Any]]

    @property
    def rate(self) -> float:
        """Records per second."""
        return self.records / self.seconds


def bare_fetch(crm: CRM, sandbox: Any) -> Pass:
    """Fetch every page with plain httpx, restarting a windowed query after ~10,000 results as the sync does."""
    logged = len(crm.page_calls(sandbox))
    started, count, since, after, seen = time.perf_counter(), 0, EPOCH, None, 0
    paging = kind_of(crm.kind).paging
    with crm.client(sandbox) as client:
        while True:
            page = crm.fetch(client, since, after)
            count += len(page.records)
            if page.next_after is None:
                return Pass(count, time.perf_counter() - started, crm.page_calls(sandbox)[logged:])
            seen += len(page.records)
            if paging.windowed_search and seen + paging.page_size > (paging.result_cap or 0):  # sync._advance
                since = max((crm.modified(r) for r in page.records), default=since)
                after, seen = None, 0
            else:
                after = page.next_after


def lifted_rate_limits(kind: str) -> dict[str, Any] | None:
    """Per-connection rate_limits lifting every default bucket of the kind (None: its limiter is not one of
    windowed buckets, e.g. Bitrix24's leaky bucket, which takes no overrides)."""
    probe = kind_of(kind).limiter("bench-probe", {})
    if not isinstance(probe, RateLimiter):
        return None
    return {bucket: {"requests": HUGE, "seconds": 1} for bucket in probe.buckets}


def qualify_sync(crm: CRM, sandbox: Any, database_url: str, *, limited: bool = False,
                 profile: cProfile.Profile | None = None) -> tuple[SyncRun, float, list[dict[str, Any]]]:
    """One first sync through Qualify (fetch + normalize + upsert + commit per page).

    Unlimited: the connection's rate_limits lift every bucket, and Bitrix24's leaky bucket (kept in
    the process-wide bucket, not in rate_limits) is made unlimited. Returns (run, seconds, page calls).
    """
    with tempfile.TemporaryDirectory() as tmp:
        runtime = build_runtime(bench_settings(Path(tmp)), engine=make_engine(database_url))
        upgrade(runtime.engine)
        with runtime.uow() as uow:
            connection = add_connection(runtime, uow.session, {
                "name": "bench", "kind": crm.kind, **crm.connection(sandbox),
                "rate_limits": None if limited else lifted_rate_limits(crm.kind)})
            uow.commit()
            cid = connection.id
        forget_limiter(f"connection:{cid}")  # another run's window must not carry over
        shared = kind_of(crm.kind).limiter(f"connection:{cid}", {})
        if isinstance(shared, LeakyBucket):  # the process-wide bucket every adapter of cid takes: set it per run
            plan = LeakyBucket.for_plan("standard", headroom=CLIENT_HEADROOM)
            shared.drain_rate, shared.capacity = (plan.drain_rate, plan.capacity) if limited else (float(HUGE), HUGE)
        refresh_pipelines(runtime, cid, "")
        with runtime.uow() as uow:
            request_sync(uow.session, cid, full=False, trigger="bench", now=runtime.clock())
            uow.commit()
        logged = len(crm.page_calls(sandbox))
        started = time.perf_counter()
        if profile is not None:
            profile.enable()
        run_queued_syncs(runtime)
        if profile is not None:
            profile.disable()
        elapsed = time.perf_counter() - started
        with runtime.uow() as uow:
            run = uow.session.scalars(select(SyncRun)).one()
        runtime.dispose()
        return run, elapsed, crm.page_calls(sandbox)[logged:]


@contextmanager
def scratch_database(postgres_url: str | None, tmp: str) -> Iterator[str]:
    """A fresh SQLite file, or a fresh schema in the PostgreSQL database (dropped afterwards)."""
    if not postgres_url:
        yield f"sqlite:///{tmp}/sync.db"
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def print_profile(profile: cProfile.Profile, top: int = 15) -> None:
    """The `top` functions by own time, then by cumulative time, prefixed so they stand out."""
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        lines = [line for line in out.getvalue().splitlines() if line.strip()]
        start = next(i for i, line in enumerate(lines) if "ncalls" in line)
        for line in lines[start - 1:]:
            print(f"  profile[{order}] {line}")


def throughput(crm: CRM, deals: int, postgres: str | None, profile: bool = False, repeat: int = 1) -> None:
    """Print records/s through Qualify vs bare httpx on SQLite (and PostgreSQL), limits off.

    With `repeat` > 1 the passes run in `repeat` rounds (bare, then each database), each sync compared with
    the bare pass of its own round, and the median ratio counts: this machine's speed drifts over minutes,
    and a bare pass measured minutes apart would count the drift as Qualify's.
    """
    targets = [("SQLite", None)] + ([("PostgreSQL", postgres)] if postgres else [])
    ratios: dict[str, list[float]] = {name: [] for name, _ in targets}
    with running(crm.kind, deals) as sandbox:
        for round_number in range(1, repeat + 1):
            bare = bare_fetch(crm, sandbox)
            bare_requests = [crm.request_of(c) for c in bare.calls]
            busy = server_seconds(bare.calls)
            label = f" (round {round_number} of {repeat})" if repeat > 1 else ""
            print(f"{crm.kind} bare httpx{label}: {bare.records} deals in {len(bare.calls)} pages, "
                  f"{bare.seconds:.1f} s = {bare.rate:.0f} records/s (sandbox busy {busy:.1f} s = "
                  f"{busy / bare.seconds:.0%} of it; seeded {deals} in {sandbox.seed_seconds:.1f} s)")
            for name, url in targets:
                profiler = cProfile.Profile() if profile else None
                with tempfile.TemporaryDirectory() as tmp, scratch_database(url, tmp) as db:
                    run, seconds, calls = qualify_sync(crm, sandbox, db, profile=profiler)
                rate = run.fetched / seconds
                ratios[name].append(rate / bare.rate)
                same = "yes" if [crm.request_of(c) for c in calls] == bare_requests else "NO"
                print(f"{crm.kind} sync {name}{label}: {run.fetched} deals in {run.pages} pages, {seconds:.1f} s = "
                      f"{rate:.0f} records/s; bare httpx {bare.rate:.0f} records/s; ratio {rate / bare.rate:.2f} "
                      f"(target >= 0.7); same requests as bare: {same}; sandbox busy {server_seconds(calls):.1f} s; "
                      f"status {run.status} {run.last_error or ''}".rstrip())
                if profiler is not None:
                    print_profile(profiler)
    if repeat > 1:
        for name, found in ratios.items():
            print(f"{crm.kind} sync {name}: median ratio {statistics.median(found):.2f} over {repeat} rounds "
                  f"(min {min(found):.2f}, max {max(found):.2f}; target >= 0.7)")


def limited_run(crm: CRM, deals: int | None = None) -> None:
    """Print the achieved request rate against the CRM's published limit, Qualify's default limiter on."""
    limit = crm.limit
    with running(crm.kind, deals or limit.deals, limited=True) as sandbox:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            run, seconds, calls = qualify_sync(crm, sandbox, f"sqlite:///{tmp}/sync.db", limited=True)
        total = time.perf_counter() - started
        every = sandbox.api_calls()
    rejected = sum(1 for c in calls if c["status"] in REJECTED)
    handled = "all retried, " if rejected and run.status == "done" else ""
    tail = (f"429/503 answers: {rejected} ({handled}run {run.status}{' ' + run.last_error if run.last_error else ''}"
            f"); {run.fetched} deals, sync {seconds:.1f} s, total {total:.1f} s")
    times = sorted(c["received_at"] for c in calls if c["status"] not in REJECTED)
    ours = limit.qualify[0] / limit.qualify[1]
    if limit.burst:
        accepted = sorted(c["received_at"] for c in every if c["status"] not in REJECTED)
        drain = limit.requests / limit.seconds
        phases = bucket_phases(accepted, drain, limit.qualify_burst or limit.burst)  # filled as far as we let it
        burst_rate = phases.burst_calls / phases.burst_seconds if phases.burst_seconds else 0.0
        print(f"{crm.kind} rate-limited sync: {len(calls)} page requests; burst until the bucket was full: "
              f"{phases.burst_calls} requests in {phases.burst_seconds:.1f} s = {burst_rate:.1f} req/s; then steady "
              f"drain: {phases.steady_calls} requests at {phases.steady_rate:.2f} req/s = "
              f"{phases.steady_rate / drain:.0%} of {limit.what} (target >= 90%), {phases.steady_rate / ours:.0%} "
              f"of Qualify's own bucket; peak bucket level {phases.peak:.1f} (capacity {limit.burst}, Qualify's "
              f"{limit.qualify_burst or limit.burst}); {tail}")
        return
    rate = windowed_rate(times, limit.seconds)
    published = limit.requests / limit.seconds
    print(f"{crm.kind} rate-limited sync: {len(calls)} page requests, {rate:.2f} req/s = {rate / published:.0%} of "
          f"{limit.what} (target >= 90%), {rate / ours:.0%} of Qualify's own {limit.qualify[0]} per "
          f"{limit.qualify[1]:g} s cap; busiest {limit.seconds:g}-s window: {busiest(times, limit.seconds)} requests "
          f"(limit {limit.requests}); {tail}")


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crm", choices=[*CRMS, "all"], default="all")
    parser.add_argument("--deals", type=int, default=100_000, help="deals for the throughput runs")
    parser.add_argument("--postgres", default="", help="also measure on this PostgreSQL URL")
    parser.add_argument("--limited-deals", type=int, default=None,
                        help="deals for the rate-limited runs (default: per CRM, ~30 s at Qualify's cap)")
    parser.add_argument("--skip", choices=["throughput", "limited"], default=None, help="leave one part out")
    parser.add_argument("--profile", action="store_true", help="cProfile the sync runs (main thread) and print the top")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the throughput passes in N rounds (bare, then each database); median ratio")
    args = parser.parse_args()
    for kind in CRMS if args.crm == "all" else [args.crm]:
        if args.skip != "throughput":
            throughput(CRMS[kind], args.deals, args.postgres or None, args.profile, max(1, args.repeat))
        if args.skip != "limited":
            limited_run(CRMS[kind], args.limited_deals)


if __name__ == "__main__":
    main()
