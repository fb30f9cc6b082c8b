"""Serving the metrics: the text /metrics answers, prometheus-client's multiprocess mode under gunicorn, and the
port `qualify worker` / `qualify scheduler` expose theirs on.

Multiprocess mode: with several gunicorn processes each one counts in its own memory-mapped files under
PROMETHEUS_MULTIPROC_DIR, and /metrics (answered by any of them) sums the files of all. `qualify serve` sets the
variable before any process imports prometheus-client (it decides its storage at import), empties the folder at
start, and marks each dead process so its live gauges go (its counters stay, as Prometheus expects).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from service.config import Settings

log = logging.getLogger("qualify.metrics")
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess(settings: Settings) -> Path:
    """Point prometheus-client at `<instance>/metrics` (or the PROMETHEUS_MULTIPROC_DIR already set) and empty
    it; call before anything imports prometheus-client, in the process that forks the others."""
    folder = Path(os.environ.get(MULTIPROC_VARIABLE) or Path(settings.instance_path).resolve() / "metrics")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):  # a previous run's values: counters would start from them
        stale.unlink()
    os.environ[MULTIPROC_VARIABLE] = str(folder)
    return folder


def multiprocess() -> bool:
    """Whether this process counts in the shared files."""
    return bool(os.environ.get(MULTIPROC_VARIABLE))


def worker_exited(pid: int) -> None:
    """gunicorn's child_exit hook: forget the live gauges of a dead process."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(pid)


class _Collected:
    """A collector yielding what another registry (or callable) collects."""

    def __init__(self, collect: Any) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Any]:
        return self._collect()  # type: ignore[no-any-return]


def process_registry() -> Any:
    """A registry of this process's counters: summed over every process in multiprocess mode."""
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    from service.metrics import metrics

    metrics()  # registered (at zero) before the first scrape, so every family is listed from the start
    if not multiprocess():
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


def exposition(accept: str | None, stored: Any = None) -> tuple[bytes, str]:
    """The metrics page in the format `accept` asks for (Prometheus text or OpenMetrics), with the gauges of
    stored state collected by `stored` (a callable yielding metric families) when given."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import choose_encoder

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collected(process_registry().collect))
    if stored is not None:
        registry.register(_Collected(stored))
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


def serve_metrics(settings: Settings, role: str) -> None:
    """Expose this process's metrics on QUALIFY_METRICS_HOST:QUALIFY_METRICS_PORT (`qualify worker`,
    `qualify scheduler`); nothing when the port is 0. Counts CRM calls either way. A port already taken (another
    process on the same host given the same port) is logged as an error: the process works on without it."""
    from service.metrics import watch_crm_calls

    watch_crm_calls()
    if settings.metrics_port <= 0:
        return
    from prometheus_client import start_http_server

    try:
        start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=process_registry())
    except OSError as exc:
        log.error("%s metrics: cannot listen on %s:%s (%s); give each process its own QUALIFY_METRICS_PORT",
                  role, settings.metrics_host, settings.metrics_port, exc)
        return
    log.info("%s metrics on http://%s:%s/metrics", role, settings.metrics_host, settings.metrics_port)
