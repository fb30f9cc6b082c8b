"""Helpers of the fault tests (tests/e2e/test_faults.py): a served Qualify on a database of the test's, the
HubSpot sandbox sending it webhooks, what the sandbox saw counted per deal, and a fork server that starts
`qualify worker` processes in milliseconds so a test can SIGKILL one hundreds of times.

`python -m tests.e2e.faults` is that fork server (see `Zygote`)."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from sqlalchemy import Engine, text
from werkzeug.wrappers import Request

from adapters.hubspot_webhooks import sign_v3
from adapters.sandbox.failures import Failure
from adapters.sandbox.hubspot import HubSpotSandbox
from service.config import Settings
from service.db import make_engine
from service.demo import CLIENT_SECRET, TOKEN, configure
from service.migrate import upgrade
from service.runtime import build_runtime
from service.services.keys import create_key
from tests.conftest import TEST_FERNET_KEY
from tests.e2e.processes import Processes, qualify_env
from tests.e2e.test_served_http import free_port

ROOT = Path(__file__).resolve().parents[2]
MANAGER = 45678
START, GATED = "appointmentscheduled", "qualifiedtobuy"
FILLED = {"industry": "it", "company_size": "50", "decision_maker": "true"}  # what the demo's gate on GATED wants
DEALSTAGE_SUBSCRIPTION = 1003  # the sandbox's deal.propertyChange subscription of dealstage


def serve(processes: Processes, env: dict[str, str], name: str = "web", timeout: float = 30.0) -> str:
    """Start `qualify serve` on a free port and wait until /healthz answers; its base URL."""
    port = free_port()
    process = processes.start(name, env, "serve", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"qualify serve exited: {processes.log(process)}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return base
        time.sleep(0.1)
    raise AssertionError(f"qualify serve did not answer in {timeout} s: {processes.log(process)}")


class RecordingSandbox(HubSpotSandbox):
    """The HubSpot sandbox, also noting when each injected failure fired: (time.time(), mode, method, path)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(client_secret=CLIENT_SECRET, access_token=TOKEN, **options)
        self.fired: list[tuple[float, str, str, str]] = []

    def _take_failure(self, request: Request) -> Failure | None:
        rule = super()._take_failure(request)
        if rule is not None:
            with self.lock:
                self.fired.append((time.time(), rule.mode, request.method, request.path))
        return rule

    def config(self, **values: Any) -> None:
        """Change the sandbox's settings over its control API."""
        httpx.post(f"{self.base_url}/_sandbox/config", json=values).raise_for_status()


@dataclass
class Deployment:
    """A served Qualify with a HubSpot connection to the sandbox, configured like the demo (its gate on
    qualifiedtobuy requires industry, company size and decision maker)."""

    engine: Engine
    sandbox: RecordingSandbox
    processes: Processes
    env: dict[str, str]
    api: httpx.Client
    connection_id: int
    hook: str


@contextlib.contextmanager
def deployment(engine: Engine, folder: Path, *, crm_limit: tuple[int, float] | None = None,
               limit: tuple[int, float] | None = None, **settings: str) -> Iterator[Deployment]:
    """Serve Qualify on `engine`'s (migrated) database with `settings` (QUALIFY_<NAME> values), the sandbox's
    webhooks going to it; `crm_limit` sets the sandbox's rate limit, `limit` the connection's, as (requests,
    seconds). Every process started is stopped at the end."""
    sandbox = RecordingSandbox()
    sandbox.start()
    processes = Processes(folder)
    env = qualify_env(engine, folder / "instance", **{"log_level": "WARNING", "worker_poll_seconds": "0.05",
                                                      **settings})
    try:
        base = serve(processes, env)
        runtime = build_runtime(Settings(instance_path=str(folder / "instance"), secret_key=TEST_FERNET_KEY,
                                         database_url=env["QUALIFY_DATABASE_URL"]), engine=engine)
        key = create_key(runtime, "admin", "admin")
        runtime.dispose()
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
            cid = configure(api, sandbox.base_url, str(sandbox.portal_id))
            if limit:
                api.patch(f"/v1/connections/{cid}", json={"rate_limits": {
                    "default": {"requests": limit[0], "seconds": limit[1]}}}).raise_for_status()
            if crm_limit:
                sandbox.config(rate_limit=list(crm_limit))
            hook = f"{base}/v1/webhooks/{cid}"
            sandbox.config(webhook_url=hook)
            yield Deployment(engine, sandbox, processes, env, api, cid, hook)
    finally:
        processes.stop_all()
        sandbox.stop()


