"""In-memory state of the amoCRM sandbox: one account with pipelines, lead custom fields, users,
leads, tasks and notes, companies and contacts (amocrm_customers), stored and rendered in API v4 shapes (the
caller holds the lock).

Seed: pipelines "Sales" (main) and "Partners" with amoCRM's system statuses 142 (won) and 143 (lost)
in each; lead custom fields with enums and `required_statuses`; five users (one deactivated).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WON, LOST = 142, 143
SALES, PARTNERS = 7_000_001, 7_000_002
INCOMING, FIRST_CONTACT, QUALIFIED, PROPOSAL = 7_000_010, 7_000_011, 7_000_012, 7_000_013
P_NEW, P_NEGOTIATION = 7_000_020, 7_000_021
INDUSTRY, COMPANY_SIZE, BUDGET, DECISION_MAKER, PAIN_POINTS, LOSS_REASON = range(900_001, 900_007)
QUALIFY_FIT_SCORE, QUALIFY_FIT_GRADE, QUALIFY_PERSONA = range(900_007, 900_010)
INDUSTRY_ENUMS = {910_001: "IT", 910_002: "Retail", 910_003: "Manufacturing"}
USER_ANNA, USER_BORIS, USER_CLARA, USER_DENIS, USER_ELENA = range(5_000_001, 5_000_006)
CURRENCY, CURRENCY_SYMBOL = "RUB", "₽"  # the account's: every lead's price is in it
ENUM_TYPES = frozenset({"select", "radiobutton", "multiselect", "category"})


class ApiError(ValueError):
    """An amoCRM error answer: status, problem+json body and extra headers."""

    def __init__(self, status: int, detail: str, *, title: str | None = None, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:  # fmt: skip
        super().__init__(detail)
        titles = {400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
                  404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
                  503: "Service Unavailable"}  # fmt: skip
        self.status = status
        self.body: dict[str, Any] = {"title": title or titles.get(status, "Error"),
                                     "type": f"https://httpstatus.es/{status}", "status": status, "detail": detail,
                                     **(extra or {})}  # fmt: skip
        self.headers = headers or {}


def validation_error(path: str, detail: str, request_id: str = "0") -> ApiError:
    """amoCRM's 400 with `validation-errors` (shape of the v4 API's answers)."""
    errors = [{"request_id": request_id, "errors": [{"code": "NotSupportedChoice", "path": path, "detail": detail}]}]
    return ApiError(400, "Request validation failed", extra={"validation-errors": errors})


def _status(sid: int, name: str, sort: int, pipeline: int, kind: int = 0) -> dict[str, Any]:
    return {"id": sid, "name": name, "sort": sort, "is_editable": sid not in (WON, LOST), "pipeline_id": pipeline,
            "color": "#99ccff", "type": kind, "account_id": None}  # fmt: skip


def seed_pipelines() -> list[dict[str, Any]]:
    """Two pipelines; statuses in `sort` order, 142/143 last in both."""
    sales = [_status(INCOMING, "Incoming leads", 10, SALES, 1), _status(FIRST_CONTACT, "First contact", 20, SALES),
             _status(QUALIFIED, "Qualified", 30, SALES), _status(PROPOSAL, "Proposal", 40, SALES),
             _status(WON, "Closed - won", 10000, SALES), _status(LOST, "Closed - lost", 11000, SALES)]  # fmt: skip
    partners = [_status(P_NEW, "New", 10, PARTNERS), _status(P_NEGOTIATION, "Negotiation", 20, PARTNERS),
                _status(WON, "Closed - won", 10000, PARTNERS),
                _status(LOST, "Closed - lost", 11000, PARTNERS)]  # fmt: skip
    return [{"id": SALES, "name": "Sales", "sort": 1, "is_main": True, "is_unsorted_on": True, "is_archive": False,
             "statuses": sales},
            {"id": PARTNERS, "name": "Partners", "sort": 2, "is_main": False, "is_unsorted_on": False,
             "is_archive": False, "statuses": partners}]  # fmt: skip


def _field(fid: int, name: str, kind: str, code: str, sort: int, required: list[tuple[int, int]] | None = None,
           enums: dict[int, str] | None = None) -> dict[str, Any]:  # fmt: skip
    return {"id": fid, "name": name, "type": kind, "code": code, "sort": sort, "is_api_only": False,
            "is_predefined": False, "is_deletable": True, "entity_type": "leads", "group_id": None,
            "remind": None, "settings": None, "hidden_statuses": [],
            "enums": [{"id": e, "value": v, "sort": (i + 1) * 10} for i, (e, v) in enumerate((enums or {}).items())]
            or None,
            "required_statuses": [{"pipeline_id": p, "status_id": s} for p, s in required or []]}  # fmt: skip


def seed_custom_fields() -> list[dict[str, Any]]:
    """industry (select), company_size, budget (numeric), decision_maker (checkbox), pain_points, loss_reason,
    and the fields an admin would have Qualify write a lead's best fit to (score numeric, grade and persona text)."""
    return [
        _field(INDUSTRY, "Industry", "select", "INDUSTRY", 10, [(SALES, QUALIFIED)], INDUSTRY_ENUMS),
        _field(COMPANY_SIZE, "Company size", "numeric", "COMPANY_SIZE", 20, [(SALES, PROPOSAL)]),
        _field(BUDGET, "Budget", "numeric", "BUDGET", 30, [(SALES, PROPOSAL), (SALES, WON), (PARTNERS, WON)]),
        _field(DECISION_MAKER, "Decision maker", "checkbox", "DECISION_MAKER", 40),
        _field(PAIN_POINTS, "Pain points", "textarea", "PAIN_POINTS", 50),
        _field(LOSS_REASON, "Loss reason", "text", "LOSS_REASON", 60, [(SALES, LOST)]),
        _field(QUALIFY_FIT_SCORE, "Qualify fit score", "numeric", "QUALIFY_FIT_SCORE", 70),
        _field(QUALIFY_FIT_GRADE, "Qualify fit grade", "text", "QUALIFY_FIT_GRADE", 80),
        _field(QUALIFY_PERSONA, "Qualify persona", "text", "QUALIFY_PERSONA", 90),
    ]


