"""In-memory Pipedrive company: deals, activities and notes, validated like API v2.

Not thread-safe by itself; the sandbox holds one lock around every call. v2 input validation is strict
(https://pipedrive.readme.io/docs/pipedrive-api-v2-migration-guide): numbers sent as strings, unknown
fields, unknown option ids and stages outside the deal's pipeline are a 400 (`PipedriveApiError`).
"""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.sandbox import pipedrive_customers as customers
from adapters.sandbox import pipedrive_errors as errors
from adapters.sandbox import pipedrive_seed as seed

DEAL_FIELDS = {"title": str, "currency": str, "status": str, "expected_close_date": str, "lost_reason": str,
               "value": float, "probability": float, "stage_id": int, "pipeline_id": int, "owner_id": int,
               "person_id": int, "org_id": int, "visible_to": int, "label_ids": list}  # fmt: skip
STATUS_TIMES = ("won_time", "lost_time", "close_time")  # set by a status change, so in a webhook's `previous`
ACTIVITY_FIELDS = {"subject": str, "type": str, "owner_id": int, "deal_id": int, "due_date": str, "due_time": str,
                   "duration": str, "note": str, "public_description": str, "done": bool, "priority": int,
                   "busy": bool, "location": str}  # fmt: skip
ACTIVITY_TYPES = frozenset({"call", "meeting", "task", "deadline", "email", "lunch"})


@dataclass(frozen=True)
class Actor:
    """Who writes: meta.change_source ("app" for the UI, "api") and meta.user_id of the webhook."""

    change_source: str
    user_id: int


ChangeListener = Callable[[str, dict[str, Any], dict[str, Any] | None, Actor], None]


