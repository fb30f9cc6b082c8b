"""Webhook acknowledgement under load: requests/s and p50/p99 latency of signed HubSpot deliveries at 16 concurrent
keep-alive connections against 2 web processes, on SQLite and on PostgreSQL, next to bare Flask served the same way.

Run: ``python -m bench.webhook_load [--seconds 5] [--rounds 3] [--postgres URL | --no-postgres] [--profile]``.

Both servers are `qualify serve` as deployed (gunicorn gthread, 2 processes x 8 threads, the access log and the
logs at QUALIFY_LOG_LEVEL, INFO unless set, written to /dev/null, prometheus-client's multiprocess files), with
the embedded worker off so only intake is measured; the baseline is bench.apps:bare_app under the same gunicorn
application (bench/serve.py). Each delivery is one deal.propertyChange event with an event id of its own,
signed with X-HubSpot-Signature-v3 for the connection's client secret and portal. Rounds alternate bare and
Qualify; medians are printed with the ratio of request rates (goal >= 0.5, p99 <= 100 ms). After the rounds the
stored events are counted: every acknowledged delivery must have stored its event.

The load generator (bench/load_client.py) runs 4 processes x 4 connections and prints the CPU it used: the bare
server's rate, several times Qualify's, is the headroom that shows the generator does not limit Qualify.
`--profile` has each Qualify web process write a cProfile of its requests (printed at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from adapters.hubspot_webhooks import sign_v3
from bench.common import CLIENT_SECRET, free_port
from bench.load_client import LoadResult, median_result, run_load
from bench.measure import children
from bench.pg_backends import Backends, tagged
from service.config import Settings
from service.migrate import upgrade
from service.models import InboundEvent
from service.runtime import build_runtime
from service.services import connections

PG_URL = os.environ.get("QUALIFY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PORTAL = 62515
CONNECTIONS = 16
WEB_PROCESSES = 2
ROOT = Path(__file__).resolve().parents[1]
BACKEND_NAME = f"qualify-bench-intake-{os.getpid()}"  # application_name of the Qualify server's sessions


@dataclass(frozen=True)
class SignedDeliveries:
    """Request maker of bench.load_client: delivery `n` of connection `c` in round `round` is one event with an id
    no other request has, signed for the URL the server sees."""

    url: str
    round: int

    def __call__(self, connection: int, n: int) -> tuple[str, dict[str, str], bytes]:
        event_id = (self.round * 100 + connection) * 10_000_000 + n
        now = int(time.time() * 1000)
        body = json.dumps([{
            "eventId": event_id, "subscriptionId": 7, "portalId": PORTAL, "appId": 1, "occurredAt": now,
            "subscriptionType": "deal.propertyChange", "attemptNumber": 0, "objectId": 1000 + n % 500,
            "propertyName": "dealstage", "propertyValue": "qualifiedtobuy", "changeSource": "CRM_UI",
            "sourceId": "userId:1"}]).encode()
        headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": str(now),
                   "X-HubSpot-Signature-v3": sign_v3(CLIENT_SECRET, "POST", self.url, body, now)}
        return "/" + self.url.split("/", 3)[3], headers, body


def setup_database(settings: Settings) -> int:
    """Migrate and add one HubSpot connection (portal PORTAL); its id."""
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    with runtime.uow() as uow:
        conn = connections.add_connection(runtime, uow.session, {
            "name": "bench", "kind": "hubspot", "base_url": "http://127.0.0.1:9", "access_token": "pat-bench-token",
            "client_secret": CLIENT_SECRET, "account_id": str(PORTAL)})
        uow.commit()
        cid = conn.id
    runtime.dispose()
    return cid


def stored_events(settings: Settings) -> int:
    """How many events the database holds."""
    runtime = build_runtime(settings)
    with runtime.read_uow() as uow:
        count = uow.session.scalar(select(func.count()).select_from(InboundEvent)) or 0
    runtime.dispose()
    return int(count)


def environment(settings: Settings, metrics_dir: Path, log_level: str, profile_dir: Path | None) -> dict[str, str]:
    """The environment of a server process: the database, the worker off, its own metrics folder."""
    env = {**os.environ, "QUALIFY_DATABASE_URL": settings.database_url, "QUALIFY_SECRET_KEY": settings.secret_key,
           "QUALIFY_INSTANCE_PATH": settings.instance_path, "QUALIFY_EMBEDDED_WORKER": "0",
           "QUALIFY_ALLOW_LOOPBACK_CRM": "1", "QUALIFY_LOG_LEVEL": log_level,
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    if profile_dir is not None:
        env["BENCH_PROFILE_DIR"] = str(profile_dir)
    return env


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` and its children (the gunicorn arbiter and web processes)."""
    total, tick = 0, os.sysconf("SC_CLK_TCK")
    for p in (pid, *children(pid)):
        try:
            parts = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(parts[11]) + int(parts[12])
    return total / tick


@dataclass
class Server:
    """A running server: its base URL and process id."""

    url: str
    pid: int


def timed_load(target: Server, path: str, round_: int, seconds: float,
               backends: Backends | None) -> tuple[LoadResult, float, float]:
    """One measured round; (result, server CPU ms per answer, ms of the server's PostgreSQL sessions per answer)."""
    cpu = tree_cpu_seconds(target.pid)
    if backends is not None:
        backends.start()
    result = run_load(target.url, SignedDeliveries(f"{target.url}{path}", round_), connections=CONNECTIONS,
                      seconds=seconds)
    answers = max(1.0, result.rate * seconds)
    pg = backends.cpu_seconds() if backends is not None else 0.0
    return result, (tree_cpu_seconds(target.pid) - cpu) * 1000 / answers, pg * 1000 / answers