def user(user_id: int, name: str, email: str, *, admin: bool = False, active: bool = True) -> dict[str, Any]:
    """A user of GET /api/v4/users; `rights.is_active` false for a deactivated one."""
    return {"id": user_id, "name": name, "email": email, "lang": "en",
            "rights": {"is_admin": admin, "is_free": False, "is_active": active, "group_id": None,
                       "role_id": None}}  # fmt: skip


def seed_users() -> list[dict[str, Any]]:
    """Five users: an admin, three managers and a deactivated one."""
    return [user(USER_ANNA, "Anna Admin", "anna@example.com", admin=True),
            user(USER_BORIS, "Boris Sales", "boris@example.com"), user(USER_CLARA, "Clara Closer", "clara@example.com"),
            user(USER_DENIS, "Denis Dealer", "denis@example.com"),
            user(USER_ELENA, "Elena Former", "elena@example.com", active=False)]  # fmt: skip


Listener = Callable[[str, dict[str, Any], dict[str, Any], int], None]  # action, lead, old values, user id


@dataclass
class Account:
    """One amoCRM account; `listener` hears add/update/status/delete of leads."""

    subdomain: str
    account_id: int
    listener: Listener | None = None
    pipelines: list[dict[str, Any]] = field(default_factory=seed_pipelines)
    custom_fields: list[dict[str, Any]] = field(default_factory=seed_custom_fields)
    users: list[dict[str, Any]] = field(default_factory=seed_users)
    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Filled by the sandbox from amocrm_customers (which builds on this module's helpers).
    companies: dict[int, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    company_fields: list[dict[str, Any]] = field(default_factory=list)
    contact_fields: list[dict[str, Any]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(30_000_001))

    def field_by_id(self, fid: Any) -> dict[str, Any]:
        for f in self.custom_fields:
            if str(f["id"]) == str(fid):
                return f
        raise validation_error("custom_fields_values.field_id", f"Unknown field {fid}")

    def status_pipeline(self, status_id: int, pipeline_id: int | None) -> int:
        """The pipeline that holds `status_id` (the given one, or the main one for 142/143)."""
        for p in self.pipelines:
            if (pipeline_id is None or p["id"] == pipeline_id) and any(s["id"] == status_id for s in p["statuses"]):
                return int(p["id"])
        raise validation_error("status_id", "The value you selected is not a valid choice.")

    def lead(self, lead_id: int) -> dict[str, Any]:
        """The stored lead; ApiError 404 when unknown (the API turns it into 204 where amoCRM does)."""
        lead = self.leads.get(int(lead_id))
        if lead is None:
            raise ApiError(404, f"Lead {lead_id} not found")
        return lead

    def create_lead(self, values: dict[str, Any], user_id: int, *, at: int | None = None) -> dict[str, Any]:
        now = at or int(time.time())
        main = self.pipelines[0]
        lead: dict[str, Any] = {
            "id": next(self._ids), "name": "", "price": 0, "responsible_user_id": user_id, "group_id": 0,
            "status_id": main["statuses"][0]["id"], "pipeline_id": main["id"], "loss_reason_id": None,
            "created_by": user_id, "updated_by": user_id, "created_at": now, "updated_at": now, "closed_at": None,
            "closest_task_at": None, "is_deleted": False, "score": None, "account_id": self.account_id,
            "custom": {}, "company_id": None, "contact_ids": [],
        }  # fmt: skip
        self.apply(lead, values)
        self.leads[lead["id"]] = lead
        if self.listener:
            self.listener("add", lead, {}, user_id)
        return lead

    def update_lead(self, lead_id: int, values: dict[str, Any], user_id: int) -> dict[str, Any]:
        lead = self.lead(lead_id)
        old = {"status_id": lead["status_id"], "pipeline_id": lead["pipeline_id"]}
        self.apply(lead, values)
        lead["updated_at"], lead["updated_by"] = max(int(time.time()), lead["updated_at"]), user_id
        if lead["status_id"] in (WON, LOST) and old["status_id"] not in (WON, LOST):
            lead["closed_at"] = lead["updated_at"]
        if self.listener:
            moved = (lead["status_id"], lead["pipeline_id"]) != (old["status_id"], old["pipeline_id"])
            self.listener("status" if moved else "update", lead, old, user_id)
        return lead

    def delete_lead(self, lead_id: int, user_id: int) -> None:
        lead = self.leads.pop(int(lead_id))
        if self.listener:
            self.listener("delete", lead, {}, user_id)

    def apply(self, lead: dict[str, Any], values: dict[str, Any]) -> None:
        """Set standard fields, custom values ({field id: value | enum id | enum text | list | None}) and the
        linked company (`company_id`) and contacts (`contact_ids`, the main one first)."""
        values = dict(values)
        custom = values.pop("custom", {}) or {}
        if values.get("company_id") is not None and int(values["company_id"]) not in self.companies:
            raise validation_error("_embedded.companies.id", "Entity not found")
        if not all(int(c) in self.contacts for c in values.get("contact_ids") or []):
            raise validation_error("_embedded.contacts.id", "Entity not found")
        if "company_id" in values:
            lead["company_id"] = None if values["company_id"] is None else int(values["company_id"])
        if "contact_ids" in values:
            lead["contact_ids"] = [int(c) for c in values["contact_ids"] or []]
        for key in ("name", "price", "responsible_user_id", "loss_reason_id"):
            if key in values:
                lead[key] = values[key] if key == "name" or values[key] is None else int(values[key])
        if "status_id" in values or "pipeline_id" in values:
            wanted = int(values.get("status_id") or lead["status_id"])
            pipeline = int(values["pipeline_id"]) if values.get("pipeline_id") else int(lead["pipeline_id"])
            lead["pipeline_id"] = self.status_pipeline(wanted, pipeline)
            lead["status_id"] = wanted
        for fid, value in custom.items():
            definition = self.field_by_id(fid)
            stored = self._values(definition, value)
            if stored:
                lead["custom"][int(definition["id"])] = stored
            else:
                lead["custom"].pop(int(definition["id"]), None)

    def _values(self, definition: dict[str, Any], value: Any) -> list[dict[str, Any]]:
        items = value if isinstance(value, list) else ([] if value in (None, "") else [value])
        out: list[dict[str, Any]] = []
        for item in items:
            raw = item if isinstance(item, dict) else ({"enum_id": item} if definition["type"] in ENUM_TYPES
                                                       else {"value": item})  # fmt: skip
            if definition["type"] in ENUM_TYPES:
                out.append(self._enum(definition, raw))
            elif definition["type"] == "checkbox":
                out.append({"value": raw.get("value") in (True, "true", "1", 1)})
            else:
                out.append({"value": raw.get("value")})
        return out

    @staticmethod
    def _enum(definition: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
        wanted = {str(raw.get("enum_id"))} if raw.get("enum_id") is not None else set()
        for enum in definition["enums"] or []:
            # Match the id; the UI helper may also name the option by its text.
            if str(enum["id"]) in wanted or enum["value"] in wanted or enum["value"] == raw.get("value"):
                return {"value": enum["value"], "enum_id": enum["id"], "enum_code": None}
        raise validation_error("custom_fields_values.values.enum_id", "The value you selected is not a valid choice.")

    def render(self, lead: dict[str, Any], base_url: str, with_contacts: bool = False) -> dict[str, Any]:
        """A lead as GET /api/v4/leads/{id} answers it: its company always embedded, its contacts (main first)
        only `with=contacts`."""
        out = {k: v for k, v in lead.items() if k not in ("custom", "company_id", "contact_ids")}
        values = []
        for fid, stored in sorted(lead["custom"].items()):
            definition = self.field_by_id(fid)
            values.append({"field_id": fid, "field_name": definition["name"], "field_code": definition["code"],
                           "field_type": definition["type"], "values": stored})  # fmt: skip
        out["custom_fields_values"] = values or None
        out["_links"] = {"self": {"href": f"{base_url}/api/v4/leads/{lead['id']}"}}
        embedded: dict[str, Any] = {"tags": [], "companies": []}
        out["_embedded"] = embedded
        if lead["company_id"]:
            href = f"{base_url}/api/v4/companies/{lead['company_id']}"
            embedded["companies"] = [{"id": lead["company_id"], "_links": {"self": {"href": href}}}]
        if with_contacts:
            embedded["contacts"] = [{"id": c, "is_main": n == 0,
                                     "_links": {"self": {"href": f"{base_url}/api/v4/contacts/{c}"}}}
                                    for n, c in enumerate(lead["contact_ids"])]  # fmt: skip
        return out

    def new_id(self) -> int:
        return next(self._ids)