@contextlib.contextmanager
def sqlite_database(folder: Path) -> Iterator[Engine]:
    """A migrated SQLite database file of its own, as the embedded mode keeps it."""
    engine = make_engine(f"sqlite:///{folder / 'qualify.db'}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()


def create_deals(sandbox: HubSpotSandbox, count: int, *, filled: bool, name: str = "Deal") -> list[str]:
    """`count` deals created by the manager in the first stage, filled for the gate or not."""
    extra = FILLED if filled else {}
    return [sandbox.ui_create_deal({"dealname": f"{name} {n}", "dealstage": START, "pipeline": "default",
                                    "hubspot_owner_id": "101", **extra}, user_id=MANAGER) for n in range(count)]


class Mover(threading.Thread):
    """Moves deals into the gated stage one by one, `spacing` seconds apart, in the background, until stopped;
    `moved` lists the deals it moved. With a `backlog` (engine, n) it waits while n or more events and actions
    are unfinished, so the work keeps pace with the workers."""

    def __init__(self, sandbox: HubSpotSandbox, deals: list[str], spacing: float,
                 backlog: tuple[Engine, int] | None = None) -> None:
        super().__init__(name="mover", daemon=True)
        self.sandbox, self.deals, self.spacing, self.backlog = sandbox, deals, spacing, backlog
        self.moved: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        for deal in self.deals:
            while self.backlog and unfinished(self.backlog[0]) >= self.backlog[1] and not self.stop.wait(0.05):
                pass
            if self.stop.is_set():
                return
            self.sandbox.ui_move_deal(deal, GATED, user_id=MANAGER)
            self.moved.append(deal)
            self.stop.wait(self.spacing)


def interleave(blocked: list[str], allowed: list[str]) -> list[str]:
    """The deals in the order they are moved: three blocked, one allowed, and so on."""
    order: list[str] = []
    for n, deal in enumerate(allowed):
        order += [*blocked[3 * n:3 * n + 3], deal]
    return order + blocked[3 * len(allowed):]


def run(d: Deployment, name: str, *args: str, timeout: float = 60.0) -> int:
    """Run `qualify <args>` to its end (output in <folder>/<name>.log); its exit code."""
    return d.processes.start(name, d.env, *args).wait(timeout)


@contextlib.contextmanager
def quiet_webhooks(sandbox: RecordingSandbox, hook: str) -> Iterator[None]:
    """The sandbox sends no webhook inside the block (as while Qualify was not subscribed), then sends again."""
    sandbox.config(webhook_url=None)
    try:
        yield
    finally:
        sandbox.config(webhook_url=hook)


def reverts(sandbox: HubSpotSandbox, deal: str) -> int:
    """How many stage changes Qualify made to the deal that the sandbox accepted."""
    return sum(1 for c in sandbox.api_calls(method="PATCH", path_prefix=f"/crm/v3/objects/deals/{deal}")
               if c["status"] == 200 and "dealstage" in ((c["json"] or {}).get("properties") or {}))


def wrong_counts(sandbox: HubSpotSandbox, blocked: list[str], allowed: list[str]) -> dict[str, tuple[int, int]]:
    """Deals whose (reverts, tasks) in the sandbox differ from what the test's moves call for: (1, 1) for a
    blocked move, (0, 0) for an allowed one."""
    wrong = {}
    for deals, expected in ((blocked, (1, 1)), (allowed, (0, 0))):
        for deal in deals:
            seen = (reverts(sandbox, deal), len(sandbox.tasks_for_deal(deal)))
            if seen != expected:
                wrong[deal] = seen
    return wrong


def acknowledged_keys(sandbox: HubSpotSandbox) -> set[str]:
    """The delivery keys of every event in a webhook POST Qualify answered with a 2xx."""
    keys: set[str] = set()
    for delivery in sandbox.webhook_deliveries():
        if delivery["status"] is not None and 200 <= delivery["status"] < 300:
            keys.update(f"{e['portalId']}:{e['subscriptionId']}:{e['eventId']}:{e['occurredAt']}"
                        for e in json.loads(delivery["body"]))
    return keys


def event_statuses(engine: Engine) -> dict[str, str]:
    """Every stored event's status by delivery key."""
    with engine.connect() as conn:
        return {row[0]: row[1] for row in conn.execute(text("SELECT delivery_key, status FROM inbound_events"))}


def failed_events(engine: Engine) -> dict[str, tuple[str, str]]:
    """Events that ended `failed`: delivery key -> (deal, error)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT delivery_key, object_id, error FROM inbound_events WHERE status = 'failed'"))
        return {row[0]: (row[1], row[2] or "") for row in rows}


def statuses(engine: Engine, table: str) -> dict[str, int]:
    """How many rows of `table` (inbound_events or outbox) are in each status."""
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT status, count(*) FROM {table} GROUP BY status"))
        return {row[0]: int(row[1]) for row in rows}


def blocked_decisions(engine: Engine) -> dict[str, list[str]]:
    """The blocked decisions taken per deal (external id): how each move was seen (webhook or sync), in order."""
    found: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for deal, source in conn.execute(text("SELECT r.external_id, t.source FROM transitions t JOIN records r ON "
                                              "r.id = t.record_id WHERE t.decision = 'blocked' ORDER BY t.id")):
            found.setdefault(deal, []).append(source)
    return found


def action_notes(engine: Engine) -> dict[str, int]:
    """How many delivered actions carry each note (a task found by its marker, a revert found done), and how
    many took more than one attempt."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT note, attempts FROM outbox WHERE status = 'done'")).all()
    notes: dict[str, int] = {}
    for note, attempts in rows:
        for key in ([note] if note else []) + (["more than one attempt"] if attempts > 1 else []):
            notes[key] = notes.get(key, 0) + 1
    return notes


