"""The worker: processes stored events, then delivers due outbox actions, until stopped."""

from __future__ import annotations

import logging
import threading

from service import log_context
from service.jobs.heartbeat import Heartbeat
from service.runtime import Runtime
from service.services.events import claim_events, process_event
from service.services.outbox import claim_deliveries, deliver_claimed

log = logging.getLogger("qualify.worker")


class Worker:
    """Polls for work; `wake_worker()` on the runtime cuts the wait short."""

    def __init__(self, runtime: Runtime, stop: threading.Event | None = None) -> None:
        self.runtime = runtime
        self.stop = stop or threading.Event()
        self.heartbeat = Heartbeat(runtime)

    def run_once(self) -> int:
        """Process ready events and due actions once; returns how many items were handled."""
        batch = self.runtime.settings.worker_batch
        handled = 0
        for event_id in claim_events(self.runtime, batch):
            with log_context.scope():  # the event's request id, bound while it is processed
                process_event(self.runtime, event_id)
            handled += 1
        for action, connection in claim_deliveries(self.runtime, batch):  # read with the claim, not again
            with log_context.scope():
                deliver_claimed(self.runtime, action, connection)
            handled += 1
        return handled

    def run_until_idle(self, max_rounds: int = 100) -> int:
        """Work until nothing is ready (used by tests and `qualify demo`); returns items handled."""
        total = 0
        for _ in range(max_rounds):
            handled = self.run_once()
            total += handled
            if handled == 0:
                break
        return total

    def run_forever(self) -> None:
        """Loop until `stop` is set, sleeping between empty polls."""
        log.info("worker started")
        while not self.stop.is_set():
            try:
                self.heartbeat.beat()
                handled = self.run_once()
            except Exception:
                log.exception("worker round failed; continuing")
                handled = 0
            if handled == 0:
                self.runtime.wakeup.wait(self.runtime.settings.worker_poll_seconds)
                self.runtime.wakeup.clear()
        log.info("worker stopped")

    def start_thread(self) -> threading.Thread:
        """Run the loop in a daemon thread (the embedded mode)."""
        thread = threading.Thread(target=self.run_forever, name="qualify-worker", daemon=True)
        thread.start()
        return thread
