"""Routes of amoCRM API v4 served by the sandbox (the state lock is held by the caller).

Shapes follow https://www.amocrm.ru/developers/content/crm_platform/leads-api and the Kommo
reference: HAL envelopes (`_links`, `_embedded`, `_page`), 204 No Content for an empty list page
or an unknown lead id, `limit` capped at 250 (default 50), problem+json errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from adapters.sandbox import amocrm_customers as customers
from adapters.sandbox.amocrm_state import CURRENCY, CURRENCY_SYMBOL, USER_ANNA, Account, ApiError, validation_error

Result = tuple[int, Any]
LIMIT_MAX = 250


@dataclass
class Call:
    """One API request as the handlers see it."""

    account: Account
    request: Request
    body: Any
    user_id: int
    base_url: str
    stuck_paging: bool = False

    def arg(self, name: str) -> str | None:
        return self.request.args.get(name)

    def number(self, name: str, default: int, maximum: int | None = None) -> int:
        try:
            value = int(self.arg(name) or default)
        except ValueError:
            raise validation_error(name, "This value should be a valid number.") from None
        return max(1, value if maximum is None else min(value, maximum))

    def page(self, key: str, items: list[Any], render: Callable[[Any], dict[str, Any]]) -> Result:
        """One page of `items` in a HAL envelope, or 204 when the page is empty."""
        page, limit = self.number("page", 1), self.number("limit", 50, LIMIT_MAX)
        chunk = items[(page - 1) * limit : page * limit]
        if not chunk:
            return 204, None
        base = f"{self.base_url}{self.request.path}"
        query = "&".join(f"{k}={v}" for k, v in self.request.args.items(multi=True) if k not in ("page", "limit"))

        def href(number: int) -> dict[str, str]:
            return {"href": f"{base}?{query}{'&' if query else ''}page={number}&limit={limit}"}

        links = {"self": href(page)}
        if page * limit < len(items):
            links["next"] = href(page if self.stuck_paging else page + 1)
        if page > 1:
            links["prev"] = href(page - 1)
        return 200, {"_page": page, "_links": links, "_embedded": {key: [render(i) for i in chunk]}}


def body_list(call: Call) -> list[dict[str, Any]]:
    if not isinstance(call.body, list) or not call.body or not all(isinstance(i, dict) for i in call.body):
        raise validation_error("", "This value should be a non-empty array of objects.")
    return call.body


def _int(value: Any, path: str, request_id: str = "0") -> int:
    if isinstance(value, bool) or not str(value).lstrip("-").isdigit():
        raise validation_error(path, "This value should be of type int.", request_id)
    return int(value)


# ---- leads ---------------------------------------------------------------------------------------
def _with_contacts(call: Call) -> bool:
    return "contacts" in (call.arg("with") or "").split(",")


def get_lead(call: Call, lead_id: str) -> Result:
    lead = call.account.leads.get(int(lead_id)) if lead_id.isdigit() else None
    return (204, None) if lead is None else (200, call.account.render(lead, call.base_url, _with_contacts(call)))


def list_leads(call: Call) -> Result:
    args = call.request.args
    since, until = args.get("filter[updated_at][from]"), args.get("filter[updated_at][to]")
    leads = [lead for lead in call.account.leads.values()
             if (since is None or lead["updated_at"] >= _int(since, "filter.updated_at.from"))
             and (until is None or lead["updated_at"] <= _int(until, "filter.updated_at.to"))]  # fmt: skip
    if args.get("order[updated_at]"):
        leads.sort(key=lambda lead: (lead["updated_at"], lead["id"]), reverse=args["order[updated_at]"] == "desc")
    else:
        leads.sort(key=lambda lead: lead["id"], reverse=args.get("order[id]") == "desc")
    with_contacts = _with_contacts(call)
    return call.page("leads", leads, lambda lead: call.account.render(lead, call.base_url, with_contacts))


def _lead_values(raw: dict[str, Any], request_id: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in ("status_id", "pipeline_id", "price", "responsible_user_id", "loss_reason_id"):
        if key in raw:
            values[key] = None if raw[key] is None else _int(raw[key], key, request_id)
    if "name" in raw:
        values["name"] = str(raw["name"])
    custom: dict[int, Any] = {}
    for entry in raw.get("custom_fields_values") or []:
        fid = _int((entry or {}).get("field_id"), "custom_fields_values.field_id", request_id)
        custom[fid] = entry.get("values") or None
    if custom:
        values["custom"] = custom
    return values


def _linked_values(call: Call, raw: dict[str, Any], request_id: str) -> dict[str, Any]:
    """A lead body's values with the companies and contacts it links in `_embedded`."""
    links = customers.links_of(raw, call.account.companies, call.account.contacts, request_id)
    return {**_lead_values(raw, request_id), **links}


