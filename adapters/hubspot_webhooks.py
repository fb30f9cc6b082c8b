"""HubSpot webhook authentication (signature v3, optionally v1/v2) and event parsing.

Validation follows HubSpot's guide
(https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation)
and its Python SDK (hubspot/utils/signature.py): v3 is base64(HMAC-SHA256(secret,
method + uri + body + timestamp_ms)), rejected when the timestamp is more than 5 minutes off.
Verify over the raw body bytes first, parse afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from adapters.base import WebhookEvent
from adapters.errors import WebhookAuthError, WebhookFormatError
from adapters.hubspot_mapping import change_source_kind
from adapters.numbers import ascii_int, millis, numeric_id, optional_id

MAX_EVENTS = 100
MAX_ATTEMPT = 1000  # HubSpot retries a delivery up to 10 times
_V3_HEADER = "x-hubspot-signature-v3"
_TS_HEADER = "x-hubspot-request-timestamp"
_LEGACY_HEADER = "x-hubspot-signature"
_VERSION_HEADER = "x-hubspot-signature-version"

# HubSpot: "decode any URL-encoded characters listed in the following table in the requestUri".
_DECODE_TABLE = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}  # fmt: skip
_DECODE_RE = re.compile("|".join(_DECODE_TABLE), re.IGNORECASE)

_KINDS = {
    "propertyChange": "property_change",
    "creation": "creation",
    "deletion": "deletion",
    "merge": "merge",
    "restore": "restore",
    "associationChange": "association",
}
# objectTypeId of the generic "object.*" subscriptions (https://developers.hubspot.com/docs/api/crm/understanding-the-crm).
_OBJECT_TYPE_IDS = {"0-1": "contact", "0-2": "company", "0-3": "deal", "0-5": "ticket", "0-27": "task"}


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp_ms: int | str) -> str:
    """The X-HubSpot-Signature-v3 value HubSpot would send for this request."""
    source = method.upper().encode() + uri.encode() + body + str(timestamp_ms).encode()
    digest = hmac.new(secret.encode(), source, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_legacy(secret: str, version: str, method: str, uri: str, body: bytes) -> str:
    """The X-HubSpot-Signature value for version "v1" (secret + body) or "v2" (+ method + uri)."""
    if version == "v1":
        source = secret.encode() + body
    elif version == "v2":
        source = secret.encode() + method.upper().encode() + uri.encode() + body
    else:
        raise ValueError(f"unknown legacy signature version {version!r}")
    return hashlib.sha256(source).hexdigest()


def _uri_candidates(url: str) -> list[str]:
    """The URL as given, with HubSpot's table of characters decoded, and fully percent-decoded."""
    forms = [url, _DECODE_RE.sub(lambda m: _DECODE_TABLE[m.group(0).upper()], url), unquote(url)]
    return list(dict.fromkeys(forms))


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


