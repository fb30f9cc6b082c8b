"""/v1/personas: target portraits, their versions, reviews and rescoring; /v1/records/{id}/scores and /v1/score."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from schemas.common import LANGUAGES, PageArgsSchema
from schemas.personas import (
    PersonaInSchema,
    PersonaListArgsSchema,
    PersonaOutSchema,
    PersonaPageSchema,
    PersonaPatchSchema,
    PersonaVersionListSchema,
    RescoreRunListSchema,
    RescoreRunSchema,
)
from schemas.scores import RecordScoresSchema, ScoreInSchema, ScoreOutSchema
from service.api.common import ID, errors, protected_blueprint, runtime
from service.services import personas as service
from service.services.fit import record_scores, score_payload
from service.services.rescore import queue_rescore, rescore_history

blp = protected_blueprint("personas", __name__, "/v1", "Personas and lead scores")


class PersonaListArgs(PageArgsSchema, PersonaListArgsSchema):
    """Paging and filters of the persona list."""


class LanguageArgs(Schema):
    """The language of the reasons."""

    language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES))


@blp.route("/personas")
class Personas(MethodView):
    """The collection of personas."""

    @blp.arguments(PersonaListArgs, location="query")
    @blp.response(200, PersonaPageSchema)
    @errors(blp, 400, 401, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List personas (`stale`: past their review date)."""
        return service.list_personas(runtime(), args)

    @blp.arguments(PersonaInSchema)
    @blp.response(201, PersonaOutSchema)
    @errors(blp, 400, 401, 403, 409, 413, 422)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a persona; every open record is then scored against it in the background."""
        return service.create_persona(runtime(), data)


@blp.route(f"/personas/<{ID}:persona_id>")
class PersonaById(MethodView):
    """One persona."""

    @blp.response(200, PersonaOutSchema)
    @errors(blp, 401, 404)
    def get(self, persona_id: int) -> dict[str, Any]:
        """Read a persona."""
        return service.get_persona(runtime(), persona_id)

    @blp.arguments(PersonaPatchSchema)
    @blp.response(200, PersonaOutSchema)
    @errors(blp, 400, 401, 403, 404, 409, 413, 422)
    def patch(self, data: dict[str, Any], persona_id: int) -> dict[str, Any]:
        """Change a persona: a new version; a background rescore when its scoring rules changed."""
        return service.update_persona(runtime(), persona_id, data)

    @blp.response(204)
    @errors(blp, 401, 403, 404, 409)
    def delete(self, persona_id: int) -> None:
        """Remove a persona (its scores are dropped by a background rescore)."""
        service.delete_persona(runtime(), persona_id)


@blp.route(f"/personas/<{ID}:persona_id>/versions", methods=["GET"])
@blp.response(200, PersonaVersionListSchema)
@errors(blp, 401, 404)
def list_versions(persona_id: int) -> dict[str, Any]:
    """Every version of a persona, newest first."""
    return {"items": service.list_versions(runtime(), persona_id)}


@blp.route(f"/personas/<{ID}:persona_id>/review", methods=["POST"])
@blp.response(200, PersonaOutSchema)
@errors(blp, 401, 403, 404)
def review(persona_id: int) -> dict[str, Any]:
    """Mark the portrait reviewed today: no longer stale, reminder re-armed."""
    return service.mark_reviewed(runtime(), persona_id)


@blp.route(f"/personas/<{ID}:persona_id>/rescore")
class Rescore(MethodView):
    """Background rescoring of every open record for a persona."""

    @blp.response(202, RescoreRunSchema)
    @errors(blp, 401, 403, 404)
    def post(self, persona_id: int) -> dict[str, Any]:
        """Start a rescore (an already queued one is returned instead of a second)."""
        return queue_rescore(runtime(), persona_id, trigger="api")

    @blp.response(200, RescoreRunListSchema)
    @errors(blp, 401, 404)
    def get(self, persona_id: int) -> dict[str, Any]:
        """The latest rescores covering this persona, with progress."""
        return {"items": rescore_history(runtime(), persona_id)}


@blp.route(f"/records/<{ID}:record_id>/scores", methods=["GET"])
@blp.arguments(LanguageArgs, location="query")
@blp.response(200, RecordScoresSchema)
@errors(blp, 400, 401, 404, 422)
def get_record_scores(args: dict[str, Any], record_id: int) -> dict[str, Any]:
    """A record's fit to every persona with the reasons, the unknown fields worth asking about, and the trend."""
    return record_scores(runtime(), record_id, args["language"])


@blp.route("/score", methods=["POST"])
@blp.arguments(ScoreInSchema)
@blp.response(200, ScoreOutSchema)
@errors(blp, 400, 401, 413, 422)
def score(data: dict[str, Any]) -> dict[str, Any]:
    """Score field values (a form, a UI extension) against the personas, explained; nothing is stored."""
    return score_payload(runtime(), data)