def unfinished(engine: Engine) -> int:
    """Events not yet processed plus CRM actions not yet delivered."""
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT (SELECT count(*) FROM inbound_events WHERE status IN ('received', 'processing')) + "
            "(SELECT count(*) FROM outbox WHERE status IN ('pending', 'in_flight'))")).scalar_one())


def wait_settled(engine: Engine, sandbox: HubSpotSandbox, timeout: float) -> float:
    """Wait until the sandbox has sent every webhook and Qualify has processed every event and delivered every
    action, twice in a row 0.3 s apart (a revert's echo comes after it); the seconds it took."""
    started = time.monotonic()
    deadline = started + timeout
    calm = 0
    while calm < 2:
        if time.monotonic() > deadline:
            raise AssertionError(f"not settled in {timeout} s: events {statuses(engine, 'inbound_events')}, "
                                 f"actions {statuses(engine, 'outbox')}")
        with contextlib.suppress(TimeoutError):
            sandbox.wait_webhooks_idle(timeout=1)
        calm = calm + 1 if unfinished(engine) == 0 else 0
        time.sleep(0.3)
    return time.monotonic() - started


def lines_with(path: Path, needle: str) -> list[str]:
    """The lines of a log file containing `needle`."""
    return [line for line in path.read_text(errors="replace").splitlines() if needle in line]


@dataclass(frozen=True)
class Ack:
    """One webhook POST the test made: when it was sent (time.time()), its status and how long it took."""

    sent_at: float
    status: int
    seconds: float


