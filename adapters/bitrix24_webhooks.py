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

Replays: the token is the same in every body, so a captured body stays authentic forever. `ts` (Unix
seconds of the event, CRM-CONTRACTS 5.3) must be within `max_age_seconds` of now (either way), and the
delivery key is what identifies the event (portal, event, object, `ts`): the same body delivered again has
the same key and is stored once. Two changes of one deal in one second share a key too; processing re-reads
the deal, so the later state is what counts. Offline events are read later than they happened: no window.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.base import WebhookEvent
from adapters.bitrix24_mapping import parse_bitrix_time
from adapters.bitrix24_secrets import is_secret_auth_key
from adapters.errors import WebhookAuthError, WebhookFormatError
from adapters.formdata import parse_php_form
from adapters.numbers import ascii_int, epoch_seconds, numeric_id

log = logging.getLogger(__name__)

KINDS = {"ADD": "creation", "UPDATE": "property_change", "DELETE": "deletion"}
DEFAULT_MAX_AGE = 300  # seconds an event's ts may be off now, either way


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

    def __init__(self, application_token: str, *, account_id: str | None = None, portal: str | None = None,
                 max_age_seconds: int = DEFAULT_MAX_AGE) -> None:  # fmt: skip
        """`account_id`: the portal's member_id (or its domain) deliveries must carry; `portal`: the host or URL
        the portal is called at, which auth[domain] and auth[client_endpoint] must name. None skips a check.
        `max_age_seconds`: how far an event's `ts` may be from now, in the past or the future.

        Raises ValueError for an empty application token.
        """
        if not application_token:
            raise ValueError("Bitrix24 event verification needs the application_token")
        self._token = application_token
        self._account_id = account_id.strip().lower() if account_id else None
        self._portal = portal
        self._max_age = max_age_seconds

    def verify(self, *, method: str, url: str, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Accept the delivery or raise WebhookAuthError.

        Reasons: missing_token, bad_token, wrong_account (an account id configured and neither
        auth[member_id] nor auth[domain] equal to it), wrong_portal (portal configured and
        domain/client_endpoint name another host), stale_timestamp (`ts` more than max_age_seconds from
        `now`, epoch seconds). A missing or malformed `ts` is left to `parse`, which refuses it.
        """
        try:
            form = parse_php_form(body)
        except ValueError:
            form = {}
        auth = _auth_of(form)
        given = auth.get("application_token")
        if not isinstance(given, str) or not given:
            raise WebhookAuthError("missing_token", "no auth[application_token] in the body")
        if not hmac.compare_digest(self._token.encode(), given.encode("utf-8", "replace")):
            raise WebhookAuthError("bad_token", "auth[application_token] does not match")
        if self._account_id is not None and not self._names_account(auth):
            raise WebhookAuthError("wrong_account", "auth[member_id] and auth[domain] name another portal")
        if self._portal is not None and not endpoint_matches(body, self._portal):
            raise WebhookAuthError("wrong_portal", "auth[domain]/auth[client_endpoint] do not name the portal")
        self._check_age(form.get("ts"), now)

    def _check_age(self, ts: object, now: float) -> None:
        try:
            sent = ascii_int(ts, "ts", max_digits=12)
        except WebhookFormatError:
            return  # parse refuses it (400) before anything is stored
        age = now - sent
        if age > self._max_age:
            raise WebhookAuthError("stale_timestamp", f"ts is {age:.0f}s old", field="ts")
        if age < -self._max_age:
            raise WebhookAuthError("stale_timestamp", f"ts is {-age:.0f}s in the future", field="ts")

    def _names_account(self, auth: Mapping[str, Any]) -> bool:
        expected = (self._account_id or "").encode()
        member, domain = auth.get("member_id"), auth.get("domain")
        # Both compared (no short-circuit) so timing does not tell which one matched.
        results = [isinstance(given, str) and hmac.compare_digest(expected, given.strip().lower().encode())
                   for given in (member, domain)]
        return any(results)

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[WebhookEvent]:
        """One event per delivery (Bitrix24 sends one call per change) or WebhookFormatError.

        Reasons: bad_form, bad_event (no event name, a data[FIELDS][ID] that is not an ASCII number, a `ts`
        that is not Unix seconds between 2000 and 2100; `field` names which).
        """
        form = _form(body)
        name = form.get("event")
        if not isinstance(name, str) or not name:
            raise WebhookFormatError("bad_event", "event (the event name) is missing", field="event")
        fields = (form.get("data") or {}).get("FIELDS") if isinstance(form.get("data"), dict) else None
        object_id = numeric_id(fields.get("ID") if isinstance(fields, dict) else None, "data[FIELDS][ID]")
        occurred_at = epoch_seconds(form.get("ts"), "ts")
        member_id = _auth_of(form).get("member_id")
        member = member_id if isinstance(member_id, str) and member_id else None
        name = name.upper()
        return [WebhookEvent(
            # What identifies the event: Bitrix24 sends no event id and never retries, so a second identical body
            # is a replay (or a second handler of the same change) and gets the same key.
            delivery_key=f"{member}:{name}:{object_id}:{occurred_at.timestamp():.0f}", object_id=object_id,
            kind=kind_of(name), occurred_at=occurred_at, object_type=object_type_of(name), raw=redacted(form),
            account=member,
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
    auth = {k: v for k, v in _auth_of(form).items() if not is_secret_auth_key(str(k))}
    return {**form, "auth": auth} if "auth" in form else dict(form)


def offline_event_of(raw: Mapping[str, Any], process_id: str | None) -> WebhookEvent:
    """An event.offline.get record as a WebhookEvent; raw keeps MESSAGE_ID and process_id for clearing.

    Offline records coalesce every change of one object into one MESSAGE_ID (events/offline-events.md)
    and a later change after a clear can reuse it, so the delivery key adds TIMESTAMP_X. They are read later
    than they happened, so no replay window applies. Raises WebhookFormatError for a record whose object id
    is not an ASCII number.
    """
    data = raw.get("EVENT_DATA")
    fields = data.get("FIELDS") if isinstance(data, dict) else None
    object_id = numeric_id(fields.get("ID") if isinstance(fields, dict) else None, "EVENT_DATA.FIELDS.ID")
    name = str(raw.get("EVENT_NAME") or "")
    stamp = str(raw.get("TIMESTAMP_X") or "")
    return WebhookEvent(
        delivery_key=f"{raw.get('MESSAGE_ID')}:{stamp}", object_id=object_id, kind=kind_of(name),
        occurred_at=parse_bitrix_time(stamp) or datetime.now(UTC), object_type=object_type_of(name),
        raw={**raw, "process_id": process_id}, source_id=acting_user_of(raw),
    )  # fmt: skip


def acting_user_of(raw: Mapping[str, Any]) -> str | None:
    """EVENT_ADDITIONAL.user_id of an offline record, where the portal fills it (the documented samples show
    `false`): the user whose change it records. Online events name no user."""
    additional = raw.get("EVENT_ADDITIONAL")
    user = additional.get("user_id") if isinstance(additional, Mapping) else None
    text = str(user) if isinstance(user, int | str) and not isinstance(user, bool) else ""
    return text if text.isascii() and text.isdigit() and 0 < len(text) <= 20 else None


def offline_events_of(records: Iterable[Any], process_id: str | None) -> list[WebhookEvent]:
    """The events of event.offline.get records; a malformed record is logged and left out (it stays hidden
    under its process id in Bitrix24) rather than blocking every later one."""
    events: list[WebhookEvent] = []
    for raw in records:
        try:
            if not isinstance(raw, Mapping):
                raise WebhookFormatError("bad_event", "an offline event is not an object")
            events.append(offline_event_of(raw, process_id))
        except WebhookFormatError as exc:
            log.warning("Bitrix24 offline event left out: %s", exc.detail)
    return events
