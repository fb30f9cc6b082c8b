"""Faults with real `qualify` processes: a worker SIGKILLed 200 times, PostgreSQL restarted under load, the CRM
answering 429/5xx storms and stalling, and every kind of process writing one SQLite file at once.

What a test expects is computed from what it sent (which deals it moved, blocked or allowed, and the events in
the webhook POSTs Qualify acknowledged) and checked against what the CRM sandbox recorded (its API calls and
tasks). Each test prints what it measured. `-m 'not pg_restart'` leaves out the one that restarts this machine's
PostgreSQL server."""

from __future__ import annotations

import contextlib
import inspect
import os
import random
import shutil
import signal
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from adapters.http_adapter import HttpCRMAdapter
from tests.conftest import SKIP_PG
from tests.e2e.faults import (
    GATED,
    START,
    Deployment,
    Mover,
    MoveSender,
    Zygote,
    acknowledged_keys,
    action_notes,
    blocked_decisions,
    create_deals,
    deployment,
    event_statuses,
    failed_events,
    interleave,
    lines_with,
    quiet_webhooks,
    reverts,
    run,
    sqlite_database,
    statuses,
    wait_settled,
    wrong_counts,
)
from tests.e2e.processes import pg_database

pytestmark = pytest.mark.processes
needs_pg = pytest.mark.skipif(SKIP_PG, reason="runs on PostgreSQL")


@pytest.fixture
def pg() -> Iterator[Engine]:
    with pg_database() as engine:
        yield engine


def seeded(d: Deployment, blocked: int, allowed: int) -> tuple[list[str], list[str]]:
    """Deals created in the first stage (`allowed` of them filled for the gate) while no webhook is sent, then
    recorded by a first `qualify sync`, which gates nothing: Qualify knows them before the test moves them."""
    with quiet_webhooks(d.sandbox, d.hook):
        deals = (create_deals(d.sandbox, blocked, filled=False, name="Blocked"),
                 create_deals(d.sandbox, allowed, filled=True, name="Allowed"))
        assert run(d, "sync-first", "sync", str(d.connection_id)) == 0
    return deals


def assert_each_decided_once(d: Deployment, blocked: list[str], allowed: list[str],
                             excused: frozenset[str] = frozenset()) -> None:
    """Every acknowledged event processed; one blocked decision, one revert and one task per blocked move and
    none for an allowed one; every CRM action delivered. Events whose delivery keys are `excused` are left out
    (their deals should be too)."""
    stored = event_statuses(d.engine)
    lost = sorted(k for k in acknowledged_keys(d.sandbox) - excused if stored.get(k) not in ("done", "ignored"))
    assert not lost, f"acknowledged events not processed: {[(k, stored.get(k)) for k in lost[:5]]}"
    wrong = wrong_counts(d.sandbox, blocked, allowed)
    assert not wrong, f"(reverts, tasks) per deal, expected (1, 1) if blocked and (0, 0) if allowed: {wrong}"
    decisions = blocked_decisions(d.engine)
    assert {deal: len(decisions.get(deal, [])) for deal in blocked + allowed} == \
        {deal: 1 for deal in blocked} | {deal: 0 for deal in allowed}
    stages = {deal: d.sandbox.deal(deal)["properties"]["dealstage"] for deal in blocked + allowed}
    assert stages == {deal: START for deal in blocked} | {deal: GATED for deal in allowed}
    taken = sum(len(sources) for sources in decisions.values())  # a revert and a task each
    assert statuses(d.engine, "outbox") == ({"done": 2 * taken} if taken else {})


def regated_by_sync(d: Deployment, blocked: list[str]) -> dict[str, list[str]]:
    """Blocked deals whose one move was decided twice, the second time by a sync, each with one revert and one
    task per decision: a sync that read the deal before Qualify's revert was delivered and decided after it
    (see the report of issue 16). Fails on any other way of getting the counts wrong."""
    twice = {deal: sources for deal, sources in blocked_decisions(d.engine).items()
             if deal in blocked and len(sources) > 1}
    for deal, sources in twice.items():
        assert sources[1:] == ["sync"] * (len(sources) - 1), f"deal {deal} decided by {sources}"
        assert len(d.sandbox.tasks_for_deal(deal)) == len(sources) and reverts(d.sandbox, deal) == 1, deal
    return twice


