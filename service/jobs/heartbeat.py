"""The worker's heartbeat: written at most every HEARTBEAT_SECONDS while the worker loops, so /readyz can tell a
worker that stopped (or hangs) from one that is idle."""

from __future__ import annotations

import logging
import time

from service.runtime import Runtime
from service.services.health import beat, worker_name

log = logging.getLogger("qualify.worker")

HEARTBEAT_SECONDS = 10.0


class Heartbeat:
    """Writes this process's heartbeat row when the last one is older than HEARTBEAT_SECONDS."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.worker = worker_name()
        self.started_at = runtime.clock()
        self._last = float("-inf")

    def beat(self) -> None:
        """Write the heartbeat if it is due; a failure is logged, never raised (the next round tries again)."""
        now = time.monotonic()
        if now - self._last < HEARTBEAT_SECONDS:
            return
        try:
            beat(self.runtime, self.worker, self.started_at)
            self._last = now
        except Exception:
            log.warning("could not write the worker heartbeat", exc_info=True)
