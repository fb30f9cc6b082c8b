"""Routes of the HubSpot CRM v3 API served by the sandbox (the state lock is held by the caller).

Objects: https://developers.hubspot.com/docs/api/crm/understanding-the-crm (deals, tasks, notes);
pipelines, properties and owners: the v3 Pipelines, Properties and Owners APIs. Each handler
returns (status, JSON body) or raises `HubSpotApiError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from adapters.sandbox import hubspot_errors as errors
from adapters.sandbox import hubspot_search
from adapters.sandbox import hubspot_seed as seed
from adapters.sandbox.hubspot_seed import prop
from adapters.sandbox.hubspot_state import OBJECT_TYPES, Actor, Portal
from adapters.sandbox.hubspot_values import iso, now_ms
from adapters.sandbox.hubspot_views import page, public, split_list

# objectTypeIds accepted in place of names (https://developers.hubspot.com/docs/api/crm/understanding-the-crm).
TYPE_ALIASES = {"deal": "deals", "0-3": "deals", "task": "tasks", "0-27": "tasks",
                "note": "notes", "0-46": "notes", "company": "companies", "0-2": "companies",
                "contact": "contacts", "0-1": "contacts"}
BATCH_LIMIT = 100

Result = tuple[int, Any]


@dataclass
class Call:
    """One API request as the handlers see it."""

    portal: Portal
    request: Request
    body: Any
    actor: Actor
    base_url: str

    def arg(self, name: str) -> str | None:
        return self.request.args.get(name)

    def args(self, name: str) -> list[str]:
        return split_list(self.request.args.getlist(name))

    def limit(self, default: int, maximum: int) -> int:
        try:
            value = int(self.arg("limit") or default)
        except ValueError as exc:
            raise errors.validation(f"limit must be an integer: {exc}") from exc
        return max(1, min(value, maximum))

    def link(self) -> str:
        return self.base_url + self.request.path


def object_type(name: str) -> str:
    resolved = TYPE_ALIASES.get(name, name)
    if resolved not in OBJECT_TYPES:
        raise errors.validation(f"Unable to infer object type from: {name}")
    return resolved


def body_dict(call: Call) -> dict[str, Any]:
    if not isinstance(call.body, dict):
        raise errors.validation("Invalid input JSON: expected a JSON object body")
    return call.body


# ---- objects ---------------------------------------------------------------------------------
def list_objects(call: Call, type_name: str) -> Result:
    kind = object_type(type_name)
    archived = call.arg("archived") == "true"
    items, paging = page(call.portal.live(kind, archived), call.arg("after"), call.limit(10, 100),
                         call.link(), key=lambda o: int(o.id))
    results = [public(call.portal, o, properties=call.args("properties"),
                      history=call.args("propertiesWithHistory"), associations=call.args("associations"))
               for o in items]
    return 200, {"results": results, **({"paging": paging} if paging else {})}


def get_object(call: Call, type_name: str, object_id: str) -> Result:
    kind = object_type(type_name)
    obj = call.portal.get(kind, object_id, archived=call.arg("archived") == "true")
    return 200, public(call.portal, obj, properties=call.args("properties"),
                       history=call.args("propertiesWithHistory"), associations=call.args("associations"))


def create_object(call: Call, type_name: str) -> Result:
    kind, body = object_type(type_name), body_dict(call)
    obj = call.portal.create(kind, body.get("properties") or {}, call.actor, body.get("associations"))
    return 201, public(call.portal, obj, properties=list(obj.properties))


def update_object(call: Call, type_name: str, object_id: str) -> Result:
    kind, body = object_type(type_name), body_dict(call)
    obj = call.portal.update(kind, object_id, body.get("properties") or {}, call.actor)
    return 200, public(call.portal, obj, properties=list(obj.properties))


def archive_object(call: Call, type_name: str, object_id: str) -> Result:
    call.portal.archive(object_type(type_name), object_id, call.actor)
    return 204, None


def search_objects(call: Call, type_name: str) -> Result:
    return 200, hubspot_search.search(call.portal, object_type(type_name), call.body)


def batch_inputs(call: Call) -> list[dict[str, Any]]:
    inputs = body_dict(call).get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) and "id" in i for i in inputs):
        raise errors.validation("inputs must be a list of objects with an id")
    if len(inputs) > BATCH_LIMIT:
        raise errors.validation(f"Batch input may contain at most {BATCH_LIMIT} inputs, got {len(inputs)}")
    return inputs


def batch_result(results: list[dict[str, Any]], missing: list[str], kind: str, started: int) -> Result:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": iso(started),
                            "completedAt": iso(now_ms())}
    if not missing:
        return 200, body
    body["numErrors"] = 1
    body["errors"] = [{
        "status": "error", "category": "OBJECT_NOT_FOUND",
        "message": f"Could not get some {kind[:-1].upper()} objects, they may be deleted or not exist. "
                   "Check that ids are valid.",
        "context": {"ids": missing},
    }]
    return 207, body


def batch_read(call: Call, type_name: str) -> Result:
    kind, started = object_type(type_name), now_ms()
    inputs, body = batch_inputs(call), body_dict(call)
    results, missing = [], []
    for item in inputs:
        obj = call.portal.objects[kind].get(str(item["id"]))
        if obj is None or obj.archived:
            missing.append(str(item["id"]))
            continue
        results.append(public(call.portal, obj, properties=body.get("properties"),
                              history=body.get("propertiesWithHistory")))
    return batch_result(results, missing, kind, started)


def batch_update(call: Call, type_name: str) -> Result:
    kind, started = object_type(type_name), now_ms()
    inputs = batch_inputs(call)
    for item in inputs:  # all-or-nothing like HubSpot: validate ids first
        call.portal.get(kind, str(item["id"]))
    objs = [call.portal.update(kind, str(i["id"]), i.get("properties") or {}, call.actor) for i in inputs]
    results = [public(call.portal, o, properties=list(o.properties)) for o in objs]
    return batch_result(results, [], kind, started)


def association_batch_read(call: Call, from_type: str, to_type: str) -> Result:
    """POST /crm/v4/associations/{from}/{to}/batch/read: each input's associated objects with their types
    (primary deal-company links typeId 5, label "Primary"); inputs without any are in `errors` (207)."""
    kind, target, started = object_type(from_type), object_type(to_type), now_ms()
    results, empty = [], []
    for item in batch_inputs(call):
        obj = call.portal.objects[kind].get(str(item["id"]))
        linked = (obj.associations.get(target) or {}) if obj is not None and not obj.archived else {}
        if not linked:
            empty.append(str(item["id"]))
            continue
        results.append({"from": {"id": obj.id}, "to": [  # type: ignore[union-attr]
            {"toObjectId": int(to_id), "associationTypes": association_types(label)}
            for to_id, label in sorted(linked.items(), key=lambda pair: int(pair[0]))]})
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": iso(started),
                            "completedAt": iso(now_ms())}
    if not empty:
        return 200, body
    body["numErrors"] = len(empty)
    body["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                       "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                       "message": f"No {target} is associated with {kind[:-1]} {object_id}.",
                       "context": {"fromObjectId": [object_id]}} for object_id in empty]
    return 207, body


def association_types(label: str) -> list[dict[str, Any]]:
    """The v4 associationTypes of a link stored under its v3 label."""
    if label in ("deal_to_company", "company_to_deal"):
        type_id = 5 if label == "deal_to_company" else 6
        return [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": "Primary"},
                {"category": "HUBSPOT_DEFINED", "typeId": 341 if type_id == 5 else 342, "label": None}]
    type_ids = {"deal_to_company_unlabeled": 341, "company_to_deal_unlabeled": 342, "deal_to_contact": 3,
                "contact_to_deal": 4, "task_to_deal": 216, "deal_to_task": 215, "note_to_deal": 214,
                "deal_to_note": 213}
    return [{"category": "HUBSPOT_DEFINED", "typeId": type_ids.get(label, 0), "label": None}]


# ---- pipelines, properties, owners -------------------------------------------------------------
def deal_pipeline(call: Call, pipeline_id: str) -> dict[str, Any]:
    found = call.portal.pipelines.get(pipeline_id)
    if found is None:
        raise errors.not_found(f"Unable to find pipeline with id {pipeline_id}")
    return found


def list_pipelines(call: Call, type_name: str) -> Result:
    if object_type(type_name) != "deals":
        return 200, {"results": []}
    return 200, {"results": list(call.portal.pipelines.values())}


def get_pipeline(call: Call, type_name: str, pipeline_id: str) -> Result:
    object_type(type_name)
    return 200, deal_pipeline(call, pipeline_id)


def list_stages(call: Call, type_name: str, pipeline_id: str) -> Result:
    object_type(type_name)
    return 200, {"results": deal_pipeline(call, pipeline_id)["stages"]}


def get_stage(call: Call, type_name: str, pipeline_id: str, stage_id: str) -> Result:
    object_type(type_name)
    for stage in deal_pipeline(call, pipeline_id)["stages"]:
        if stage["id"] == stage_id:
            return 200, stage
    raise errors.not_found(f"Unable to find stage {stage_id} in pipeline {pipeline_id}")


def list_properties(call: Call, type_name: str) -> Result:
    return 200, {"results": list(call.portal.properties[object_type(type_name)].values())}


def get_property(call: Call, type_name: str, name: str) -> Result:
    found = call.portal.properties[object_type(type_name)].get(name)
    if found is None:
        raise errors.not_found(f"Unable to find property {name}")
    return 200, found


def create_property(call: Call, type_name: str) -> Result:
    kind, body = object_type(type_name), body_dict(call)
    missing = [f for f in ("name", "label", "type", "fieldType", "groupName") if not body.get(f)]
    if missing:
        raise errors.validation(f"Missing required fields: {', '.join(missing)}")
    if body["name"] in call.portal.properties[kind]:
        raise errors.conflict(f"Property named '{body['name']}' already exists.")
    options = [{"label": o.get("label", ""), "value": o.get("value", ""),
                "displayOrder": o.get("displayOrder", i), "hidden": bool(o.get("hidden", False)),
                "description": o.get("description", "")}
               for i, o in enumerate(body.get("options") or [])]
    definition = prop(body["name"], body["label"], body["type"], body["fieldType"], body["groupName"],
                      opts=options, standard=False, order=int(body.get("displayOrder", -1)))
    definition["description"] = body.get("description", "")
    definition["hasUniqueValue"] = bool(body.get("hasUniqueValue", False))
    definition["hidden"] = bool(body.get("hidden", False))
    definition["formField"] = bool(body.get("formField", True))
    definition["createdAt"] = definition["updatedAt"] = iso(now_ms())
    call.portal.properties[kind][body["name"]] = definition
    return 201, definition


def list_owners(call: Call) -> Result:
    """GET /crm/v3/owners: active owners, or with archived=true only the archived ones (deactivated users)."""
    archived = (call.arg("archived") or "").lower() == "true"
    owners = [o for o in call.portal.owners if o["archived"] == archived]
    if call.arg("email"):
        owners = [o for o in owners if o["email"].lower() == str(call.arg("email")).lower()]
    items, paging = page(owners, call.arg("after"), call.limit(100, 500), call.link())
    return 200, {"results": items, **({"paging": paging} if paging else {})}


def get_owner(call: Call, owner_id: str) -> Result:
    """GET /crm/v3/owners/{ownerId}; with idProperty=userId the path names the user id instead."""
    archived = (call.arg("archived") or "").lower() == "true"
    key = "userIdIncludingInactive" if call.arg("idProperty") == "userId" else "id"
    for owner in call.portal.owners:
        if str(owner[key]) == owner_id and owner["archived"] == archived:
            return 200, owner
    raise errors.not_found(f"Unable to find owner {owner_id}")


def account_details(call: Call) -> Result:
    """GET /account-info/v3/details (https://developers.hubspot.com/docs/api-reference/latest/account/
    account-information/get-account-details): the portal's company currency, among others."""
    return 200, {"portalId": call.portal.portal_id, "accountType": "STANDARD", "timeZone": "US/Eastern",
                 "companyCurrency": seed.COMPANY_CURRENCY, "additionalCurrencies": list(seed.OTHER_CURRENCIES),
                 "utcOffset": "-05:00", "utcOffsetMilliseconds": -18_000_000, "uiDomain": "app.hubspot.com",
                 "dataHostingLocation": "na1"}  # fmt: skip


