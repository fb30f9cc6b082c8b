"""Pipedrive webhooks v2: HTTP Basic auth plus an optional path token, and event parsing.

Pipedrive does not sign webhooks; the only built-in protection is the Basic-auth pair set on the webhook
(`http_auth_user`/`http_auth_password`), sent with every request
(https://pipedrive.readme.io/docs/guide-for-webhooks-v2). A random token in the subscription URL is a
second factor: it is accepted as the URL's last path segment (/webhooks/pipedrive/<token>) or as a
`token` query parameter (?token=<token>). Both checks compare in constant time.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from adapters.base import WebhookEvent
from adapters.errors import WebhookAuthError, WebhookFormatError
from adapters.numbers import ascii_int, in_range, numeric_id, optional_id
from adapters.pipedrive_mapping import parse_pipedrive_time
from adapters.pipedrive_status import is_virtual, stage_move

_KINDS = {"change": "property_change", "create": "creation", "delete": "deletion",
          "updated": "property_change", "added": "creation", "deleted": "deletion"}  # fmt: skip
_SOURCES = {"app": "ui", "api": "api"}
MAX_ATTEMPT = 1000  # Pipedrive tries a delivery 4 times
MAX_TIME_TEXT = 40  # "2023-01-01T00:00:00.000000+00:00" and epoch milliseconds are far shorter


def basic_auth_header(username: str, password: str) -> str:
    """The Authorization header value Pipedrive sends for these webhook credentials."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


