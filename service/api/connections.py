"""/v1/connections: CRM accounts, their pipelines and property mappings."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView

from schemas.common import PageArgsSchema
from schemas.connections import (
    ConnectionInSchema,
    ConnectionOutSchema,
    ConnectionPageSchema,
    ConnectionPatchSchema,
    CrmPropertiesSchema,
    MappingsInSchema,
    MappingsOutSchema,
    SyncRequestSchema,
    SyncRunSchema,
    SyncStatusSchema,
)
from schemas.gates import ImportArgsSchema, ImportResultSchema
from service.api.common import ID, errors, protected_blueprint, runtime
from service.models import Connection
from service.services import connections as service
from service.services import sync as sync_service
from service.services.kinds import webhook_query
from service.services.native_rules import import_native_rules

blp = protected_blueprint("connections", __name__, "/v1/connections", "CRM connections")

VIEW_ATTRIBUTES = ("id", "name", "kind", "base_url", "account_id", "app_id", "language", "signature_versions",
                   "placeholders", "active", "self_hosted", "rate_limits", "sync_interval_seconds", "score_write_back",
                   "last_synced_at", "pipelines_synced_at", "created_at", "updated_at")


def webhook_url(row: Connection) -> str:
    """The URL to paste into the CRM's webhook settings (with Qualify's token where the CRM signs nothing)."""
    base = runtime().settings.public_url.rstrip("/") or request.host_url.rstrip("/")
    return f"{base}/v1/webhooks/{row.id}{webhook_query(row.kind, runtime().secrets(row))}"


def connection_view(row: Connection) -> dict[str, Any]:
    """The API view of a connection: no secrets, live pipelines only, and its webhook URL."""
    view = {name: getattr(row, name) for name in VIEW_ATTRIBUTES}
    view["webhook_url"] = webhook_url(row)
    view["pipelines"] = [
        {"external_id": p.external_id, "label": p.label, "order": p.order,
         "stages": [s for s in p.stages if not s.archived]}
        for p in row.pipelines if not p.archived
    ]
    return view


@blp.route("")
class Connections(MethodView):
    """The collection of connections."""

    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ConnectionPageSchema)
    @errors(blp, 401, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List connections."""
        with runtime().read_uow() as uow:
            page = service.list_connections(uow, args["page"], args["page_size"])
            return {**page, "items": [connection_view(c) for c in page["items"]]}

    @blp.arguments(ConnectionInSchema)
    @blp.response(201, ConnectionOutSchema)
    @errors(blp, 400, 401, 403, 413, 422)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Connect a CRM account (credentials are stored encrypted and never returned)."""
        with runtime().uow() as uow:
            row = service.create_connection(runtime(), uow, data)
            uow.commit()
            return connection_view(row)


@blp.route(f"/<{ID}:connection_id>")
class ConnectionById(MethodView):
    """One connection."""

    @blp.response(200, ConnectionOutSchema)
    @errors(blp, 401, 404)
    def get(self, connection_id: int) -> dict[str, Any]:
        """Read a connection with its pipelines."""
        with runtime().read_uow() as uow:
            return connection_view(service.get_connection(uow, connection_id))

    @blp.arguments(ConnectionPatchSchema)
    @blp.response(200, ConnectionOutSchema)
    @errors(blp, 400, 401, 403, 404, 413, 422)
    def patch(self, data: dict[str, Any], connection_id: int) -> dict[str, Any]:
        """Change a connection."""
        with runtime().uow() as uow:
            row = service.update_connection(runtime(), uow, connection_id, data)
            uow.commit()
            return connection_view(row)

    @blp.response(204)
    @errors(blp, 401, 403, 404)
    def delete(self, connection_id: int) -> None:
        """Delete a connection and everything stored for it."""
        with runtime().uow() as uow:
            service.delete_connection(uow, connection_id)
            uow.commit()


@blp.route(f"/<{ID}:connection_id>/pipelines/refresh", methods=["POST"])
@blp.response(200, ConnectionOutSchema)
@errors(blp, 401, 403, 404, 502)
def refresh_pipelines(connection_id: int) -> dict[str, Any]:
    """Pull pipelines and stages from the CRM."""
    service.refresh_pipelines(runtime(), connection_id)
    with runtime().uow() as uow:
        return connection_view(service.get_connection(uow, connection_id))


@blp.route(f"/<{ID}:connection_id>/properties", methods=["GET"])
@blp.response(200, CrmPropertiesSchema)
@errors(blp, 401, 404, 502)
def crm_properties(connection_id: int) -> dict[str, Any]:
    """The CRM's deal properties, read live, to choose what to map."""
    return {"items": service.crm_properties(runtime(), connection_id)}


@blp.route(f"/<{ID}:connection_id>/mappings")
class Mappings(MethodView):
    """Property-to-field mappings of a connection."""

    @blp.response(200, MappingsOutSchema)
    @errors(blp, 401, 404)
    def get(self, connection_id: int) -> dict[str, Any]:
        """Read the mappings."""
        with runtime().read_uow() as uow:
            return {"mappings": service.get_mappings(uow, connection_id)}

    @blp.arguments(MappingsInSchema)
    @blp.response(200, MappingsOutSchema)
    @errors(blp, 400, 401, 403, 404, 413, 422)
    def put(self, data: dict[str, Any], connection_id: int) -> dict[str, Any]:
        """Replace the mappings."""
        with runtime().uow() as uow:
            result = service.replace_mappings(uow, connection_id, data["mappings"])
            uow.commit()
            return {"mappings": result}


@blp.route(f"/<{ID}:connection_id>/sync")
class Sync(MethodView):
    """Incremental sync of a connection: start one, read status and history."""

    @blp.response(200, SyncStatusSchema)
    @errors(blp, 401, 404)
    def get(self, connection_id: int) -> dict[str, Any]:
        """The running or queued sync, if any, and the latest runs."""
        with runtime().read_uow() as uow:
            history = sync_service.sync_history(uow, connection_id)
        current = next((r for r in history if r.status in sync_service.ACTIVE), None)
        return {"current": current, "history": history}

    @blp.arguments(SyncRequestSchema, required=False)
    @blp.response(202, SyncRunSchema)
    @errors(blp, 400, 401, 403, 404, 409, 413, 422)
    def post(self, data: dict[str, Any], connection_id: int) -> Any:
        """Queue a sync; the scheduler runs it within seconds. 409 while one is queued or running."""
        with runtime().uow() as uow:
            run = sync_service.request_sync(uow, connection_id, full=data.get("full", False), trigger="api",
                                            now=runtime().clock(), stale_after=runtime().settings.sync_stale_seconds)
            uow.commit()
            return run


@blp.route(f"/<{ID}:connection_id>/gates/import", methods=["POST"])
@blp.arguments(ImportArgsSchema, required=False)
@blp.response(200, ImportResultSchema)
@errors(blp, 400, 401, 403, 404, 413, 422, 502)
def import_native_gates(data: dict[str, Any], connection_id: int) -> dict[str, Any]:
    """Turn the CRM's own per-stage required fields (Pipedrive, amoCRM) into gates; a dry run by default."""
    return import_native_rules(runtime(), connection_id, dry_run=data.get("dry_run", True),
                               mode=data.get("mode", "enforce"))