Handler = Callable[..., Result]
ROUTES: list[tuple[str, str, Handler]] = [
    ("/crm/v3/objects/<type_name>", "GET", list_objects),
    ("/crm/v3/objects/<type_name>", "POST", create_object),
    ("/crm/v3/objects/<type_name>/search", "POST", search_objects),
    ("/crm/v3/objects/<type_name>/batch/read", "POST", batch_read),
    ("/crm/v3/objects/<type_name>/batch/update", "POST", batch_update),
    ("/crm/v3/objects/<type_name>/<object_id>", "GET", get_object),
    ("/crm/v3/objects/<type_name>/<object_id>", "PATCH", update_object),
    ("/crm/v3/objects/<type_name>/<object_id>", "DELETE", archive_object),
    ("/crm/v4/associations/<from_type>/<to_type>/batch/read", "POST", association_batch_read),
    ("/crm/v3/pipelines/<type_name>", "GET", list_pipelines),
    ("/crm/v3/pipelines/<type_name>/<pipeline_id>", "GET", get_pipeline),
    ("/crm/v3/pipelines/<type_name>/<pipeline_id>/stages", "GET", list_stages),
    ("/crm/v3/pipelines/<type_name>/<pipeline_id>/stages/<stage_id>", "GET", get_stage),
    ("/crm/v3/properties/<type_name>", "GET", list_properties),
    ("/crm/v3/properties/<type_name>", "POST", create_property),
    ("/crm/v3/properties/<type_name>/<name>", "GET", get_property),
    ("/crm/v3/owners", "GET", list_owners),
    ("/crm/v3/owners/<owner_id>", "GET", get_owner),
    ("/account-info/v3/details", "GET", account_details),
]


def build_map() -> Map:
    return Map([Rule(path, methods=[method], endpoint=(method, path)) for path, method, _ in ROUTES],
               strict_slashes=False)


HANDLERS = {(method, path): handler for path, method, handler in ROUTES}


def dispatch(url_map: Map, call: Call) -> Result:
    """Route one request; unknown paths -> 404, wrong method -> 405 (HubSpot-style JSON bodies)."""
    adapter = url_map.bind_to_environ(call.request.environ)
    try:
        endpoint, values = adapter.match()
    except MethodNotAllowed as exc:
        body = errors.error_body("Method not allowed", "METHOD_NOT_ALLOWED")
        raise errors.HubSpotApiError(405, body) from exc
    except NotFound as exc:
        raise errors.not_found(f"No route for {call.request.method} {call.request.path}") from exc
    return HANDLERS[endpoint](call, **values)


def is_search(path: str) -> bool:
    return path.rstrip("/").endswith("/search")