def patch_lead(call: Call, lead_id: str) -> Result:
    if not isinstance(call.body, dict):
        raise validation_error("", "This value should be an object.")
    if not lead_id.isdigit() or int(lead_id) not in call.account.leads:
        raise ApiError(404, f"Lead {lead_id} not found")
    lead = call.account.update_lead(int(lead_id), _linked_values(call, call.body, "0"), call.user_id)
    links = {"self": {"href": f"{call.base_url}/api/v4/leads/{lead['id']}"}}
    return 200, {"id": lead["id"], "updated_at": lead["updated_at"], "_links": links}


def add_leads(call: Call) -> Result:
    raws = body_list(call)
    created = [call.account.create_lead(_linked_values(call, raw, str(i)), call.user_id)
               for i, raw in enumerate(raws)]
    return 200, {"_links": {"self": {"href": f"{call.base_url}/api/v4/leads"}},
                 "_embedded": {"leads": [{"id": lead["id"], "request_id": str(i)} for i, lead in enumerate(created)]}}


# ---- tasks and notes -----------------------------------------------------------------------------
def add_tasks(call: Call) -> Result:
    created = []
    for i, raw in enumerate(body_list(call)):
        rid = str(raw.get("request_id", i))
        if raw.get("entity_type") not in (None, "leads") or not str(raw.get("text") or "").strip():
            raise validation_error("text" if raw.get("entity_type") in (None, "leads") else "entity_type",
                                   "This value should not be blank.", rid)  # fmt: skip
        entity_id = _int(raw.get("entity_id"), "entity_id", rid) if raw.get("entity_id") is not None else None
        if entity_id is not None and entity_id not in call.account.leads:
            raise validation_error("entity_id", "Entity not found", rid)
        task: dict[str, Any] = {"id": call.account.new_id(), "created_by": call.user_id, "updated_by": call.user_id,
                "responsible_user_id": _int(raw.get("responsible_user_id", call.user_id), "responsible_user_id", rid),
                "group_id": 0, "entity_id": entity_id, "entity_type": "leads" if entity_id else None,
                "duration": 0, "is_completed": False, "task_type_id": _int(raw.get("task_type_id", 1), "task_type_id",
                                                                            rid),
                "text": str(raw["text"]), "result": [], "complete_till": _int(raw.get("complete_till"),
                                                                               "complete_till", rid),
                "account_id": call.account.account_id}  # fmt: skip
        call.account.tasks[task["id"]] = task
        created.append({"id": task["id"], "request_id": rid,
                        "_links": {"self": {"href": f"{call.base_url}/api/v4/tasks/{task['id']}"}}})  # fmt: skip
    return 200, {"_links": {"self": {"href": f"{call.base_url}/api/v4/tasks"}}, "_embedded": {"tasks": created}}


def list_tasks(call: Call) -> Result:
    args = call.request.args
    wanted_ids = set(args.getlist("filter[entity_id]") + args.getlist("filter[entity_id][]"))
    users = set(args.getlist("filter[responsible_user_id]") + args.getlist("filter[responsible_user_id][]"))
    entity_type = args.get("filter[entity_type]")
    tasks = [t for t in sorted(call.account.tasks.values(), key=lambda t: t["id"])
             if (entity_type is None or t["entity_type"] == entity_type)
             and (not wanted_ids or str(t["entity_id"]) in wanted_ids)
             and (not users or str(t["responsible_user_id"]) in users)]  # fmt: skip
    return call.page("tasks", tasks, dict)


def add_notes(call: Call, lead_id: str | None = None) -> Result:
    created = []
    for i, raw in enumerate(body_list(call)):
        rid = str(raw.get("request_id", i))
        entity_id = _int(lead_id if lead_id is not None else raw.get("entity_id"), "entity_id", rid)
        if entity_id not in call.account.leads:
            raise validation_error("entity_id", "Entity not found", rid)
        if raw.get("note_type") != "common" or not str((raw.get("params") or {}).get("text") or "").strip():
            raise validation_error("params.text", "This value should not be blank.", rid)
        note: dict[str, Any] = {"id": call.account.new_id(), "entity_id": entity_id, "note_type": "common",
                "params": {"text": str(raw["params"]["text"])}, "created_by": call.user_id,
                "account_id": call.account.account_id}  # fmt: skip
        call.account.notes[note["id"]] = note
        created.append({"id": note["id"], "entity_id": entity_id, "request_id": rid,
                        "_links": {"self": {"href": f"{call.base_url}/api/v4/leads/{entity_id}/notes/{note['id']}"}}})
    return 200, {"_links": {"self": {"href": f"{call.base_url}/api/v4/leads/notes"}}, "_embedded": {"notes": created}}


