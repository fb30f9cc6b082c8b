"""Pipedrive CRM adapter over API v2 (deals, pipelines, stages, dealFields, activities) and v1 (notes, users).

Reference: https://developers.pipedrive.com/docs/api/v1 and the v2 migration guide
(https://pipedrive.readme.io/docs/pipedrive-api-v2-migration-guide). `Credentials.base_url` is the company
domain (https://<company>.pipedrive.com). `Credentials.access_token` is the personal API token, sent as the
`x-api-token` header; an OAuth access token is given as "Bearer <token>" and sent as `Authorization`.

Pipedrive has no cheap stage-history call (only the per-deal `flow` feed), so DealSnapshot.stage_history is
always (): the previous stage comes from the webhook's `previous.stage_id` instead (CRM-CONTRACTS 1.2).
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping, Sequence
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
from adapters.errors import CRMError, CRMRateLimited, CRMRejected, CRMUnavailable
from adapters.http import MAX_BODY_CHARS, classify_response, parse_retry_after
from adapters.http_adapter import HttpCRMAdapter
from adapters.pipedrive_mapping import (
    customer_of,
    is_custom_key,
    owner_of,
    pipelines_of,
    property_of,
    requirements_of,
    rfc3339_of,
    snapshot_of,
    update_body,
)
from adapters.pipedrive_status import is_virtual, move_body

PIPEDRIVE_API = "https://api.pipedrive.com"
PAGE_MAX = 500  # v2 list endpoints: limit default 100, max 500
CUSTOM_FIELDS_PARAM_MAX = 15  # GET /api/v2/deals/{id}?custom_fields= accepts at most 15 keys
PAGE_MAX_IDS = 100  # GET /api/v2/organizations|persons?ids= takes at most 100 ids
CUSTOMER_PATHS = {"company": "/api/v2/organizations", "contact": "/api/v2/persons"}
DAILY_LIMIT_WAIT = 3600.0  # longer than any RetryPolicy.max_retry_after: the caller reschedules
BURST_WINDOW = 2.0


def pipedrive_limiter_buckets() -> dict[str, tuple[int, float]]:
    """Default bucket: 19 requests per 2.05 s (9.3 req/s, 93% of the smallest plan's burst limit).

    The lowest plan allows 20 requests per 2-second window per api_token
    (https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting); higher plans allow 40/80/120 and
    can be set per connection (`rate_limits`). A 429 is still handled (Retry-After, x-ratelimit-reset).
    """
    return {"default": (19, BURST_WINDOW + 0.05)}


def _int_header(response: httpx.Response, name: str) -> int | None:
    try:
        return int(float(response.headers[name]))
    except (KeyError, ValueError):
        return None


def classify_pipedrive(response: httpx.Response) -> CRMError | None:
    """classify_response, telling the 2-second burst 429 from the exhausted daily budget.

    Daily: `x-daily-requests-left` is 0, or the burst window still has room (`x-ratelimit-remaining` >= 1),
    so the 429 can only be the token budget (the test singer-io/tap-pipedrive uses). It gets DAILY_LIMIT_WAIT
    so send_with_retry raises at once and the outbox reschedules. Burst: wait Retry-After, else
    `x-ratelimit-reset` seconds, else the 2-second window.
    """
    error = classify_response(response)
    if not isinstance(error, CRMRateLimited):
        return error
    daily_left = _int_header(response, "x-daily-requests-left")
    remaining = _int_header(response, "x-ratelimit-remaining")
    if (daily_left is not None and daily_left <= 0) or (remaining is not None and remaining >= 1):
        error.retry_after = DAILY_LIMIT_WAIT
        error.message = f"{error.message} (daily API budget exhausted)"
        error.args = (error.message,)
        return error
    if error.retry_after is None:
        reset = parse_retry_after(response.headers.get("x-ratelimit-reset"))
        error.retry_after = reset if reset is not None else BURST_WINDOW
    return error


def _auth_headers(token: str) -> dict[str, str]:
    if token[:7].lower() == "bearer ":
        return {"Authorization": f"Bearer {token[7:].strip()}"}
    return {"x-api-token": token}


def _int_id(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise CRMRejected(f"Pipedrive {what} ids are integers, got {value!r}") from None


def _deal_path(deal_id: str) -> str:
    return f"/api/v2/deals/{quote(str(deal_id), safe='')}"


def _next_cursor(payload: Mapping[str, Any], previous: str | None) -> str | None:
    cursor = (payload.get("additional_data") or {}).get("next_cursor")
    if cursor in (None, ""):
        return None
    if str(cursor) == previous:  # a cursor that does not advance would loop forever
        raise CRMUnavailable(f"Pipedrive next_cursor did not advance past {previous!r}")
    return str(cursor)


class PipedriveAdapter(HttpCRMAdapter):
    """CRMAdapter for one Pipedrive company (API token or OAuth access token)."""

    kind, title = "pipedrive", "Pipedrive"
    stage_property, pipeline_property = "stage_id", "pipeline_id"
    default_base_url = PIPEDRIVE_API
    default_buckets = staticmethod(pipedrive_limiter_buckets)
    _classify = staticmethod(classify_pipedrive)

    _field_types: dict[str, str] | None = None  # deal field code -> field_type, read once when a write needs it

    def _auth_headers(self, credentials: Credentials) -> Mapping[str, str]:
        return _auth_headers(credentials.access_token)

    def _payload(self, method: str, path: str, response: httpx.Response) -> Any:
        """The JSON envelope; CRMUnavailable when it is not JSON, CRMRejected when it says success=false."""
        try:
            payload = response.json()
        except ValueError:
            raise CRMUnavailable(f"{method} {path}: Pipedrive answered non-JSON", status=response.status_code,
                                 body=response.text[:MAX_BODY_CHARS]) from None  # fmt: skip
        if not isinstance(payload, dict) or payload.get("success") is False:
            raise CRMRejected(f"{method} {path}: Pipedrive answered success=false", status=response.status_code,
                              body=response.text[:MAX_BODY_CHARS])  # fmt: skip
        return payload

    def _iter_list(self, path: str, params: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        cursor: str | None = None
        while True:
            query = {**params, "limit": PAGE_MAX, **({"cursor": cursor} if cursor else {})}
            payload = self._call("GET", path, params=query)
            yield from payload.get("data") or []
            cursor = _next_cursor(payload, cursor)
            if cursor is None:
                return

    def get_deal(self, deal_id: str, properties: Sequence[str]) -> DealSnapshot:
        """Read one deal: standard fields plus custom fields keyed by hash; stage_history is ().

        Asks only for the requested custom keys when there are 1..15 of them (faster, per the docs).
        Raises CRMNotFound for an unknown id, plus the usual adapters.errors types.
        """
        custom = [name for name in dict.fromkeys(properties) if is_custom_key(name)]
        params = {"custom_fields": ",".join(custom)} if 0 < len(custom) <= CUSTOM_FIELDS_PARAM_MAX else {}
        return snapshot_of(self._call("GET", _deal_path(deal_id), params=params)["data"], properties)

    def search_deals_modified_since(
        self, since: datetime, properties: Sequence[str], after: str | None = None, limit: int = 200
    ) -> DealPage:
        """One page of deals with update_time >= `since`, oldest first; `after` is Pipedrive's cursor.

        Deals of every status except deleted are listed (Pipedrive's default). Raises CRMUnavailable
        when next_cursor repeats the cursor just sent.
        """
        params: dict[str, Any] = {
            "updated_since": rfc3339_of(since), "sort_by": "update_time", "sort_direction": "asc",
            "limit": max(1, min(limit, PAGE_MAX)),
        }  # fmt: skip
        if after:
            params["cursor"] = after
        payload = self._call("GET", "/api/v2/deals", params=params)
        deals = tuple(snapshot_of(raw, properties) for raw in payload.get("data") or [])
        return DealPage(deals=deals, next_after=_next_cursor(payload, after))

    def _deal_field_types(self) -> dict[str, str]:
        if self._field_types is None:
            fields = self._iter_list("/api/v2/dealFields", {})
            self._field_types = {str(f["field_code"]): str(f.get("field_type")) for f in fields}
        return self._field_types

    def update_deal(self, deal_id: str, properties: Mapping[str, str]) -> None:
        """PATCH the deal: stage_id/pipeline_id/owner_id as integers, custom hash keys under custom_fields.

        Custom values are converted by field type (read once from dealFields; v2 rejects numbers sent as
        strings). Raises CRMRejected for a value that does not fit, or with Pipedrive's validation message.
        """
        types = self._deal_field_types() if any(map(is_custom_key, properties)) else {}
        try:
            body = update_body(properties, types)
        except ValueError as exc:
            raise CRMRejected(f"PATCH {_deal_path(deal_id)}: {exc}") from None
        self._call("PATCH", _deal_path(deal_id), json=body)

    def find_task(self, deal_id: str, marker: str) -> str | None:
        """The id of an activity on the deal whose note, description or subject contains `marker`, or None."""
        needles = {marker, html.escape(marker)}  # `note` is HTML; Pipedrive may escape it
        for activity in self._iter_list("/api/v2/activities", {"deal_id": deal_id}):
            text = " ".join(str(activity.get(k) or "") for k in ("note", "public_description", "subject"))
            if any(needle in text for needle in needles):
                return str(activity["id"])
        return None

    def create_task(self, request: TaskRequest) -> str:
        """Create an undone activity of type "task" for the owner, due at `request.due` (UTC); returns its id.

        With deal_id None the activity is linked to no deal (v2 `deal_id` is optional) and goes to
        `owner_id`; CRMRejected (no HTTP call) when that is missing too. Not retried after a timeout
        or 5xx (it may exist): call find_task with the marker first.
        """
        check_task_target(request, "Pipedrive")
        due = (request.due if request.due.tzinfo else request.due.replace(tzinfo=UTC)).astimezone(UTC)
        body: dict[str, Any] = {
            "subject": request.subject, "type": "task",
            "due_date": due.strftime("%Y-%m-%d"), "due_time": due.strftime("%H:%M"),
            "note": f"{request.body}\n\n{request.marker}", "done": False,
        }  # fmt: skip
        if request.deal_id is not None:
            body["deal_id"] = _int_id(request.deal_id, "deal")
        if request.owner_id:
            body["owner_id"] = _int_id(request.owner_id, "user")
        return str(self._call("POST", "/api/v2/activities", json=body, idempotent=False)["data"]["id"])

    def create_note(self, deal_id: str, body: str, marker: str) -> str:
        """Create a note on the deal (v1 notes API; body + marker line); returns the note id."""
        payload = {"content": f"{body}\n\n{marker}", "deal_id": _int_id(deal_id, "deal")}
        return str(self._call("POST", "/api/v1/notes", json=payload, idempotent=False)["data"]["id"])

    def move_deal(self, deal_id: str, stage_id: str, pipeline_id: str | None = None) -> None:
        """Into the virtual stage `won`/`lost`: PATCH status; into a real stage: PATCH stage_id and status
        open (so undoing a move into Won reopens the deal). CRMRejected as for update_deal."""
        self.update_deal(deal_id, move_body(stage_id, pipeline_id))

    def list_pipelines(self) -> tuple[PipelineInfo, ...]:
        """Every pipeline with its stages, in order_nr order, then the virtual stages `won` and `lost`.

        Pipedrive stages are never closed: won/lost are deal statuses (`status` property), so real stages are
        open and a won/lost deal stands in a virtual stage (adapters.pipedrive_status).
        """
        pipelines = list(self._iter_list("/api/v2/pipelines", {}))
        stages = list(self._iter_list("/api/v2/stages", {}))
        return tuple(pipelines_of(pipelines, stages))

    def list_deal_properties(self) -> tuple[PropertyInfo, ...]:
        """Every deal field, standard and custom (name = field_code: a hash key for custom fields)."""
        fields = list(self._iter_list("/api/v2/dealFields", {}))
        self._field_types = {str(f["field_code"]): str(f.get("field_type")) for f in fields}
        return tuple(property_of(raw) for raw in fields)

    def get_customers(self, kind: str, ids: Sequence[str], properties: Sequence[str]) -> tuple[CustomerSnapshot, ...]:
        """Organizations (`kind` company) or persons (contact) by id: GET /api/v2/organizations|persons?ids=...,
        up to 100 ids a call, custom fields included; ids Pipedrive does not know are left out. CRMRejected for
        another kind or an id that is not a number (before any call)."""
        check_customer_kind(kind)
        path = CUSTOMER_PATHS[kind]
        unique = [str(_int_id(customer_id, kind)) for customer_id in dict.fromkeys(map(str, ids))]
        customers: list[CustomerSnapshot] = []
        for start in range(0, len(unique), PAGE_MAX_IDS):
            chunk = ",".join(unique[start : start + PAGE_MAX_IDS])
            customers.extend(customer_of(raw, kind) for raw in self._iter_list(path, {"ids": chunk}))
        return tuple(customers)

    def list_customer_properties(self, kind: str) -> tuple[PropertyInfo, ...]:
        """Every organization or person field, standard and custom (GET /api/v2/organizationFields|personFields)."""
        check_customer_kind(kind)
        fields_path = "/api/v2/organizationFields" if kind == "company" else "/api/v2/personFields"
        return tuple(property_of(raw) for raw in self._iter_list(fields_path, {}))

    def list_owners(self) -> tuple[OwnerInfo, ...]:
        """Every user of the company (v1 users API; deactivated users are kept: they may still own deals)."""
        return tuple(owner_of(raw) for raw in self._call("GET", "/api/v1/users").get("data") or [])

    def native_stage_requirements(self) -> dict[str, tuple[str, ...]]:
        """Stage id -> field codes from dealFields `required_fields` (Professional plan and up).

        A field required everywhere is listed under every real stage; one required on marking a deal won/lost
        in a pipeline is listed under "<pipeline id>:won" / "<pipeline id>:lost" (that pipeline's virtual stage).
        """
        fields = list(self._iter_list("/api/v2/dealFields", {"include_fields": "required_fields"}))
        if not any((f.get("required_fields") or {}).get("enabled") for f in fields):
            return {}
        stage_ids = [stage.id for pipeline in self.list_pipelines() for stage in pipeline.stages
                     if not is_virtual(stage.id)]
        return requirements_of(fields, stage_ids)
