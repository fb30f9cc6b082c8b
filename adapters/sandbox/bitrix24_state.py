"""The in-memory portal behind the Bitrix24 sandbox: deals, stage history, activities, comments.

Not thread-safe by itself: the sandbox holds its lock around every call. Mutations report
ONCRMDEAL* events to `listener(event_name, deal_id)`. Times are kept in the portal's zone
(PORTAL_TZ, +03:00) as Bitrix24 answers them in the portal's offset.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from adapters.sandbox import bitrix24_customers as customers
from adapters.sandbox import bitrix24_seed as seed

PORTAL_TZ = timezone(timedelta(hours=3))
Listener = Callable[[str, int, str], None]  # event name, deal id, the acting user's id
DEFAULT_CLOSE_DAYS = 7  # a new deal's CLOSEDATE, as the sandbox assumes Bitrix24 presets it


class B24Error(ValueError):
    """A Bitrix24 error answer: HTTP status, `error` code and `error_description`."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status = status
        self.code = code
        self.description = description

    @property
    def body(self) -> dict[str, str]:
        return {"error": self.code, "error_description": self.description}


def not_found() -> B24Error:
    """What crm.deal.get answers for an unknown id."""
    return B24Error(400, "", "Not found")


def now_text() -> str:
    """The current time as Bitrix24 writes it: seconds, portal offset."""
    return datetime.now(PORTAL_TZ).replace(microsecond=0).isoformat()


def date_text(days: int = 0) -> str:
    """Today (plus `days`) as Bitrix24 answers a date field: midnight in the portal's offset."""
    day = datetime.now(PORTAL_TZ).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, tzinfo=PORTAL_TZ).isoformat()


def parse_time(value: object) -> datetime | None:
    """A datetime from ISO text (naive = portal zone), or None."""
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=PORTAL_TZ) if parsed.tzinfo is None else parsed.astimezone(UTC)


