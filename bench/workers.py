"""Outbox delivery scaling: 10,000 queued actions delivered by 1 `qualify worker` process, then by 4, against the
HubSpot sandbox with its rate limit off, on PostgreSQL; each action must reach the CRM exactly once.

Run: ``python -m bench.workers [--actions 10000] [--workers 1,4] [--postgres URL] [--profile]``.

Each pass queues `--actions` outbox actions, half revert_stage (a deal the sandbox holds in the blocked stage:
read it, move it back) and half create_task (one task on the same deal), in one transaction once every worker
process of the pass has written its heartbeat (so process start-up is not timed). Throughput counts from the
first claim to the last action done (the database's own timestamps). Then the sandbox's call log is counted per
action: PATCHes of each deal and task creations carrying each action's marker must be exactly 1 (a double claim
would show as 2), and no action may have been claimed twice (attempts > 1). The connection's rate limits are
lifted, so Qualify's limiter only does its bookkeeping (PostgreSQL rate_limit_states: one short transaction per
CRM call, shared by every process). CPU seconds of the workers, the sandbox and PostgreSQL are printed per
action (PostgreSQL: the workers' own sessions, bench/pg_backends.py), and what those sessions were doing (sampled
every 20 ms: running, waiting on a lock or the WAL flush, idle waiting for the worker): on 2 cores, 4 processes
can exceed 1 by more than 2x only as far as one worker waits on I/O.
`--profile` runs the single worker under cProfile (CPU time) and prints where it spends (`--profile-out PATH` keeps
its pstats file).

The sandbox runs in a child process (a remote CRM, not sharing this process's interpreter lock). It answers at
once by default: then every action is CPU on the machine's 2 cores, and 4 workers can beat one only as far as one
leaves a core idle. `--latency-ms 50` holds each answer 50 ms, as a real CRM's round trip over the internet does
(HubSpot, Pipedrive: tens to hundreds of ms): what a worker waits for, and what more workers overlap.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import delete, func, insert, select, text

from bench.measure import machine_busy_seconds
from bench.pg_backends import Backends, tagged
from bench.sync import lifted_rate_limits, scratch_database
from bench.webhook_load import PG_URL, tree_cpu_seconds
from service.config import Settings
from service.migrate import upgrade
from service.models import ActionStatus, OutboxAction
from service.runtime import Runtime, build_runtime
from service.services import connections

TOKEN = "pat-bench-token"
HUGE = 10**9
BLOCKED, BACK = "qualifiedtobuy", "appointmentscheduled"
ROOT = Path(__file__).resolve().parents[1]
TASKS_PATH = "/crm/v3/objects/tasks"
DEALS_PATH = "/crm/v3/objects/deals/"


# ---- the sandbox, in a child process ---------------------------------------------------------------------------
def _sandbox_child(conn: Connection, latency: float = 0.0) -> None:
    """Serve an unlimited HubSpot sandbox (each API answer held `latency` seconds); answer "seed n" (new deals in
    the blocked stage), "deliveries" (PATCHes per deal and task creations per marker since the last call) and
    "cpu" until "stop"."""
    from adapters.sandbox.hubspot import HubSpotSandbox

    sandbox = HubSpotSandbox(access_token=TOKEN, rate_limit=(HUGE, 1.0), search_rate_limit=(HUGE, 1.0))
    sandbox.latency = latency
    conn.send(sandbox.start())
    try:
        while True:
            command, arg = conn.recv()
            if command == "stop":
                return
            if command == "seed":  # no webhook target is set: nothing is sent
                conn.send([sandbox.ui_create_deal({"dealname": f"D{i}", "dealstage": BLOCKED, "pipeline": "default",
                                                   "hubspot_owner_id": "101"}) for i in range(arg)])
            elif command == "deliveries":
                with sandbox.lock:
                    calls, sandbox.calls[:] = list(sandbox.calls), []
                moves = Counter(c["path"][len(DEALS_PATH):] for c in calls
                                if c["method"] == "PATCH" and c["path"].startswith(DEALS_PATH) and c["status"] < 300)
                tasks = Counter(c["json"]["properties"]["hs_task_body"].rsplit("\n", 1)[-1] for c in calls
                                if c["method"] == "POST" and c["path"] == TASKS_PATH and c["status"] < 300)
                conn.send((dict(moves), dict(tasks), len(calls)))
            elif command == "cpu":
                times = os.times()
                conn.send(times.user + times.system)
    except EOFError:
        return
    finally:
        sandbox.stop()


@dataclass
class Sandbox:
    """The parent's handle on the sandbox child."""

    url: str
    pipe: Connection

    def ask(self, command: str, arg: Any = None) -> Any:
        """Send a command, return its answer."""
        self.pipe.send((command, arg))
        return self.pipe.recv()


