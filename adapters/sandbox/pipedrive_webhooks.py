"""Webhooks v2 deliveries as Pipedrive sends them (https://pipedrive.readme.io/docs/guide-for-webhooks-v2).

One POST per event, JSON `{"meta", "data", "previous"}`, HTTP Basic auth with the webhook's credentials,
User-Agent `Pipedrive-Webhook`. A non-2xx answer or a timeout is retried 3 more times with `meta.attempt`
incremented (Pipedrive waits 3, 30 and 150 s; the sandbox uses short configurable delays).
"""

from __future__ import annotations

import base64
import heapq
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.sandbox import pipedrive_seed as seed
from adapters.sandbox.pipedrive_state import Actor
from adapters.sandbox.webhook_thread import ThreadedSender


@dataclass
class WebhookSettings:
    url: str | None
    user: str
    password: str
    retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0)
    timeout: float = 10.0
    duplicates: int = 1
    webhook_id: int = 234567


def event_body(settings: WebhookSettings, action: str, data: dict[str, Any], previous: dict[str, Any] | None,
               actor: Actor, permitted: list[str] | None = None) -> dict[str, Any]:
    """The v2 body of one deal event (attempt 1); `data` is null for deletions, `previous` for creations.
    `permitted`: the ids of the users who may see the deal (every active user here)."""
    meta = {
        "action": action, "entity": "deal", "entity_id": str(data["id"]), "id": str(uuid.uuid4()),
        "company_id": str(seed.COMPANY_ID), "user_id": str(actor.user_id), "webhook_id": str(settings.webhook_id),
        "webhook_owner_id": "1", "version": "2.0", "type": "general", "change_source": actor.change_source,
        "is_bulk_edit": False, "attempt": 1, "host": f"{seed.COMPANY_DOMAIN}.pipedrive.com",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "permitted_user_ids": permitted or [str(actor.user_id)], "correlation_id": str(uuid.uuid4()),
    }  # fmt: skip
    return {"data": None if action == "delete" else data, "previous": previous, "meta": meta}


class WebhookSender(ThreadedSender):
    """Posts queued event bodies from a daemon thread, retrying failures with meta.attempt + 1."""

    thread_name = "pipedrive-webhooks"
    settings: WebhookSettings

    def __init__(self, settings: WebhookSettings) -> None:
        super().__init__(settings)
        self._queue: list[tuple[float, int, dict[str, Any]]] = []

    def enqueue(self, body: dict[str, Any]) -> None:
        with self._cond:
            heapq.heappush(self._queue, (time.monotonic(), next(self._seq), body))
            self._ensure_thread()
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until nothing is queued, scheduled for retry or in flight; TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: not self._queue and not self._in_flight, timeout):
                raise TimeoutError("webhook deliveries still pending")

    def clear(self) -> None:
        with self._cond:
            self._queue.clear()
            self.deliveries.clear()
            self.dropped = 0
            self._cond.notify_all()


    def _run(self) -> None:
        with httpx.Client(timeout=self.settings.timeout, trust_env=False) as client:
            while True:
                with self._cond:
                    while not self._stopping and not (self._queue and self._queue[0][0] <= time.monotonic()):
                        self._cond.wait(self._queue[0][0] - time.monotonic() if self._queue else None)
                    if self._stopping:
                        return
                    _, _, body = heapq.heappop(self._queue)
                    self._in_flight += 1
                try:
                    self._deliver(client, body)
                finally:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()

    def _deliver(self, client: httpx.Client, body: dict[str, Any]) -> None:
        url = self.settings.url
        if not url:
            with self._cond:
                self.dropped += 1
            return
        auth = base64.b64encode(f"{self.settings.user}:{self.settings.password}".encode()).decode()
        headers = {"Content-Type": "application/json", "User-Agent": "Pipedrive-Webhook",
                   "Authorization": f"Basic {auth}"}  # fmt: skip
        text = json.dumps(body, separators=(",", ":"))
        delivered = False
        for _ in range(max(1, self.settings.duplicates)):
            record: dict[str, Any] = {"url": url, "headers": headers, "body": text, "attempt": body["meta"]["attempt"],
                                      "status": None, "error": None, "at": time.time()}  # fmt: skip
            try:
                response = client.post(url, content=text.encode(), headers=headers)
                record["status"] = response.status_code
                delivered = delivered or 200 <= response.status_code < 300
            except httpx.HTTPError as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
            with self._cond:
                self.deliveries.append(record)
        attempt = int(body["meta"]["attempt"])
        if not delivered and attempt <= len(self.settings.retry_delays):
            retry = {**body, "meta": {**body["meta"], "attempt": attempt + 1}}
            with self._cond:
                due = time.monotonic() + self.settings.retry_delays[attempt - 1]
                heapq.heappush(self._queue, (due, next(self._seq), retry))
                self._cond.notify_all()
