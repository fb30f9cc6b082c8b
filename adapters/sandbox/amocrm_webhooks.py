"""Account webhooks as amoCRM sends them: form-encoded PHP bracket bodies, several leads per body.

Shape: CRM-CONTRACTS 4.3 and https://www.amocrm.ru/developers/content/crm_platform/webhooks-format
(``leads[status][0][id]=..&leads[status][0][old_status_id]=..&account[subdomain]=..&account[id]=..``;
custom fields in the legacy ``custom_fields[i][values][j][value|enum]`` shape). Changes that arrive
within `batch_window` seconds go out in one POST. No signature. amoCRM's retry policy for account
webhooks is undocumented: by default none (`retry_delays` configurable).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters.formdata import encode_php_form


@dataclass
class WebhookSettings:
    """Where and what the sandbox posts; `events` are amoCRM's actions (status, update, add, delete)."""

    url: str | None
    subdomain: str
    account_id: int
    base_url: str = ""
    events: tuple[str, ...] = ("status", "add")
    batch_window: float = 0.05
    retry_delays: tuple[float, ...] = ()
    timeout: float = 5.0


def legacy_entry(action: str, lead: dict[str, Any], old: dict[str, Any], user_id: int,
                 fields: dict[int, dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """One `leads[action][i]` entity in the webhook's legacy field names."""
    if action == "delete":
        return {"id": lead["id"], "status_id": lead["status_id"], "pipeline_id": lead["pipeline_id"]}
    entry: dict[str, Any] = {
        "id": lead["id"], "name": lead["name"], "status_id": lead["status_id"], "price": lead["price"],
        "responsible_user_id": lead["responsible_user_id"], "last_modified": lead["updated_at"],
        "modified_user_id": user_id, "created_user_id": lead["created_by"], "date_create": lead["created_at"],
        "pipeline_id": lead["pipeline_id"], "account_id": lead["account_id"],
    }  # fmt: skip
    if action == "status":
        entry["old_status_id"], entry["old_pipeline_id"] = old["status_id"], old["pipeline_id"]
    custom = []
    for fid, values in sorted(lead["custom"].items()):
        item: dict[str, Any] = {"id": fid, "name": fields[fid]["name"], "values": []}
        for value in values:
            legacy = {"value": value["value"] if not isinstance(value["value"], bool) else int(value["value"])}
            if value.get("enum_id") is not None:
                legacy["enum"] = value["enum_id"]
            item["values"].append(legacy)
        custom.append(item)
    if custom:
        entry["custom_fields"] = custom
    entry["created_at"], entry["updated_at"] = lead["created_at"], lead["updated_at"]
    return entry


@dataclass
class WebhookSender:
    """A background thread that batches queued entities into form POSTs."""

    settings: WebhookSettings
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    _queue: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _busy: bool = False
    _stopped: bool = False
    _thread: threading.Thread | None = None

    def enqueue(self, action: str, entry: dict[str, Any]) -> None:
        if self.settings.url is None or action not in self.settings.events:
            return
        with self._cond:
            self._queue.append((action, entry))
            if self._thread is None or not self._thread.is_alive():
                self._stopped = False
                self._thread = threading.Thread(target=self._run, name="amocrm-webhooks", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def body(self, batch: list[tuple[str, dict[str, Any]]]) -> str:
        """The form body of one POST: every queued entity grouped by action, then the account."""
        leads: dict[str, list[dict[str, Any]]] = {}
        for action, entry in batch:
            leads.setdefault(action, []).append(entry)
        s = self.settings
        account = {"subdomain": s.subdomain, "id": s.account_id, "_links": {"self": s.base_url}}
        return encode_php_form({"leads": leads, "account": account})

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                self._busy = True
            time.sleep(self.settings.batch_window)
            with self._cond:
                batch, self._queue = self._queue, []
            try:
                self._post(self.body(batch))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _post(self, body: str) -> None:
        url = self.settings.url
        if url is None:
            return
        headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "amoCRM-Webhooks/3.0"}
        for attempt, delay in enumerate((0.0, *self.settings.retry_delays)):
            time.sleep(delay)
            record: dict[str, Any] = {"url": url, "headers": headers, "body": body, "attempt": attempt,
                                      "status": None, "error": None}  # fmt: skip
            try:
                answer = httpx.post(url, content=body, headers=headers, timeout=self.settings.timeout)
                record["status"] = answer.status_code
            except httpx.HTTPError as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
            with self._cond:
                self.deliveries.append(record)
            if record["status"] is not None and 200 <= record["status"] < 300:
                return

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until the queue is empty and nothing is in flight; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("amoCRM sandbox webhooks still pending")
                self._cond.wait(remaining)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._cond:
            return [dict(d) for d in self.deliveries]

    def clear(self) -> None:
        with self._cond:
            self._queue.clear()
            self.deliveries.clear()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
