"""The Pipedrive REST endpoints the sandbox serves, with the documented envelopes.

Success: `{"success": true, "data": ..., "additional_data": {"next_cursor": ...}}` (v2 lists page with an
opaque cursor, null on the last page; https://pipedrive.readme.io/docs/core-api-concepts-pagination).
v1 endpoints (notes, users) keep the v1 envelope. Errors are `PipedriveApiError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from adapters.sandbox import pipedrive_customers as customers
from adapters.sandbox import pipedrive_errors as errors
from adapters.sandbox.pipedrive_state import Actor, Company, page, public_deal

Result = tuple[int, dict[str, Any]]


@dataclass
class Call:
    """One authenticated API request, as the handlers see it."""

    company: Company
    request: Request
    body: Any
    actor: Actor
    stuck_cursor: bool = False

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.request.args.get(name, default)

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        value = self.arg(name)
        if value is None or value == "":
            return default
        if not value.lstrip("-").isdigit():
            raise errors.invalid(f"Parameter '{name}' must be an integer")
        return int(value)

    def json_object(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise errors.invalid("Request body must be a JSON object")
        return self.body


def build_map() -> Map:
    """The URL map; endpoints name the handler functions in HANDLERS."""
    return Map([
        Rule("/api/v2/deals", methods=["GET"], endpoint="list_deals"),
        Rule("/api/v2/deals", methods=["POST"], endpoint="create_deal"),
        Rule("/api/v2/deals/<deal_id>", methods=["GET"], endpoint="get_deal"),
        Rule("/api/v2/deals/<deal_id>", methods=["PATCH"], endpoint="update_deal"),
        Rule("/api/v2/deals/<deal_id>", methods=["DELETE"], endpoint="delete_deal"),
        Rule("/api/v2/pipelines", methods=["GET"], endpoint="list_pipelines"),
        Rule("/api/v2/stages", methods=["GET"], endpoint="list_stages"),
        Rule("/api/v2/dealFields", methods=["GET"], endpoint="list_fields"),
        Rule("/api/v2/activities", methods=["GET"], endpoint="list_activities"),
        Rule("/api/v2/activities", methods=["POST"], endpoint="create_activity"),
        Rule("/api/v1/notes", methods=["GET"], endpoint="list_notes"),
        Rule("/api/v1/notes", methods=["POST"], endpoint="create_note"),
        Rule("/api/v1/users", methods=["GET"], endpoint="list_users"),
        Rule("/api/v2/organizations", methods=["GET"], endpoint="list_organizations"),
        Rule("/api/v2/persons", methods=["GET"], endpoint="list_persons"),
        Rule("/api/v2/organizationFields", methods=["GET"], endpoint="list_organization_fields"),
        Rule("/api/v2/personFields", methods=["GET"], endpoint="list_person_fields"),
    ], strict_slashes=False)  # fmt: skip


def dispatch(url_map: Map, call: Call) -> Result:
    """Route and run one request; unknown routes are Pipedrive's 404 body."""
    try:
        endpoint, values = url_map.bind_to_environ(call.request.environ).match()
    except MethodNotAllowed:
        raise errors.PipedriveApiError(405, "Method not allowed") from None
    except NotFound:
        raise errors.PipedriveApiError(404, "Unknown method .") from None
    return HANDLERS[endpoint](call, **values)


def ok(data: Any, next_cursor: str | None = None, *, listing: bool = False) -> Result:
    body: dict[str, Any] = {"success": True, "data": data}
    if listing:
        body["additional_data"] = {"next_cursor": next_cursor}
    return 200, body


def listed(call: Call, items: list[dict[str, Any]], key: Callable[[dict[str, Any]], list[int]]) -> Result:
    limit = call.int_arg("limit", 100) or 100
    chunk, cursor = page(items, key, call.arg("cursor"), limit, stuck=call.stuck_cursor)
    return ok(chunk, cursor, listing=True)


def parse_since(value: str | None) -> int | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise errors.invalid("Parameter 'updated_since' must be an RFC 3339 date-time") from None
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp() * 1000)


def custom_keys(call: Call) -> list[str] | None:
    keys = [k.strip() for k in (call.arg("custom_fields") or "").split(",") if k.strip()]
    if len(keys) > 15:
        raise errors.invalid("Parameter 'custom_fields' accepts at most 15 keys")
    return keys or None


def list_deals(call: Call) -> Result:
    sort_by = call.arg("sort_by", "id") or "id"
    if sort_by not in ("id", "update_time", "add_time"):
        raise errors.invalid("Parameter 'sort_by' must be one of id, update_time, add_time")
    descending = (call.arg("sort_direction", "asc") or "asc") == "desc"
    deals = call.company.list_deals(since_ms=parse_since(call.arg("updated_since")), sort_by=sort_by,
                                    descending=descending)  # fmt: skip
    for name in ("stage_id", "pipeline_id", "owner_id"):
        wanted = call.int_arg(name)
        deals = [d for d in deals if wanted is None or d[name] == wanted]
    deals = by_status(call, deals)
    sign = -1 if descending else 1
    by_time = sort_by == "update_time"
    status, body = listed(call, deals, lambda d: [sign * d["_update_ms"] if by_time else 0, sign * d["id"]])
    keys = custom_keys(call)
    body["data"] = [public_deal(d, keys) for d in body["data"]]
    return status, body


