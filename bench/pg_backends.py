"""The PostgreSQL server processes serving one benchmark, told apart from every other client of the machine's
database by an application_name: their CPU seconds (Linux /proc) and what they wait on (pg_stat_activity).

`bench.measure.postgres_cpu_seconds` sums every postgres process, other users' included, and loses the seconds
of backends that exit meanwhile; these count only the benchmark's own sessions.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from service.db import make_engine

ACTIVITY = text("SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity WHERE application_name = :name")


def tagged(url: str, name: str) -> str:
    """`url` with the application_name `name` (psycopg passes it to the server)."""
    return make_url(url).update_query_dict({"application_name": name}).render_as_string(hide_password=False)


def _cpu(pid: int) -> float:
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


class Backends:
    """The backends whose application_name is `name`, watched through `url` (any database on the server)."""

    def __init__(self, url: str, name: str) -> None:
        self.name = name
        self._engine: Engine = make_engine(url, pool_size=1)
        self._start: dict[int, float] = {}

    def _activity(self) -> list[Any]:
        with self._engine.connect() as conn:
            return list(conn.execute(ACTIVITY, {"name": self.name}))

    def start(self) -> None:
        """Remember each backend's CPU seconds so far."""
        self._start = {row.pid: _cpu(row.pid) for row in self._activity()}

    def cpu_seconds(self) -> float:
        """CPU seconds the backends used since start() (a backend opened since counts from its start; one closed
        since is lost)."""
        return sum(_cpu(row.pid) - self._start.get(row.pid, 0.0) for row in self._activity())

    def sample_waits(self, stop: threading.Event, interval: float = 0.02) -> Counter[str]:
        """Until `stop`: how often the backends were seen in each state (busy on CPU, waiting on a lock, on the
        WAL flush, or idle waiting for the client) every `interval` seconds."""
        seen: Counter[str] = Counter()
        while not stop.wait(interval):
            for row in self._activity():
                if row.state == "active":
                    seen[f"{row.wait_event_type}:{row.wait_event}" if row.wait_event else "running"] += 1
                else:
                    seen[row.state or "?"] += 1
        return seen

    def dispose(self) -> None:
        """Close the watching connection."""
        self._engine.dispose()
