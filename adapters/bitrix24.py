"""Bitrix24 CRM adapter over the REST API (https://github.com/bitrix24/b24restdocs).

Two ways to authenticate, told apart by `credentials.base_url`:

- incoming webhook: a URL whose path ends in ``/rest/<user_id>/<code>/`` (``<user_id>`` all digits).
  The secret is the path itself; methods are appended (``.../rest/1/abc/crm.deal.get.json``) and
  `credentials.access_token` is ignored.
- OAuth (application): any other URL is the portal (``https://acme.bitrix24.com`` or
  ``https://acme.bitrix24.com/rest/``); methods go to ``/rest/<method>.json`` with the access token
  as ``auth`` in the JSON body (Bitrix24 accepts it there or in the query; the body keeps it out of
  access logs and of httpx's request log line).

Every call is a POST with a JSON body through the connection's leaky bucket and `send_with_retry`.
Error messages name the Bitrix24 method only, never the URL path (a webhook's path is its secret), and every
raised error is redacted besides (`SECRET_PATTERNS`, the code and the token): a body or vendor message that
echoes the request, as a proxy's error page may, does not carry them either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from adapters.base import (
    Credentials,
    CustomerSnapshot,
    DealPage,
    DealSnapshot,
    OwnerInfo,
    PipelineInfo,
    PropertyInfo,
    TaskRequest,
    WebhookEvent,
    check_customer_kind,
    check_task_target,
)
from adapters.bitrix24_mapping import (
    BATCH_MAX,
    DEAL_ENTITY_TYPE_ID,
    PAGE_SIZE,
    batch_command,
    batch_section,
    chained_deal_lists,
    chained_results,
    classify_for,
    deal_list_params,
    endpoint_of,
    lists_wanted,
    owner_of,
    pipeline_of,
    property_of,
    select_of,
    snapshot_of,
    stage_entity_id,
    todo_params,
    user_task_fields,
    value_of,
)
from adapters.bitrix24_secrets import SECRET_PATTERNS, webhook_code
from adapters.bitrix24_webhooks import offline_events_of
from adapters.errors import CRMError, CRMRejected, CRMUnavailable
from adapters.http import MAX_BODY_CHARS
from adapters.http_adapter import HttpCRMAdapter
from adapters.kind import Paging
from adapters.leaky_bucket import CLIENT_HEADROOM, LeakyBucket
from adapters.ratelimit import Limiter

MAX_PAGES = 200  # a safety stop for _list_all
# Deal pages come in ID order (the fast >ID pattern), not by modification time: sync moves its cursor only
# after the last page. 500 deals are ten lists of 50 chained in one batch call.
PAGING = Paging(modification_ordered=False, page_size=500)

Command = tuple[str, Mapping[str, Any]]


CUSTOMER_NAMES = {"company": ("TITLE",), "contact": ("NAME", "LAST_NAME")}


class Bitrix24Adapter(HttpCRMAdapter):
    """CRMAdapter for one Bitrix24 portal (incoming webhook or OAuth access token)."""

    kind, title = "bitrix24", "Bitrix24"
    stage_property, pipeline_property = "STAGE_ID", "CATEGORY_ID"
    paging = PAGING
    secret_patterns = SECRET_PATTERNS

    _token: str | None  # the OAuth access token sent in each body; None for an incoming webhook
    _offline_process_id: str | None = None  # of the last event.offline.get that returned events

    def _base_url(self, credentials: Credentials) -> str:
        """The incoming-webhook URL, or the portal's REST root (its OAuth token is then kept for the body).

        Raises ValueError for a portal URL without an access token.
        """
        base_url, self._token = endpoint_of(credentials)
        self._known_secrets = tuple(s for s in (webhook_code(base_url), self._token) if s)
        return base_url

    @classmethod
    def default_limiter(cls) -> Limiter:
        """A standard-plan leaky bucket (2 req/s, burst 50), the way Bitrix24 counts: every method in one counter.
        Pass `LeakyBucket.for_plan("enterprise")` as `limiter` for 5/250, or any RateLimiter."""
        return LeakyBucket.for_plan("standard", headroom=CLIENT_HEADROOM)

    def call(self, method: str, params: Mapping[str, Any] | None = None, *, idempotent: bool = True) -> Any:
        """Call one REST method and return the whole JSON envelope ({"result", "next"?, "total"?, "time"}).

        Raises the adapters.errors types (classify_bitrix24 maps Bitrix24's codes).
        """
        body = {**(params or {}), **({"auth": self._token} if self._token else {})}
        response = self._send("POST", f"{method}.json", classify=classify_for(method), idempotent=idempotent,
                              json=body)  # fmt: skip
        try:
            payload = response.json()
        except ValueError:
            raise self._redacted(CRMUnavailable(f"{method}: Bitrix24 answered non-JSON", status=response.status_code,
                                                body=response.text[:MAX_BODY_CHARS])) from None  # fmt: skip
        if not isinstance(payload, dict) or "result" not in payload:
            raise self._redacted(CRMRejected(f"{method}: no result in the answer", status=response.status_code,
                                             body=response.text[:MAX_BODY_CHARS]))  # fmt: skip
        return payload

    def _result(self, method: str, params: Mapping[str, Any] | None = None, *, idempotent: bool = True) -> Any:
        return self.call(method, params, idempotent=idempotent)["result"]

    def _list_all(self, method: str, params: Mapping[str, Any], key: str | None = None) -> list[Any]:
        """Every record of a paged *.list method, following `next` (offset paging, 50 per page)."""
        records: list[Any] = []
        start = 0
        for _ in range(MAX_PAGES):
            payload = self.call(method, {**params, "start": start})
            result = payload["result"]
            records.extend((result.get(key) if key else result) or [])
            following = payload.get("next")
            if following is None:
                return records
            if int(following) <= start:  # a page cursor that does not advance would loop forever
                raise CRMUnavailable(f"{method}: paging did not advance past start={start}")
            start = int(following)
        raise CRMUnavailable(f"{method}: more than {MAX_PAGES} pages")

    def batch(self, commands: Mapping[str, Command], *, halt: bool = False,
              idempotent: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
        """Run named commands through `batch`, 50 per call; returns (results, errors) by name.

        A batch counts as one request for the leaky bucket. Errors of single commands come back in
        `errors` ({"error", "error_description"}) instead of being raised.
        """
        names = list(commands)
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for first in range(0, len(names), BATCH_MAX):
            chunk = names[first : first + BATCH_MAX]
            cmd = {name: batch_command(*commands[name]) for name in chunk}
            result = self._result("batch", {"halt": int(halt), "cmd": cmd}, idempotent=idempotent)
            results.update(batch_section(result.get("result")))
            errors.update(batch_section(result.get("result_error")))
        return results, errors

    def get_deal(self, deal_id: str, properties: Sequence[str]) -> DealSnapshot:
        """crm.deal.get plus crm.stagehistory.list (its newest 50 records, newest first).

        Raises CRMNotFound for an unknown id (Bitrix24: 400 "Not found").
        """
        deal = self._result("crm.deal.get", {"id": deal_id})
        history = self._result("crm.stagehistory.list", {
            "entityTypeId": DEAL_ENTITY_TYPE_ID, "filter": {"OWNER_ID": deal_id}, "order": {"ID": "DESC"},
            "select": ["ID", "TYPE_ID", "STAGE_ID", "CATEGORY_ID", "CREATED_TIME", "STAGE_SEMANTIC_ID"],
        })  # fmt: skip
        wanted = set(select_of(properties))
        fields = {k: v for k, v in deal.items() if k in wanted or str(k).startswith("UF_CRM_")}
        return snapshot_of(fields, (history or {}).get("items") or [])

    def search_deals_modified_since(
        self, since: datetime, properties: Sequence[str], after: str | None = None, limit: int = 200
    ) -> DealPage:
        """Deals with DATE_MODIFY >= `since` in ID order, `limit` of them (in Bitrix24's fixed lists of 50).

        Uses the fast pattern from settings/performance/huge-data.md: `start=-1` (no COUNT, so
        `total` is None) and a `>ID` filter; the cursor is the last deal id seen. `>=` rather than `>`
        on DATE_MODIFY because Bitrix24 dates have whole seconds. The lists of a page come chained in one
        `batch` call, each after the last ID of the one before, so 500 deals cost one request of the
        portal's 2/s budget instead of ten. A query without a cursor asks for one list first: an
        incremental sync mostly finds fewer than 50 deals. Pages are in ID order, not by modification
        time (see `modification_ordered`). Raises CRMUnavailable when the cursor does not advance.
        """
        last_id = int(after) if after else 0
        deals: list[DealSnapshot] = []
        while True:
            wanted = lists_wanted(limit, len(deals), fresh=after is None)
            for records in self._deal_lists(since, properties, last_id, wanted):
                batch = [snapshot_of(record) for record in records]
                deals.extend(batch)
                if len(batch) < PAGE_SIZE:
                    return DealPage(deals=tuple(deals), next_after=None)
                newest = max(int(d.id) for d in batch)
                if newest <= last_id:
                    raise CRMUnavailable(f"crm.deal.list: >ID cursor did not advance past {last_id}")
                last_id = newest
                if len(deals) >= limit:
                    return DealPage(deals=tuple(deals), next_after=str(newest))

    def _deal_lists(self, since: datetime, properties: Sequence[str], after_id: int, count: int) -> list[list[Any]]:
        """`count` consecutive crm.deal.list results after `after_id`: one call, or a chain in one batch cut
        as `chained_results` cuts it (a failed command raises its error; OPERATION_TIME_LIMIT is CRMRateLimited).
        """
        if count <= 1:
            return [self._result("crm.deal.list", deal_list_params(since, properties, after_id)) or []]
        results, errors = self.batch(chained_deal_lists(since, properties, after_id, count), halt=True)
        try:
            return chained_results(results, errors, count)
        except CRMError as exc:
            raise self._redacted(exc) from None

    def update_deal(self, deal_id: str, properties: Mapping[str, str]) -> None:
        """crm.deal.update with `fields` (STAGE_ID, UF_CRM_*...; unknown fields are ignored by Bitrix24).

        A CATEGORY_ID (pipeline) change goes through crm.item.update (entityTypeId 2) with the stage,
        as crm.deal.update cannot move a deal between categories (crm-deal-update.md, STAGE_ID).
        """
        fields = dict(properties)
        if "CATEGORY_ID" in fields:
            moved = {"categoryId": fields.pop("CATEGORY_ID")}
            if "STAGE_ID" in fields:
                moved["stageId"] = fields.pop("STAGE_ID")
            self._result("crm.item.update", {"entityTypeId": DEAL_ENTITY_TYPE_ID, "id": deal_id, "fields": moved})
            if not fields:
                return
        self._result("crm.deal.update", {"id": deal_id, "fields": fields, "params": {"REGISTER_SONET_EVENT": "N"}})

    def find_task(self, deal_id: str, marker: str) -> str | None:
        """The id of an activity on the deal whose DESCRIPTION contains `marker`, or None."""
        activities = self._list_all("crm.activity.list", {
            "filter": {"OWNER_TYPE_ID": DEAL_ENTITY_TYPE_ID, "OWNER_ID": deal_id},
            "select": ["ID", "DESCRIPTION", "SUBJECT"], "order": {"ID": "DESC"},
        })  # fmt: skip
        for activity in activities:
            if marker in str(activity.get("DESCRIPTION") or ""):
                return str(activity["ID"])
        return None

    def create_task(self, request: TaskRequest) -> str:
        """crm.activity.todo.add on the deal (body + marker in the description); returns the id.

        With deal_id None, tasks.task.add for `owner_id` (a CRM to-do needs an owner entity; needs the
        `task` scope); returns result.task.id. CRMRejected (no HTTP call) without owner_id either.
        Not retried after a timeout or 5xx (it may exist): call find_task with the marker first."""
        check_task_target(request, "Bitrix24")
        if request.deal_id is None:
            task = self._result("tasks.task.add", {"fields": user_task_fields(request)}, idempotent=False)
            return str(task["task"]["id"])
        result = self._result("crm.activity.todo.add", todo_params(request), idempotent=False)
        return str(result["id"] if isinstance(result, dict) else result)

    def create_note(self, deal_id: str, body: str, marker: str) -> str:
        """crm.timeline.comment.add on the deal; returns the comment id."""
        fields = {"ENTITY_ID": deal_id, "ENTITY_TYPE": "deal", "COMMENT": f"{body}\n\n{marker}"}
        return str(self._result("crm.timeline.comment.add", {"fields": fields}, idempotent=False))

    def list_pipelines(self) -> tuple[PipelineInfo, ...]:
        """crm.category.list (deal categories) and their crm.status.list stages, fetched in one batch."""
        categories = (self._result("crm.category.list", {"entityTypeId": DEAL_ENTITY_TYPE_ID}) or {}).get(
            "categories") or []  # fmt: skip
        commands = {
            f"c{c['id']}": ("crm.status.list", {"filter": {"ENTITY_ID": stage_entity_id(c["id"])},
                                                "order": {"SORT": "ASC"}})
            for c in categories
        }  # fmt: skip
        results, errors = self.batch(commands)
        if errors:
            raise self._redacted(CRMRejected(f"crm.status.list failed in batch: {sorted(errors)}",
                                             vendor_message=str(errors)))
        pipelines = [pipeline_of(c, results.get(f"c{c['id']}") or []) for c in categories]
        return tuple(sorted(pipelines, key=lambda p: (p.order, int(p.id))))

    def list_deal_properties(self) -> tuple[PropertyInfo, ...]:
        """crm.deal.fields, with enumeration items from crm.deal.userfield.list where missing."""
        fields = self._result("crm.deal.fields") or {}
        userfields = {str(u.get("FIELD_NAME")): u for u in self._list_all("crm.deal.userfield.list", {})}
        return tuple(property_of(str(name), meta, userfields.get(str(name))) for name, meta in fields.items())

    def get_customers(self, kind: str, ids: Sequence[str], properties: Sequence[str]) -> tuple[CustomerSnapshot, ...]:
        """Companies or contacts by id: crm.company.list / crm.contact.list filtered by `@ID` (50 a page), with
        their TITLE (company) or NAME and LAST_NAME (contact), the asked fields and every UF_CRM_*."""
        check_customer_kind(kind)
        names = CUSTOMER_NAMES[kind]
        select = list(dict.fromkeys(["ID", *names, *properties, "UF_*"]))
        unique = list(dict.fromkeys(map(str, ids)))
        customers: list[CustomerSnapshot] = []
        for start in range(0, len(unique), PAGE_SIZE):
            params = {"filter": {"@ID": unique[start : start + PAGE_SIZE]}, "select": select, "order": {"ID": "ASC"}}
            for raw in self._list_all(f"crm.{kind}.list", params):
                props = {str(k): value_of(v) for k, v in raw.items()}
                name = " ".join(str(props[n]) for n in names if props.get(n)) or None
                customers.append(CustomerSnapshot(kind, str(raw["ID"]), name, props))
        return tuple(customers)

    def list_customer_properties(self, kind: str) -> tuple[PropertyInfo, ...]:
        """crm.company.fields or crm.contact.fields (name = the field's code, UF_CRM_* for custom ones)."""
        check_customer_kind(kind)
        fields = self._result(f"crm.{kind}.fields") or {}
        return tuple(property_of(str(name), meta) for name, meta in fields.items())

    def list_owners(self) -> tuple[OwnerInfo, ...]:
        """Every user, dismissed ones included (user.get, paged; its ACTIVE filter would leave them out, and
        they still own old deals)."""
        return tuple(owner_of(raw) for raw in self._list_all("user.get", {}))

    def native_stage_requirements(self) -> dict[str, tuple[str, ...]]:
        """{}: Bitrix24's "mandatory by stage" settings are not exposed over REST.

        crm.deal.userfield.list has only the global MANDATORY flag (CRM-CONTRACTS 5.1); the
        per-stage selection is configured in the UI only, so requirements are configured in Qualify.
        """
        return {}

    def fetch_offline_events(self, limit: int = 50) -> list[WebhookEvent]:
        """event.offline.get with clear=0: up to `limit` queued events, hidden under a process_id.

        Call clear_offline_events after processing them (at-least-once). Works in OAuth context only.
        """
        result = self._result("event.offline.get", {"limit": max(1, min(limit, 50)), "clear": 0}) or {}
        events = result.get("events") or []
        if events:  # an empty answer may carry a fresh process id with nothing to clear under it
            self._offline_process_id = result.get("process_id") or self._offline_process_id
        return offline_events_of(events, self._offline_process_id)

    def clear_offline_events(self, events: Sequence[WebhookEvent], process_id: str | None = None) -> None:
        """event.offline.clear for the MESSAGE_IDs of `events` under the last (or given) process_id.

        Raises ValueError when no events were fetched yet and no process_id is given.
        """
        message_ids = [str(e.raw.get("MESSAGE_ID")) for e in events]
        process = process_id or self._offline_process_id
        if not process:
            raise ValueError("no offline process_id: fetch_offline_events first")
        params: dict[str, Any] = {"process_id": process, "message_id": list(message_ids)}
        self._result("event.offline.clear", params)