@contextmanager
def sandbox_process(latency: float = 0.0) -> Iterator[Sandbox]:
    """The sandbox child for the duration of the block, holding each API answer `latency` seconds."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_sandbox_child, args=(child, latency), daemon=True, name="sandbox-hubspot")
    process.start()
    try:
        if not parent.poll(60):
            raise TimeoutError("the sandbox did not start")
        yield Sandbox(parent.recv(), parent)
    finally:
        with suppress(OSError):
            parent.send(("stop", None))
        process.join(10)
        if process.is_alive():
            process.terminate()


# ---- worker processes ------------------------------------------------------------------------------------------
def environment(settings: Settings, log_level: str) -> dict[str, str]:
    """The environment of a `qualify worker` process."""
    return {**os.environ, "QUALIFY_DATABASE_URL": settings.database_url, "QUALIFY_SECRET_KEY": settings.secret_key,
            "QUALIFY_INSTANCE_PATH": settings.instance_path, "QUALIFY_EMBEDDED_WORKER": "0",
            "QUALIFY_ALLOW_LOOPBACK_CRM": "1", "QUALIFY_LOG_LEVEL": log_level, "QUALIFY_METRICS_PORT": "0"}


def profiled_worker(path: str) -> None:
    """`qualify worker` under cProfile (CPU time of the main thread), the stats written to `path` at SIGTERM."""
    from service.cli import main

    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    try:
        main(["worker"])
    finally:
        profile.disable()
        profile.dump_stats(path)


@contextmanager
def workers(count: int, env: dict[str, str], profile: str | None) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` worker processes (the first profiled when `profile` is a path), stopped with SIGTERM at the end."""
    procs = []
    for i in range(count):
        command = ([sys.executable, "-c", f"from bench.workers import profiled_worker; profiled_worker({profile!r})"]
                   if profile and i == 0 else [sys.executable, "-m", "service.cli", "worker"])
        procs.append(subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    try:
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def wait_for_heartbeats(runtime: Runtime, count: int, since: datetime, timeout: float = 60) -> None:
    """Until `count` workers wrote a heartbeat after `since` (each is then in its loop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.engine.connect() as conn:
            alive = conn.scalar(text("SELECT count(*) FROM worker_heartbeats WHERE beat_at >= :since"),
                                {"since": since})
        if alive >= count:
            return
        time.sleep(0.2)
    raise TimeoutError(f"{count} workers did not start")


# ---- one pass --------------------------------------------------------------------------------------------------
@dataclass
class Pass:
    """What one pass measured."""

    workers: int
    actions: int
    seconds: float
    doubles: int
    missing: int
    claimed_twice: int
    worker_cpu: float
    sandbox_cpu: float
    postgres_cpu: float
    machine_cores: float
    waits: Counter[str]

    @property
    def rate(self) -> float:
        """Actions delivered per second."""
        return self.actions / self.seconds

    def line(self) -> str:
        """One printable line."""
        per = 1000 / self.actions
        return (f"{self.workers} worker{'s' if self.workers > 1 else ' '}: {self.actions} actions in "
                f"{self.seconds:.1f} s = {self.rate:.0f}/s; doubles {self.doubles}, missing {self.missing}, claimed "
                f"twice {self.claimed_twice}; CPU per action: workers {self.worker_cpu * per:.2f} ms, sandbox "
                f"{self.sandbox_cpu * per:.2f} ms, PostgreSQL {self.postgres_cpu * per:.2f} ms (the workers' "
                f"sessions); workers used {self.worker_cpu / self.seconds:.2f} cores, the whole machine "
                f"{self.machine_cores:.2f} of {os.cpu_count()}")

    def wait_line(self) -> str:
        """What the workers' PostgreSQL sessions were doing, as shares of the samples."""
        total = sum(self.waits.values()) or 1
        return ", ".join(f"{state} {n / total:.0%}" for state, n in self.waits.most_common(6))


def queue(runtime: Runtime, cid: int, deals: list[str], tag: str) -> None:
    """A revert and a task for each deal, due now, in one transaction."""
    now = runtime.clock()
    rows: list[dict[str, Any]] = []
    for deal in deals:
        rows.append({"connection_id": cid, "kind": "revert_stage", "idempotency_key": f"{tag}:{deal}:revert",
                     "payload": {"deal_id": deal, "blocked_stage": BLOCKED, "blocked_pipeline": "default",
                                 "stage": BACK, "pipeline": "default"},
                     "status": ActionStatus.PENDING, "attempts": 0, "next_attempt_at": now})
        key = f"{tag}:{deal}:task"
        rows.append({"connection_id": cid, "kind": "create_task", "idempotency_key": key,
                     "payload": {"deal_id": deal, "owner_id": "101", "subject": "Fill the portrait",
                                 "body": "Missing: budget, decision maker", "marker": f"qualify-ref:{key}",
                                 "due": (now + timedelta(hours=24)).isoformat()},
                     "status": ActionStatus.PENDING, "attempts": 0, "next_attempt_at": now})
    with runtime.engine.begin() as conn:
        conn.execute(insert(OutboxAction), rows)


def run_pass(runtime: Runtime, cid: int, sandbox: Sandbox, count: int, actions: int, env: dict[str, str],
             backends: Backends, profile: str | None) -> Pass:
    """Queue `actions` actions, deliver them with `count` worker processes, count what reached the sandbox."""
    deals = sandbox.ask("seed", actions // 2)
    sandbox.ask("deliveries")  # forget earlier calls
    with runtime.engine.begin() as conn:
        conn.execute(delete(OutboxAction))
        conn.execute(text("DELETE FROM worker_heartbeats"))
    started = datetime.now(UTC) - timedelta(seconds=1)
    with workers(count, env, profile) as procs:
        wait_for_heartbeats(runtime, count, started)
        cpu = [tree_cpu_seconds(p.pid) for p in procs]
        sandbox_cpu, busy, began = sandbox.ask("cpu"), machine_busy_seconds(), time.monotonic()
        backends.start()
        stop, waits = threading.Event(), Counter[str]()
        sampler = threading.Thread(target=lambda: waits.update(backends.sample_waits(stop)), daemon=True)
        sampler.start()
        queue(runtime, cid, deals, f"w{count}")
        open_ = select(func.count()).select_from(OutboxAction).where(
            OutboxAction.status.in_((ActionStatus.PENDING, ActionStatus.IN_FLIGHT)))
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            time.sleep(0.5)
            with runtime.engine.connect() as conn:
                if conn.scalar(open_) == 0:
                    break
        worker_cpu = sum(tree_cpu_seconds(p.pid) - c for p, c in zip(procs, cpu, strict=True))
        sandbox_cpu, pg_cpu = sandbox.ask("cpu") - sandbox_cpu, backends.cpu_seconds()
        machine = (machine_busy_seconds() - busy) / (time.monotonic() - began)
        stop.set()
        sampler.join()
    with runtime.engine.connect() as conn:
        first, last, done, twice = conn.execute(select(
            func.min(OutboxAction.next_attempt_at), func.max(OutboxAction.done_at),
            func.count().filter(OutboxAction.status == ActionStatus.DONE),
            func.count().filter(OutboxAction.attempts > 1))).one()
        markers = conn.scalars(select(OutboxAction.payload).where(OutboxAction.kind == "create_task")).all()
    if first is None or last is None:
        raise RuntimeError("no action was delivered")
    moves, tasks, _ = sandbox.ask("deliveries")
    expected = [moves.get(d, 0) for d in deals] + [tasks.get(p["marker"], 0) for p in markers]
    return Pass(count, done, (last - first).total_seconds(), sum(n > 1 for n in expected),
                sum(n == 0 for n in expected), twice, worker_cpu, sandbox_cpu, pg_cpu, machine, waits)


def print_profile(path: str, top: int = 25) -> None:
    """The single worker's profile: functions by own CPU time, then by cumulative."""
    import io
    import pstats

    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(path, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        for line in out.getvalue().splitlines():
            if line.strip():
                print(f"  profile[{order}] {line}")


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--actions", type=int, default=10_000)
    parser.add_argument("--workers", default="1,4", help="worker process counts, one pass each")
    parser.add_argument("--postgres", default=PG_URL, help="PostgreSQL URL (a scratch schema is made in it)")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="hold each CRM answer this long, as a remote CRM's round trip would (default 0)")
    parser.add_argument("--log-level", default=os.environ.get("QUALIFY_LOG_LEVEL", "INFO"))
    parser.add_argument("--profile", action="store_true", help="cProfile the single worker")
    parser.add_argument("--profile-top", type=int, default=25, help="functions listed from the profile")
    parser.add_argument("--profile-out", help="also keep the single worker's profile (pstats) at this path")
    args = parser.parse_args()
    counts = [int(c) for c in args.workers.split(",")]
    print(f"{args.actions} actions per pass, worker processes {counts}, CRM latency {args.latency_ms:g} ms; "
          f"{os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f} at start")
    passes = []
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.postgres, tmp) as url, \
            sandbox_process(args.latency_ms / 1000) as sandbox:
        settings = Settings(instance_path=tmp, secret_key=Fernet.generate_key().decode(), embedded_worker=False,
                            database_url=url, allow_loopback_crm=True).resolved()
        runtime = build_runtime(settings)
        upgrade(runtime.engine)
        with runtime.uow() as uow:
            cid = connections.add_connection(runtime, uow.session, {
                "name": "bench", "kind": "hubspot", "base_url": sandbox.url, "access_token": TOKEN,
                "client_secret": "s", "rate_limits": lifted_rate_limits("hubspot")}).id
            uow.commit()
        name = f"qualify-bench-workers-{os.getpid()}"
        env = environment(dataclasses.replace(settings, database_url=tagged(url, name)), args.log_level)
        backends = Backends(args.postgres, name)
        for count in counts:
            profile = f"{tmp}/worker.prof" if args.profile and count == 1 else None
            passes.append(run_pass(runtime, cid, sandbox, count, args.actions, env, backends, profile))
            print(f"  {passes[-1].line()}\n    workers' PostgreSQL sessions: {passes[-1].wait_line()}", flush=True)
            if profile:
                print_profile(profile, args.profile_top)
                if args.profile_out:
                    shutil.copyfile(profile, args.profile_out)
        runtime.dispose()
        backends.dispose()
    base = passes[0]
    for p in passes[1:]:
        print(f"outbox delivery, {p.workers} workers vs {base.workers}: {p.rate:.0f} vs {base.rate:.0f} actions/s, "
              f"ratio {p.rate / base.rate:.2f} (goal >= 2.5); doubles {p.doubles + base.doubles}, missing "
              f"{p.missing + base.missing}, claimed twice {p.claimed_twice + base.claimed_twice}")


if __name__ == "__main__":
    main()