# ---- 1. the worker SIGKILLed at random points ------------------------------------------------------------------

KILLS = 200
# When a worker is SIGKILLed: a random 0-250 ms after it took its first event or action (it claims one at a time,
# worker_batch 1), or after 0.5 s when there was nothing to take. A forked worker starts taking work ~0.1 s after
# it was started (more on a busy machine) and decides an event ~0.1 s later, so kills land on claims, CRM reads,
# decisions and deliveries alike, however busy the machine.
KILL_AFTER, IDLE = 0.25, 0.5
DEALS = (120, 40)  # blocked, allowed: more than the kills get through
BACKLOG = 24  # the manager waits while this many events and actions are unfinished, so work never runs out


def taken_since(engine: Engine, since: datetime, *, unfinished_only: bool = False) -> int:
    """Events and actions claimed (or, for actions, created) at or after `since`; with `unfinished_only`, those
    still left processing or in flight."""
    events, actions = ("status = 'processing' AND ", "status = 'in_flight' AND ") if unfinished_only else ("", "")
    with engine.connect() as conn:
        return int(conn.execute(text(
            f"SELECT (SELECT count(*) FROM inbound_events WHERE {events}started_at >= :t) + "
            f"(SELECT count(*) FROM outbox WHERE {actions}next_attempt_at >= :t)"), {"t": since}).scalar_one())


@needs_pg
@pytest.mark.timeout(180)  # 60-85 s here; a busy machine slows every one of the 200 restarts
def test_given_a_worker_killed_200_times_during_blocked_moves_then_each_is_reverted_and_tasked_once(
        pg: Engine, tmp_path: Path) -> None:
    """One `qualify worker` at a time is SIGKILLed at a random point of its work and started again at once, 200
    times, while the manager moves deals (3 in 4 blocked) as fast as the workers get through them. The workers
    come from a fork server (tests/e2e/faults.py): a fresh `qualify worker` spends ~0.7 s of CPU on imports, a
    forked one starts in ~20 ms, so 200 kills take 50-75 s. Claims go stale after 0.5 s (one worker lives at a time,
    so nothing is claimed twice while alive). Then a clean worker finishes what the kills left."""
    started = time.monotonic()
    with deployment(pg, tmp_path, crm_limit=(5000, 10.0), limit=(5000, 10.0), embedded_worker="0",
                    event_stale_seconds="0.5", outbox_in_flight_stale_seconds="0.5", worker_batch="1") as d:
        blocked, allowed = seeded(d, *DEALS)
        setup = time.monotonic() - started
        mover = Mover(d.sandbox, interleave(blocked, allowed), 0.1, backlog=(pg, BACKLOG))
        zygote = Zygote(d.env, tmp_path / "zygote.log")
        rng, kill_statuses, interrupted, idle = random.Random(), [], 0, 0
        kills_started = time.monotonic()
        try:
            mover.start()
            for _ in range(KILLS):
                born = datetime.now(UTC)
                pid = zygote.spawn(tmp_path / "killed-workers.log")
                deadline = time.monotonic() + IDLE
                while not taken_since(pg, born) and time.monotonic() < deadline:
                    time.sleep(0.01)
                idle += time.monotonic() >= deadline
                time.sleep(rng.uniform(0, KILL_AFTER))
                kill_statuses.append(zygote.kill(pid))
                interrupted += taken_since(pg, born, unfinished_only=True) > 0
        finally:
            mover.stop.set()
            mover.join()
            zygote.close()
        kill_phase = time.monotonic() - kills_started
        left = statuses(pg, "inbound_events"), statuses(pg, "outbox")
        d.processes.start("worker-last", d.env, "worker")
        settle = wait_settled(pg, d.sandbox, 90)
        moved = set(mover.moved)

        print(f"\nkills: {len(kill_statuses)} in {kill_phase:.1f} s, {interrupted} of them with an event or action "
              f"the worker had claimed unfinished, {idle} of a worker that found nothing to do; left then: events "
              f"{left[0]}, actions {left[1]}; setup {setup:.1f} s, settled {settle:.1f} s after the last kill")
        print(f"moves: {len(moved & set(blocked))} blocked, {len(moved & set(allowed))} allowed; webhook deliveries "
              f"{len(d.sandbox.webhook_deliveries())}, events acknowledged {len(acknowledged_keys(d.sandbox))}")
        killed = [s for s in kill_statuses if os.WIFSIGNALED(s) and os.WTERMSIG(s) == signal.SIGKILL]
        assert len(killed) == KILLS, f"workers that ended otherwise: {set(kill_statuses) - set(killed)}"
        assert interrupted >= KILLS // 4, "too few kills landed on claimed work to prove anything"
        assert {x["status"] for x in d.sandbox.webhook_deliveries()} == {200}
        assert_each_decided_once(d, [deal for deal in blocked if deal in moved],
                                 [deal for deal in allowed if deal in moved])
        assert wrong_counts(d.sandbox, [], [deal for deal in blocked + allowed if deal not in moved]) == {}
        print(f"reverts and tasks: {len(moved & set(blocked))} deals x 1 each, the others x 0; delivered actions "
              f"by note: {action_notes(pg)}")


