"""A seeded CRM sandbox served from a child process, for bench.sync.

In the benchmark's own process the sandbox would share the GIL and the garbage collector with the code
being measured (each request would wait out the interpreter's switch interval while the sandbox thread
computes a page). A child process is closer to a remote CRM. It seeds through the sandbox's in-process
state (no HTTP), serves on loopback and answers call-log queries over a pipe.
"""

from __future__ import annotations

import gc
import multiprocessing
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection
from typing import Any

from bench.sync_crms import CRMS

ATTRIBUTES = ("base_url", "access_token", "account_id", "incoming_webhook_url")


class RemoteSandbox:
    """The parent's view of a sandbox in a child process: its addresses and credentials, and its call log."""

    def __init__(self, info: dict[str, Any], conn: Connection) -> None:
        self.base_url: str = info["base_url"]
        self.access_token: str = info.get("access_token", "")
        self.account_id: Any = info.get("account_id")
        self.incoming_webhook_url: str = info.get("incoming_webhook_url", "")
        self.seed_seconds: float = info["seed_seconds"]
        self._conn = conn

    def api_calls(self, *args: Any) -> list[dict[str, Any]]:
        """The sandbox's api_calls(*args), fetched from the child."""
        self._conn.send(("calls", args))
        result: list[dict[str, Any]] = self._conn.recv()
        return result


def _serve(kind: str, deals: int, limited: bool, conn: Connection) -> None:
    """Child process: seed, start, report the addresses, answer call-log queries until told to stop."""
    crm = CRMS[kind]
    sandbox = crm.sandbox(limited)
    started = time.perf_counter()
    crm.seed(sandbox, deals)
    seed_seconds = time.perf_counter() - started
    gc.collect()
    gc.freeze()  # the seeded deals live until the end: keep them out of the collector's passes
    sandbox.start()
    info = {name: getattr(sandbox, name) for name in ATTRIBUTES if hasattr(sandbox, name)}
    conn.send({**info, "seed_seconds": seed_seconds})
    try:
        while True:
            command, args = conn.recv()
            if command == "stop":
                return
            conn.send(sandbox.api_calls(*args))
    except EOFError:  # the benchmark process is gone
        return
    finally:
        sandbox.stop()


@contextmanager
def running(kind: str, deals: int, *, limited: bool = False) -> Iterator[RemoteSandbox]:
    """A sandbox of `kind` holding `deals` seeded deals, unlimited or with the CRM's published limit on,
    served by a child process for the duration of the block."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(kind, deals, limited, child), daemon=True,
                              name=f"sandbox-{kind}")
    process.start()
    try:
        if not parent.poll(600):
            raise TimeoutError(f"the {kind} sandbox was not seeded within 600 s")
        yield RemoteSandbox(parent.recv(), parent)
    finally:
        if process.is_alive():
            with suppress(OSError):
                parent.send(("stop", ()))
            process.join(10)
        if process.is_alive():
            process.terminate()
            process.join(5)
