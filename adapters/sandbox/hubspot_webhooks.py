"""Webhook events and their delivery, as HubSpot's app webhooks send them.

Source: https://developers.hubspot.com/docs/api/webhooks and the request-validation guide.
A POST carries a JSON array of at most 100 events; it is signed with `X-HubSpot-Signature-v3`
(base64 HMAC-SHA256 of method + URI + body + timestamp, keyed by the client secret) plus the
legacy v1 signature (hex SHA-256 of secret + body). Failed deliveries (connection error, timeout,
non-2xx) are retried with `attemptNumber` incremented; HubSpot spreads 10 retries over 24 h, the
sandbox uses short configurable delays.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters.sandbox.hubspot_state import Actor, CrmObject
from adapters.sandbox.hubspot_values import now_ms
from adapters.sandbox.webhook_thread import ThreadedSender

SUBSCRIPTION_IDS = {"deal.creation": 1001, "deal.deletion": 1002, "deal.propertyChange": 1003}
CHANGE_FLAGS = {"creation": "CREATED", "deletion": "DELETED"}
MAX_EVENTS_PER_REQUEST = 100


@dataclass
class WebhookSettings:
    url: str | None
    client_secret: str
    app_id: int
    portal_id: int
    batch_window: float = 0.05
    retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0)
    timeout: float = 5.0
    duplicates: int = 1
    subscribed_properties: tuple[str, ...] = ("dealstage", "pipeline")


@dataclass
class EventFactory:
    """Builds deal events; one subscription (and subscriptionId) per type and property."""

    settings: WebhookSettings
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(3_816_279_340))
    _property_ids: dict[str, int] = field(default_factory=lambda: {"dealstage": 1003, "pipeline": 1004})

    def subscription_id(self, subscription_type: str, prop: str | None = None) -> int:
        if prop is None:
            return SUBSCRIPTION_IDS[subscription_type]
        # One propertyChange subscription per property: dealstage -> 1003, pipeline -> 1004, ...
        if prop not in self._property_ids:
            self._property_ids[prop] = SUBSCRIPTION_IDS[subscription_type] + len(self._property_ids)
        return self._property_ids[prop]

    def events(self, kind: str, obj: CrmObject, changed: dict[str, str | None], actor: Actor,
               at_ms: int) -> list[dict[str, Any]]:
        if obj.object_type != "deals":
            return []
        base = {"portalId": self.settings.portal_id, "appId": self.settings.app_id, "occurredAt": at_ms,
                "attemptNumber": 0, "objectId": int(obj.id)}
        source = {"changeSource": actor.source_type, "sourceId": actor.source_id}
        if kind in CHANGE_FLAGS:
            subscription = f"deal.{kind}"
            return [{"eventId": next(self._ids), "subscriptionId": self.subscription_id(subscription),
                     **base, "subscriptionType": subscription, "changeFlag": CHANGE_FLAGS[kind], **source}]
        return [
            {"eventId": next(self._ids), "subscriptionId": self.subscription_id("deal.propertyChange", name),
             **base, "subscriptionType": "deal.propertyChange", "propertyName": name,
             "propertyValue": value or "", **source}
            for name, value in changed.items() if name in self.settings.subscribed_properties
        ]


# The v3 guide tells receivers to decode these escapes in the request URI before hashing, so the
# string HubSpot signs has them decoded (the query's leading "?" is never encoded).
URI_DECODES = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
               "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


def signing_uri(uri: str) -> str:
    for escaped, char in URI_DECODES.items():
        uri = uri.replace(escaped, char).replace(escaped.lower(), char)
    return uri


def sign(method: str, uri: str, body: str, timestamp: str, client_secret: str) -> dict[str, str]:
    """All signature headers HubSpot sends with a webhook request to `uri`."""
    source = f"{method}{signing_uri(uri)}{body}{timestamp}"
    v3 = hmac.new(client_secret.encode(), source.encode(), hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "User-Agent": "HubSpot Webhooks",
        "X-HubSpot-Signature": hashlib.sha256(f"{client_secret}{body}".encode()).hexdigest(),
        "X-HubSpot-Signature-Version": "v1",
        "X-HubSpot-Signature-v3": base64.b64encode(v3).decode(),
        "X-HubSpot-Request-Timestamp": timestamp,
    }


class WebhookSender(ThreadedSender):
    """Batches queued events (one `batch_window`) into POSTs from a daemon thread, with retries."""

    thread_name = "hubspot-webhooks"
    settings: WebhookSettings

    def __init__(self, settings: WebhookSettings) -> None:
        super().__init__(settings)
        self._pending: list[dict[str, Any]] = []
        self._first_at = 0.0
        self._retries: list[tuple[float, int, list[dict[str, Any]], int]] = []

    def enqueue(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        with self._cond:
            if not self._pending:
                self._first_at = time.monotonic()
            self._pending.extend(events)
            self._ensure_thread()
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until nothing is queued, scheduled for retry or in flight; TimeoutError otherwise."""
        with self._cond:
            idle = self._cond.wait_for(self._idle, timeout)
        if not idle:
            raise TimeoutError("webhook deliveries still pending")

    def _idle(self) -> bool:
        return not self._pending and not self._retries and not self._in_flight

    def clear(self) -> None:
        with self._cond:
            self._pending.clear()
            self._retries.clear()
            self.deliveries.clear()
            self.dropped = 0
            self._cond.notify_all()


    def _run(self) -> None:
        with httpx.Client(timeout=self.settings.timeout, trust_env=False) as client:
            while True:
                jobs = self._next_jobs()
                if jobs is None:
                    return
                for events, attempt in jobs:
                    try:
                        self._deliver(client, events, attempt)
                    finally:
                        with self._cond:
                            self._in_flight -= 1
                            self._cond.notify_all()

    def _next_jobs(self) -> list[tuple[list[dict[str, Any]], int]] | None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                batch_due = self._first_at + self.settings.batch_window
                ready = bool(self._pending) and now >= batch_due
                retry_ready = bool(self._retries) and self._retries[0][0] <= now
                if ready or retry_ready:
                    break
                wakeups = [batch_due] if self._pending else []
                wakeups += [self._retries[0][0]] if self._retries else []
                self._cond.wait(min(wakeups) - now if wakeups else None)
            else:
                return None
            jobs: list[tuple[list[dict[str, Any]], int]] = []
            if ready:
                events, self._pending = self._pending, []
                jobs += [(events[i:i + MAX_EVENTS_PER_REQUEST], 0)
                         for i in range(0, len(events), MAX_EVENTS_PER_REQUEST)]
            while self._retries and self._retries[0][0] <= now:
                _, _, events, attempt = heapq.heappop(self._retries)
                jobs.append((events, attempt))
            self._in_flight += len(jobs)
            return jobs

    def _deliver(self, client: httpx.Client, events: list[dict[str, Any]], attempt: int) -> None:
        url, secret = self.settings.url, self.settings.client_secret
        if not url:
            with self._cond:
                self.dropped += len(events)
            return
        body = json.dumps([{**e, "attemptNumber": attempt} for e in events], separators=(",", ":"))
        headers = sign("POST", url, body, str(now_ms()), secret)
        delivered = False
        for _ in range(max(1, self.settings.duplicates)):
            record: dict[str, Any] = {"url": url, "headers": headers, "body": body, "attempt": attempt,
                                      "events": len(events), "status": None, "error": None, "at": now_ms()}
            try:
                response = client.post(url, content=body.encode(), headers=headers)
                record["status"] = response.status_code
                delivered = delivered or 200 <= response.status_code < 300
            except httpx.HTTPError as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
            with self._cond:
                self.deliveries.append(record)
        if not delivered and attempt < len(self.settings.retry_delays):
            due = time.monotonic() + self.settings.retry_delays[attempt]
            with self._cond:
                heapq.heappush(self._retries, (due, next(self._seq), events, attempt + 1))
                self._cond.notify_all()