class HubSpotWebhookVerifier:
    """Implements adapters.base.WebhookVerifier for HubSpot app webhooks.

    An app's client secret signs the deliveries of every portal the app is installed in, so a valid signature
    does not prove the events are this connection's: with `portal_id`, verify also checks each event's portalId.
    """

    def __init__(
        self,
        client_secret: str,
        *,
        accept_versions: frozenset[str] = frozenset({"v3"}),
        max_age_seconds: int = 300,
        portal_id: str | None = None,
    ) -> None:
        """`portal_id`: the HubSpot account deliveries must come from (None: any account the app is installed
        in). Raises ValueError for an empty secret or an unknown signature version."""
        if not client_secret:
            raise ValueError("HubSpot webhook verification needs the app client secret")
        unknown = set(accept_versions) - {"v1", "v2", "v3"}
        if unknown or not accept_versions:
            raise ValueError(f"accept_versions must be a non-empty subset of v1/v2/v3, got {unknown}")
        self._secret = client_secret
        self._versions = frozenset(accept_versions)
        self._max_age = max_age_seconds
        self._portal_id = str(portal_id) if portal_id else None

    def verify(self, *, method: str, url: str, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Accept the delivery or raise WebhookAuthError.

        `url` is the full public URL HubSpot called (scheme, host, path, query); `now` is epoch
        seconds. Reasons: missing_signature, bad_timestamp, stale_timestamp, unsupported_version,
        bad_signature, wrong_account (with a portal id: an event of another portal, or naming none).
        """
        self._verify_signature(method, url, headers, body, now)
        if self._portal_id is not None:
            self._check_portal(body)

    def _verify_signature(self, method: str, url: str, headers: Mapping[str, str], body: bytes, now: float) -> None:
        h = {k.lower(): v for k, v in headers.items()}
        if "v3" in self._versions and h.get(_V3_HEADER):
            self._verify_v3(method, url, h, body, now)
            return
        legacy = h.get(_LEGACY_HEADER)
        version = (h.get(_VERSION_HEADER) or "").strip().lower()
        if legacy and version in self._versions and version in ("v1", "v2"):
            candidates = _uri_candidates(url) if version == "v2" else [url]
            sig = legacy.strip().lower()
            if not any(_same(sign_legacy(self._secret, version, method, u, body), sig) for u in candidates):
                raise WebhookAuthError("bad_signature", f"X-HubSpot-Signature ({version}) does not match")
            return
        if legacy or h.get(_V3_HEADER):
            raise WebhookAuthError(
                "unsupported_version",
                f"signature version {version or 'v3'} is not accepted ({sorted(self._versions)})",
            )
        raise WebhookAuthError("missing_signature", "no HubSpot signature header")

    def _verify_v3(self, method: str, url: str, h: Mapping[str, str], body: bytes, now: float) -> None:
        raw_ts = (h.get(_TS_HEADER) or "").strip()
        if not raw_ts:
            raise WebhookAuthError("bad_timestamp", "X-HubSpot-Request-Timestamp is missing",
                                   field="X-HubSpot-Request-Timestamp")  # fmt: skip
        # ASCII digits of bounded length before any arithmetic: "²" passes str.isdigit() and int() refuses
        # 5,000 digits with a ValueError, and either would answer an unauthenticated request with a 500.
        sent_ms = ascii_int(raw_ts, "X-HubSpot-Request-Timestamp", max_digits=15, error=WebhookAuthError,
                            reason="bad_timestamp")  # epoch milliseconds  # fmt: skip
        age = now - sent_ms / 1000.0
        if age > self._max_age:
            raise WebhookAuthError("stale_timestamp", f"timestamp is {age:.0f}s old")
        if age < -self._max_age:
            raise WebhookAuthError("stale_timestamp", f"timestamp is {-age:.0f}s in the future")
        given = h[_V3_HEADER].strip()
        if not any(
            _same(sign_v3(self._secret, method, u, body, raw_ts), given) for u in _uri_candidates(url)
        ):
            raise WebhookAuthError("bad_signature", "X-HubSpot-Signature-v3 does not match")

    def _check_portal(self, body: bytes) -> None:
        """Every event object must name this portal. A body that is not a batch of objects is left to `parse`,
        which refuses it (bad_json, bad_batch, bad_event) before anything is stored."""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return
        items = [payload] if isinstance(payload, dict) else payload if isinstance(payload, list) else []
        for index, item in enumerate(items):
            if isinstance(item, dict) and str(item.get("portalId")) != self._portal_id:
                raise WebhookAuthError(
                    "wrong_account", f"event {index} is for portal {item.get('portalId')!r}, not the connection's")

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[WebhookEvent]:
        """Split an authentic delivery into events or raise WebhookFormatError.

        The body is a JSON array of 1..100 event objects (a lone object is accepted too); each event's
        `account` is its portalId. Reasons: bad_json, bad_batch, bad_event.
        """
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise WebhookFormatError("bad_json", f"body is not JSON: {exc}") from None
        items = [payload] if isinstance(payload, dict) else payload
        if not isinstance(items, list):
            raise WebhookFormatError("bad_batch", "body must be a JSON array of events")
        if not 1 <= len(items) <= MAX_EVENTS:
            raise WebhookFormatError(
                "bad_batch", f"a delivery holds 1..{MAX_EVENTS} events, got {len(items)}"
            )
        return [_event(i, item) for i, item in enumerate(items)]


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _event(index: int, item: Any) -> WebhookEvent:
    """One event object, or WebhookFormatError (bad_event) naming the field: every number is ASCII digits with
    bounds, occurredAt is epoch milliseconds between 2000 and 2100, the object id is numeric (it goes into CRM
    URLs)."""
    if not isinstance(item, dict):
        raise WebhookFormatError("bad_event", f"event {index} is not an object")
    where = f"event {index}: "
    event_id = ascii_int(item.get("eventId"), "eventId", where=where)
    occurred_ms = millis(item.get("occurredAt"), "occurredAt", where=where)
    # associationChange events carry fromObjectId instead of objectId; merges carry primaryObjectId.
    id_key = next((k for k in ("objectId", "fromObjectId", "primaryObjectId") if item.get(k) is not None), "objectId")
    object_id = numeric_id(item.get(id_key), id_key, where=where)
    portal = optional_id(item.get("portalId"), "portalId", where=where)
    subscription = optional_id(item.get("subscriptionId"), "subscriptionId", where=where)
    type_name = item.get("subscriptionType") or item.get("eventType") or ""
    if not isinstance(type_name, str):
        raise WebhookFormatError("bad_event", f"{where}subscriptionType must be a string", field="subscriptionType")
    prefix, _, action = type_name.partition(".")
    if prefix == "object":
        type_id = str(item.get("objectTypeId") or "")
        object_type = _OBJECT_TYPE_IDS.get(type_id, type_id or "object")
    else:
        object_type = prefix or "unknown"
    attempt = item.get("attemptNumber")
    attempts = 0 if attempt is None else ascii_int(attempt, "attemptNumber", maximum=MAX_ATTEMPT, where=where)
    property_name = _opt_str(item.get("propertyName"))
    change_source = _opt_str(item.get("changeSource"))
    return WebhookEvent(
        delivery_key=f"{portal}:{subscription}:{event_id}:{occurred_ms}",
        object_id=object_id,
        kind=_KINDS.get(action, "other"),
        occurred_at=datetime.fromtimestamp(occurred_ms / 1000.0, tz=UTC),
        object_type=object_type,
        property_name=property_name,
        property_value=_opt_str(item.get("propertyValue")),
        change_source=change_source,
        source_id=_opt_str(item.get("sourceId")),
        attempt=attempts,
        raw=item,
        new_stage=_opt_str(item.get("propertyValue")) if property_name == "dealstage" else None,
        source=change_source_kind(change_source),
        account=portal,
    )
