"""amoCRM / Kommo CRM adapter over API v4 (https://www.amocrm.ru/developers/content/crm_platform/api-reference).

Kommo is the same API on ``https://{subdomain}.kommo.com``; credentials.base_url is the account
domain. Leads are the deals. Every call goes through the connection's RateLimiter (amoCRM allows
7 req/s; we use 6) and `send_with_retry`; a 401 triggers one token refresh and one repeat.
Lists answer 204 No Content when empty; HAL envelopes carry `_embedded`, `_links.next`, `_page`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from adapters.amocrm_mapping import (
    classify_amocrm,
    customer_of,
    lead_body,
    owner_of,
    pipeline_of,
    property_of,
    requirements_of,
    snapshot_of,
    standard_properties,
    unix_of,
)
from adapters.amocrm_oauth import (
    InMemoryTokenStore,
    OAuthClient,
    OAuthTokens,
    TokenManager,
    TokenStore,
    is_auth_failure,
)
from adapters.base import (
    Credentials,
    CustomerSnapshot,
    DealPage,
    DealSnapshot,
    OwnerInfo,
    PipelineInfo,
    PropertyInfo,
    TaskRequest,
    check_customer_kind,
    check_task_target,
)
from adapters.errors import CRMError, CRMNotFound, CRMRejected, CRMUnavailable
from adapters.http import RetryPolicy
from adapters.http_adapter import HttpCRMAdapter
from adapters.ratelimit import Limiter

PAGE_MAX = 250
CUSTOMER_KEYS = {"company": "companies", "contact": "contacts"}  # path and _embedded key
MAX_PAGES = 1000  # a guard for the helper loops (users, custom fields, tasks): 250k rows
TASK_TYPE_CALL_BACK = 1  # amoCRM's built-in "Follow-up" / "Связаться" task type


def amocrm_limiter_buckets() -> dict[str, tuple[int, float]]:
    """6 requests per 1.05 s, under amoCRM's 7/s (https://developers.kommo.com/docs/limitations): requests
    reach amoCRM a little later than we count them, so the window is stretched for no second there to see 7."""
    return {"default": (6, 1.05)}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


_ASCII_ID = re.compile(r"[0-9]{1,20}")


def _lead_number(lead_id: str) -> int:
    """A lead id as amoCRM's number; CRMNotFound (no HTTP call) for anything but 1..20 ASCII digits (str.isdigit
    takes "²", which no lead has and int() may refuse)."""
    if not _ASCII_ID.fullmatch(str(lead_id)):
        raise CRMNotFound(f"amoCRM lead ids are numeric, got {str(lead_id)[:40]!r}", status=404)
    return int(lead_id)


def _user_number(user_id: str) -> int:
    """A user id as amoCRM's number; CRMRejected (no HTTP call) for anything but ASCII digits."""
    if not _ASCII_ID.fullmatch(str(user_id)):
        raise CRMRejected(f"amoCRM user ids are numeric, got {str(user_id)[:40]!r}")
    return int(user_id)


def _lead_path(lead_id: str) -> str:
    return f"/api/v4/leads/{_lead_number(lead_id)}"


def next_page(payload: Mapping[str, Any], current: int) -> int | None:
    """The page number in `_links.next`, or None; CRMUnavailable when it does not advance."""
    href = ((payload.get("_links") or {}).get("next") or {}).get("href")
    if not href:
        return None
    try:
        page = int(parse_qs(urlsplit(str(href)).query).get("page", [""])[0])
    except ValueError:
        raise CRMUnavailable(f"amoCRM next link has no page number: {href!r}") from None
    if page <= current:  # a page that does not advance would loop forever
        raise CRMUnavailable(f"amoCRM paging did not advance past page {current} (next: {page})")
    return page


