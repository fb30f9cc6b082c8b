"""Delivery-thread plumbing shared by the HubSpot and Pipedrive webhook senders."""

from __future__ import annotations

import itertools
import threading
from typing import Any, Protocol


class TimeoutSettings(Protocol):
    """Webhook settings with a per-POST timeout in seconds."""

    timeout: float


class ThreadedSender:
    """A condition-guarded queue drained by a daemon thread started on demand, plus the delivery log.

    Subclasses hold the queue, implement `_run` and call `_ensure_thread` after queueing work.
    """

    thread_name = "sandbox-webhooks"

    def __init__(self, settings: TimeoutSettings) -> None:
        self.settings = settings
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._in_flight = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.deliveries: list[dict[str, Any]] = []
        self.dropped = 0

    def snapshot(self) -> list[dict[str, Any]]:
        """Copies of every delivery so far."""
        with self._cond:
            return [dict(d) for d in self.deliveries]

    def stop(self) -> None:
        """Stop the delivery thread (waits for a POST in flight); a later enqueue starts a new one."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.timeout + 1)
        self._thread = None
        with self._cond:
            self._stopping = False

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        raise NotImplementedError
