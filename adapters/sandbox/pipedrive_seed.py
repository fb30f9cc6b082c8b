"""Seed data of the Pipedrive sandbox: users, pipelines, stages and deal fields in API v2 shapes.

Custom field keys are 40-character hex hashes, as Pipedrive generates them
(https://pipedrive.readme.io/docs/core-api-concepts-custom-fields); here they are sha1 of the field name so
they stay stable between runs. `required_fields` follows the SDK model
`{enabled, stage_ids, statuses: {"<pipeline id>": ["won"|"lost"]}}`.
"""

from __future__ import annotations

import hashlib
from typing import Any

COMPANY_ID = 7712345
COMPANY_DOMAIN = "sandbox"
SEED_TIME = "2026-01-05T09:00:00Z"


def field_key(name: str) -> str:
    """The sandbox's stable 40-character hash key for custom field `name`."""
    return hashlib.sha1(f"qualify-sandbox:{name}".encode()).hexdigest()


KEYS = {name: field_key(name) for name in
        ("industry", "company_size", "budget", "decision_maker", "pain_points", "loss_reason",
         "qualify_fit_score", "qualify_fit_grade", "qualify_persona")}  # fmt: skip
INDUSTRY_OPTIONS = {31: "IT", 32: "Manufacturing", 33: "Retail", 34: "Finance", 35: "Healthcare"}


def user(user_id: int, name: str, email: str, *, active: bool = True, admin: bool = False,
         created: str = "2025-06-01 10:00:00") -> dict[str, Any]:
    """A v1 user (GET /v1/users); `active_flag` false for a deactivated one."""
    return {"id": user_id, "name": name, "email": email, "is_admin": int(admin), "role_id": 1 if admin else 2,
            "default_currency": "EUR", "locale": "en_US", "lang": 1, "timezone_name": "Europe/Tallinn",
            "active_flag": active, "created": created, "has_created_company": False}  # fmt: skip


def users() -> list[dict[str, Any]]:
    """Five v1 users: user 1 is the admin and the API token owner, user 5 is deactivated."""
    return [user(1, "Alice Admin", "alice@example.com", admin=True), user(2, "Bob Seller", "bob@example.com"),
            user(3, "Carol Closer", "carol@example.com"), user(4, "Dan Dealer", "dan@example.com"),
            user(5, "Erin Former", "erin@example.com", active=False)]  # fmt: skip


def pipelines() -> list[dict[str, Any]]:
    """Two pipelines (integer ids), v2 shape."""
    base = {"is_deleted": False, "is_deal_probability_enabled": True, "add_time": SEED_TIME,
            "update_time": SEED_TIME}  # fmt: skip
    return [
        {**base, "id": 1, "name": "Sales", "order_nr": 1, "is_selected": True},
        {**base, "id": 2, "name": "Partners", "order_nr": 2, "is_selected": False},
    ]


def stages() -> list[dict[str, Any]]:
    """Five stages in Sales, three in Partners; won/lost are deal statuses, not stages."""
    rows = [(1, 1, "Lead In", 10), (2, 1, "Contact Made", 20), (3, 1, "Demo Scheduled", 40),
            (4, 1, "Proposal Made", 60), (5, 1, "Negotiations Started", 80),
            (6, 2, "Introduced", 20), (7, 2, "Evaluating", 50), (8, 2, "Signing", 90)]  # fmt: skip
    order: dict[int, int] = {}
    result = []
    for stage_id, pipeline_id, name, probability in rows:
        order[pipeline_id] = order.get(pipeline_id, 0) + 1
        result.append({
            "id": stage_id, "order_nr": order[pipeline_id], "name": name, "is_deleted": False,
            "deal_probability": probability, "pipeline_id": pipeline_id, "is_deal_rot_enabled": False,
            "days_to_rotten": None, "add_time": SEED_TIME, "update_time": SEED_TIME,
        })  # fmt: skip
    return result


def _field(code: str, name: str, field_type: str, *, custom: bool, order: int,
           options: list[dict[str, Any]] | None = None, required: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "field_name": name, "field_code": code, "field_type": field_type, "options": options,
        "subfields": [{"field_code": "currency", "field_name": "Currency", "field_type": "varchar"}]
        if field_type == "monetary" else None,
        "is_custom_field": custom, "is_optional_response_field": False, "order_nr": order,
        "required_fields": required or {"enabled": False, "stage_ids": [], "statuses": {}},
        "important_fields": {"enabled": False, "stage_ids": []},
        "ui_visibility": {"add_visible": True, "details_visible": True},
    }  # fmt: skip


def deal_fields() -> list[dict[str, Any]]:
    """Standard deal fields plus nine custom ones; some are required at stages (Professional plan feature).

    The last three are where an admin would have Qualify write a deal's best fit (score, grade, persona).
    """
    standard = [("title", "Title", "varchar"), ("value", "Value", "monetary"), ("currency", "Currency", "varchar"),
                ("stage_id", "Stage", "stage"), ("pipeline_id", "Pipeline", "double"), ("owner_id", "Owner", "user"),
                ("status", "Status", "status"), ("expected_close_date", "Expected close date", "date"),
                ("lost_reason", "Lost reason", "varchar"), ("update_time", "Update time", "date")]  # fmt: skip
    fields = [_field(code, name, kind, custom=False, order=i) for i, (code, name, kind) in enumerate(standard)]
    industry = [{"id": option_id, "label": label} for option_id, label in INDUSTRY_OPTIONS.items()]
    everywhere = {"enabled": True, "stage_ids": [], "statuses": {}}
    fields += [
        _field(KEYS["industry"], "Industry", "enum", custom=True, order=20, options=industry, required=everywhere),
        _field(KEYS["company_size"], "Company size", "double", custom=True, order=21,
               required={"enabled": True, "stage_ids": [], "statuses": {"1": ["won"]}}),
        _field(KEYS["budget"], "Budget", "monetary", custom=True, order=22,
               required={"enabled": True, "stage_ids": [3, 4], "statuses": {}}),
        _field(KEYS["decision_maker"], "Decision maker", "varchar", custom=True, order=23,
               required={"enabled": True, "stage_ids": [4], "statuses": {}}),
        _field(KEYS["pain_points"], "Pain points", "text", custom=True, order=24),
        _field(KEYS["loss_reason"], "Loss reason", "varchar", custom=True, order=25),
        _field(KEYS["qualify_fit_score"], "Qualify fit score", "double", custom=True, order=26),
        _field(KEYS["qualify_fit_grade"], "Qualify fit grade", "varchar", custom=True, order=27),
        _field(KEYS["qualify_persona"], "Qualify persona", "varchar", custom=True, order=28),
    ]  # fmt: skip
    return fields