@contextmanager
def server(command: list[str], env: dict[str, str]) -> Iterator[Server]:
    """Run a server command with `--port` on a free port (output to /dev/null); yields it when ready."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", *command, "--port", str(port), "--workers", str(WEB_PROCESSES)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start")
            time.sleep(0.1)
        yield Server(base, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def measure(name: str, settings: Settings, args: argparse.Namespace) -> tuple[LoadResult, LoadResult, float]:
    """Interleaved rounds on one database; (bare median, Qualify median, median of the rounds' rate ratios)."""
    cid = setup_database(settings)
    path = f"/v1/webhooks/{cid}"
    tmp = Path(settings.instance_path)
    profile_dir = tmp / "profiles" if args.profile else None
    threads = ["--threads", str(args.threads)]
    qualify_cmd = ["bench.serve", "--app", "qualify", *threads] + (["--profile"] if args.profile else [])
    bare_env = environment(settings, tmp / "metrics-bare", args.log_level, None)
    qualify_env = environment(settings, tmp / "metrics-qualify", args.log_level, profile_dir)
    bare_rounds: list[LoadResult] = []
    qualify_rounds: list[LoadResult] = []
    backends = Backends(args.postgres, BACKEND_NAME) if name == "PostgreSQL" else None
    bare_cmd = ["bench.serve", "--app", "bare", *threads]
    with server(bare_cmd, bare_env) as bare, server(qualify_cmd, qualify_env) as qualify:
        for target in (bare, qualify):  # warm-up: connections, caches, the first queries
            run_load(target.url, SignedDeliveries(f"{target.url}{path}", 0), connections=CONNECTIONS, seconds=1.0)
        for r in range(1, args.rounds + 1):
            for label, target, rounds in (("bare   ", bare, bare_rounds), ("qualify", qualify, qualify_rounds)):
                result, server_ms, pg_ms = timed_load(target, path, r, args.seconds,
                                                      backends if target is qualify else None)
                rounds.append(result)
                print(f"  {name} round {r}: {label} {result.line()}; server CPU {server_ms:.2f} ms/answer"
                      + (f", its PostgreSQL sessions {pg_ms:.2f} ms" if backends and target is qualify else ""))
    if backends is not None:
        backends.dispose()
    acknowledged = sum(round(q.rate * args.seconds) for q in qualify_rounds)
    stored = stored_events(settings)
    # Warm-up deliveries were acknowledged too, and an answer arriving after a window closed is not counted.
    print(f"  {name}: {stored} events stored for {acknowledged} deliveries acknowledged in the measured windows"
          + ("" if stored >= acknowledged else "  <-- EVENTS MISSING"))
    if profile_dir is not None:
        from bench.serve import print_profiles

        print_profiles(profile_dir)
    ratios = [q.rate / b.rate for b, q in zip(bare_rounds, qualify_rounds, strict=True)]
    return median_result(bare_rounds), median_result(qualify_rounds), statistics.median(ratios)


@contextmanager
def databases(args: argparse.Namespace, tmp: str) -> Iterator[list[tuple[str, Settings]]]:
    """Settings of a fresh SQLite database and, unless --no-postgres, of a scratch PostgreSQL schema."""
    from bench.sync import scratch_database

    key = Fernet.generate_key().decode()
    found = []
    if not args.no_sqlite:
        sqlite_dir = Path(tmp) / "sqlite"
        found.append(("SQLite", Settings(instance_path=str(sqlite_dir), secret_key=key, embedded_worker=False,
                                         allow_loopback_crm=True).resolved()))
    if args.no_postgres:
        yield found
        return
    with scratch_database(args.postgres, tmp) as url:
        pg_dir = Path(tmp) / "postgres"
        found.append(("PostgreSQL", Settings(instance_path=str(pg_dir), secret_key=key, embedded_worker=False,
                                             database_url=tagged(url, BACKEND_NAME),
                                             allow_loopback_crm=True).resolved()))
        yield found


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per database")
    parser.add_argument("--postgres", default=PG_URL, help="PostgreSQL URL (a scratch schema is made in it)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--log-level", default=os.environ.get("QUALIFY_LOG_LEVEL", "INFO"))
    parser.add_argument("--threads", type=int, default=8, help="threads per web process (qualify serve: 8)")
    parser.add_argument("--profile", action="store_true", help="cProfile Qualify's web processes")
    args = parser.parse_args()
    print(f"{CONNECTIONS} keep-alive connections, {WEB_PROCESSES} web processes x {args.threads} threads, "
          f"{args.rounds} rounds of {args.seconds:.0f} s; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f} at start")
    summary = []
    with tempfile.TemporaryDirectory() as tmp, databases(args, tmp) as targets:
        for name, settings in targets:
            summary.append((name, *measure(name, settings, args)))
    for name, bare, qualify, ratio in summary:
        print(f"webhook ack, {name} (median of {args.rounds}): qualify {qualify.rate:.0f} req/s, "
              f"p50 {qualify.p50_ms:.1f} ms, p99 {qualify.p99_ms:.1f} ms; bare flask {bare.rate:.0f} req/s, "
              f"p50 {bare.p50_ms:.1f} ms, p99 {bare.p99_ms:.1f} ms; ratio {ratio:.2f} (median of the rounds') "
              f"(goal >= 0.5, p99 <= 100 ms); non-2xx {qualify.bad}, errors {qualify.errors}; "
              f"client CPU {qualify.client_cores:.2f} / {bare.client_cores:.2f} cores")


if __name__ == "__main__":
    main()