def by_status(call: Call, deals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """v2 `status`: comma-separated open|won|lost|deleted; omitted, every deal not deleted. Deleted deals are
    not kept by the sandbox, so `deleted` matches none."""
    wanted = {part.strip() for part in (call.arg("status") or "").split(",") if part.strip()}
    unknown = sorted(wanted - {"open", "won", "lost", "deleted"})
    if unknown:
        raise errors.invalid(f"Parameter 'status' must be one of open, won, lost, deleted; got {', '.join(unknown)}")
    return [d for d in deals if d["status"] in wanted] if wanted else deals


def get_deal(call: Call, deal_id: str) -> Result:
    return ok(public_deal(call.company.deal(deal_id), custom_keys(call)))


def create_deal(call: Call) -> Result:
    return 201, ok(public_deal(call.company.create_deal(call.json_object(), call.actor)))[1]


def update_deal(call: Call, deal_id: str) -> Result:
    return ok(public_deal(call.company.update_deal(deal_id, call.json_object(), call.actor)))


def delete_deal(call: Call, deal_id: str) -> Result:
    call.company.delete_deal(deal_id, call.actor)
    return ok({"id": int(deal_id)})


def list_pipelines(call: Call) -> Result:
    return listed(call, sorted(call.company.pipelines, key=lambda p: p["id"]), lambda p: [p["id"]])


def list_stages(call: Call) -> Result:
    wanted = call.int_arg("pipeline_id")
    stages = [s for s in call.company.stages.values() if wanted is None or s["pipeline_id"] == wanted]
    return listed(call, sorted(stages, key=lambda s: s["id"]), lambda s: [s["id"]])


OPTIONAL_FIELD_PARTS = ("required_fields", "important_fields", "ui_visibility")


def list_fields(call: Call) -> Result:
    include = {part.strip() for part in (call.arg("include_fields") or "").split(",") if part.strip()}
    fields = [dict(f, _index=i) for i, f in enumerate(call.company.fields)]
    status, body = listed(call, fields, lambda f: [f["_index"]])
    body["data"] = [{k: v for k, v in f.items() if k != "_index"
                     and (k not in OPTIONAL_FIELD_PARTS or k in include)} for f in body["data"]]  # fmt: skip
    return status, body


def list_activities(call: Call) -> Result:
    deal_id, owner_id = call.int_arg("deal_id"), call.int_arg("owner_id")
    items = [a for a in call.company.activities.values()
             if (deal_id is None or a["deal_id"] == deal_id) and (owner_id is None or a["owner_id"] == owner_id)]
    return listed(call, sorted(items, key=lambda a: a["id"]), lambda a: [a["id"]])


def create_activity(call: Call) -> Result:
    return 201, ok(call.company.add_activity(call.json_object(), call.actor))[1]


def list_notes(call: Call) -> Result:
    deal_id = call.int_arg("deal_id")
    notes = [n for n in call.company.notes.values() if deal_id is None or n["deal_id"] == deal_id]
    pagination = {"start": 0, "limit": 100, "more_items_in_collection": False}
    return 200, {"success": True, "data": notes or None, "additional_data": {"pagination": pagination}}


def create_note(call: Call) -> Result:
    return 201, ok(call.company.add_note(call.json_object(), call.actor))[1]


def list_users(call: Call) -> Result:
    return ok(call.company.users)


def list_organizations(call: Call) -> Result:
    items = customers.listed_customers(call.company.organizations, call.arg("ids"))
    return listed(call, items, lambda o: [o["id"]])


def list_persons(call: Call) -> Result:
    return listed(call, customers.listed_customers(call.company.persons, call.arg("ids")), lambda p: [p["id"]])


def list_organization_fields(call: Call) -> Result:
    return _listed_fields(call, customers.organization_fields())


def list_person_fields(call: Call) -> Result:
    return _listed_fields(call, customers.person_fields())


def _listed_fields(call: Call, found: list[dict[str, Any]]) -> Result:
    """A page of an object's fields, in their order, without the parts a field shows only when asked."""
    fields = [dict(f, _index=i) for i, f in enumerate(found)]
    status, body = listed(call, fields, lambda f: [f["_index"]])
    body["data"] = [{k: v for k, v in f.items() if k != "_index" and k not in OPTIONAL_FIELD_PARTS}
                    for f in body["data"]]
    return status, body


HANDLERS: dict[str, Callable[..., Result]] = {
    "list_deals": list_deals, "create_deal": create_deal, "get_deal": get_deal, "update_deal": update_deal,
    "delete_deal": delete_deal, "list_pipelines": list_pipelines, "list_stages": list_stages,
    "list_fields": list_fields, "list_activities": list_activities, "create_activity": create_activity,
    "list_notes": list_notes, "create_note": create_note, "list_users": list_users,
    "list_organizations": list_organizations, "list_persons": list_persons,
    "list_organization_fields": list_organization_fields, "list_person_fields": list_person_fields,
}