class Portal:
    """One Bitrix24 portal's CRM data."""

    def __init__(self, *, seeded: bool = True, listener: Listener | None = None) -> None:
        self.listener = listener
        self.users = [dict(u) for u in seed.USERS] if seeded else [dict(seed.USERS[0])]
        self.categories = [dict(c) for c in seed.CATEGORIES] if seeded else [dict(seed.CATEGORIES[0])]
        known = {str(c["id"]) for c in self.categories}
        self.statuses = [s for s in seed.statuses() if s["CATEGORY_ID"] in known]
        self.fields = seed.deal_fields()
        self.userfields = seed.userfield_records()
        # crm.company.* / crm.contact.*: records and fields by kind (bitrix24_customers)
        self.customers = {"company": customers.seed_companies() if seeded else [],
                          "contact": customers.seed_contacts() if seeded else []}
        self.customer_fields = {"company": customers.company_fields(), "contact": customers.contact_fields()}
        self.deals: dict[int, dict[str, Any]] = {}
        self.deal_ids: list[int] = []  # ascending: the ID index the fast >ID pattern walks (ids only grow)
        self.history: list[dict[str, Any]] = []
        self.activities: list[dict[str, Any]] = []
        self.comments: list[dict[str, Any]] = []
        self.tasks: list[dict[str, Any]] = []  # the tasks module (bitrix24_tasks), not CRM activities
        self.task_seq = 0
        self._ids = {"deal": 0, "history": 0, "activity": 0, "comment": 0}

    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    # ---- lookups ------------------------------------------------------------------------------
    def deal(self, deal_id: object) -> dict[str, Any]:
        """The stored deal; raises B24Error 400 "Not found"."""
        try:
            return self.deals[int(str(deal_id))]
        except (KeyError, ValueError):
            raise not_found() from None

    def stages_of(self, category_id: str) -> list[dict[str, Any]]:
        return sorted((s for s in self.statuses if s["CATEGORY_ID"] == str(category_id)), key=lambda s: int(s["SORT"]))

    def semantics_of(self, stage: str) -> str:
        """P (in progress), S (won) or F (lost) for a stage id."""
        match = next((s for s in self.statuses if s["STATUS_ID"] == stage), None)
        return str((match or {}).get("SEMANTICS") or "P")

    def _check_stage(self, category_id: str, stage: str) -> None:
        if stage not in {s["STATUS_ID"] for s in self.stages_of(category_id)}:
            raise B24Error(400, "", f"Stage '{stage}' does not belong to category {category_id}")

    def _user(self, user_id: object, *, assignable: bool = False) -> str:
        """The id of a known user (an active one when `assignable`: a dismissed user keeps the deals they own
        but gets no new ones); B24Error 400 otherwise."""
        text = str(user_id)
        if not any(u["ID"] == text and (u["ACTIVE"] or not assignable) for u in self.users):
            raise B24Error(400, "", f"User {text} not found")
        return text

    # ---- deals --------------------------------------------------------------------------------
    def create_deal(self, fields: dict[str, Any], user_id: int | str) -> int:
        """crm.deal.add / UI create; records the creation in stage history and reports ONCRMDEALADD."""
        category = str(fields.get("CATEGORY_ID") or "0")
        if category not in {str(c["id"]) for c in self.categories}:
            raise B24Error(400, "", f"Category {category} not found")
        stage = str(fields.get("STAGE_ID") or self.stages_of(category)[0]["STATUS_ID"])
        self._check_stage(category, stage)
        deal_id, at, actor = self._next("deal"), now_text(), self._user(user_id)
        deal: dict[str, Any] = {
            "ID": str(deal_id), "TITLE": f"Deal #{deal_id}", "TYPE_ID": "SALE", "CATEGORY_ID": category,
            "STAGE_ID": stage, "STAGE_SEMANTIC_ID": self.semantics_of(stage), "IS_NEW": "Y", "CURRENCY_ID": "USD",
            "OPPORTUNITY": "0.00", "ASSIGNED_BY_ID": actor, "CREATED_BY_ID": actor, "MODIFY_BY_ID": actor,
            "DATE_CREATE": at, "DATE_MODIFY": at, "CLOSED": "N", "COMMENTS": None, "BEGINDATE": date_text(),
            "CLOSEDATE": date_text(DEFAULT_CLOSE_DAYS), "MOVED_BY_ID": actor, "MOVED_TIME": at,
            "COMPANY_ID": "0", "CONTACT_ID": None,
            **{name: None for name in seed.userfield_names()},
        }  # fmt: skip
        deal.update(self._writable(fields))
        deal["ASSIGNED_BY_ID"] = self._user(deal["ASSIGNED_BY_ID"], assignable=True)
        self._close_if_final(deal, "CLOSEDATE" in fields)
        self.deals[deal_id] = deal
        self.deal_ids.append(deal_id)
        self._record_history(deal, 1)
        self._emit("ONCRMDEALADD", deal_id, actor)
        return deal_id

    def _close_if_final(self, deal: dict[str, Any], date_given: bool) -> None:
        """CLOSED follows the stage's semantics; a deal entering a final stage gets today as CLOSEDATE unless the
        same write sets one (the sandbox's reading of Bitrix24: CLOSEDATE is the planned date until then)."""
        closed = "Y" if deal["STAGE_SEMANTIC_ID"] in ("S", "F") else "N"
        if closed == "Y" and deal.get("CLOSED") != "Y" and not date_given:
            deal["CLOSEDATE"] = date_text()
        deal["CLOSED"] = closed

    def _writable(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Known, writable fields only (Bitrix24 ignores unknown fields silently); values as strings."""
        out: dict[str, Any] = {}
        for name, value in fields.items():
            meta = self.fields.get(name)
            if meta is None or meta["isReadOnly"] or name in ("STAGE_ID", "CATEGORY_ID"):
                continue
            out[name] = None if value in (None, "") else str(value)
        return out

    def update_deal(self, deal_id: object, fields: dict[str, Any], user_id: int | str) -> bool:
        """crm.deal.update / UI edit. A STAGE_ID must belong to the (new) CATEGORY_ID; a category
        change without a stage moves to the category's first stage. Reports ONCRMDEALUPDATE.
        Returns whether anything changed."""
        deal = self.deal(deal_id)
        actor = self._user(user_id)
        category = str(fields.get("CATEGORY_ID", deal["CATEGORY_ID"]) or "0")
        moved_category = category != deal["CATEGORY_ID"]
        stage = fields.get("STAGE_ID")
        if stage in (None, "") and moved_category:
            stage = self.stages_of(category)[0]["STATUS_ID"]
        stage = str(stage) if stage not in (None, "") else deal["STAGE_ID"]
        self._check_stage(category, stage)
        changes = {k: v for k, v in self._writable(fields).items() if deal.get(k) != v}
        if "ASSIGNED_BY_ID" in changes:
            changes["ASSIGNED_BY_ID"] = self._user(changes["ASSIGNED_BY_ID"], assignable=True)
        moved = stage != deal["STAGE_ID"] or moved_category
        if not changes and not moved:
            return False
        deal.update(changes)
        at = now_text()
        deal.update({"MODIFY_BY_ID": actor, "DATE_MODIFY": at, "IS_NEW": "N"})
        if moved:
            semantics = self.semantics_of(stage)
            deal.update({"CATEGORY_ID": category, "STAGE_ID": stage, "STAGE_SEMANTIC_ID": semantics,
                         "MOVED_BY_ID": actor, "MOVED_TIME": at})  # fmt: skip
            self._close_if_final(deal, "CLOSEDATE" in changes)
            self._record_history(deal, 5 if moved_category else 3 if semantics in ("S", "F") else 2)
        self._emit("ONCRMDEALUPDATE", int(deal["ID"]), actor)
        return True

    def delete_deal(self, deal_id: object, user_id: int | str = 1) -> None:
        deal = self.deal(deal_id)
        del self.deals[int(deal["ID"])]
        self.deal_ids.remove(int(deal["ID"]))
        self._emit("ONCRMDEALDELETE", int(deal["ID"]), self._user(user_id))

    def _record_history(self, deal: dict[str, Any], type_id: int) -> None:
        self.history.append({
            "ID": self._next("history"), "TYPE_ID": type_id, "OWNER_ID": int(deal["ID"]),
            "CREATED_TIME": deal["DATE_MODIFY"], "CATEGORY_ID": int(deal["CATEGORY_ID"]),
            "STAGE_SEMANTIC_ID": deal["STAGE_SEMANTIC_ID"], "STAGE_ID": deal["STAGE_ID"],
        })  # fmt: skip

    def _emit(self, event: str, deal_id: int, user_id: str) -> None:
        if self.listener is not None:
            self.listener(event, deal_id, user_id)

    def tasks_for_user(self, user_id: object) -> list[dict[str, Any]]:
        """Copies of the tasks whose RESPONSIBLE_ID is `user_id`, oldest first (UF_CRM_TASK [] = no CRM item)."""
        return [{**t, "UF_CRM_TASK": list(t["UF_CRM_TASK"])} for t in self.tasks if t["RESPONSIBLE_ID"] == str(user_id)]

    # ---- activities and comments ---------------------------------------------------------------
    def add_todo(self, params: dict[str, Any], user_id: int | str) -> int:
        """crm.activity.todo.add: ownerTypeId, ownerId, deadline required; title/description/responsibleId."""
        if str(params.get("ownerTypeId")) != "2":
            raise B24Error(400, "ERROR_WRONG_OWNER_TYPE", "Only deals (ownerTypeId 2) are simulated")
        deal = self.deal(params.get("ownerId"))
        if parse_time(params.get("deadline")) is None:
            raise B24Error(400, "ERROR_WRONG_DEADLINE", "deadline is required and must be a datetime")
        activity_id = self._next("activity")
        self.activities.append({
            "ID": str(activity_id), "OWNER_TYPE_ID": "2", "OWNER_ID": deal["ID"], "TYPE_ID": "6",
            "PROVIDER_ID": "CRM_TODO", "PROVIDER_TYPE_ID": "TODO", "SUBJECT": str(params.get("title") or ""),
            "DESCRIPTION": str(params.get("description") or ""), "DEADLINE": str(params["deadline"]),
            "RESPONSIBLE_ID": self._user(params.get("responsibleId") or user_id), "COMPLETED": "N",
            "CREATED": now_text(), "AUTHOR_ID": str(user_id),
        })  # fmt: skip
        return activity_id

    def add_comment(self, fields: dict[str, Any], user_id: int | str) -> int:
        """crm.timeline.comment.add: fields ENTITY_ID, ENTITY_TYPE ("deal"), COMMENT."""
        if str(fields.get("ENTITY_TYPE") or "").lower() != "deal":
            raise B24Error(400, "", "ENTITY_TYPE must be deal in the sandbox")
        deal = self.deal(fields.get("ENTITY_ID"))
        if not fields.get("COMMENT"):
            raise B24Error(400, "", "COMMENT is required")
        comment_id = self._next("comment")
        self.comments.append({"ID": str(comment_id), "ENTITY_ID": deal["ID"], "ENTITY_TYPE": "deal",
                              "COMMENT": str(fields["COMMENT"]), "CREATED": now_text(),
                              "AUTHOR_ID": str(user_id)})  # fmt: skip
        return comment_id
