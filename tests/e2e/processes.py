"""Real `qualify` processes on a PostgreSQL database of their own, for the scale-out tests (shared CRM limits,
scheduler fail-over): the processes run the production commands, only their settings differ."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from service.db import make_engine
from service.migrate import upgrade
from tests.conftest import PG_URL, TEST_FERNET_KEY, _pg_engine


@contextmanager
def pg_database() -> Iterator[Engine]:
    """A migrated PostgreSQL schema of its own, dropped afterwards."""
    engine, schema = _pg_engine()
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def qualify_env(engine: Engine, instance: Path, **settings: str) -> dict[str, str]:
    """The environment of a `qualify` process on `engine`'s database; `settings` are QUALIFY_<NAME> values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALIFY_")}
    env.update({
        "QUALIFY_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "QUALIFY_SECRET_KEY": TEST_FERNET_KEY,
        "QUALIFY_INSTANCE_PATH": str(instance),
        "QUALIFY_ALLOW_LOOPBACK_CRM": "1",
        "QUALIFY_LOG_LEVEL": "INFO",
    })
    env.update({f"QUALIFY_{name.upper()}": value for name, value in settings.items()})
    return env


class Processes:
    """`qualify` subprocesses started by a test, each logging to a file of its own, all stopped at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[subprocess.Popen[bytes]] = []
        self._logs: dict[int, Path] = {}

    def start(self, name: str, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
        """Start `qualify <args>` with its output in <folder>/<name>.log."""
        path = self.folder / f"{name}.log"
        with path.open("wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "service.cli", *args], env=env, stdout=log,
                                       stderr=subprocess.STDOUT)
        self.started.append(process)
        self._logs[process.pid] = path
        return process

    def log(self, process: subprocess.Popen[bytes]) -> str:
        """What a process printed so far."""
        return self._logs[process.pid].read_text(errors="replace")

    def stop_all(self, timeout: float = 10.0) -> None:
        """SIGTERM every live process, SIGKILL what is still alive after `timeout`."""
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.started:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
