"""/v1/connections: CRM accounts, their pipelines and property mappings."""

from __future__ import annotations

from typing import Any

from flask import g, request
from flask.views import MethodView

from schemas.common import PageArgsSchema
from schemas.connections import (
    ConnectionDeleteArgsSchema,
    ConnectionInSchema,
    ConnectionOutSchema,
    ConnectionPageSchema,
    ConnectionPatchSchema,
    ConnectionTestSchema,
    CrmPropertiesSchema,
    MappingsInSchema,
    MappingsOutSchema,
    SyncRequestSchema,
    SyncRunSchema,
    SyncStatusSchema,
    WebhookHealthArgsSchema,
    WebhookHealthSchema,
)
from schemas.gates import ImportArgsSchema, ImportResultSchema
from service.api.auth import AuthProblem
from service.api.common import ID, errors, protected_blueprint, runtime
from service.services import connections as service
from service.services import mappings as mapping_service
from service.services import sync_runs as sync_service
from service.services.connection_test import check_connection
from service.services.native_rules import import_native_rules
from service.services.webhook_health import webhook_health

blp = protected_blueprint("connections", __name__, "/v1/connections", "CRM connections")

def is_admin() -> bool:
    """Whether the caller's key is an admin's (only admins see webhook URLs)."""
    return bool(g.get("role") == "admin")


def request_base() -> str:
    """The base URL this request came to: webhook URLs fall back to it when QUALIFY_PUBLIC_URL is unset."""
    return request.host_url


@blp.route("")
class Connections(MethodView):
    """The collection of connections."""

    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ConnectionPageSchema)
    @errors(blp, 400, 401, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List connections."""
        return service.list_connections(runtime(), args["page"], args["page_size"], request_base(), admin=is_admin())

    @blp.arguments(ConnectionInSchema)
    @blp.response(201, ConnectionOutSchema)
    @errors(blp, 400, 401, 403, 413, 422)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Connect a CRM account (credentials are stored encrypted and never returned)."""
        return service.create_connection(runtime(), data, request_base())


@blp.route(f"/<{ID}:connection_id>")
class ConnectionById(MethodView):
    """One connection."""

    @blp.response(200, ConnectionOutSchema)
    @errors(blp, 401, 404)
    def get(self, connection_id: int) -> dict[str, Any]:
        """Read a connection with its pipelines."""
        return service.get_connection(runtime(), connection_id, request_base(), admin=is_admin())

    @blp.arguments(ConnectionPatchSchema)
    @blp.response(200, ConnectionOutSchema)
    @errors(blp, 400, 401, 403, 404, 413, 422)
    def patch(self, data: dict[str, Any], connection_id: int) -> dict[str, Any]:
        """Change a connection."""
        return service.update_connection(runtime(), connection_id, data, request_base())

    @blp.arguments(ConnectionDeleteArgsSchema, location="query")
    @blp.response(204)
    @errors(blp, 400, 401, 403, 404, 422)
    def delete(self, args: dict[str, Any], connection_id: int) -> None:
        """Deactivate a connection (or, with ?purge=true, delete it with its data).

        Deactivated, its webhooks get 404, it is no longer synced, its waiting work is dropped and its audit
        kept; PATCH active=true resumes it. Purged, everything stored for it is deleted. Its id is never reused.
        """
        service.delete_connection(runtime(), connection_id, purge=args["purge"])


@blp.route(f"/<{ID}:connection_id>/pipelines/refresh", methods=["POST"])
@blp.response(200, ConnectionOutSchema)
@errors(blp, 401, 403, 404, 502)
def refresh_pipelines(connection_id: int) -> dict[str, Any]:
    """Pull pipelines and stages from the CRM."""
    return service.refresh_pipelines(runtime(), connection_id, request_base())


@blp.route(f"/<{ID}:connection_id>/test", methods=["POST"])
@blp.response(200, ConnectionTestSchema)
@errors(blp, 401, 403, 404)
def test_connection(connection_id: int) -> dict[str, Any]:
    """Check the connection now: the token (auth), its scopes, that pipelines are readable and, where the CRM
    lets the token read them, the webhook subscriptions. Each check answers ok, failed or skipped with a reason;
    a CRM that refuses is a failed check, not an error."""
    return check_connection(runtime(), connection_id, request_base())


@blp.route(f"/<{ID}:connection_id>/health", methods=["GET"])
@blp.arguments(WebhookHealthArgsSchema, location="query")
@blp.response(200, WebhookHealthSchema)
@errors(blp, 400, 401, 403, 404, 422)
def connection_health(args: dict[str, Any], connection_id: int) -> dict[str, Any]:
    """Whether the CRM reaches Qualify (admins only: it shows configuration problems): the last accepted webhook
    delivery, accepted deliveries and events and refused deliveries by reason in the last `hours` UTC hours,
    and the last sync run."""
    if not is_admin():
        raise AuthProblem(403, "Only an admin key may read a connection's health.")
    return webhook_health(runtime(), connection_id, args["hours"])


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
        return {"mappings": mapping_service.get_mappings(runtime(), connection_id)}

    @blp.arguments(MappingsInSchema)
    @blp.response(200, MappingsOutSchema)
    @errors(blp, 400, 401, 403, 404, 413, 422)
    def put(self, data: dict[str, Any], connection_id: int) -> dict[str, Any]:
        """Replace the mappings: each property must be one of the CRM's deal properties and each value_map key one
        of its options (read live; 422 names the closest). When the CRM cannot be read they are accepted with a
        warning. One property may feed several fields."""
        return mapping_service.replace_mappings(runtime(), connection_id, data["mappings"])


@blp.route(f"/<{ID}:connection_id>/sync")
class Sync(MethodView):
    """Incremental sync of a connection: start one, read status and history."""

    @blp.response(200, SyncStatusSchema)
    @errors(blp, 401, 404)
    def get(self, connection_id: int) -> dict[str, Any]:
        """The running or queued sync, if any, and the latest runs."""
        return sync_service.sync_status(runtime(), connection_id)

    @blp.arguments(SyncRequestSchema, required=False)
    @blp.response(202, SyncRunSchema)
    @errors(blp, 400, 401, 403, 404, 409, 413, 422)
    def post(self, data: dict[str, Any], connection_id: int) -> Any:
        """Queue a sync; the scheduler runs it within seconds. 409 while one is queued or running."""
        return sync_service.queue_sync(runtime(), connection_id, full=data.get("full", False), trigger="api")


@blp.route(f"/<{ID}:connection_id>/gates/import", methods=["POST"])
@blp.arguments(ImportArgsSchema, required=False)
@blp.response(200, ImportResultSchema)
@errors(blp, 400, 401, 403, 404, 413, 422, 502)
def import_native_gates(data: dict[str, Any], connection_id: int) -> dict[str, Any]:
    """Turn the CRM's own per-stage required fields (Pipedrive, amoCRM) into gates; a dry run by default."""
    return import_native_rules(runtime(), connection_id, dry_run=data.get("dry_run", True),
                               mode=data.get("mode", "audit"))
