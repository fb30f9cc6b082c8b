"""Seed data for the HubSpot sandbox: pipelines, property definitions and owners.

Every portal has the default "Sales Pipeline" (id `default`, seven stages) and the standard
deal/task/note properties; `full=True` adds a second pipeline, the qualification ("portrait")
properties and five owners (four active, one archived: a deactivated user). Shapes follow the v3
Pipelines, Properties and Owners APIs (https://developers.hubspot.com/docs/api/crm/pipelines,
.../crm/properties, .../crm/owners); owner ids and user ids differ, as in HubSpot.
"""

from __future__ import annotations

from typing import Any

from adapters.sandbox.hubspot_values import iso

PORTAL_CREATED_MS = 1_672_531_200_000  # 2023-01-01T00:00:00.000Z
COMPANY_CURRENCY, OTHER_CURRENCIES = "USD", ("EUR", "GBP")
# (owner id, email, first name, last name, user id, archived)
OWNERS = [("101", "alice.owner@example.com", "Alice", "Owner", 45678, False),
          ("102", "bob.owner@example.com", "Bob", "Seller", 45679, False),
          ("103", "carol.closer@example.com", "Carol", "Closer", 45680, False),
          ("104", "dan.dealer@example.com", "Dan", "Dealer", 45681, False),
          ("105", "erin.former@example.com", "Erin", "Former", 45682, True)]  # fmt: skip

DEFAULT_STAGES = [
    ("appointmentscheduled", "Appointment Scheduled", "0.2", False),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", False),
    ("presentationscheduled", "Presentation Scheduled", "0.6", False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", False),
    ("contractsent", "Contract Sent", "0.9", False),
    ("closedwon", "Closed Won", "1.0", True),
    ("closedlost", "Closed Lost", "0.0", True),
]
PARTNER_STAGES = [
    ("12345679", "Partner Intro", "0.3", False),
    ("12345680", "Partner Signed", "1.0", True),
    ("12345681", "Partner Lost", "0.0", True),
]


def stage(stage_id: str, label: str, probability: str, closed: bool, order: int,
          created_ms: int) -> dict[str, Any]:
    # HubSpot returns stage metadata values as strings: {"isClosed": "false", "probability": "0.2"}.
    return {
        "label": label,
        "displayOrder": order,
        "metadata": {"isClosed": "true" if closed else "false", "probability": probability},
        "id": stage_id,
        "createdAt": iso(created_ms),
        "updatedAt": iso(created_ms),
        "archived": False,
        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
    }


def pipeline(pipeline_id: str, label: str, order: int, stages: list[tuple[str, str, str, bool]],
             created_ms: int) -> dict[str, Any]:
    return {
        "label": label,
        "displayOrder": order,
        "id": pipeline_id,
        "stages": [stage(*s, order=i, created_ms=created_ms) for i, s in enumerate(stages)],
        "createdAt": iso(created_ms),
        "updatedAt": iso(created_ms),
        "archived": False,
    }


def options(values: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"label": label, "value": value, "displayOrder": i, "hidden": False, "description": ""}
        for i, (value, label) in enumerate(values)
    ]


def prop(name: str, label: str, kind: str, field_type: str, group: str, *,
         opts: list[dict[str, Any]] | None = None, standard: bool = True, read_only: bool = False,
         external: bool = False, referenced: str | None = None, order: int = -1) -> dict[str, Any]:
    """A property definition in the v3 Properties API shape."""
    definition: dict[str, Any] = {
        "updatedAt": iso(PORTAL_CREATED_MS),
        "createdAt": iso(PORTAL_CREATED_MS),
        "name": name,
        "label": label,
        "type": kind,
        "fieldType": field_type,
        "description": "",
        "groupName": group,
        "options": opts or [],
        "displayOrder": order,
        "calculated": False,
        "externalOptions": external,
        "hasUniqueValue": name == "hs_object_id",
        "hidden": False,
        "modificationMetadata": {
            "archivable": not standard,
            "readOnlyDefinition": standard,
            "readOnlyValue": read_only,
        },
        "formField": not read_only,
        "dataSensitivity": "non_sensitive",
        "archived": False,
    }
    if standard:
        definition["hubspotDefined"] = True
    if referenced:
        definition["referencedObjectType"] = referenced
    return definition


