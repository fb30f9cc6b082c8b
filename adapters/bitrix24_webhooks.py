"""Bitrix24 event authentication (ONCRMDEALUPDATE / ADD / DELETE) and parsing, online and offline.

Bitrix24 posts events as application/x-www-form-urlencoded bodies with PHP bracket keys
(api-reference/crm/deals/events/on-crm-deal-update.md):

    event=ONCRMDEALUPDATE&event_handler_id=201&data[FIELDS][ID]=759&ts=1736405807
    &auth[domain]=...&auth[client_endpoint]=...&auth[server_endpoint]=...
    &auth[member_id]=...&auth[application_token]=...

There is no signature: the shared secret `auth[application_token]` is compared with the stored one
(constant time) and `auth[member_id]` identifies the portal (events/safe-event-handlers.md).
`auth[domain]` and `auth[client_endpoint]` are attacker-controlled text: they are never used to
call back, only compared with the portal we stored (`endpoint_matches`). The payload carries the
deal id only (no stage): the service re-reads the deal and its stage history.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.base import WebhookEvent
from adapters.bitrix24_mapping import parse_bitrix_time
from adapters.errors import WebhookAuthError, WebhookFormatError
from adapters.formdata import parse_php_form

KINDS = {"ADD": "creation", "UPDATE": "property_change", "DELETE": "deletion"}
_SECRET_KEYS = frozenset({"application_token", "access_token", "refresh_token"})


def _form(body: bytes | str) -> dict[str, Any]:
    try:
        return parse_php_form(body)
    except ValueError as exc:
        raise WebhookFormatError("bad_form", f"body is not a form: {exc}") from None


def _auth_of(form: Mapping[str, Any]) -> Mapping[str, Any]:
    auth = form.get("auth")
    return auth if isinstance(auth, dict) else {}


def _netloc(url_or_host: str) -> tuple[str, str]:
    """(scheme or "", lowercase host[:port]) of a URL, or of a bare host."""
    text = url_or_host.strip()
    if "://" not in text:
        return "", text.split("/", 1)[0].lower()
    url = httpx.URL(text)
    return url.scheme, url.netloc.decode("ascii").lower()


def endpoint_matches(body: bytes | str, portal: str) -> bool:
    """Whether `auth[domain]` and `auth[client_endpoint]` both name `portal` (host[:port] or URL).

    Both must be present; the endpoint must be ``<scheme>://<portal host>/rest/`` (same scheme when
    `portal` is a URL). Anything else, malformed bodies included, is False.
    """
    try:
        auth = _auth_of(parse_php_form(body))
    except ValueError:
        return False
    domain, endpoint = str(auth.get("domain") or ""), str(auth.get("client_endpoint") or "")
    if not domain or not endpoint or not portal.strip():
        return False
    scheme, host = _netloc(portal)
    try:
        endpoint_url = httpx.URL(endpoint)
    except (httpx.InvalidURL, ValueError):
        return False
    endpoint_host = endpoint_url.netloc.decode("ascii", "replace").lower()
    return (
        domain.strip().lower() == host
        and endpoint_host == host
        and endpoint_url.path.startswith("/rest/")
        and (not scheme or endpoint_url.scheme == scheme)
    )


class Bitrix24WebhookVerifier:
    """Implements adapters.base.WebhookVerifier for Bitrix24 outbound webhooks and app events."""

    def __init__(self, application_token: str, *, account_id: str | None = None, portal: str | None = None) -> None:
        """`account_id`: the portal's member_id (or its domain) deliveries must carry; `portal`: the host or URL
        the portal is called at, which auth[domain] and auth[client_endpoint] must name. None skips a check.

        Raises ValueError for an empty application token.
        """
        if not application_token:
            raise ValueError("Bitrix24 event verification needs the application_token")
        self._token = application_token
        self._account_id = account_id.strip().lower() if account_id else None
        self._portal = portal

    def verify(self, *, method: str, url: str, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Accept the delivery or raise WebhookAuthError.

        Reasons: missing_token, bad_token, wrong_account (an account id configured and neither
        auth[member_id] nor auth[domain] equal to it), wrong_portal (portal configured and
        domain/client_endpoint name another host).
        Bitrix24 sends no timestamp to check freshness against; `now` is unused.
        """
        try:
            auth = _auth_of(parse_php_form(body))
        except ValueError:
            auth = {}
        given = auth.get("application_token")
        if not isinstance(given, str) or not given:
            raise WebhookAuthError("missing_token", "no auth[application_token] in the body")
        if not hmac.compare_digest(self._token.encode(), given.encode("utf-8", "replace")):
            raise WebhookAuthError("bad_token", "auth[application_token] does not match")
        if self._account_id is not None and not self._names_account(auth):
            raise WebhookAuthError("wrong_account", "auth[member_id] and auth[domain] name another portal")
        if self._portal is not None and not endpoint_matches(body, self._portal):
            raise WebhookAuthError("wrong_portal", "auth[domain]/auth[client_endpoint] do not name the portal")

    def _names_account(self, auth: Mapping[str, Any]) -> bool:
        expected = (self._account_id or "").encode()
        member, domain = auth.get("member_id"), auth.get("domain")
        # Both compared (no short-circuit) so timing does not tell which one matched.
        results = [isinstance(given, str) and hmac.compare_digest(expected, given.strip().lower().encode())
                   for given in (member, domain)]
        return any(results)

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[WebhookEvent]:
        """One event per delivery (Bitrix24 sends one call per change) or WebhookFormatError.

        Reasons: bad_form, bad_event (no event name, no data[FIELDS][ID] or a non-numeric ts).
        """
        form = _form(body)
        name = str(form.get("event") or "").upper()
        fields = (form.get("data") or {}).get("FIELDS") if isinstance(form.get("data"), dict) else None
        object_id = fields.get("ID") if isinstance(fields, dict) else None
        ts = str(form.get("ts") or "")
        if not name or not isinstance(object_id, str) or not object_id or not ts.isdigit():
            raise WebhookFormatError("bad_event", "need event, data[FIELDS][ID] and a numeric ts")
        member_id = _auth_of(form).get("member_id")
        member = member_id if isinstance(member_id, str) and member_id else None
        return [WebhookEvent(
            # Bitrix24 sends no event id and never retries, and two changes in one second give identical
            # bodies: every delivery is its own event (processing re-reads the deal, so a repeat is harmless).
            delivery_key=f"{member}:{name}:{object_id}:{ts}:{uuid.uuid4().hex[:12]}", object_id=object_id,
            kind=kind_of(name),
            occurred_at=datetime.fromtimestamp(int(ts), tz=UTC), object_type=object_type_of(name),
            raw=redacted(form), account=member,
        )]  # fmt: skip


