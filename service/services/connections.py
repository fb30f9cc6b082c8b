"""Admin use cases for CRM connections, their pipelines and property mappings."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from adapters.base import CRMAdapter, PipelineInfo
from adapters.errors import CRMError
from adapters.registry import kind_of
from adapters.safety import UnsafeURLError, check_crm_url
from service.crm import store_base_url
from service.db import utcnow
from service.errors import InvalidInputError, UpstreamError
from service.models import (
    ActionStatus,
    Connection,
    EventStatus,
    InboundEvent,
    OutboxAction,
    Pipeline,
    RunStatus,
    Stage,
    SyncRun,
)
from service.runtime import Runtime
from service.services.common import get_or_404, paginate, row_view
from service.services.connection_secrets import SECRET_INPUTS, check_secrets, new_webhook_token, webhook_query
from service.services.people import refresh_people
from service.services.purchases import check_margin_field, refresh_margins
from service.services.stored_config import bump_config

log = logging.getLogger("qualify.connections")
T = TypeVar("T")


VIEW_ATTRIBUTES = ("id", "name", "kind", "base_url", "account_id", "app_id", "language", "signature_versions",
                   "placeholders", "active", "self_hosted", "rate_limits", "sync_interval_seconds", "score_write_back",
                   "margin_field", "last_synced_at", "pipelines_synced_at", "created_at", "updated_at")


def webhook_url(runtime: Runtime, row: Connection, request_base: str) -> str | None:
    """The URL to paste into the CRM's webhook settings (with Qualify's token where the CRM signs nothing),
    under QUALIFY_PUBLIC_URL. Only the embedded mode falls back to the base URL the request came to; a
    production deployment never builds it from the request's Host header (None until the setting is made)."""
    base = runtime.settings.public_url.rstrip("/") or (request_base.rstrip("/") if runtime.settings.embedded else "")
    if not base:
        return None
    return f"{base}/v1/webhooks/{row.id}{webhook_query(row.kind, runtime.secrets(row))}"


def connection_view(runtime: Runtime, row: Connection, request_base: str, *, admin: bool) -> dict[str, Any]:
    """The API view of a connection: no secrets, live pipelines only, and for admins its webhook URL (which
    carries the token authenticating amoCRM and Pipedrive webhooks)."""
    view = {name: getattr(row, name) for name in VIEW_ATTRIBUTES}
    view["base_url"] = kind_of(row.kind).shown_base_url(runtime.connector.settings(row))
    if admin:
        view["webhook_url"] = webhook_url(runtime, row, request_base)
    view["pipelines"] = [
        {"external_id": p.external_id, "label": p.label, "order": p.order,
         "stages": [row_view(s) for s in p.stages if not s.archived]}
        for p in row.pipelines if not p.archived
    ]
    return view


def list_connections(runtime: Runtime, page: int, page_size: int, request_base: str, *,
                     admin: bool) -> dict[str, Any]:
    """A page of connections ordered by id."""
    query = select(Connection).options(selectinload(Connection.pipelines).selectinload(Pipeline.stages))
    with runtime.read_uow() as uow:
        result = paginate(uow.session, query.order_by(Connection.id), page, page_size)
        return {**result, "items": [connection_view(runtime, c, request_base, admin=admin) for c in result["items"]]}


def get_connection(runtime: Runtime, connection_id: int, request_base: str, *, admin: bool) -> dict[str, Any]:
    """One connection with its pipelines; NotFoundError if absent."""
    with runtime.read_uow() as uow:
        return connection_view(runtime, _connection(uow.session, connection_id), request_base, admin=admin)


def _connection(session: Session, connection_id: int) -> Connection:
    return get_or_404(session, Connection, connection_id, "Connection")