def common_props(group: str, created: str) -> list[dict[str, Any]]:
    return [
        prop("hubspot_owner_id", "Owner", "enumeration", "select", group, external=True, referenced="OWNER"),
        prop(created, "Create Date", "datetime", "date", group),
        prop("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", group, read_only=True),
        prop("hs_object_id", "Record ID", "number", "number", group, read_only=True),
        prop("hs_created_by_user_id", "Created by user ID", "number", "number", group, read_only=True),
        prop("hs_updated_by_user_id", "Updated by user ID", "number", "number", group, read_only=True),
    ]


def deal_properties(full: bool) -> list[dict[str, Any]]:
    group = "dealinformation"
    result = [
        prop("dealname", "Deal Name", "string", "text", group),
        prop("amount", "Amount", "number", "number", group),
        prop("dealstage", "Deal Stage", "enumeration", "radio", group, external=True,
             referenced="PIPELINE_STAGE"),
        prop("pipeline", "Pipeline", "enumeration", "select", group, external=True, referenced="PIPELINE"),
        prop("closedate", "Close Date", "datetime", "date", group),
        prop("description", "Deal Description", "string", "textarea", group),
        prop("deal_currency_code", "Currency", "enumeration", "select", group,
             opts=options([(code, code) for code in (COMPANY_CURRENCY, *OTHER_CURRENCIES)])),
        prop("hs_is_closed", "Is Deal Closed?", "bool", "booleancheckbox", group, read_only=True,
             opts=options([("true", "True"), ("false", "False")])),
        *common_props(group, "createdate"),
    ]
    if full:
        result.extend(portrait_properties())
    return result


def portrait_properties() -> list[dict[str, Any]]:
    group = "qualification"
    industries = [("retail", "Retail"), ("manufacturing", "Manufacturing"), ("it", "IT"),
                  ("finance", "Finance"), ("other", "Other")]
    channels = [("email", "Email"), ("phone", "Phone"), ("chat", "Chat")]
    return [
        prop("industry", "Industry", "enumeration", "select", group, opts=options(industries),
             standard=False),
        prop("company_size", "Company size", "number", "number", group, standard=False),
        prop("budget", "Budget", "number", "number", group, standard=False),
        prop("decision_maker", "Decision maker known", "enumeration", "booleancheckbox", group,
             opts=options([("true", "Yes"), ("false", "No")]), standard=False),
        prop("pain_points", "Pain points", "string", "textarea", group, standard=False),
        prop("channels", "Channels", "enumeration", "checkbox", group, opts=options(channels),
             standard=False),
        prop("loss_reason", "Loss reason", "string", "text", group, standard=False),
        # Where Qualify writes the lead's best fit back (connections' score_write_back).
        prop("qualify_fit_score", "Qualify fit score", "number", "number", group, standard=False),
        prop("qualify_fit_grade", "Qualify fit grade", "string", "text", group, standard=False),
        prop("qualify_persona", "Qualify persona", "string", "text", group, standard=False),
    ]


# Companies and contacts every full portal starts with (id, properties): buyers tests associate deals with.
COMPANIES = [
    ("9001", {"name": "Acme Wholesale", "domain": "acme.example", "industry": "RETAIL", "state": "North",
              "numberofemployees": "250"}),
    ("9002", {"name": "Bolt Manufacturing", "domain": "bolt.example", "industry": "MACHINERY", "state": "South",
              "numberofemployees": "40"}),
    ("9003", {"name": "Cobalt IT", "domain": "cobalt.example", "industry": "COMPUTER_SOFTWARE", "state": "North",
              "numberofemployees": "12"}),
]
CONTACTS = [
    ("7001", {"firstname": "Dana", "lastname": "Buyer", "email": "dana@example.com", "state": "North"}),
    ("7002", {"firstname": "Eli", "lastname": "Shopper", "email": "eli@example.com", "state": "South"}),
]
COMPANY_INDUSTRIES = ("RETAIL", "MACHINERY", "COMPUTER_SOFTWARE", "FINANCIAL_SERVICES")


