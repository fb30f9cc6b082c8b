"""Outgoing events of the Bitrix24 sandbox: online form POSTs (never retried) and the offline queue.

Online: one POST per change with the documented body (crm/deals/events/on-crm-deal-update.md),
sent from a background thread; Bitrix24 "will log the failure but will not resend".
Offline: event.offline.get semantics (events/offline-events.md): one record per (event, object),
updated in place by later changes; `clear=0` hides a batch under a process_id until
event.offline.clear.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.formdata import encode_php_form
from adapters.sandbox.bitrix24_state import now_text


@dataclass
class EventSettings:
    """Where and as whom events are sent; mutable through /_sandbox/config."""

    url: str | None
    application_token: str
    member_id: str
    domain: str = ""
    client_endpoint: str = ""
    offline: bool = False
    timeout: float = 5.0
    handler_id: int = 1


def event_body(settings: EventSettings, event: str, deal_id: int, ts: int) -> str:
    """The form body Bitrix24 posts for an outbound-webhook event."""
    return encode_php_form({
        "event": event, "event_handler_id": str(settings.handler_id), "data": {"FIELDS": {"ID": str(deal_id)}},
        "ts": str(ts), "auth": {
            "domain": settings.domain, "client_endpoint": settings.client_endpoint,
            "server_endpoint": "https://oauth.bitrix.info/rest/", "member_id": settings.member_id,
            "application_token": settings.application_token,
        },
    })  # fmt: skip


class WebhookSender:
    """Posts queued bodies one by one from a daemon thread; records every attempt."""

    def __init__(self, settings: EventSettings) -> None:
        self.settings = settings
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._deliveries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def enqueue(self, event: str, deal_id: int) -> None:
        if not self.settings.url:
            return
        self._queue.put((self.settings.url, event_body(self.settings, event, deal_id, int(time.time()))))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="b24-sandbox-events", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=self.settings.timeout) as client:
            while True:
                job = self._queue.get()
                try:
                    if job is None:
                        return
                    self._deliver(client, *job)
                finally:
                    self._queue.task_done()

    def _deliver(self, client: httpx.Client, url: str, body: str) -> None:
        record: dict[str, Any] = {"url": url, "body": body, "status": None, "error": None, "at": time.time()}
        try:
            response = client.post(url, content=body,
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
            record["status"] = response.status_code
        except httpx.HTTPError as exc:  # no retry: Bitrix24 never resends
            record["error"] = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._deliveries.append(record)

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until every queued POST was attempted; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                raise TimeoutError("webhook deliveries still pending")
            time.sleep(0.01)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(d) for d in self._deliveries]

    def clear(self) -> None:
        with self._lock:
            self._deliveries.clear()

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=5)


class OfflineQueue:
    """The event.offline.* queue: coalesced records, process ids for at-least-once clearing."""

    def __init__(self) -> None:
        self._records: list[dict[str, Any]] = []
        self._next_id = 0

    def add(self, event: str, deal_id: int, user_id: str = "1") -> None:
        """Record (or refresh) the event for this object; a hidden record gets a fresh copy. EVENT_ADDITIONAL names
        the user whose change it is (the latest one's, when changes coalesce)."""
        message_id = hashlib.md5(f"{event}|{deal_id}".encode()).hexdigest()
        for record in self._records:
            if record["MESSAGE_ID"] == message_id and record["PROCESS_ID"] is None:
                record.update(TIMESTAMP_X=now_text(), EVENT_ADDITIONAL={"user_id": str(user_id)})
                return
        self._next_id += 1
        self._records.append({"ID": str(self._next_id), "TIMESTAMP_X": now_text(), "EVENT_NAME": event,
                              "EVENT_DATA": {"FIELDS": {"ID": deal_id}}, "EVENT_ADDITIONAL": {"user_id": str(user_id)},
                              "MESSAGE_ID": message_id, "PROCESS_ID": None})  # fmt: skip

    def take(self, limit: int, clear: bool) -> dict[str, Any]:
        """The first `limit` free records; deleted when `clear`, else hidden under a new process_id."""
        free = [r for r in self._records if r["PROCESS_ID"] is None][: max(1, min(limit, 50))]
        process_id = None if clear else uuid.uuid4().hex
        for record in free:
            if clear:
                self._records.remove(record)
            else:
                record["PROCESS_ID"] = process_id
        events = [{k: v for k, v in r.items() if k != "PROCESS_ID"} for r in free]
        return {"process_id": process_id, "events": events}

    def clear(self, process_id: str, message_ids: list[str]) -> None:
        """Delete the process's records (only those with `message_ids`, when given)."""
        self._records = [r for r in self._records if not (
            r["PROCESS_ID"] == process_id and (not message_ids or r["MESSAGE_ID"] in message_ids))]  # fmt: skip

    def pending(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._records]

    def reset(self) -> None:
        self._records.clear()