def iso(ms: int) -> str:
    """RFC 3339 as v2 renders it: seconds precision, Z."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_cursor(key: Sequence[int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[int]:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return [int(v) for v in value]
    except (ValueError, TypeError) as exc:
        raise errors.invalid("Invalid cursor") from exc


def page(items: list[dict[str, Any]], key: Callable[[dict[str, Any]], list[int]], cursor: str | None,
         limit: int, *, stuck: bool = False) -> tuple[list[dict[str, Any]], str | None]:
    """Key-based cursor paging over `items` (already sorted by `key`); `stuck` repeats the cursor (a bug)."""
    if not 1 <= limit <= 500:
        raise errors.invalid("limit must be between 1 and 500")
    start = 0
    if cursor:
        after = decode_cursor(cursor)
        start = next((i for i, item in enumerate(items) if key(item) > after), len(items))
    chunk = items[start:start + limit]
    if start + limit >= len(items):
        return chunk, None
    return chunk, (cursor if stuck and cursor else encode_cursor(key(chunk[-1])))


def check_type(name: str, value: Any, kind: type) -> None:
    if value is None:
        return
    ok = isinstance(value, int | float) and not isinstance(value, bool) if kind is float else (
        isinstance(value, kind) and not (kind is int and isinstance(value, bool)))
    if not ok:
        raise errors.invalid(f"Parameter '{name}' must be {kind.__name__}, got {type(value).__name__}")


class Company:
    """All data of one sandbox company. `listener(action, data, previous, actor)` sees every deal write."""

    def __init__(self, *, listener: ChangeListener | None = None) -> None:
        self.listener = listener
        self.users = seed.users()
        self.pipelines = seed.pipelines()
        self.stages = {s["id"]: s for s in seed.stages()}
        self.fields = seed.deal_fields()
        self.custom = {f["field_code"]: f for f in self.fields if f["is_custom_field"]}
        self.deals: dict[int, dict[str, Any]] = {}
        self.activities: dict[int, dict[str, Any]] = {}
        self.notes: dict[int, dict[str, Any]] = {}
        self.organizations, self.persons = customers.organizations(), customers.persons()
        self._ids = {"deal": 1000, "activity": 5000, "note": 9000}
        self._last_ms = 0

    def active_user_ids(self) -> set[int]:
        """Users who may own deals and activities (a deactivated user keeps the ones they own)."""
        return {u["id"] for u in self.users if u["active_flag"]}

    def _next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def _now_ms(self) -> int:
        """Strictly increasing, so update order is total even for writes in the same millisecond."""
        self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
        return self._last_ms

    # ---- deals ----------------------------------------------------------------------------------
    def deal(self, deal_id: int | str) -> dict[str, Any]:
        deal = self.deals.get(int(deal_id)) if str(deal_id).isdigit() else None
        if deal is None or deal["is_deleted"]:
            raise errors.not_found("Deal")
        return deal

    def create_deal(self, fields: dict[str, Any], actor: Actor) -> dict[str, Any]:
        if not isinstance(fields.get("title"), str) or not fields["title"]:
            raise errors.invalid("Parameter 'title' is required")
        now = self._now_ms()
        deal: dict[str, Any] = {
            "id": self._next_id("deal"), "title": "", "creator_user_id": actor.user_id, "owner_id": actor.user_id,
            "person_id": None, "org_id": None, "stage_id": 1, "pipeline_id": 1, "value": 0, "currency": "EUR",
            "add_time": iso(now), "update_time": iso(now), "stage_change_time": None, "is_deleted": False,
            "status": "open", "probability": None, "lost_reason": None, "visible_to": 3, "close_time": None,
            "won_time": None, "lost_time": None, "expected_close_date": None, "label_ids": [],
            "custom_fields": {code: None for code in self.custom}, "_update_ms": now,
        }  # fmt: skip
        if "stage_id" in fields and "pipeline_id" not in fields:
            deal["pipeline_id"] = None  # taken from the stage below
        self._apply(deal, fields, now)
        self.deals[deal["id"]] = deal
        self._notify("create", deal, None, actor)
        return deal

    def update_deal(self, deal_id: int | str, fields: dict[str, Any], actor: Actor) -> dict[str, Any]:
        deal = self.deal(deal_id)
        before = copy.deepcopy(deal)
        now = self._now_ms()
        self._apply(deal, fields, now)
        previous: dict[str, Any] = {k: before[k] for k in (*DEAL_FIELDS, *STATUS_TIMES)
                                    if k in deal and deal[k] != before[k]}
        changed_custom = {k: before["custom_fields"].get(k) for k, v in deal["custom_fields"].items()
                          if v != before["custom_fields"].get(k)}  # fmt: skip
        if changed_custom:
            previous["custom_fields"] = changed_custom
        if not previous:
            return deal
        if "stage_id" in previous:
            deal["stage_change_time"] = iso(now)
        deal["update_time"], deal["_update_ms"] = iso(now), now
        self._notify("change", deal, previous, actor)
        return deal

    def delete_deal(self, deal_id: int | str, actor: Actor) -> None:
        deal = self.deal(deal_id)
        before = copy.deepcopy(deal)
        now = self._now_ms()
        deal["is_deleted"], deal["update_time"], deal["_update_ms"] = True, iso(now), now
        self._notify("delete", deal, before, actor)

    def _notify(self, action: str, deal: dict[str, Any], previous: dict[str, Any] | None, actor: Actor) -> None:
        if self.listener is not None:
            self.listener(action, public_deal(deal), public_deal(previous) if action == "delete" and previous
                          else previous, actor)  # fmt: skip

    def _apply(self, deal: dict[str, Any], fields: dict[str, Any], now: int) -> None:
        """Validate everything first, then write: a 400 leaves the deal untouched."""
        unknown = sorted(set(fields) - set(DEAL_FIELDS) - {"custom_fields"})
        if unknown:
            raise errors.invalid(f"Unknown parameters: {', '.join(unknown)}")
        for name, kind in DEAL_FIELDS.items():
            if name in fields:
                check_type(name, fields[name], kind)
        custom = self._check_custom(fields.get("custom_fields") or {})
        changes = {k: v for k, v in fields.items() if k != "custom_fields"}
        if changes.get("status") not in (None, "open", "won", "lost"):
            raise errors.invalid("Parameter 'status' must be one of open, won, lost")
        if "owner_id" in changes and changes["owner_id"] not in self.active_user_ids():
            raise errors.invalid(f"User {changes['owner_id']} not found")
        self._check_stage(deal, changes)
        status = changes.get("status")
        if status is not None and status != deal.get("status"):
            self._stamp_status(deal, status, now)
        deal.update(changes)
        deal["custom_fields"].update(custom)

    @staticmethod
    def _stamp_status(deal: dict[str, Any], status: str, now: int) -> None:
        """A status change: won/lost stamp `<status>_time` and close_time and clear the other one's time;
        reopening (open) clears all three."""
        if status in ("won", "lost"):
            other = "lost" if status == "won" else "won"
            deal[f"{status}_time"] = deal["close_time"] = iso(now)
            deal[f"{other}_time"] = None
        elif status == "open":
            deal["won_time"] = deal["lost_time"] = deal["close_time"] = None

    def _check_stage(self, deal: dict[str, Any], changes: dict[str, Any]) -> None:
        stage_id, pipeline_id = changes.get("stage_id"), changes.get("pipeline_id")
        if pipeline_id is not None and pipeline_id not in {p["id"] for p in self.pipelines}:
            raise errors.invalid(f"Pipeline {pipeline_id} not found")
        if stage_id is not None:
            stage = self.stages.get(stage_id)
            if stage is None:
                raise errors.invalid(f"Stage {stage_id} not found")
            if pipeline_id is not None and stage["pipeline_id"] != pipeline_id:
                raise errors.invalid(f"Stage {stage_id} does not belong to pipeline {pipeline_id}")
            changes["pipeline_id"] = stage["pipeline_id"]  # a stage of another pipeline moves the deal there
        elif pipeline_id is not None and pipeline_id != deal["pipeline_id"]:
            stages = [s for s in self.stages.values() if s["pipeline_id"] == pipeline_id]
            first = min(stages, key=lambda s: s["order_nr"])
            changes["stage_id"] = first["id"]

    def _check_custom(self, custom: Any) -> dict[str, Any]:
        if not isinstance(custom, dict):
            raise errors.invalid("Parameter 'custom_fields' must be an object")
        for code, value in custom.items():
            field = self.custom.get(code)
            if field is None:
                raise errors.invalid(f"Unknown custom field '{code}'")
            kind = field["field_type"]
            if value is None:
                continue
            if kind == "enum" and value not in {o["id"] for o in field["options"]}:
                raise errors.invalid(f"Custom field '{code}': option {value!r} does not exist")
            if kind == "double":
                check_type(code, value, float)
            if kind == "monetary" and not (isinstance(value, dict) and "value" in value):
                raise errors.invalid(f"Custom field '{code}' must be an object with value and currency")
            if kind == "monetary":
                check_type(code, value["value"], float)
            if kind in ("varchar", "text"):
                check_type(code, value, str)
        return dict(custom)

    def list_deals(self, *, since_ms: int | None, sort_by: str, descending: bool) -> list[dict[str, Any]]:
        deals = [d for d in self.deals.values() if not d["is_deleted"]]
        if since_ms is not None:
            deals = [d for d in deals if d["_update_ms"] // 1000 * 1000 >= since_ms]  # second precision
        if sort_by == "update_time":
            deals.sort(key=lambda d: (d["_update_ms"], d["id"]), reverse=descending)
        else:
            deals.sort(key=lambda d: d["id"], reverse=descending)
        return deals

    # ---- activities and notes -------------------------------------------------------------------
    def add_activity(self, fields: dict[str, Any], actor: Actor) -> dict[str, Any]:
        unknown = sorted(set(fields) - set(ACTIVITY_FIELDS))
        if unknown:
            raise errors.invalid(f"Unknown parameters: {', '.join(unknown)}")
        for name, kind in ACTIVITY_FIELDS.items():
            if name in fields:
                check_type(name, fields[name], kind)
        if not fields.get("subject"):
            raise errors.invalid("Parameter 'subject' is required")
        if fields.get("type", "task") not in ACTIVITY_TYPES:
            raise errors.invalid(f"Activity type {fields.get('type')!r} does not exist")
        if fields.get("deal_id") is not None:
            self.deal(fields["deal_id"])
        if fields.get("owner_id") is not None and fields["owner_id"] not in self.active_user_ids():
            raise errors.invalid(f"User {fields['owner_id']} not found")
        now = iso(self._now_ms())
        activity = {"id": self._next_id("activity"), "type": "task", "owner_id": actor.user_id, "deal_id": None,
                    "due_date": None, "due_time": None, "note": None, "public_description": None, "done": False,
                    "priority": None, "is_deleted": False, "add_time": now, "update_time": now,
                    "creator_user_id": actor.user_id, **fields}  # fmt: skip
        self.activities[activity["id"]] = activity
        return activity

    def add_note(self, fields: dict[str, Any], actor: Actor) -> dict[str, Any]:
        if not isinstance(fields.get("content"), str) or not fields["content"]:
            raise errors.invalid("Parameter 'content' is required")
        deal_id = fields.get("deal_id")
        if deal_id is None or not str(deal_id).isdigit():
            raise errors.invalid("Note must be attached to a deal, person, organization, lead or project")
        self.deal(deal_id)
        now = datetime.fromtimestamp(self._now_ms() / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")  # v1 format
        note = {"id": self._next_id("note"), "content": fields["content"], "deal_id": int(deal_id),
                "user_id": actor.user_id, "add_time": now, "update_time": now, "active_flag": True,
                "pinned_to_deal_flag": False, "person_id": None, "org_id": None, "lead_id": None}  # fmt: skip
        self.notes[note["id"]] = note
        return note


def public_deal(deal: dict[str, Any] | None, custom_keys: Sequence[str] | None = None) -> dict[str, Any]:
    """A deal as v2 renders it: internal keys dropped; `custom_keys` limits custom_fields."""
    assert deal is not None
    shown = {k: copy.deepcopy(v) for k, v in deal.items() if not k.startswith("_")}
    if custom_keys:
        shown["custom_fields"] = {k: v for k, v in shown["custom_fields"].items() if k in custom_keys}
    return shown