def check_base_url(runtime: Runtime, kind: str, url: str | None, *, self_hosted: bool = False) -> str:
    """The normalized CRM base URL, or InvalidInputError when it is missing, not one of the CRM's hosts
    (self-hosted Bitrix24 only with the admin's opt-in), or resolves to an internal address (loopback
    only with QUALIFY_ALLOW_LOOPBACK_CRM, for the sandboxes)."""
    default = kind_of(kind).default_base_url
    url = url or default
    if not url:
        raise InvalidInputError(f"A {kind} connection needs base_url (the account's own address).",
                                {"base_url": ["Required for this CRM."]})
    if url.rstrip("/") == default:
        return url.rstrip("/")
    try:
        return check_crm_url(kind, url, allow_loopback=runtime.settings.allow_loopback_crm,
                             allow_self_hosted=self_hosted)
    except UnsafeURLError as exc:
        raise InvalidInputError(f"Refused CRM base URL: {exc}", {"base_url": [f"{exc} ({exc.reason})"]}) from None


def create_connection(runtime: Runtime, data: dict[str, Any], request_base: str) -> dict[str, Any]:
    """Store a connection with its secrets encrypted (plus a generated webhook token where the CRM
    signs nothing); InvalidInputError for a missing secret or a refused CRM host."""
    with runtime.uow() as uow:
        row = add_connection(runtime, uow.session, data)
        uow.commit()
        return connection_view(runtime, row, request_base, admin=True)


def add_connection(runtime: Runtime, session: Session, data: dict[str, Any]) -> Connection:
    """Add a connection to the session's transaction (see create_connection)."""
    secrets = {k: data.pop(k) for k in SECRET_INPUTS if data.get(k) is not None}
    url = check_base_url(runtime, data["kind"], data.get("base_url"), self_hosted=bool(data.get("self_hosted")))
    check_secrets(data["kind"], secrets, url)
    check_margin_field(session, data.get("margin_field"))
    data["base_url"] = store_base_url(data["kind"], url, secrets)
    token = new_webhook_token(data["kind"])
    if token:
        secrets["webhook_token"] = token
    row = Connection(**data, credentials_encrypted=runtime.vault.encrypt(secrets))
    session.add(row)
    session.flush()
    return row


def update_connection(runtime: Runtime, connection_id: int, data: dict[str, Any],
                      request_base: str) -> dict[str, Any]:
    """Change a connection; secrets given replace the stored ones. NotFoundError, InvalidInputError for a
    refused CRM host."""
    with runtime.uow() as uow:
        row = _connection(uow.session, connection_id)
        given = {k: data.pop(k) for k in SECRET_INPUTS if k in data}
        secrets = {**runtime.secrets(row), **given}
        if "base_url" in data or "self_hosted" in data:
            url = check_base_url(runtime, row.kind, data.get("base_url", row.base_url),
                                 self_hosted=bool(data.get("self_hosted", row.self_hosted)))
            data["base_url"] = store_base_url(row.kind, url, secrets) if "base_url" in data else url
        if given or "base_url" in data:
            row.credentials_encrypted = runtime.vault.encrypt(secrets)
        if "margin_field" in data:
            check_margin_field(uow.session, data["margin_field"])
        for name, value in data.items():
            setattr(row, name, value)
        row.config_version += 1
        uow.session.flush()
        if "margin_field" in data:
            refresh_margins(uow.session, connection_id)
        uow.commit()
        return connection_view(runtime, row, request_base, admin=True)


DEACTIVATED = "the connection was deactivated"


def delete_connection(runtime: Runtime, connection_id: int, *, purge: bool = False) -> None:
    """Deactivate a connection, keeping its audit (records, transitions, events, sync runs): its webhooks are
    refused from now on, it is no longer synced, and its work not yet started is dropped (queued syncs fail,
    events waiting are ignored, CRM actions waiting fail, each saying why). Deactivating twice is harmless;
    PATCH active=true resumes it. With `purge`, delete it with everything stored for it. NotFoundError if absent.
    Its id is never given to another connection, so an old webhook URL never reaches another CRM account."""
    with runtime.uow() as uow:
        row = _connection(uow.session, connection_id)
        if purge:
            uow.session.delete(row)
        elif row.active:
            _deactivate(uow.session, row, runtime.clock())
        uow.commit()
    log.info("connection %s %s", connection_id, "purged with its data" if purge else "deactivated")


