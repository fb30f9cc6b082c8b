"""Testing a connection before it is used: the token, its scopes, the pipelines and the webhook subscription,
each checked through the CRM's adapter and registry entry (adapters.checks), none stored."""

from __future__ import annotations

from typing import Any

from adapters.checks import run_checks
from adapters.errors import CRMError
from adapters.registry import kind_of
from service.models import Connection
from service.runtime import Runtime
from service.services.common import get_or_404
from service.services.connections import webhook_url


def check_connection(runtime: Runtime, connection_id: int, request_base: str) -> dict[str, Any]:
    """Each check with ok / failed / skipped and a reason, and `ok` when none failed. NotFoundError for an
    unknown connection; a CRM that refuses or fails is a failed check, never an error answer."""
    with runtime.read_uow() as uow:
        row = get_or_404(uow.session, Connection, connection_id, "Connection")
        kind, url = kind_of(row.kind), webhook_url(runtime, row, request_base)
        try:
            adapter = runtime.adapter(row)
        except CRMError as exc:  # settings that cannot build an adapter (saved before a check existed)
            return {"ok": False, "checks": [{"name": "auth", "status": "failed", "reason": exc.message}]}
    try:
        checks = run_checks(adapter, kind.check_webhooks, url)
    finally:
        adapter.close()
    views = [{"name": c.name, "status": c.status, "reason": c.reason} for c in checks]
    return {"ok": all(c.status != "failed" for c in checks), "checks": views}
