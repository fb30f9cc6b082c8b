"""/v1/records, /v1/transitions, /v1/events: what Qualify saw and did."""

from __future__ import annotations

from typing import Any

from schemas.events import EventListArgsSchema, EventOutSchema, EventPageSchema
from schemas.records import (
    RecordDetailSchema,
    RecordListArgsSchema,
    RecordPageSchema,
    TransitionListArgsSchema,
    TransitionPageSchema,
)
from service.api.common import ID, errors, protected_blueprint, runtime
from service.services import queries
from service.services.events import replay_event

blp = protected_blueprint("records", __name__, "/v1", "Records, transitions and stored events")


@blp.route("/records", methods=["GET"])
@blp.arguments(RecordListArgsSchema, location="query")
@blp.response(200, RecordPageSchema)
@errors(blp, 400, 401, 422)
def list_records(args: dict[str, Any]) -> dict[str, Any]:
    """List synced records."""
    return queries.list_records(runtime(), args)


@blp.route(f"/records/<{ID}:record_id>", methods=["GET"])
@blp.response(200, RecordDetailSchema)
@errors(blp, 401, 404)
def get_record(record_id: int) -> dict[str, Any]:
    """A record with completeness towards every later stage and its transitions."""
    return queries.record_detail(runtime(), record_id)


@blp.route("/transitions", methods=["GET"])
@blp.arguments(TransitionListArgsSchema, location="query")
@blp.response(200, TransitionPageSchema)
@errors(blp, 400, 401, 422)
def list_transitions(args: dict[str, Any]) -> dict[str, Any]:
    """List observed stage moves and decisions, newest first."""
    return queries.list_transitions(runtime(), args)


@blp.route("/events", methods=["GET"])
@blp.arguments(EventListArgsSchema, location="query")
@blp.response(200, EventPageSchema)
@errors(blp, 400, 401, 422)
def list_events(args: dict[str, Any]) -> dict[str, Any]:
    """List stored webhook events, newest first."""
    return queries.list_events(runtime(), args)


@blp.route(f"/events/<{ID}:event_id>", methods=["GET"])
@blp.response(200, EventOutSchema)
@errors(blp, 401, 404)
def get_event(event_id: int) -> dict[str, Any]:
    """Read one stored event."""
    return queries.get_event(runtime(), event_id)


@blp.route(f"/events/<{ID}:event_id>/replay", methods=["POST"])
@blp.response(202, EventOutSchema)
@errors(blp, 401, 403, 404, 409)
def replay(event_id: int) -> dict[str, Any]:
    """Queue a failed or ignored event to be processed again."""
    return replay_event(runtime(), event_id)