def company_properties() -> list[dict[str, Any]]:
    """Standard company properties (a few of HubSpot's; `industry` is its enumeration of industry codes)."""
    group = "companyinformation"
    return [
        prop("name", "Company name", "string", "text", group),
        prop("domain", "Company Domain Name", "string", "text", group),
        prop("industry", "Industry", "enumeration", "select", group,
             opts=options([(code, code.replace("_", " ").title()) for code in COMPANY_INDUSTRIES])),
        prop("state", "State/Region", "string", "text", group),
        prop("numberofemployees", "Number of Employees", "number", "number", group),
        *common_props(group, "createdate"),
    ]


def contact_properties() -> list[dict[str, Any]]:
    """Standard contact properties (a few of HubSpot's)."""
    group = "contactinformation"
    return [
        prop("firstname", "First Name", "string", "text", group),
        prop("lastname", "Last Name", "string", "text", group),
        prop("email", "Email", "string", "text", group),
        prop("state", "State/Region", "string", "text", group),
        *common_props(group, "createdate"),
    ]


def task_properties() -> list[dict[str, Any]]:
    group = "task"
    statuses = [("NOT_STARTED", "Not started"), ("IN_PROGRESS", "In progress"), ("WAITING", "Waiting"),
                ("COMPLETED", "Completed"), ("DEFERRED", "Deferred")]
    priorities = [("NONE", "None"), ("LOW", "Low"), ("MEDIUM", "Medium"), ("HIGH", "High")]
    types = [("TODO", "To-do"), ("CALL", "Call"), ("EMAIL", "Email"), ("LINKED_IN", "LinkedIn"),
             ("MEETING", "Meeting")]
    return [
        prop("hs_timestamp", "Due date", "datetime", "date", group),
        prop("hs_task_subject", "Task Title", "string", "text", group),
        prop("hs_task_body", "Notes", "string", "html", group),
        prop("hs_task_status", "Task Status", "enumeration", "select", group, opts=options(statuses)),
        prop("hs_task_priority", "Priority", "enumeration", "select", group, opts=options(priorities)),
        prop("hs_task_type", "Task Type", "enumeration", "select", group, opts=options(types)),
        prop("hs_task_completion_date", "Completed at", "datetime", "date", group),
        *common_props(group, "hs_createdate"),
    ]


def note_properties() -> list[dict[str, Any]]:
    group = "note"
    return [
        prop("hs_timestamp", "Activity date", "datetime", "date", group),
        prop("hs_note_body", "Note body", "string", "html", group),
        prop("hs_attachment_ids", "Attachments", "enumeration", "checkbox", group, external=True),
        *common_props(group, "hs_createdate"),
    ]


def owner(owner_id: str, email: str, first: str, last: str, user_id: int, archived: bool = False,
          at_ms: int = PORTAL_CREATED_MS) -> dict[str, Any]:
    """An owner in the v3 Owners API shape. An archived owner (a deactivated user) keeps its user id only in
    userIdIncludingInactive."""
    return {
        "id": owner_id, "email": email, "type": "PERSON", "firstName": first, "lastName": last,
        "userId": None if archived else user_id, "userIdIncludingInactive": user_id,
        "createdAt": iso(at_ms), "updatedAt": iso(at_ms), "archived": archived, "teams": [],
    }  # fmt: skip


def owners() -> list[dict[str, Any]]:
    return [owner(*row) for row in OWNERS]


def pipelines(full: bool) -> list[dict[str, Any]]:
    # HubSpot reports the built-in Sales Pipeline as created at the epoch.
    result = [pipeline("default", "Sales Pipeline", 0, DEFAULT_STAGES, 0)]
    if full:
        result.append(pipeline("12345678", "Partners", 1, PARTNER_STAGES, PORTAL_CREATED_MS))
    return result