class PipedriveWebhookVerifier:
    """Implements adapters.base.WebhookVerifier for Pipedrive webhooks v2."""

    def __init__(self, *, username: str, password: str, path_token: str | None = None,
                 company_id: str | None = None) -> None:
        """`company_id`: the Pipedrive company deliveries must belong to (None: not checked).

        Raises ValueError for empty credentials or an empty path token.
        """
        if not username or not password:
            raise ValueError("Pipedrive webhooks need the HTTP Basic auth username and password")
        if path_token is not None and not path_token:
            raise ValueError("path_token must be None or a non-empty string")
        self._expected = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._path_token = path_token
        self._company_id = str(company_id) if company_id else None

    def verify(self, *, method: str, url: str, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Accept the delivery or raise WebhookAuthError.

        Reasons: missing_auth (no Basic Authorization header), bad_auth (wrong credentials), bad_token (the
        configured path token is neither the last path segment nor the `token` query parameter), wrong_account
        (with a company id: meta.company_id names another company, or none). `now` is unused: Pipedrive sends
        no signed timestamp.
        """
        h = {k.lower(): v for k, v in headers.items()}
        scheme, _, credentials = (h.get("authorization") or "").strip().partition(" ")
        if scheme.lower() != "basic" or not credentials.strip():
            raise WebhookAuthError("missing_auth", "no HTTP Basic Authorization header")
        if not _same(self._expected, credentials.strip()):
            raise WebhookAuthError("bad_auth", "HTTP Basic credentials do not match")
        if self._path_token is not None and not self._token_matches(url):
            raise WebhookAuthError("bad_token", "the webhook URL does not carry the expected token")
        if self._company_id is not None:
            self._check_company(body)

    def _check_company(self, body: bytes) -> None:
        """meta.company_id must name this company. A body without a `meta` object is left to `parse`, which
        refuses it (bad_json, bad_event) before anything is stored."""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return
        meta = payload.get("meta") if isinstance(payload, dict) else None
        if isinstance(meta, dict) and str(meta.get("company_id")) != self._company_id:
            raise WebhookAuthError("wrong_account", f"delivery for company {meta.get('company_id')!r}, not the "
                                                    "connection's")

    def _token_matches(self, url: str) -> bool:
        parts = urlsplit(url)
        candidates = [unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])]
        candidates += parse_qs(parts.query).get("token", [])
        expected = self._path_token or ""
        # Compare every candidate (no short-circuit) so timing does not tell which form was tried.
        results = [_same(expected, candidate) for candidate in candidates]
        return any(results)

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[WebhookEvent]:
        """The one event of a v2 delivery, or WebhookFormatError (bad_json, bad_event).

        kind: change -> property_change, create -> creation, delete -> deletion (merge when
        meta.merged_to_id is set). new_stage/old_stage are set only when `previous` holds stage_id or status
        and the deal changed stage as Qualify sees it: a won/lost status is the virtual stage `won`/`lost`, so
        marking won is a move into `won` and reopening a move back to the real stage (pipelines: when
        `previous` holds pipeline_id). Creations carry no old stage, so new_stage stays None for them too.
        """
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise WebhookFormatError("bad_json", f"body is not JSON: {exc}") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("meta"), dict):
            raise WebhookFormatError("bad_event", "body must be an object with a `meta` object")
        return [_event(payload)]


def _opt_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _section(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = payload.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WebhookFormatError("bad_event", f"`{key}` must be an object or null")
    return value


def _occurred_at(meta: Mapping[str, Any]) -> datetime:
    """meta.timestamp: ISO 8601 in the guide, epoch seconds or milliseconds in captured payloads; ASCII only,
    between 2000 and 2100."""
    value = meta.get("timestamp")
    text = str(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else ""
    at = parse_pipedrive_time(text) if text.isascii() and len(text) <= MAX_TIME_TEXT else None
    if at is None:
        raise WebhookFormatError("bad_event", f"meta.timestamp is missing or not a time: {text[:MAX_TIME_TEXT]!r}",
                                 field="meta.timestamp")  # fmt: skip
    return in_range(at, "meta.timestamp")


def _object_id(meta: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    if meta.get("entity_id") not in (None, ""):
        return numeric_id(meta.get("entity_id"), "meta.entity_id")
    return numeric_id(data.get("id"), "data.id")


def _stage_move(data: Mapping[str, Any], previous: Mapping[str, Any]) -> tuple[str | None, str | None] | None:
    """(old, new) Qualify stage of a change to stage_id and/or status (won/lost are the virtual stages of
    adapters.pipedrive_status), None when the deal stays where Qualify sees it. Stage ids must be numbers."""
    clean_data = {"status": data.get("status"), "stage_id": optional_id(data.get("stage_id"), "data.stage_id")}
    clean_previous: dict[str, Any] = {}
    if "stage_id" in previous:
        clean_previous["stage_id"] = optional_id(previous.get("stage_id"), "previous.stage_id")
    if "status" in previous:
        clean_previous["status"] = previous.get("status")
    return stage_move(clean_data, clean_previous)


def _event(payload: Mapping[str, Any]) -> WebhookEvent:
    """The event of a delivery, or WebhookFormatError (bad_event) naming the field: ids (of the object, its
    stages and pipelines, the user and the company) are ASCII numbers, meta.attempt a bounded one."""
    meta: Mapping[str, Any] = payload["meta"]
    data, previous = _section(payload, "data"), _section(payload, "previous")
    delivery = meta.get("id")
    if not isinstance(delivery, str) or not delivery:
        raise WebhookFormatError("bad_event", "meta.id (the event uuid) is missing", field="meta.id")
    action = meta.get("action")
    if not isinstance(action, str) or not action:
        raise WebhookFormatError("bad_event", "meta.action is missing", field="meta.action")
    object_id = _object_id(meta, data)
    attempt = ascii_int(meta.get("attempt", 0), "meta.attempt", maximum=MAX_ATTEMPT)
    kind = _KINDS.get(action, "other")
    if kind == "deletion" and meta.get("merged_to_id"):
        kind = "merge"
    pipeline_moved = "pipeline_id" in previous
    change_source = _opt_str(meta.get("change_source"))
    move = _stage_move(data, previous)
    old_stage, new_stage = move or (None, None)
    stage_moved = move is not None
    old_pipeline = optional_id(previous.get("pipeline_id"), "previous.pipeline_id") if pipeline_moved else None
    if is_virtual(old_stage) and not pipeline_moved:  # "won" is in every pipeline: name the deal's own
        old_pipeline = optional_id(data.get("pipeline_id"), "data.pipeline_id")
    return WebhookEvent(
        delivery_key=delivery,
        object_id=object_id,
        kind=kind,
        occurred_at=_occurred_at(meta),
        object_type=str(meta.get("entity") or "unknown"),
        property_name="stage_id" if stage_moved else None,
        property_value=new_stage,
        change_source=change_source,
        source_id=optional_id(meta.get("user_id"), "meta.user_id"),
        attempt=attempt,
        raw=payload,
        new_stage=new_stage,
        source=_SOURCES.get(change_source or "", "unknown"),
        old_stage=old_stage,
        new_pipeline=optional_id(data.get("pipeline_id"), "data.pipeline_id") if pipeline_moved else None,
        old_pipeline=old_pipeline,
        account=optional_id(meta.get("company_id"), "meta.company_id"),
    )
