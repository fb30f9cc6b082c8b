"""amoCRM / Kommo account webhooks: authentication by URL secret and event parsing.

amoCRM signs nothing (CRM-CONTRACTS 4.3). The webhook URL we register carries an unguessable
secret, either as the ``secret`` query parameter (``.../webhooks/amocrm?secret=S``, checked
first) or as the last path segment (``.../webhooks/amocrm/S``); it is compared in constant time.
Then ``account[subdomain]`` / ``account[id]`` in the form body must equal the configured values.

The body is ``application/x-www-form-urlencoded`` with PHP bracket keys
(https://www.amocrm.ru/developers/content/crm_platform/webhooks-format): ``{entity: {action:
[{fields}]}}`` with entity leads/contacts/companies and action status/update/add/delete/
responsible/restore; several entities may arrive in one body. Custom fields come in the legacy
v2 shape (``custom_fields[i][id]``, ``[values][j][value]``, ``[enum]``) and are kept in `raw`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from adapters.base import WebhookEvent
from adapters.errors import WebhookAuthError, WebhookFormatError
from adapters.formdata import parse_php_form
from adapters.numbers import epoch_seconds, numeric_id, optional_id

_KINDS = {"status": "property_change", "update": "property_change", "add": "creation", "delete": "deletion",
          "responsible": "property_change", "restore": "restore"}  # fmt: skip
_OBJECT_TYPES = {"leads": "deal", "contacts": "contact", "companies": "company"}


def url_secret_of(url: str) -> str:
    """The secret in a webhook URL: the `secret` query parameter, else the last path segment."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True).get("secret")
    if query:
        return query[0]
    return unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])


def _form(body: bytes) -> dict[str, Any]:
    try:
        return parse_php_form(body)
    except ValueError as exc:
        raise WebhookFormatError("bad_form", f"body is not a valid PHP-style form: {exc}") from None


def _items(value: Any) -> list[Any]:
    """A bracket list parses to a list, or to a dict when its indices are not 0..n-1."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value[k] for k in sorted(value, key=lambda k: (len(k), k))]
    return []


class AmoCRMWebhookVerifier:
    """Implements adapters.base.WebhookVerifier for amoCRM / Kommo account webhooks."""

    def __init__(self, *, url_secret: str, subdomain: str | None = None, account_id: str | None = None) -> None:
        """`subdomain` (from the connection's base URL) and `account_id` (the account's id, or its subdomain)
        name the account deliveries must belong to; None skips that check.

        Raises ValueError for a secret shorter than 16 characters (it is the only authentication).
        """
        if len(url_secret) < 16:
            raise ValueError("the amoCRM webhook URL secret must be at least 16 characters")
        self._secret = url_secret
        self._subdomain = subdomain.lower() if subdomain else None
        self._account_id = str(account_id).lower() if account_id else None

    def verify(self, *, method: str, url: str, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Accept the delivery or raise WebhookAuthError.

        Reasons: missing_secret, bad_secret, wrong_account (the body names no account, another
        subdomain than the configured one, or neither account[id] nor account[subdomain] equal to the
        configured account id). `headers` and `now` are unused: amoCRM sends no signature or timestamp.
        """
        given = url_secret_of(url)
        if not given:
            raise WebhookAuthError("missing_secret", "the webhook URL carries no secret")
        if not hmac.compare_digest(self._secret.encode(), given.encode("utf-8", "replace")):
            raise WebhookAuthError("bad_secret", "the webhook URL secret does not match")
        if self._subdomain is None and self._account_id is None:
            return
        try:
            account = parse_php_form(body).get("account")
        except ValueError:
            account = None
        if not isinstance(account, dict):
            raise WebhookAuthError("wrong_account", "the body names no account")
        subdomain, account_id = str(account.get("subdomain") or "").lower(), str(account.get("id") or "")
        if self._subdomain is not None and subdomain != self._subdomain:
            raise WebhookAuthError("wrong_account", f"webhook for subdomain {subdomain!r}, expected another")
        if self._account_id is not None and self._account_id not in (account_id, subdomain):
            raise WebhookAuthError("wrong_account", f"webhook for account {account_id!r}, expected another")

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[WebhookEvent]:
        """One event per entity under leads/contacts/companies[action][i]; [] when none is present.

        Reasons: bad_form (not a form / limits exceeded), bad_event (an entity without a numeric id).
        """
        form = _form(body)
        found = form.get("account")
        account: dict[str, Any] = found if isinstance(found, dict) else {}
        events: list[WebhookEvent] = []
        for entity, object_type in _OBJECT_TYPES.items():
            actions = form.get(entity)
            if not isinstance(actions, dict):
                continue
            for action, entries in actions.items():
                for index, item in enumerate(_items(entries)):
                    events.append(_event(object_type, str(action), index, item, account))
        return events


