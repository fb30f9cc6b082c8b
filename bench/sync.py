"""Benchmark incremental sync (HubSpot sandbox): records/s end to end against a bare httpx loop that
fetches the same pages, on SQLite and PostgreSQL; and, with HubSpot's search limit switched on in the
sandbox, the achieved search-request rate as a share of that limit.

Run: ``python -m bench.sync [--deals N] [--postgres URL]``. Not a test.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import make_url, select, text

from adapters.sandbox.hubspot import HubSpotSandbox
from bench.common import bench_settings
from service.db import make_engine
from service.migrate import upgrade
from service.models import SyncRun
from service.runtime import build_runtime
from service.services.connections import create_connection, refresh_pipelines
from service.services.sync import request_sync, run_queued_syncs

TOKEN = "pat-bench"
UNLIMITED = (10_000_000, 1.0)


def seeded_sandbox(deals: int, search_rate_limit: tuple[int, float] = UNLIMITED) -> HubSpotSandbox:
    """A HubSpot sandbox holding `deals` deals (no webhooks are sent: no target is set)."""
    sandbox = HubSpotSandbox(access_token=TOKEN, rate_limit=UNLIMITED, search_rate_limit=search_rate_limit)
    sandbox.start()
    for i in range(deals):
        sandbox.ui_create_deal({"dealname": f"D{i}", "dealstage": "appointmentscheduled", "pipeline": "default",
                                "amount": str(i)})
    return sandbox


def bare_fetch(base_url: str) -> tuple[int, float]:
    """Fetch every page of the same search with plain httpx; (deals, seconds)."""
    started, count, after, since = time.perf_counter(), 0, None, "0"
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        seen_in_window = 0
        while True:
            body = {"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE",
                                                   "value": since}]}],
                    "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                    "properties": ["dealname", "amount", "dealstage", "pipeline", "hs_lastmodifieddate"],
                    "limit": 200, **({"after": after} if after else {})}
            page = client.post("/crm/v3/objects/deals/search", json=body).json()
            results = page.get("results") or []
            count += len(results)
            seen_in_window += len(results)
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return count, time.perf_counter() - started
            if seen_in_window + 200 > 10_000:  # the same window split the sync does
                newest = results[-1]["properties"]["hs_lastmodifieddate"]
                since = str(int(datetime.fromisoformat(newest.replace("Z", "+00:00")).timestamp() * 1000))
                after, seen_in_window = None, 0


def qualify_sync(base_url: str, database_url: str, rate_limits: dict | None = None) -> tuple[SyncRun, float]:
    """One full first sync through Qualify (fetch + normalize + upsert + commit per page); (run, seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(Path(tmp))
        engine = make_engine(database_url)
        runtime = build_runtime(settings, engine=engine)
        upgrade(engine)
        with runtime.uow() as uow:
            connection = create_connection(runtime, uow, {
                "name": "bench", "kind": "hubspot", "base_url": base_url, "access_token": TOKEN,
                "client_secret": "s", "rate_limits": rate_limits or {
                    "default": {"requests": 1_000_000, "seconds": 1}, "search": {"requests": 1_000_000, "seconds": 1}}})
            uow.commit()
            cid = connection.id
        refresh_pipelines(runtime, cid)
        with runtime.uow() as uow:
            request_sync(uow, cid, full=False, trigger="bench", now=runtime.clock())
            uow.commit()
        started = time.perf_counter()
        run_queued_syncs(runtime)
        elapsed = time.perf_counter() - started
        with runtime.uow() as uow:
            run = uow.session.scalars(select(SyncRun)).one()
        runtime.dispose()
        return run, elapsed


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


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--postgres", default="")
    args = parser.parse_args()
    sandbox = seeded_sandbox(args.deals)
    try:
        fetched, bare_seconds = bare_fetch(sandbox.base_url)
        bare_rate = fetched / bare_seconds
        targets = [("SQLite", None)] + ([("PostgreSQL", args.postgres)] if args.postgres else [])
        for name, url in targets:
            with tempfile.TemporaryDirectory() as tmp, scratch_database(url, tmp) as db:
                run, seconds = qualify_sync(sandbox.base_url, db)
                rate = run.fetched / seconds
                print(f"sync {name}: {run.fetched} deals in {seconds:.1f} s = {rate:.0f} records/s; bare httpx "
                      f"{bare_rate:.0f} records/s; ratio {rate / bare_rate:.2f} (target >= 0.7); "
                      f"status {run.status} {run.last_error or ''}")
    finally:
        sandbox.stop()
    limited = seeded_sandbox(min(args.deals, 8_000), search_rate_limit=(5, 1.0))
    try:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            run, seconds = qualify_sync(limited.base_url, f"sqlite:///{tmp}/sync.db",
                                        rate_limits={"search": {"requests": 5, "seconds": 1.05}})
        searches = limited.api_calls(method="POST", path_prefix="/crm/v3/objects/deals/search")
        rejected = sum(1 for c in searches if c["status"] == 429)
        times = sorted(float(c["at"]) for c in searches)
        achieved = (len(times) - 1) / (times[-1] - times[0])  # steady rate between the first and last request
        busiest = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
        print(f"rate-limited sync: {len(times)} search requests, {achieved:.2f} req/s = {achieved / 5:.0%} of "
              f"HubSpot's 5/s search limit (target >= 90%); busiest 1-s window: {busiest} requests (limit 5); "
              f"429s: {rejected}; run {run.status}; sync {seconds:.1f} s, total {time.perf_counter() - started:.1f} s")
    finally:
        limited.stop()


if __name__ == "__main__":
    main()