class AmoCRMAdapter(HttpCRMAdapter):
    """CRMAdapter for one amoCRM / Kommo account (OAuth 2 with refresh, or a long-lived token)."""

    kind, title = "amocrm", "amoCRM"
    stage_property, pipeline_property = "status_id", "pipeline_id"
    default_buckets = staticmethod(amocrm_limiter_buckets)
    _classify = staticmethod(classify_amocrm)

    def __init__(
        self,
        credentials: Credentials,
        *,
        token_store: TokenStore | None = None,
        limiter: Limiter | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        redirect_uri: str = "",
    ) -> None:
        """Build the client; no request is made until the first call.

        Without `token_store`, credentials.access_token is a long-lived token. With one, the
        store's tokens are used and refreshed with client_id = credentials.app_id and
        client_secret = credentials.client_secret (plus the integration's `redirect_uri`).
        """
        super().__init__(credentials, limiter=limiter, policy=policy, timeout=timeout, transport=transport)
        store = token_store or InMemoryTokenStore(OAuthTokens(credentials.access_token))
        oauth = None
        if credentials.app_id and credentials.client_secret:
            oauth = OAuthClient(credentials.app_id, credentials.client_secret, redirect_uri)
        self._tokens = TokenManager(store, oauth, self._client, limiter=self._limiter, policy=self._policy,
                                    classify=classify_amocrm)  # fmt: skip
        self._field_types: dict[str, str] | None = None
        self._currency: tuple[str | None] | None = None  # the account's, read once (leads have none of their own)
        self._lock = threading.Lock()

    def _call(self, method: str, path: str, *, bucket: str = "default", idempotent: bool = True, **kw: Any) -> Any:
        """Send with auth; on a 401 refresh once and repeat. Returns parsed JSON ({} for 204)."""
        token = self._tokens.access_token()
        try:
            response = self._send(method, path, bucket=bucket, idempotent=idempotent, headers=_bearer(token), **kw)
        except CRMError as exc:
            if not is_auth_failure(exc) or not self._tokens.refreshable():
                raise  # a long-lived token that amoCRM refuses: fail fast with its message
            response = self._send(method, path, bucket=bucket, idempotent=idempotent,
                                  headers=_bearer(self._tokens.refresh(token)), **kw)  # fmt: skip
        return self._payload(method, path, response)

    def get_deal(self, deal_id: str, properties: Sequence[str]) -> DealSnapshot:
        """Read one lead with its custom fields (all of them; `properties` missing are None).

        amoCRM answers 204 for an unknown id: raised as CRMNotFound. stage_history is always ()
        (no cheap status history; the webhook carries old_status_id).
        """
        lead = self._call("GET", _lead_path(deal_id), params={"with": "contacts"})
        if not lead:
            raise CRMNotFound(f"GET /api/v4/leads/{deal_id} -> 204: lead not found", status=204)
        return snapshot_of(lead, properties, self.account_currency())

    def account_currency(self) -> str | None:
        """The account's currency (GET /api/v4/account `currency`), which every lead's price is in; read once."""
        if self._currency is None:
            self._currency = (str(self._call("GET", "/api/v4/account").get("currency") or "") or None,)
        return self._currency[0]

    def search_deals_modified_since(
        self, since: datetime, properties: Sequence[str], after: str | None = None, limit: int = 200
    ) -> DealPage:
        """One page of leads with updated_at >= `since`, oldest first.

        `after` / `next_after` is the next page number as a string (amoCRM pages by number).
        Raises CRMUnavailable when the next link does not advance.
        """
        page = int(after) if after and after.isdigit() else 1
        params = {
            "filter[updated_at][from]": str(unix_of(since)), "order[updated_at]": "asc",
            "page": str(page), "limit": str(max(1, min(limit, PAGE_MAX))), "with": "contacts",
        }  # fmt: skip
        payload = self._call("GET", "/api/v4/leads", params=params)
        leads = (payload.get("_embedded") or {}).get("leads") or []
        following = next_page(payload, page) if leads else None
        total = payload.get("_total_items")
        currency = self.account_currency() if leads else None
        return DealPage(tuple(snapshot_of(lead, properties, currency) for lead in leads),
                        None if following is None else str(following),
                        int(total) if total is not None else None)  # fmt: skip

    def update_deal(self, deal_id: str, properties: Mapping[str, str]) -> None:
        """PATCH the lead: status_id, pipeline_id, name, price, responsible_user_id, custom field ids.

        Raises CRMRejected for a key amoCRM has no field for or a validation error.
        """
        types = self._custom_field_types() if any(k.isdigit() for k in properties) else {}
        try:
            body = lead_body(properties, types)
        except ValueError as exc:
            raise CRMRejected(f"PATCH /api/v4/leads/{deal_id}: {exc}") from None
        self._call("PATCH", _lead_path(deal_id), json=body)

    def _custom_field_types(self) -> dict[str, str]:
        with self._lock:
            if self._field_types is None:
                self._field_types = {str(f["id"]): str(f.get("type")) for f in self._custom_fields()}
            return self._field_types

    def _pages(self, path: str, key: str, params: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        page = 1
        for _ in range(MAX_PAGES):
            payload = self._call("GET", path, params={**params, "page": str(page), "limit": str(PAGE_MAX)})
            items = (payload.get("_embedded") or {}).get(key) or []
            yield from items
            following = next_page(payload, page) if items else None
            if following is None:
                return
            page = following
        raise CRMUnavailable(f"GET {path}: more than {MAX_PAGES} pages")

    def find_task(self, deal_id: str, marker: str) -> str | None:
        """The id of a task on the lead whose text contains `marker`, or None."""
        params = {"filter[entity_type]": "leads", "filter[entity_id]": str(_lead_number(deal_id))}
        for task in self._pages("/api/v4/tasks", "tasks", params):
            if marker in str(task.get("text") or ""):
                return str(task["id"])
        return None

    def create_task(self, request: TaskRequest) -> str:
        """Create a follow-up task (type 1) on the lead for its owner; returns the task id.

        With deal_id None the task is bound to no entity (v4 allows it) and goes to `owner_id`;
        CRMRejected (no HTTP call) when that is missing too. amoCRM tasks have one text: subject,
        body and marker go in it, one per line. Not retried after a timeout or 5xx (it may exist):
        call find_task with the marker first.
        """
        check_task_target(request, "amoCRM")
        task: dict[str, Any] = {
            "task_type_id": TASK_TYPE_CALL_BACK, "text": f"{request.subject}\n{request.body}\n{request.marker}",
            "complete_till": unix_of(request.due),
        }  # fmt: skip
        if request.deal_id is not None:
            task.update(entity_id=_lead_number(request.deal_id), entity_type="leads")
        if request.owner_id:
            task["responsible_user_id"] = _user_number(request.owner_id)
        payload = self._call("POST", "/api/v4/tasks", json=[task], idempotent=False)
        return self._created_id(payload, "tasks", "POST /api/v4/tasks")

    def create_note(self, deal_id: str, body: str, marker: str) -> str:
        """Create a common note (body + marker line) on the lead; returns the note id."""
        note = {"note_type": "common", "params": {"text": f"{body}\n\n{marker}"}}
        path = f"{_lead_path(deal_id)}/notes"
        return self._created_id(self._call("POST", path, json=[note], idempotent=False), "notes", f"POST {path}")

    @staticmethod
    def _created_id(payload: Mapping[str, Any], key: str, where: str) -> str:
        items = (payload.get("_embedded") or {}).get(key) or []
        if not items or items[0].get("id") is None:
            raise CRMUnavailable(f"{where}: amoCRM answered without the created id")
        return str(items[0]["id"])

    def list_pipelines(self) -> tuple[PipelineInfo, ...]:
        """Every lead pipeline with its statuses (142 won and 143 lost are closed), by `sort`."""
        payload = self._call("GET", "/api/v4/leads/pipelines")
        pipelines = map(pipeline_of, (payload.get("_embedded") or {}).get("pipelines") or [])
        return tuple(sorted(pipelines, key=lambda p: p.order))

    def _custom_fields(self) -> list[dict[str, Any]]:
        return list(self._pages("/api/v4/leads/custom_fields", "custom_fields", {}))

    def list_deal_properties(self) -> tuple[PropertyInfo, ...]:
        """The standard lead fields and every lead custom field (name = field id, enum options)."""
        fields = self._custom_fields()
        with self._lock:
            self._field_types = {str(f["id"]): str(f.get("type")) for f in fields}
        return standard_properties() + tuple(property_of(f) for f in fields)

    def get_customers(self, kind: str, ids: Sequence[str], properties: Sequence[str]) -> tuple[CustomerSnapshot, ...]:
        """Companies or contacts by id: GET /api/v4/companies|contacts?filter[id][]=..., 250 ids a call, with
        every custom field (`properties` are field ids; they are all read). Unknown ids are left out."""
        check_customer_kind(kind)
        path, key = f"/api/v4/{CUSTOMER_KEYS[kind]}", CUSTOMER_KEYS[kind]
        unique = [str(_lead_number(customer_id)) for customer_id in dict.fromkeys(map(str, ids))]
        customers: list[CustomerSnapshot] = []
        for start in range(0, len(unique), PAGE_MAX):
            chunk = unique[start : start + PAGE_MAX]
            params = {f"filter[id][{i}]": customer_id for i, customer_id in enumerate(chunk)}
            customers.extend(customer_of(raw, kind) for raw in self._pages(path, key, params))
        return tuple(customers)

    def list_customer_properties(self, kind: str) -> tuple[PropertyInfo, ...]:
        """`name` and every company or contact custom field (name = field id, enum options)."""
        check_customer_kind(kind)
        fields = self._pages(f"/api/v4/{CUSTOMER_KEYS[kind]}/custom_fields", "custom_fields", {})
        return (PropertyInfo("name", "Name", "string", "text"), *(property_of(f) for f in fields))

    def list_owners(self) -> tuple[OwnerInfo, ...]:
        """Every user of the account, deactivated ones included (rights.is_active false)."""
        return tuple(owner_of(raw) for raw in self._pages("/api/v4/users", "users", {}))

    def native_stage_requirements(self) -> dict[str, tuple[str, ...]]:
        """status id -> custom field ids from the fields' `required_statuses` (CRM-CONTRACTS 4.1)."""
        return requirements_of(self._custom_fields())
