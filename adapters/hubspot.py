"""HubSpot CRM adapter over the v3 REST API (https://developers.hubspot.com/docs/api/crm).

Every call goes through the connection's RateLimiter and `send_with_retry`; errors are
adapters.errors types. HubSpot answers property values as strings (or null) and dates either as
ISO 8601 (with or without milliseconds) or as epoch-millisecond strings; both are accepted.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

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
from adapters.errors import CRMError, CRMRateLimited, CRMUnavailable
from adapters.http import classify_response
from adapters.http_adapter import HttpCRMAdapter
from adapters.hubspot_mapping import (
    customer_of,
    iso_ms_of,
    needs_company_currency,
    owner_of,
    pipeline_of,
    property_of,
    props_of,
    snapshot_of,
    v4_associated,
)
from adapters.kind import Paging

HUBSPOT_API = "https://api.hubapi.com"
# HUBSPOT_DEFINED association type ids (https://developers.hubspot.com/docs/api/crm/associations)
TASK_TO_DEAL, NOTE_TO_DEAL = 216, 214
SEARCH_PAGE_MAX, BATCH_READ_MAX = 200, 100
DAILY_LIMIT_WAIT = 3600.0  # longer than any RetryPolicy.max_retry_after: the caller reschedules
OBJECTS = {"company": "companies", "contact": "contacts"}
# Read with every company / contact: what names it.
CUSTOMER_BASE = {"company": ("name",), "contact": ("firstname", "lastname", "email")}
# The search API serves at most 10,000 results per query: sync restarts the query past that.
PAGING = Paging(windowed_search=True, result_cap=10_000)


def hubspot_limiter_buckets() -> dict[str, tuple[int, float]]:
    """Default buckets: (limit, window seconds), a margin under HubSpot's published limits.

    100 req / 10 s per private app (Free/Starter) and 5 search req / s per account
    (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines). Searches use the
    full 5 but over a 1.05-s window (95% of the limit), so no 1-s window HubSpot measures sees a sixth.
    """
    return {"default": (90, 10.0), "search": (5, 1.05)}


def classify_hubspot(response: httpx.Response) -> CRMError | None:
    """classify_response, plus a wait for 429s without Retry-After (HubSpot rarely sends one).

    A DAILY policy 429 gets DAILY_LIMIT_WAIT so the call is rescheduled instead of retried;
    TEN_SECONDLY_ROLLING / SECONDLY ones wait at least a second.
    """
    error = classify_response(response)
    if isinstance(error, CRMRateLimited) and error.retry_after is None:
        try:
            policy = response.json().get("policyName")
        except (ValueError, AttributeError):
            policy = None
        error.retry_after = DAILY_LIMIT_WAIT if policy == "DAILY" else 1.0
    return error


def _deal_path(deal_id: str) -> str:
    return f"/crm/v3/objects/deals/{quote(str(deal_id), safe='')}"


def _next_after(payload: Mapping[str, Any], previous: str | None) -> str | None:
    after = ((payload.get("paging") or {}).get("next") or {}).get("after")
    if after is None:
        return None
    if str(after) == previous:  # a cursor that does not advance would loop forever
        raise CRMUnavailable(f"HubSpot paging cursor did not advance past {previous!r}")
    return str(after)


class HubSpotAdapter(HttpCRMAdapter):
    """CRMAdapter for one HubSpot account (private-app token or OAuth access token)."""

    kind, title = "hubspot", "HubSpot"
    stage_property, pipeline_property = "dealstage", "pipeline"
    default_base_url = HUBSPOT_API
    paging = PAGING
    default_buckets = staticmethod(hubspot_limiter_buckets)
    _classify = staticmethod(classify_hubspot)

    _company_currency: tuple[str | None] | None = None  # read once, when a deal without deal_currency_code needs it

    def _auth_headers(self, credentials: Credentials) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {credentials.access_token}"}

    def _currency_for(self, objects: Sequence[Mapping[str, Any]]) -> str | None:
        """The company currency (GET /account-info/v3/details `companyCurrency`), read once when one of
        `objects` is in it: a deal whose deal_currency_code is empty is in the company currency."""
        if self._company_currency is None:
            if not any(map(needs_company_currency, objects)):
                return None
            details = self._call("GET", "/account-info/v3/details")
            self._company_currency = (str(details.get("companyCurrency") or "") or None,)
        return self._company_currency[0]

    def get_deal(self, deal_id: str, properties: Sequence[str]) -> DealSnapshot:
        """Read one deal with `properties` (plus the base ones) and its dealstage history.

        Raises CRMNotFound for an unknown id, plus the usual adapters.errors types.
        """
        params = {"properties": ",".join(props_of(properties)), "propertiesWithHistory": "dealstage",
                  "associations": "companies,contacts"}
        deal = self._call("GET", _deal_path(deal_id), params=params)
        return snapshot_of(deal, self._currency_for([deal]))

    def search_deals_modified_since(
        self, since: datetime, properties: Sequence[str], after: str | None = None, limit: int = 200
    ) -> DealPage:
        """One page of deals with hs_lastmodifieddate >= `since`, oldest first (search bucket).

        HubSpot caps a query at 10,000 results (400 beyond): restart from the last modified date.
        """
        since_ms = int((since if since.tzinfo else since.replace(tzinfo=UTC)).timestamp() * 1000)
        since_filter = {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(since_ms)}
        body: dict[str, Any] = {
            "filterGroups": [{"filters": [since_filter]}],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "properties": props_of(properties),
            "limit": max(1, min(limit, SEARCH_PAGE_MAX)),
        }
        if after:
            body["after"] = after
        payload = self._call("POST", "/crm/v3/objects/deals/search", bucket="search", json=body)
        results = payload.get("results") or []
        currency = self._currency_for(results)
        deals = self._with_buyers(tuple(snapshot_of(obj, currency) for obj in results))
        total = payload.get("total")
        return DealPage(deals=deals, next_after=_next_after(payload, after),
                        total=int(total) if total is not None else None)  # fmt: skip

    def _associated(self, to_type: str, deal_ids: Sequence[str]) -> dict[str, str]:
        """deal id -> the primary (else first) associated `to_type` object, through the v4 associations batch read
        (https://developers.hubspot.com/docs/api-reference/crm-associations-v4/batch/post-crm-v4-associations-
        fromObjectType-toObjectType-batch-read); deals without one are in its `errors` (207) and left out."""
        found: dict[str, str] = {}
        for start in range(0, len(deal_ids), BATCH_READ_MAX):
            inputs = [{"id": deal_id} for deal_id in deal_ids[start : start + BATCH_READ_MAX]]
            payload = self._call("POST", f"/crm/v4/associations/deals/{to_type}/batch/read", json={"inputs": inputs})
            for result in payload.get("results") or []:
                target = v4_associated(result)
                if target is not None:
                    found[str((result.get("from") or {}).get("id"))] = target
        return found

    def _with_buyers(self, deals: tuple[DealSnapshot, ...]) -> tuple[DealSnapshot, ...]:
        """The search's deals with their company and contact: the search API returns no associations."""
        if not deals:
            return deals
        ids = [deal.id for deal in deals]
        companies, contacts = self._associated("companies", ids), self._associated("contacts", ids)
        return tuple(DealSnapshot.trusted(**{**vars(deal), "company_id": companies.get(deal.id),
                                             "contact_id": contacts.get(deal.id)}) for deal in deals)

    def get_customers(self, kind: str, ids: Sequence[str], properties: Sequence[str]) -> tuple[CustomerSnapshot, ...]:
        """Companies or contacts by id through the v3 batch read (100 a call); ids HubSpot does not know are
        left out (its 207 `errors`). CRMRejected for a kind other than company / contact."""
        check_customer_kind(kind)
        names = list(dict.fromkeys([*CUSTOMER_BASE[kind], *properties]))
        unique = list(dict.fromkeys(map(str, ids)))
        customers: list[CustomerSnapshot] = []
        for start in range(0, len(unique), BATCH_READ_MAX):
            inputs = [{"id": customer_id} for customer_id in unique[start : start + BATCH_READ_MAX]]
            payload = self._call("POST", f"/crm/v3/objects/{OBJECTS[kind]}/batch/read",
                                 json={"properties": names, "inputs": inputs})
            customers.extend(customer_of(obj, kind) for obj in payload.get("results") or [])
        return tuple(customers)

    def list_customer_properties(self, kind: str) -> tuple[PropertyInfo, ...]:
        """Every company or contact property (GET /crm/v3/properties/companies | contacts)."""
        check_customer_kind(kind)
        results = self._call("GET", f"/crm/v3/properties/{OBJECTS[kind]}").get("results") or []
        return tuple(property_of(raw) for raw in results)

    def update_deal(self, deal_id: str, properties: Mapping[str, str]) -> None:
        """PATCH deal properties; CRMRejected carries HubSpot's validation message."""
        self._call("PATCH", _deal_path(deal_id), json={"properties": dict(properties)})

    def _task_ids(self, deal_id: str) -> list[str]:
        payload = self._call(
            "GET", _deal_path(deal_id), params={"associations": "tasks", "properties": "hs_object_id"}
        )
        results = ((payload.get("associations") or {}).get("tasks") or {}).get("results") or []
        return list(dict.fromkeys(str(r["id"]) for r in results if r.get("id") is not None))

    def find_task(self, deal_id: str, marker: str) -> str | None:
        """The id of a task associated with the deal whose body contains `marker`, or None.

        Reads associations and batch-reads the tasks instead of searching: HubSpot's search index
        lags behind writes, so a just-created task might not be found.
        """
        ids = self._task_ids(deal_id)
        needles = {marker, html.escape(marker)}  # hs_task_body is rich text; HubSpot may escape it
        for start in range(0, len(ids), BATCH_READ_MAX):
            chunk = ids[start : start + BATCH_READ_MAX]
            payload = self._call("POST", "/crm/v3/objects/tasks/batch/read", json={
                "properties": ["hs_task_body"], "inputs": [{"id": task_id} for task_id in chunk],
            })  # fmt: skip
            for task in payload.get("results") or []:
                body = str((task.get("properties") or {}).get("hs_task_body") or "")
                if any(needle in body for needle in needles):
                    return str(task["id"])
        return None

    def create_task(self, request: TaskRequest) -> str:
        """Create a NOT_STARTED HIGH-priority TODO task on the deal, or with no association for
        `owner_id` when deal_id is None; returns the task id.

        CRMRejected (no HTTP call) when neither deal_id nor owner_id is given. Not retried after a
        timeout or 5xx (it may exist): call find_task with the marker first.
        """
        check_task_target(request, "HubSpot")
        props = {
            "hs_timestamp": iso_ms_of(request.due),
            "hs_task_subject": request.subject,
            "hs_task_body": f"{request.body}\n\n{request.marker}",
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": "HIGH",
            "hs_task_type": "TODO",
        }
        if request.owner_id:
            props["hubspot_owner_id"] = request.owner_id
        return self._create("tasks", props, request.deal_id, TASK_TO_DEAL)

    def create_note(self, deal_id: str, body: str, marker: str) -> str:
        """Create a note on the deal (body + marker line); returns the note id."""
        props = {"hs_note_body": f"{body}\n\n{marker}", "hs_timestamp": iso_ms_of(datetime.now(UTC))}
        return self._create("notes", props, deal_id, NOTE_TO_DEAL)

    def _create(self, object_type: str, props: Mapping[str, str], deal_id: str | None, type_id: int) -> str:
        body: dict[str, Any] = {"properties": dict(props)}
        if deal_id is not None:  # `associations` is optional: without it the object stands alone
            association = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
            body["associations"] = [{"to": {"id": deal_id}, "types": [association]}]
        payload = self._call("POST", f"/crm/v3/objects/{object_type}", json=body, idempotent=False)
        return str(payload["id"])

    def list_pipelines(self) -> tuple[PipelineInfo, ...]:
        """Every deal pipeline with its stages, both in display order."""
        pipelines = map(pipeline_of, self._call("GET", "/crm/v3/pipelines/deals").get("results") or [])
        return tuple(sorted(pipelines, key=lambda p: p.order))

    def list_deal_properties(self) -> tuple[PropertyInfo, ...]:
        """Every deal property (standard and custom) with enumeration options."""
        return tuple(
            property_of(raw) for raw in self._call("GET", "/crm/v3/properties/deals").get("results") or []
        )

    def list_owners(self) -> tuple[OwnerInfo, ...]:
        """Every owner of the account, active ones then archived ones (deactivated users, who still own old
        deals; `archived=true` lists only those), each following the paging cursor."""
        owners: list[OwnerInfo] = []
        for archived in ("false", "true"):
            after: str | None = None
            while True:
                params: dict[str, Any] = {"limit": 100, "archived": archived, **({"after": after} if after else {})}
                payload = self._call("GET", "/crm/v3/owners", params=params)
                owners.extend(owner_of({"archived": archived == "true", **raw}) for raw in payload.get("results") or [])
                after = _next_after(payload, after)
                if after is None:
                    break
        return tuple(owners)

    def native_stage_requirements(self) -> dict[str, tuple[str, ...]]:
        """HubSpot's conditional stage properties are not readable over the API (CRM-CONTRACTS 2.1)."""
        return {}
