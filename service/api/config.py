"""/v1/config: the whole configuration as one document (export), and applying such a document (plan, apply)."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView

from schemas.config import (
    ConfigApplyArgsSchema,
    ConfigDocumentSchema,
    ConfigExportArgsSchema,
    ConfigFileSchema,
    ConfigPlanSchema,
)
from service.api.common import errors, protected_blueprint, request_body, runtime
from service.services.config_io.apply import apply_config
from service.services.config_io.document import dump_yaml
from service.services.config_io.export import export_config, export_yaml

blp = protected_blueprint("config", __name__, "/v1/config", "Configuration as code: export and apply one file")

YAML = "application/yaml"
FILE_BODY = {"schema": ConfigFileSchema}
YAML_TYPES = (YAML, "application/x-yaml", "text/yaml", "text/x-yaml")


def wants_yaml(format_: str | None) -> bool:
    """YAML when ?format=yaml, or without ?format when the Accept header prefers a YAML type to JSON."""
    if format_ is not None:
        return format_ == "yaml"
    return request.accept_mimetypes.best_match(["application/json", *YAML_TYPES]) in YAML_TYPES


@blp.route("")
class Config(MethodView):
    """The configuration: fields, mappings, gates, personas and connection settings (never secrets)."""

    @blp.arguments(ConfigExportArgsSchema, location="query")
    @blp.response(200, ConfigDocumentSchema)
    @blp.doc(responses={"200": {"description": "OK", "content": {
        "application/json": {"schema": ConfigDocumentSchema}, YAML: {"schema": ConfigDocumentSchema}}}})
    @errors(blp, 400, 401, 409, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Export the configuration, with keys instead of ids, in a stable order (YAML or JSON)."""
        if wants_yaml(args.get("format")):
            return Response(export_yaml(runtime()), mimetype=YAML)
        return export_config(runtime())

    @blp.arguments(ConfigApplyArgsSchema, location="query")
    @blp.doc(requestBody={"required": True, "description": "the file `qualify config export` writes, as YAML or JSON",
                          "content": {YAML: FILE_BODY, "application/json": FILE_BODY}})
    @blp.response(200, ConfigPlanSchema)
    @blp.doc(responses={"200": {"description": "OK", "content": {
        "application/json": {"schema": ConfigPlanSchema}, YAML: {"schema": ConfigPlanSchema}}}})
    @errors(blp, 400, 401, 403, 409, 413, 422, descriptions={
        422: "The file is invalid or cannot be applied here: `errors` maps each path in it to what is wrong"})
    def post(self, args: dict[str, Any]) -> Any:
        """Apply a configuration file in one transaction (or, with dry_run=true, only show the plan): what the
        file leaves out is removed, except connections, which apply never creates or deletes. The plan carries,
        for each connection whose gates change, the preview of its gates (replaying `replay_days` of moves)."""
        plan = apply_config(runtime(), request_body(), source="the request body",
                            as_json=request.mimetype == "application/json", dry_run=args["dry_run"],
                            replay_days=args["replay_days"])
        if wants_yaml(args.get("format")):
            return Response(dump_yaml(ConfigPlanSchema().dump(plan)), mimetype=YAML)
        return plan