# ---- account metadata ----------------------------------------------------------------------------
def list_pipelines(call: Call) -> Result:
    account_id = call.account.account_id
    pipelines = []
    for p in call.account.pipelines:
        statuses = [{**s, "account_id": account_id} for s in p["statuses"]]
        pipelines.append({**{k: v for k, v in p.items() if k != "statuses"}, "account_id": account_id,
                          "_embedded": {"statuses": statuses}})  # fmt: skip
    return 200, {"_total_items": len(pipelines), "_links": {"self": {"href": f"{call.base_url}{call.request.path}"}},
                 "_embedded": {"pipelines": pipelines}}  # fmt: skip


def list_custom_fields(call: Call) -> Result:
    fields = [{**f, "account_id": call.account.account_id} for f in call.account.custom_fields]
    return call.page("custom_fields", fields, dict)


def list_companies(call: Call) -> Result:
    account = call.account
    return call.page("companies", customers.listed(account.companies, call.request.args),
                     lambda c: customers.render(c, "companies", account.account_id, call.base_url))


def list_contacts(call: Call) -> Result:
    account = call.account
    return call.page("contacts", customers.listed(account.contacts, call.request.args),
                     lambda c: customers.render(c, "contacts", account.account_id, call.base_url))


def list_customer_fields(call: Call, entity: str) -> Result:
    fields = call.account.company_fields if entity == "companies" else call.account.contact_fields
    return call.page("custom_fields", [{**f, "account_id": call.account.account_id} for f in fields], dict)


def list_users(call: Call) -> Result:
    return call.page("users", call.account.users, dict)


def get_account(call: Call) -> Result:
    """GET /api/v4/account: the account's parameters, its currency among them (the official SDK's AccountModel
    reads `currency` and `currency_symbol`)."""
    account = call.account
    return 200, {"id": account.account_id, "name": account.subdomain.title(), "subdomain": account.subdomain,
                 "created_at": 1_672_531_200, "created_by": USER_ANNA, "updated_at": 1_672_531_200,
                 "updated_by": USER_ANNA, "current_user_id": call.user_id, "country": "RU", "currency": CURRENCY,
                 "currency_symbol": CURRENCY_SYMBOL, "customers_mode": "disabled", "is_unsorted_on": True,
                 "mobile_feature_version": 0, "is_loss_reason_enabled": True, "is_helpbot_enabled": False,
                 "is_technical_account": False, "contact_name_display_order": 1,
                 "_links": {"self": {"href": f"{call.base_url}/api/v4/account"}}}  # fmt: skip


def build_map() -> Map:
    return Map([
        Rule("/api/v4/leads", methods=["GET"], endpoint="list_leads"),
        Rule("/api/v4/leads", methods=["POST"], endpoint="add_leads"),
        Rule("/api/v4/leads/pipelines", methods=["GET"], endpoint="list_pipelines"),
        Rule("/api/v4/leads/custom_fields", methods=["GET"], endpoint="list_custom_fields"),
        Rule("/api/v4/leads/notes", methods=["POST"], endpoint="add_notes"),
        Rule("/api/v4/leads/<lead_id>", methods=["GET"], endpoint="get_lead"),
        Rule("/api/v4/leads/<lead_id>", methods=["PATCH"], endpoint="patch_lead"),
        Rule("/api/v4/leads/<lead_id>/notes", methods=["POST"], endpoint="add_notes"),
        Rule("/api/v4/tasks", methods=["GET"], endpoint="list_tasks"),
        Rule("/api/v4/tasks", methods=["POST"], endpoint="add_tasks"),
        Rule("/api/v4/companies", methods=["GET"], endpoint="list_companies"),
        Rule("/api/v4/contacts", methods=["GET"], endpoint="list_contacts"),
        Rule("/api/v4/<any(companies, contacts):entity>/custom_fields", methods=["GET"],
             endpoint="list_customer_fields"),
        Rule("/api/v4/users", methods=["GET"], endpoint="list_users"),
        Rule("/api/v4/account", methods=["GET"], endpoint="get_account"),
    ], strict_slashes=False)  # fmt: skip


HANDLERS: dict[str, Callable[..., Result]] = {
    "list_leads": list_leads, "add_leads": add_leads, "get_lead": get_lead, "patch_lead": patch_lead,
    "list_pipelines": list_pipelines, "list_custom_fields": list_custom_fields, "add_notes": add_notes,
    "list_tasks": list_tasks, "add_tasks": add_tasks, "list_users": list_users, "get_account": get_account,
    "list_companies": list_companies, "list_contacts": list_contacts, "list_customer_fields": list_customer_fields,
}  # fmt: skip


def dispatch(url_map: Map, call: Call) -> Result:
    """Route and run; unknown paths and methods answer amoCRM-style 404 / 405."""
    try:
        endpoint, values = url_map.bind_to_environ(call.request.environ).match()
    except NotFound:
        raise ApiError(404, "Not Found") from None
    except MethodNotAllowed:
        raise ApiError(405, "Method Not Allowed") from None
    return HANDLERS[str(endpoint)](call, **values)