# ---- 2. PostgreSQL restarted under load ------------------------------------------------------------------------

PG_RESTART = ["pg_ctlcluster", "--skip-systemctl-redirect", *sorted(os.listdir("/etc/postgresql"))[:1], "main",
              "restart"] if os.path.isdir("/etc/postgresql") else []


def pg_ready(timeout: float) -> bool:
    """Wait until PostgreSQL accepts connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"], check=False).returncode == 0:
            return True
        time.sleep(0.2)
    return False


class ReadyProbe(threading.Thread):
    """Polls /readyz every 0.1 s, noting (time.time(), status) whenever the status changes."""

    def __init__(self, base: str) -> None:
        super().__init__(name="readyz", daemon=True)
        self.base, self.changes, self.stop = base, [(time.time(), 200)], threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            try:
                status = httpx.get(f"{self.base}/readyz", timeout=2).status_code
            except httpx.TransportError:
                status = 0
            if status != self.changes[-1][1]:
                self.changes.append((time.time(), status))


@pytest.mark.pg_restart
@needs_pg
@pytest.mark.skipif(not PG_RESTART or not shutil.which("pg_ctlcluster"), reason="needs the local PostgreSQL cluster")
def test_given_postgresql_restarted_mid_load_then_deliveries_get_503_nothing_acknowledged_is_lost_and_it_recovers(
        pg: Engine, tmp_path: Path) -> None:
    """The manager moves a deal every 0.25 s; 1.5 s in, PostgreSQL restarts. The sandbox retries a delivery that
    got no 2xx every 0.5 s for 30 s (HubSpot retries 10 times over a day). The web and worker processes are never
    restarted. Run it alone: it cuts every other PostgreSQL client on this machine for a few seconds."""
    with deployment(pg, tmp_path, embedded_worker="0", event_stale_seconds="1",
                    outbox_in_flight_stale_seconds="1") as d:
        blocked, allowed = seeded(d, 15, 5)
        d.sandbox.config(retry_delays=[0.5] * 60)
        web = d.processes.started[0]
        worker = d.processes.start("worker", d.env, "worker")
        base = str(d.api.base_url).rstrip("/")
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/readyz", timeout=5).status_code != 200:  # the worker's first heartbeat
            assert time.monotonic() < deadline, "Qualify never got ready"
            time.sleep(0.1)
        probe = ReadyProbe(base)
        probe.start()
        mover = Mover(d.sandbox, interleave(blocked, allowed), 0.25)
        try:
            mover.start()
            time.sleep(1.5)
            began = time.time()
            restart = subprocess.run(PG_RESTART, capture_output=True, text=True, timeout=60, check=False)
            restarted = time.time()
            mover.join()
            settle = wait_settled(pg, d.sandbox, 60)
        finally:
            probe.stop.set()
            if not pg_ready(1):
                subprocess.run([*PG_RESTART[:-1], "start"], check=False)
                pg_ready(30)
        assert restart.returncode == 0, restart.stderr
        deliveries = d.sandbox.webhook_deliveries()
        refused = [x for x in deliveries if x["status"] != 200]
        down = max((t for t, status in probe.changes if t > began and status != 200), default=None)
        ready_again = next((t for t, status in probe.changes if down and t > down and status == 200), None)
        window = [x["at"] / 1000 - began for x in refused]
        print(f"\nPostgreSQL restart took {restarted - began:.1f} s; deliveries: {len(deliveries)}, refused "
              f"{len(refused)} ({sum(x['status'] == 503 for x in refused)} with 503, "
              f"{sum(x['status'] == 500 for x in refused)} with 500) from {min(window, default=0):.1f} to "
              f"{max(window, default=0):.1f} s after the restart began; /readyz answered "
              f"{sorted({str(status) for _, status in probe.changes})}, ready again "
              f"{'-' if ready_again is None else f'{ready_again - restarted:+.1f} s'} after the restart ended; "
              f"everything processed {settle:.1f} s after that")
        assert web.poll() is None and worker.poll() is None, "a process died instead of recovering"
        assert refused, "no delivery met the outage: the test proved nothing"
        assert probe.changes[-1][1] == 200, "/readyz did not recover"
        # The second bug below: an event whose transaction lost its connection is failed for good, its move
        # gated or not depending on whether its COMMIT reached the server; never twice.
        dropped = {key: deal for key, (deal, error) in failed_events(pg).items() if "OperationalError" in error}
        for deal in set(dropped.values()):
            assert reverts(d.sandbox, deal) <= 1 and len(d.sandbox.tasks_for_deal(deal)) <= 1, deal
        assert_each_decided_once(d, [deal for deal in blocked if deal not in dropped.values()],
                                 [deal for deal in allowed if deal not in dropped.values()], frozenset(dropped))
        assert {x["status"] for x in refused} <= {500, 503}, "deliveries that got neither 503 nor 500"
        bugs = [f"{sum(x['status'] == 500 for x in refused)} deliveries during the outage got 500, not 503: "
                "receive_webhook (service/services/intake.py) reads the connection's version (_verifier) outside its "
                "`except SQLAlchemyError` -> StorageError, so a refused database connection is an unhandled error "
                "(HubSpot retries a 500 too, so nothing was lost)"] if any(x["status"] == 500 for x in refused) else []
        bugs += [f"acknowledged events of deals {sorted(set(dropped.values()))} ended failed (their moves are "
                 "never gated if the COMMIT was lost): process_event (service/services/events.py) fails an event for "
                 "good on any exception of _apply, a connection dropped at COMMIT included, when the next connection "
                 "works"] if dropped else []
        if bugs:
            pytest.xfail("; ".join(bugs))


# ---- 3. CRM storms and stalls ----------------------------------------------------------------------------------

STALL = 30.0  # seconds the sandbox holds a stalled request
TIMEOUT = inspect.signature(HttpCRMAdapter.__init__).parameters["timeout"].default  # Qualify's read timeout
ACK_BOUND = TIMEOUT / 2  # an ack that waited on one stalled CRM call took the whole timeout
RETRY_AFTER = 0.5
CRM_LIMIT, LIMIT = (12, 2.0), (10, 2.0)  # the sandbox's rate limit, and the connection's a margin under it
STORM = [("timeout", 1, "GET"), ("429", 6, None), ("503", 4, None), ("timeout", 1, "GET"), ("500", 4, None),
         ("429", 4, None)]  # in the order they fire: (mode, requests, method or any)


def test_given_crm_storms_and_stalls_then_webhook_acks_never_wait_and_everything_is_delivered_once(
        tmp_path: Path) -> None:
    """The embedded deployment (one `qualify serve` on SQLite, worker and scheduler inside) while the CRM answers
    429 (Retry-After 0.5 s) and 500/503 storms and holds two deal reads for 30 s, its rate limit lowered to 12
    calls per 2 s (the connection's to 10) so Qualify's limiter has to hold calls back. The adapter gives up on a
    stalled read after its own 10 s timeout (not configurable per process), so each stall costs 10 s, not 30.
    The test sends the webhooks itself to time each ack: the moves, then HubSpot-style redeliveries of them every
    0.1 s until the stalls are over. No ack may take half the adapter's timeout: one that waited on a stalled
    call would have taken all of it."""
    with sqlite_database(tmp_path) as engine, deployment(engine, tmp_path, crm_limit=CRM_LIMIT, limit=LIMIT,
                                                         outbox_max_backoff_seconds="2") as d:
        blocked = create_deals(d.sandbox, 9, filled=False, name="Blocked")
        allowed = create_deals(d.sandbox, 3, filled=True, name="Allowed")
        wait_settled(engine, d.sandbox, 30)
        d.sandbox.config(webhook_url=None)
        for mode, count, method in STORM:
            d.sandbox.fail_next(mode, count, path_prefix="/crm/v3/objects/deals/" if method else "/crm/",
                                method=method, retry_after=RETRY_AFTER, delay=STALL)
        calls_before = len(d.sandbox.api_calls())
        sender = MoveSender(d.hook, d.sandbox.portal_id)
        started = time.time()
        for deal in interleave(blocked, allowed):
            d.sandbox.ui_move_deal(deal, GATED, user_id=45678)
            sender.send(deal, GATED)
            time.sleep(0.2)
        stalls: list[float] = []
        while len(stalls) < 2 or time.time() < stalls[-1] + TIMEOUT + 1:
            stalls = [t for t, mode, _, _ in d.sandbox.fired if mode == "timeout"]
            assert time.time() < started + 120, f"the stalls never fired: {d.sandbox.fired}"
            sender.redeliver(random.choice(sender.sent))  # acknowledged as a duplicate
            time.sleep(0.1)
        settle = wait_settled(engine, d.sandbox, 90)
        calls = d.sandbox.api_calls()[calls_before:]
        fired = list(d.sandbox.fired)
        acks = sender.acks
        during = [a for a in acks if any(t <= a.sent_at <= t + TIMEOUT for t in stalls)]
        seconds = sorted(a.seconds for a in acks)
        kinds = {mode: sum(f[1] == mode for f in fired) for mode in ("429", "500", "503", "timeout")}
        times = sorted(c["received_at"] for c in calls)
        busiest = max(sum(1 for u in times if t <= u < t + LIMIT[1]) for t in times)
        print(f"\nfaults fired: {kinds}; acks: {len(acks)}, {len(during)} while a read stalled; p50 "
              f"{statistics.median(seconds) * 1000:.0f} ms, max {seconds[-1] * 1000:.0f} ms (bound {ACK_BOUND:.0f} s); "
              f"CRM calls {len(calls)}, at most {busiest} in {LIMIT[1]:.0f} s; settled "
              f"{settle:.1f} s after the stalls; {time.time() - started:.1f} s from the first move")
        assert {a.status for a in acks} == {200}
        assert during, "no ack was sent while the CRM stalled"
        assert seconds[-1] < ACK_BOUND
        assert not d.sandbox.failures.rules, "some injected faults never fired"
        injected_429 = sum(mode == "429" for _, mode, _, _ in fired)
        assert sum(c["status"] == 429 for c in calls) == injected_429, "the sandbox's own rate limit was hit"
        early = [(method, path) for t, mode, method, path in fired if mode == "429" and any(
            c["method"] == method and c["path"] == path and t < c["received_at"] < t + RETRY_AFTER - 0.02
            for c in calls)]
        assert not early, f"retried sooner than Retry-After: {early}"
        assert_each_decided_once(d, blocked, allowed)
        assert statuses(engine, "inbound_events").keys() <= {"done", "ignored"}


# ---- 4. every kind of process on one SQLite file ---------------------------------------------------------------

PERSONA = {"name": "IT buyer", "ring": "core", "criteria": [
    {"field": "industry", "matcher": "in", "values": ["it", "finance"], "weight": 2},
    {"field": "company_size", "matcher": "range", "min": 10, "max": 1000}]}


class Repeat(threading.Thread):
    """Runs one `qualify` command again and again until stopped; the exit code of each run."""

    def __init__(self, d: Deployment, name: str, *args: str) -> None:
        super().__init__(name=name, daemon=True)
        self.d, self.args, self.stop = d, args, threading.Event()
        self.codes: list[int] = []

    def run(self) -> None:
        while not self.stop.is_set():
            self.codes.append(run(self.d, f"{self.name}-{len(self.codes)}", *self.args))


def test_given_web_worker_sync_and_rescore_processes_on_one_sqlite_file_then_no_database_is_locked_error(
        tmp_path: Path) -> None:
    """`qualify serve` (two gunicorn processes, no embedded worker), `qualify worker`, `qualify sync --full` and
    `qualify rescore` (a persona over 200 deals, committing every 50) run over and over while the manager moves 24
    deals: no process may log "database is locked", every delivery is acknowledged, every run succeeds."""
    with sqlite_database(tmp_path) as engine, deployment(engine, tmp_path, embedded_worker="0",
                                                         rescore_batch_size="50") as d:
        d.api.post("/v1/personas", json=PERSONA).raise_for_status()
        with quiet_webhooks(d.sandbox, d.hook):
            create_deals(d.sandbox, 176, filled=True, name="Other")
        blocked, allowed = seeded(d, 18, 6)
        started = time.monotonic()
        d.processes.start("worker", d.env, "worker")
        loops = [Repeat(d, "sync", "sync", "--full", str(d.connection_id)), Repeat(d, "rescore", "rescore")]
        mover = Mover(d.sandbox, interleave(blocked, allowed), 0.25)
        for thread in (*loops, mover):
            thread.start()
        with contextlib.ExitStack() as stack:
            for loop in loops:
                stack.callback(loop.join)
                stack.callback(loop.stop.set)
            mover.join()
            while min(len(loop.codes) for loop in loops) < 2:
                time.sleep(0.2)
        settle = wait_settled(engine, d.sandbox, 60)
        locked = {path.name: lines for path in sorted(tmp_path.glob("*.log"))
                  if (lines := lines_with(path, "database is locked"))}
        print(f"\nprocesses: web, worker, {len(loops[0].codes)} syncs, {len(loops[1].codes)} rescores in "
              f"{time.monotonic() - started:.1f} s; deliveries {len(d.sandbox.webhook_deliveries())}; settled "
              f"{settle:.1f} s after; 'database is locked' in {len(locked)} logs; the CRM answered "
              f"{sum(c['status'] == 429 for c in d.sandbox.api_calls())} calls with 429 (each process limits "
              f"itself on SQLite)")
        assert not locked, locked
        assert {x["status"] for x in d.sandbox.webhook_deliveries()} == {200}
        assert set(loops[0].codes) == set(loops[1].codes) == {0}
        twice = regated_by_sync(d, blocked)
        if twice:
            assert_each_decided_once(d, [deal for deal in blocked if deal not in twice], allowed)
            pytest.xfail(f"deals {sorted(twice)}: one move decided twice, by the worker (webhook) and again by a "
                         "sync whose read of the deal predates Qualify's revert but whose transaction came after its "
                         "delivery, so the record already showed the reverted stage and no revert was pending: a "
                         "second blocked transition and a second task in the CRM")
        assert_each_decided_once(d, blocked, allowed)
