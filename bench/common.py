"""Shared pieces of the benchmarks: a configured Qualify database, gunicorn runs, a load generator."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from adapters.base import PipelineInfo, StageInfo
from service.config import Settings
from service.migrate import upgrade
from service.runtime import Runtime, build_runtime
from service.services import connections, fields
from service.services import gate_admin as gates
from service.services.keys import create_key

STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "closedwon", "closedlost")
CLIENT_SECRET = "bench-secret"


def bench_settings(instance: Path) -> Settings:
    """Settings for a benchmark database under `instance`."""
    return Settings(instance_path=str(instance), secret_key=Fernet.generate_key().decode(),
                    embedded_worker=False, allow_loopback_crm=True).resolved()


def settings_env(settings: Settings) -> dict[str, str]:
    """The QUALIFY_* environment that reproduces `settings` in a subprocess."""
    return {**os.environ, "QUALIFY_DATABASE_URL": settings.database_url, "QUALIFY_SECRET_KEY": settings.secret_key,
            "QUALIFY_INSTANCE_PATH": settings.instance_path, "QUALIFY_EMBEDDED_WORKER": "0",
            "QUALIFY_LOG_LEVEL": "WARNING", "QUALIFY_ALLOW_LOOPBACK_CRM": "1"}


def configured_runtime(settings: Settings, n_fields: int = 30, base_url: str = "http://127.0.0.1:9") -> tuple[
        Runtime, int, str]:
    """A migrated database with `n_fields` fields, one connection, a pipeline and a gate; (runtime, cid, key)."""
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    with runtime.uow() as uow:
        for i in range(n_fields):
            fields.add_field(uow.session, {"key": f"f{i:02d}", "label": f"Field {i}", "type": "text",
                                      "constraints": {"min_length": 2}})
        conn = connections.add_connection(runtime, uow.session, {
            "name": "bench", "kind": "hubspot", "base_url": base_url, "access_token": "pat-bench-token",
            "client_secret": CLIENT_SECRET})
        stages = tuple(StageInfo(s, s.title(), i, is_closed=s.startswith("closed"), is_won=s == "closedwon")
                       for i, s in enumerate(STAGES))
        connections.apply_pipelines(uow.session, conn, (PipelineInfo("default", "Sales", 0, stages),))
        requirements: list[dict[str, Any]] = [{"field": f"f{i:02d}"} for i in range(n_fields)]
        for r in requirements[::3]:
            r["required_if"] = {"field": "f00", "op": "eq", "value": "yes"}
        gates.add_gate(uow.session, {"connection_id": conn.id, "pipeline": "default", "stage": "qualifiedtobuy",
                                "mode": "enforce", "requirements": requirements})
        uow.commit()
    return runtime, conn.id, create_key(runtime, "admin", "bench")


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gunicorn(app_spec: str, env: dict[str, str], workers: int = 2, threads: int = 4) -> Any:
    """Serve `module:factory()` with gunicorn (gthread) on a free port; yields the base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", str(workers), "--threads", str(threads),
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", app_spec],
        env=env, cwd=Path(__file__).resolve().parents[1],
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/healthz", timeout=0.5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _load_worker(args: tuple[str, str, dict[str, str], bytes, float]) -> tuple[int, int]:
    url, method, headers, body, seconds = args
    ok = bad = 0
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < deadline:
            response = client.request(method, url, headers=headers, content=body)
            if response.status_code < 300:
                ok += 1
            else:
                bad += 1
    return ok, bad


def load(url: str, *, method: str = "POST", headers: dict[str, str], body: bytes | Callable[[], bytes] = b"",
         seconds: float = 5.0, clients: int = 4) -> tuple[float, int]:
    """Requests/s from `clients` keep-alive client processes for `seconds`; (rate, non-2xx count)."""
    payload = body() if callable(body) else body
    with Pool(clients) as pool:
        results = pool.map(_load_worker, [(url, method, headers, payload, seconds)] * clients)
    ok = sum(r[0] for r in results)
    return ok / seconds, sum(r[1] for r in results)