def _opt(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    return None if value in (None, "") or isinstance(value, dict | list) else str(value)


_TIME_KEYS = ("last_modified", "updated_at", "date_create", "created_at")


def _occurred(item: Mapping[str, Any], where: str) -> datetime:
    """The first time the entity carries (Unix seconds, ASCII, 2000..2100), now for deletes, which carry none."""
    key = next((key for key in _TIME_KEYS if _opt(item, key) is not None), None)
    return datetime.now(UTC) if key is None else epoch_seconds(item[key], key, where=where)


def _digest(item: Mapping[str, Any]) -> str:
    """A short, stable fingerprint of one webhook entity (its fields and custom field values)."""
    canonical = json.dumps(item, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _event(object_type: str, action: str, index: int, item: Any, account: Mapping[str, Any]) -> WebhookEvent:
    """The event of one entity, or WebhookFormatError (bad_event) naming the field: its id, statuses, pipelines,
    user and account ids are ASCII numbers (the id goes into CRM URLs), its times Unix seconds."""
    where = f"{object_type} {action}[{index}]: "
    if not isinstance(item, dict):
        raise WebhookFormatError("bad_event", f"{where}not an entity")
    object_id = numeric_id(item.get("id"), "id", where=where)
    account_id = optional_id(account.get("id"), "account[id]") or optional_id(item.get("account_id"), "account_id",
                                                                               where=where) or "-"  # fmt: skip
    occurred_at = _occurred(item, where)
    ids = {key: optional_id(item.get(key), key, where=where)
           for key in ("status_id", "old_status_id", "pipeline_id", "old_pipeline_id", "modified_user_id")}
    status_id, stamp = ids["status_id"], _opt(item, "last_modified") or _opt(item, "updated_at")
    # CRM-CONTRACTS 9: account:lead:status:last_modified. Other actions add the action so an
    # update and a status change with the same timestamp stay two deliveries, and a digest of the
    # entity: last_modified has whole seconds, so two different edits in one second (a manager's edit
    # right after Qualify's own write-back, say) would otherwise share a key and the later one would
    # be dropped as a duplicate. A repeated delivery of the same change has the same body and digest.
    key_tail = f"{status_id or '-'}:{stamp or '-'}"
    if action != "status":
        key_tail = f"{action}:{key_tail}:{_digest(item)}"
    is_status = action == "status"
    return WebhookEvent(
        delivery_key=f"{account_id}:{object_id}:{key_tail}",
        object_id=object_id,
        kind=_KINDS.get(action, "other"),
        occurred_at=occurred_at,
        object_type=object_type,
        property_name="status_id" if is_status else None,
        property_value=status_id if is_status else None,
        source_id=ids["modified_user_id"],
        raw={**item, "_action": action, "_account": dict(account)},
        new_stage=status_id if is_status else None,
        old_stage=ids["old_status_id"] if is_status else None,
        new_pipeline=ids["pipeline_id"] if is_status else None,
        old_pipeline=ids["old_pipeline_id"] if is_status else None,
        account=_opt(account, "subdomain"),
    )
