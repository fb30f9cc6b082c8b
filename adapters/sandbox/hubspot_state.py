"""In-memory HubSpot portal: deals, tasks, notes, companies and contacts with history and associations.

Not thread-safe by itself; the sandbox holds one lock around every call. Writes validate
like HubSpot (unknown property -> PROPERTY_DOESNT_EXIST, bad option -> INVALID_OPTION, stage
outside the deal's pipeline -> INVALID_OPTION) and raise `HubSpotApiError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.sandbox import hubspot_errors as errors
from adapters.sandbox import hubspot_seed as seed
from adapters.sandbox.hubspot_values import check_value, iso, now_ms

OBJECT_TYPES = ("deals", "tasks", "notes", "companies", "contacts")
CREATED_PROP = {"deals": "createdate", "tasks": "hs_createdate", "notes": "hs_createdate",
                "companies": "createdate", "contacts": "createdate"}
DEFAULT_PROPS = {
    "deals": ["amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
              "hs_object_id", "pipeline"],
    "tasks": ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
    "notes": ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
    "companies": ["createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"],
    "contacts": ["createdate", "email", "firstname", "hs_lastmodifieddate", "hs_object_id", "lastname"],
}
READ_ONLY = frozenset({"hs_object_id", "hs_lastmodifieddate", "hs_createdate", "hs_is_closed", "hs_created_by_user_id",
                       "hs_updated_by_user_id"})  # fmt: skip
# (from type, associationTypeId) -> (to type, reverse type id); HUBSPOT_DEFINED ids per
# https://developers.hubspot.com/docs/api/crm/associations/v4 (task->deal 216, note->deal 214, deal->company 341
# and 5 (primary), deal->contact 3).
ASSOCIATION_TYPES = {
    ("tasks", 216): ("deals", 215), ("notes", 214): ("deals", 213),
    ("deals", 215): ("tasks", 216), ("deals", 213): ("notes", 214),
    ("deals", 341): ("companies", 342), ("deals", 5): ("companies", 6), ("deals", 3): ("contacts", 4),
    ("companies", 342): ("deals", 341), ("companies", 6): ("deals", 5), ("contacts", 4): ("deals", 3),
}
PRIMARY_TYPE_IDS = frozenset({5, 6})
SINGULAR = {"deals": "deal", "tasks": "task", "notes": "note", "contacts": "contact", "companies": "company"}


@dataclass(frozen=True)
class Actor:
    """Who writes: `source_type`/`source_id` go to property history and webhook events."""

    source_type: str
    source_id: str
    user_id: int | None = None


@dataclass
class HistoryEntry:
    value: str
    timestamp_ms: int
    actor: Actor


@dataclass
class CrmObject:
    object_type: str
    id: str
    properties: dict[str, str | None]
    created_ms: int
    updated_ms: int
    history: dict[str, list[HistoryEntry]] = field(default_factory=dict)
    associations: dict[str, dict[str, str]] = field(default_factory=dict)  # to type -> {id: type label}
    archived: bool = False
    archived_ms: int | None = None


ChangeListener = Callable[[str, CrmObject, dict[str, str | None], Actor, int], None]


class Portal:
    """All data of one sandbox portal. `listener(kind, obj, changed, actor, at_ms)` sees every write."""

    def __init__(self, portal_id: int, *, seed_full: bool, listener: ChangeListener | None = None) -> None:
        self.portal_id = portal_id
        self.listener = listener
        self.pipelines: dict[str, dict[str, Any]] = {p["id"]: p for p in seed.pipelines(seed_full)}
        self.properties: dict[str, dict[str, dict[str, Any]]] = {
            "deals": {p["name"]: p for p in seed.deal_properties(seed_full)},
            "tasks": {p["name"]: p for p in seed.task_properties()},
            "notes": {p["name"]: p for p in seed.note_properties()},
            "companies": {p["name"]: p for p in seed.company_properties()},
            "contacts": {p["name"]: p for p in seed.contact_properties()},
        }
        self.owners: list[dict[str, Any]] = seed.owners() if seed_full else []  # archived ones too
        self.objects: dict[str, dict[str, CrmObject]] = {t: {} for t in OBJECT_TYPES}
        self._next_id = 10_000_000_001
        if seed_full:
            for object_type, rows in (("companies", seed.COMPANIES), ("contacts", seed.CONTACTS)):
                for object_id, props in rows:
                    self.seed_object(object_type, object_id, props)

    def seed_object(self, object_type: str, object_id: str, props: Mapping[str, str | None]) -> CrmObject:
        """Store an object as the portal had it before the sandbox started (no validation, no event)."""
        at = seed.PORTAL_CREATED_MS
        obj = CrmObject(object_type, object_id, {**props, CREATED_PROP[object_type]: iso(at),
                                                 "hs_object_id": object_id, "hs_lastmodifieddate": iso(at)}, at, at)
        self.objects[object_type][object_id] = obj
        return obj

    # ---- reads -------------------------------------------------------------------------------
    def get(self, object_type: str, object_id: str, *, archived: bool = False) -> CrmObject:
        obj = self.objects[object_type].get(str(object_id))
        if obj is None or obj.archived != archived:
            raise errors.object_not_found(str(object_id))
        return obj

    def live(self, object_type: str, archived: bool = False) -> list[CrmObject]:
        return sorted((o for o in self.objects[object_type].values() if o.archived == archived),
                      key=lambda o: int(o.id))

    def stage_ids(self, pipeline_id: str) -> list[str]:
        return [s["id"] for s in self.pipelines[pipeline_id]["stages"]]

    def is_closed_stage(self, pipeline_id: str | None, stage_id: str | None) -> bool:
        stages = (self.pipelines.get(pipeline_id or "") or {}).get("stages") or []
        return any(s["id"] == stage_id and s["metadata"]["isClosed"] == "true" for s in stages)

    # ---- writes ------------------------------------------------------------------------------
    def create(self, object_type: str, raw: dict[str, Any], actor: Actor,
               associations: list[dict[str, Any]] | None = None) -> CrmObject:
        props = self._validate(object_type, raw, None)
        if object_type in ("tasks", "notes") and not props.get("hs_timestamp"):
            result = errors.property_result("hs_timestamp", "REQUIRED_PROPERTY",
                                            "hs_timestamp is required", self.portal_id)
            raise errors.invalid_properties([result])
        links = self._check_associations(object_type, associations or [])
        at = now_ms()
        object_id = str(self._next_id)
        self._next_id += 1
        obj = CrmObject(object_type, object_id, {}, at, at)
        props.setdefault(CREATED_PROP[object_type], iso(at))
        props.update(self._derived(object_type, None, props, actor, at))
        changed = self._apply(obj, props, actor, at)
        for to_type, to_id, type_id in links:
            self._associate(obj, to_type, self.objects[to_type][to_id], type_id)
        self.objects[object_type][object_id] = obj
        if self.listener:
            self.listener("creation", obj, changed, actor, at)
        return obj

    def update(self, object_type: str, object_id: str, raw: dict[str, Any], actor: Actor) -> CrmObject:
        obj = self.get(object_type, object_id)
        props = self._validate(object_type, raw, obj)
        at = max(now_ms(), obj.updated_ms)
        props.update(self._derived(object_type, obj, props, actor, at))
        changed = self._apply(obj, props, actor, at)
        if self.listener and changed:
            self.listener("propertyChange", obj, changed, actor, at)
        return obj

    def archive(self, object_type: str, object_id: str, actor: Actor) -> None:
        obj = self.get(object_type, object_id)
        obj.archived, obj.archived_ms = True, now_ms()
        if self.listener:
            self.listener("deletion", obj, {}, actor, obj.archived_ms)

    def _derived(self, object_type: str, current: CrmObject | None, props: dict[str, str | None], actor: Actor,
                 at: int) -> dict[str, str | None]:
        """What HubSpot computes along a write that changes something: who created and last updated the object
        (the acting user; none for an app, a workflow or an import without one), and for deals whether they are
        closed, with the close date set to the moment a deal enters a closed stage unless the write sets it."""
        before = current.properties if current is not None else {}
        if current is not None and all(before.get(name) == value for name, value in props.items()):
            return {}
        user = None if actor.user_id is None else str(actor.user_id)
        extra: dict[str, str | None] = {"hs_updated_by_user_id": user}
        if current is None:
            extra["hs_created_by_user_id"] = user
        if object_type == "deals":
            closed = self.is_closed_stage(props.get("pipeline") or before.get("pipeline"),
                                          props.get("dealstage") or before.get("dealstage"))  # fmt: skip
            extra["hs_is_closed"] = "true" if closed else "false"
            if closed and before.get("hs_is_closed") != "true" and "closedate" not in props:
                extra["closedate"] = iso(at)
        return extra

    def _apply(self, obj: CrmObject, props: dict[str, str | None], actor: Actor,
               at: int) -> dict[str, str | None]:
        changed: dict[str, str | None] = {}
        for name, value in props.items():
            if name in obj.properties and obj.properties[name] == value:
                continue
            if name not in obj.properties and value is None:
                continue  # clearing a never-set property is not a change
            obj.properties[name] = value
            changed[name] = value
            obj.history.setdefault(name, []).append(HistoryEntry(value or "", at, actor))
        if not changed and obj.id in self.objects[obj.object_type]:
            return changed  # a no-op PATCH leaves hs_lastmodifieddate alone
        obj.updated_ms = at
        obj.properties["hs_object_id"] = obj.id
        obj.properties["hs_lastmodifieddate"] = iso(at)
        return changed

    def _validate(self, object_type: str, raw: dict[str, Any],
                  current: CrmObject | None) -> dict[str, str | None]:
        if not isinstance(raw, dict):
            raise errors.validation("properties must be an object")
        definitions = self.properties[object_type]
        results: list[dict[str, Any]] = []
        clean: dict[str, str | None] = {}
        for name, value in raw.items():
            definition = definitions.get(name)
            if definition is None:
                results.append(errors.property_result(name, "PROPERTY_DOESNT_EXIST",
                                                      f'Property "{name}" does not exist', self.portal_id))
                continue
            if name in READ_ONLY:
                message = f'"{name}" is a read only property; its value cannot be set.'
                results.append(errors.property_result(name, "READ_ONLY_VALUE", message, self.portal_id))
                continue
            stored, problem = check_value(definition, value, self.portal_id)
            if problem:
                results.append(problem)
            else:
                clean[name] = stored
        if object_type == "deals":
            results.extend(self._check_stage(clean, current))
        owner = clean.get("hubspot_owner_id")
        if owner and owner not in {o["id"] for o in self.owners if not o["archived"]}:
            results.append(errors.property_result("hubspot_owner_id", "INVALID_OWNER_ID",
                                                  f"{owner} is not a valid owner id", self.portal_id))
        if results:
            raise errors.invalid_properties(results)
        return clean

    def _check_stage(self, clean: dict[str, str | None], current: CrmObject | None) -> list[dict[str, Any]]:
        """Stage ids are per pipeline: the final (pipeline, dealstage) pair must match."""
        old_pipeline = current.properties.get("pipeline") if current else None
        pipeline_id = clean.get("pipeline") or old_pipeline or "default"
        if pipeline_id not in self.pipelines:
            message = f"{pipeline_id} was not one of the allowed options: [{', '.join(self.pipelines)}]"
            return [errors.property_result("pipeline", "INVALID_OPTION", message, self.portal_id)]
        if current is None or "pipeline" in clean:
            clean["pipeline"] = pipeline_id
        allowed = self.stage_ids(pipeline_id)
        if current is None and not clean.get("dealstage"):
            clean["dealstage"] = allowed[0]  # lenient: HubSpot's UI also preselects the first stage
        stage_id = clean.get("dealstage")
        if "dealstage" not in clean and current is not None:
            stage_id = current.properties.get("dealstage")
        if stage_id in allowed:
            return []
        message = f"{stage_id} was not one of the allowed options: [{', '.join(allowed)}]"
        return [errors.property_result("dealstage", "INVALID_OPTION", message, self.portal_id)]

    def _check_associations(self, object_type: str, specs: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
        links: list[tuple[str, str, int]] = []
        for spec in specs:
            try:
                to_id = str(spec["to"]["id"])
                types = spec["types"]
                type_id = int(types[0]["associationTypeId"])
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise errors.validation(f"Invalid association input: {exc}") from exc
            target = ASSOCIATION_TYPES.get((object_type, type_id))
            if target is None or types[0].get("associationCategory") != "HUBSPOT_DEFINED":
                raise errors.validation(f"{type_id} is not a valid association type id for {object_type}")
            to_obj = self.objects[target[0]].get(to_id)
            if to_obj is None or to_obj.archived:
                raise errors.validation(f"No {SINGULAR[target[0]]} with id {to_id} exists to associate to.",
                                        subCategory="crm.associations.INVALID_OBJECT_IDS")
            links.append((target[0], to_id, type_id))
        return links

    @staticmethod
    def _associate(obj: CrmObject, to_type: str, to_obj: CrmObject, type_id: int = 0) -> None:
        """Link both ways. Deal-company links are labelled as the v3 API answers them: the primary one
        `deal_to_company`, any other `deal_to_company_unlabeled`."""
        here, there = SINGULAR[obj.object_type], SINGULAR[to_type]
        company = "companies" in (obj.object_type, to_type) and "deals" in (obj.object_type, to_type)
        suffix = "_unlabeled" if company and type_id not in PRIMARY_TYPE_IDS else ""
        obj.associations.setdefault(to_type, {})[to_obj.id] = f"{here}_to_{there}{suffix}"
        to_obj.associations.setdefault(obj.object_type, {})[obj.id] = f"{there}_to_{here}{suffix}"