@dataclass
class MoveSender:
    """Signs and POSTs HubSpot's deal.propertyChange webhook of a stage move as HubSpot would, and redelivers
    one as HubSpot retries it (same event, next attemptNumber, new timestamp), timing every answer (the
    sandbox's own sender does not time them)."""

    hook: str
    portal_id: int
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))
    acks: list[Ack] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)

    def send(self, deal: str, stage: str) -> Ack:
        """The webhook of the manager's move of `deal` to `stage`, just made."""
        event = {"eventId": 7_000_000_000 + len(self.sent), "subscriptionId": DEALSTAGE_SUBSCRIPTION,
                 "portalId": self.portal_id, "appId": 1160452, "occurredAt": int(time.time() * 1000),
                 "subscriptionType": "deal.propertyChange", "attemptNumber": 0, "objectId": int(deal),
                 "propertyName": "dealstage", "propertyValue": stage, "changeSource": "CRM_UI",
                 "sourceId": f"userId:{MANAGER}"}
        self.sent.append(event)
        return self._post(event)

    def redeliver(self, event: dict[str, Any]) -> Ack:
        """An event sent before, delivered again."""
        event["attemptNumber"] += 1
        return self._post(event)

    def _post(self, event: dict[str, Any]) -> Ack:
        now_ms = int(time.time() * 1000)
        body = json.dumps([event]).encode()
        headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": str(now_ms),
                   "X-HubSpot-Signature-v3": sign_v3(CLIENT_SECRET, "POST", self.hook, body, now_ms)}
        sent, started = time.time(), time.monotonic()
        status = self.client.post(self.hook, content=body, headers=headers).status_code
        ack = Ack(sent, status, time.monotonic() - started)
        self.acks.append(ack)
        return ack


# ---- the fork server ----------------------------------------------------------------------------------------
# Starting `qualify worker` costs ~0.7 s of CPU (imports), so 200 kills would take minutes on two cores. The fork
# server imports what the worker needs once, then forks a child per worker that runs the production command,
# `service.cli.main(["worker"])`, with the environment it was given: a real process with its own database
# connections, started in ~20 ms. It holds no thread, engine or connection when it forks (checked at start).

class Zygote:
    """`python -m tests.e2e.faults` in a subprocess: `spawn(log)` forks a `qualify worker` child, `kill(pid)`
    SIGKILLs it and returns its wait status (reaped by the fork server, its parent)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as errors:
            self.process = subprocess.Popen([sys.executable, "-m", "tests.e2e.faults"], cwd=ROOT, env=env,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                                            text=True, bufsize=1)
        self.live: set[int] = set()
        if self._read() != "ready":
            raise AssertionError(f"the fork server did not start: {log.read_text(errors='replace')}")

    def _ask(self, line: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self._read()

    def _read(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def spawn(self, log: Path) -> int:
        """Fork a `qualify worker` writing to `log`; its pid."""
        pid = int(self._ask(f"spawn {log}"))
        self.live.add(pid)
        return pid

    def kill(self, pid: int) -> int:
        """SIGKILL the child now, then reap it; its wait status."""
        os.kill(pid, signal.SIGKILL)
        self.live.discard(pid)
        return int(self._ask(f"reap {pid}"))

    def close(self) -> None:
        """Kill every child still alive and stop the fork server."""
        for pid in list(self.live):
            with contextlib.suppress(ProcessLookupError):
                self.kill(pid)
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=10)


def _child(log: str) -> None:
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    code = 1
    try:
        from service.cli import main

        code = main(["worker"])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def preload() -> None:
    """Import every module of service/ and adapters/ (not the migrations, which run when imported) and the
    PostgreSQL driver, and configure the ORM mappers: what each worker would otherwise do first in every life."""
    import pkgutil

    from sqlalchemy.orm import configure_mappers

    for package in ("service", "adapters"):
        root = importlib.import_module(package)
        for module in pkgutil.walk_packages(root.__path__, f"{package}."):
            if ".migrations" not in module.name:
                importlib.import_module(module.name)
    importlib.import_module("sqlalchemy.dialects.postgresql.psycopg")
    configure_mappers()


def zygote_main(stdin: IO[str] = sys.stdin, stdout: IO[str] = sys.stdout) -> None:
    """The fork server's loop: `spawn LOG` answers the child's pid, `reap PID` its wait status."""
    preload()
    if threading.active_count() != 1:
        raise SystemExit(f"the fork server must hold no thread, it holds {threading.enumerate()}")
    print("ready", file=stdout, flush=True)
    for line in stdin:
        command, argument = line.split(maxsplit=1)
        if command == "spawn":
            stdout.flush()
            pid = os.fork()
            if pid == 0:
                _child(argument.strip())
            print(pid, file=stdout, flush=True)
        elif command == "reap":
            print(os.waitpid(int(argument), 0)[1], file=stdout, flush=True)


if __name__ == "__main__":
    zygote_main()