def kind_of(event_name: str) -> str:
    """ONCRMDEALUPDATE -> property_change, ...ADD -> creation, ...DELETE -> deletion, else other."""
    return next((kind for suffix, kind in KINDS.items() if event_name.upper().endswith(suffix)), "other")


def object_type_of(event_name: str) -> str:
    """ONCRMDEAL* -> deal, ONCRMLEAD* -> lead, anything else unknown."""
    name = event_name.upper()
    return "deal" if name.startswith("ONCRMDEAL") else "lead" if name.startswith("ONCRMLEAD") else "unknown"


def redacted(form: Mapping[str, Any]) -> dict[str, Any]:
    """The form without the secrets in `auth` (tokens must never be stored or logged)."""
    auth = {k: v for k, v in _auth_of(form).items() if k not in _SECRET_KEYS}
    return {**form, "auth": auth} if "auth" in form else dict(form)


def offline_event_of(raw: Mapping[str, Any], process_id: str | None) -> WebhookEvent:
    """An event.offline.get record as a WebhookEvent; raw keeps MESSAGE_ID and process_id for clearing.

    Offline records coalesce every change of one object into one MESSAGE_ID (events/offline-events.md)
    and a later change after a clear can reuse it, so the delivery key adds TIMESTAMP_X.
    Raises WebhookFormatError for a record without an object id.
    """
    data = raw.get("EVENT_DATA")
    fields = data.get("FIELDS") if isinstance(data, dict) else None
    object_id = fields.get("ID") if isinstance(fields, dict) else None
    if object_id in (None, ""):
        raise WebhookFormatError("bad_event", f"offline event {raw.get('ID')} has no EVENT_DATA.FIELDS.ID")
    name = str(raw.get("EVENT_NAME") or "")
    stamp = str(raw.get("TIMESTAMP_X") or "")
    return WebhookEvent(
        delivery_key=f"{raw.get('MESSAGE_ID')}:{stamp}", object_id=str(object_id), kind=kind_of(name),
        occurred_at=parse_bitrix_time(stamp) or datetime.now(UTC), object_type=object_type_of(name),
        raw={**raw, "process_id": process_id},
    )  # fmt: skip
