"""Seed data of the Bitrix24 sandbox: users, deal categories and stages, deal field definitions.

Stage ids follow Bitrix24: the default category (0) uses bare ids (``NEW``, ``WON``), other
categories prefix them (``C1:NEW``); SEMANTICS is "S" for won, "F" for lost, None for in progress
(api-reference/crm/status/crm-status-list.md).
"""

from __future__ import annotations

from typing import Any


def user(user_id: int, name: str, last_name: str, email: str, active: bool = True) -> dict[str, Any]:
    """A user.get record (users/user-get.md); ACTIVE is false for a dismissed user."""
    return {"ID": str(user_id), "ACTIVE": active, "NAME": name, "LAST_NAME": last_name, "SECOND_NAME": "",
            "EMAIL": email, "USER_TYPE": "employee", "UF_DEPARTMENT": [1]}  # fmt: skip


# User 1 is the incoming webhook's and the OAuth token's user; 10 is dismissed.
USERS: list[dict[str, Any]] = [
    user(1, "Anna", "Admin", "anna@sandbox.example"), user(7, "Ivan", "Manager", "ivan@sandbox.example"),
    user(8, "Olga", "Closer", "olga@sandbox.example"), user(9, "Pavel", "Dealer", "pavel@sandbox.example"),
    user(10, "Sergey", "Former", "sergey@sandbox.example", active=False),
]

CATEGORIES: list[dict[str, Any]] = [
    {"id": 0, "name": "General", "sort": 100, "entityTypeId": 2, "isDefault": "Y"},
    {"id": 1, "name": "Enterprise", "sort": 200, "entityTypeId": 2, "isDefault": "N"},
]

# (status id without the category prefix, name, semantics)
_STAGES: dict[int, list[tuple[str, str, str | None]]] = {
    0: [("NEW", "New", None), ("PREPARATION", "Document preparation", None),
        ("PREPAYMENT_INVOICE", "Invoice", None), ("EXECUTING", "In progress", None),
        ("FINAL_INVOICE", "Final invoice", None), ("WON", "Deal won", "S"), ("LOSE", "Deal lost", "F"),
        ("APOLOGY", "Analyse failure", "F")],
    1: [("NEW", "Qualification", None), ("PREPARATION", "Proposal", None), ("EXECUTING", "Negotiation", None),
        ("WON", "Won", "S"), ("LOSE", "Lost", "F")],
}  # fmt: skip

_EXTRA = {None: "process", "S": "success", "F": "failure"}


def stage_id(category_id: int, status: str) -> str:
    """``NEW`` in category 0, ``C<id>:NEW`` elsewhere."""
    return status if category_id == 0 else f"C{category_id}:{status}"


def statuses() -> list[dict[str, Any]]:
    """crm.status.list records of every deal category's stages."""
    records: list[dict[str, Any]] = []
    next_id = 1
    for category_id, stages in _STAGES.items():
        entity = "DEAL_STAGE" if category_id == 0 else f"DEAL_STAGE_{category_id}"
        for position, (status, name, semantics) in enumerate(stages, start=1):
            records.append({
                "ID": str(next_id), "ENTITY_ID": entity, "STATUS_ID": stage_id(category_id, status),
                "NAME": name, "NAME_INIT": name, "SORT": str(position * 10), "SYSTEM": "Y",
                "CATEGORY_ID": str(category_id), "COLOR": "#39A8EF", "SEMANTICS": semantics,
                "EXTRA": {"SEMANTICS": _EXTRA[semantics], "COLOR": "#39A8EF"},
            })  # fmt: skip
            next_id += 1
    return records


def _enum(items: list[tuple[int, str]]) -> list[dict[str, Any]]:
    return [{"ID": str(i), "VALUE": v, "SORT": str(n * 10), "DEF": "N"} for n, (i, v) in enumerate(items, 1)]


USERFIELDS: list[dict[str, Any]] = [
    {"FIELD_NAME": "UF_CRM_INDUSTRY", "USER_TYPE_ID": "enumeration", "LABEL": "Industry",
     "LIST": _enum([(101, "IT"), (102, "Manufacturing"), (103, "Retail"), (104, "Finance")])},
    {"FIELD_NAME": "UF_CRM_COMPANY_SIZE", "USER_TYPE_ID": "integer", "LABEL": "Company size"},
    {"FIELD_NAME": "UF_CRM_BUDGET", "USER_TYPE_ID": "double", "LABEL": "Budget"},
    {"FIELD_NAME": "UF_CRM_DECISION_MAKER", "USER_TYPE_ID": "string", "LABEL": "Decision maker"},
    {"FIELD_NAME": "UF_CRM_PAIN_POINTS", "USER_TYPE_ID": "string", "LABEL": "Pain points"},
    {"FIELD_NAME": "UF_CRM_LOSS_REASON", "USER_TYPE_ID": "enumeration", "LABEL": "Loss reason",
     "LIST": _enum([(201, "Price"), (202, "Competitor"), (203, "No budget"), (204, "No decision")])},
    # Where an admin would have Qualify write a deal's best fit (score, grade, persona name).
    {"FIELD_NAME": "UF_CRM_QUALIFY_FIT_SCORE", "USER_TYPE_ID": "double", "LABEL": "Qualify fit score"},
    {"FIELD_NAME": "UF_CRM_QUALIFY_FIT_GRADE", "USER_TYPE_ID": "string", "LABEL": "Qualify fit grade"},
    {"FIELD_NAME": "UF_CRM_QUALIFY_PERSONA", "USER_TYPE_ID": "string", "LABEL": "Qualify persona"},
]  # fmt: skip