def _deactivate(session: Session, row: Connection, now: datetime) -> None:
    row.active = False
    bump_config(session, row.id)  # verifiers and adapters cached for it are dropped
    of_row = {"connection_id": row.id}
    session.execute(update(SyncRun).filter_by(**of_row, status=RunStatus.QUEUED).values(
        status=RunStatus.FAILED, finished_at=now, last_error=DEACTIVATED))
    session.execute(update(InboundEvent).filter_by(**of_row, status=EventStatus.RECEIVED).values(
        status=EventStatus.IGNORED, processed_at=now, error=DEACTIVATED))
    session.execute(update(OutboxAction).filter_by(**of_row, status=ActionStatus.PENDING).values(
        status=ActionStatus.FAILED, last_error=DEACTIVATED))


def _stage_kind(is_closed: bool, is_won: bool) -> str:
    if is_won:
        return "won"
    return "lost" if is_closed else "open"


def apply_pipelines(session: Session, connection: Connection, infos: tuple[PipelineInfo, ...]) -> None:
    """Mirror the CRM's pipelines: upsert by external id, archive what the CRM no longer has."""
    existing = {p.external_id: p for p in connection.pipelines}
    seen: set[str] = set()
    for info in infos:
        seen.add(info.id)
        pipeline = existing.get(info.id) or Pipeline(external_id=info.id, connection=connection)
        pipeline.label, pipeline.order, pipeline.archived = info.label, info.order, False
        stages = {s.external_id: s for s in pipeline.stages}
        for stage_info in info.stages:
            stage = stages.pop(stage_info.id, None) or Stage(external_id=stage_info.id, pipeline=pipeline)
            stage.label, stage.order = stage_info.label, stage_info.order
            stage.kind = _stage_kind(stage_info.is_closed, stage_info.is_won)
            stage.probability, stage.archived = stage_info.probability, False
        for gone in stages.values():
            gone.archived = True
        session.add(pipeline)
    for external_id, pipeline in existing.items():
        if external_id not in seen:
            pipeline.archived = True
    connection.pipelines_synced_at = utcnow()
    bump_config(session, connection.id)
    session.flush()


def ask_crm(runtime: Runtime, connection_id: int, call: Callable[[CRMAdapter], T]) -> T:
    """Run one adapter call for a request; CRM errors propagate, and an answer the adapter cannot read
    (the URL is not that CRM, a changed API) becomes an UpstreamError instead of a crash."""
    with runtime.read_uow() as uow:
        adapter = runtime.adapter(_connection(uow.session, connection_id))
    try:
        return call(adapter)
    except CRMError:
        raise
    except Exception as exc:
        log.warning("connection %s: unreadable CRM answer: %r", connection_id, exc)
        raise UpstreamError(f"The CRM's answer could not be read ({type(exc).__name__}); "
                            "check the connection's base_url and kind.") from None
    finally:
        adapter.close()


def refresh_pipelines(runtime: Runtime, connection_id: int, request_base: str) -> dict[str, Any]:
    """Pull pipelines and stages from the CRM and mirror them; returns the connection. CRM errors propagate."""
    def read(adapter: CRMAdapter) -> tuple[PipelineInfo, ...]:
        refresh_people(runtime, connection_id, adapter)  # the reports' owners and movers, read alongside
        return adapter.list_pipelines()

    infos = ask_crm(runtime, connection_id, read)
    with runtime.uow() as uow:
        connection = _connection(uow.session, connection_id)
        apply_pipelines(uow.session, connection, infos)
        uow.commit()
        return connection_view(runtime, connection, request_base, admin=True)


def crm_properties(runtime: Runtime, connection_id: int) -> list[dict[str, Any]]:
    """The CRM's deal properties, read live, for choosing what to map."""
    properties = ask_crm(runtime, connection_id, lambda adapter: adapter.list_deal_properties())
    return [
        {"name": p.name, "label": p.label, "type": p.type, "field_type": p.field_type,
         "options": [{"value": o.value, "label": o.label} for o in p.options]}
        for p in properties
    ]