def userfield_records() -> list[dict[str, Any]]:
    """crm.deal.userfield.list records (LABEL becomes the EDIT_FORM/LIST_COLUMN labels)."""
    records = []
    for n, uf in enumerate(USERFIELDS, start=1):
        label = uf["LABEL"]
        records.append({
            "ID": str(100 + n), "ENTITY_ID": "CRM_DEAL", "FIELD_NAME": uf["FIELD_NAME"],
            "USER_TYPE_ID": uf["USER_TYPE_ID"], "XML_ID": None, "SORT": str(n * 100), "MULTIPLE": "N",
            "MANDATORY": "N", "SHOW_FILTER": "E", "SHOW_IN_LIST": "Y", "EDIT_IN_LIST": "Y",
            "IS_SEARCHABLE": "N", "EDIT_FORM_LABEL": {"en": label}, "LIST_COLUMN_LABEL": {"en": label},
            **({"LIST": uf["LIST"]} if "LIST" in uf else {}),
        })  # fmt: skip
    return records


_STANDARD: list[tuple[str, str, str, bool, bool]] = [
    ("ID", "integer", "ID", False, True), ("TITLE", "string", "Name", False, False),
    ("TYPE_ID", "crm_status", "Type", False, False), ("CATEGORY_ID", "crm_category", "Pipeline", False, False),
    ("STAGE_ID", "crm_status", "Stage", False, False), ("STAGE_SEMANTIC_ID", "string", "Stage group", False, True),
    ("CURRENCY_ID", "crm_currency", "Currency", False, False), ("OPPORTUNITY", "double", "Amount", False, False),
    ("ASSIGNED_BY_ID", "user", "Responsible", False, False), ("CREATED_BY_ID", "user", "Created by", False, True),
    ("MODIFY_BY_ID", "user", "Modified by", False, True), ("DATE_CREATE", "datetime", "Created", False, True),
    ("DATE_MODIFY", "datetime", "Modified", False, True), ("CLOSED", "char", "Closed", False, False),
    ("COMMENTS", "string", "Comment", False, False), ("BEGINDATE", "date", "Start date", False, False),
    ("CLOSEDATE", "date", "Close date", False, False), ("MOVED_BY_ID", "user", "Stage changed by", False, True),
    ("MOVED_TIME", "datetime", "Stage changed", False, True), ("COMPANY_ID", "crm_company", "Company", False, False),
    ("CONTACT_ID", "crm_contact", "Contact", False, False),
]  # fmt: skip


def deal_fields() -> dict[str, Any]:
    """crm.deal.fields: standard fields, then UF_CRM_* ones (with enumeration `items`)."""
    fields: dict[str, Any] = {}
    for name, kind, title, required, readonly in _STANDARD:
        fields[name] = {"type": kind, "isRequired": required, "isReadOnly": readonly,
                        "isImmutable": name == "CATEGORY_ID",
                        "isMultiple": False, "isDynamic": False, "title": title}  # fmt: skip
        if kind == "crm_status":
            fields[name]["statusType"] = "DEAL_STAGE" if name == "STAGE_ID" else "DEAL_TYPE"
    for uf in USERFIELDS:
        fields[uf["FIELD_NAME"]] = {
            "type": uf["USER_TYPE_ID"], "isRequired": False, "isReadOnly": False, "isImmutable": False,
            "isMultiple": False, "isDynamic": True, "title": uf["FIELD_NAME"], "listLabel": uf["LABEL"],
            "formLabel": uf["LABEL"], "filterLabel": uf["LABEL"],
            **({"items": [{"ID": i["ID"], "VALUE": i["VALUE"]} for i in uf["LIST"]]} if "LIST" in uf else {}),
        }  # fmt: skip
    return fields


def userfield_names() -> list[str]:
    """Every UF_CRM_* field name."""
    return [uf["FIELD_NAME"] for uf in USERFIELDS]
