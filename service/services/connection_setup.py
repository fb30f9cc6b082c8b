"""Connecting a CRM from the admin pages: the connection is created and its pipelines mirrored at once, so its
board can be opened next; a connection whose CRM cannot be read with the credentials given is not kept."""

from __future__ import annotations

import logging
from typing import Any

from adapters.errors import CRMError
from adapters.kind import base_url_as_given
from adapters.registry import REGISTRY
from service.errors import NotFoundError, UpstreamError
from service.runtime import Runtime
from service.services.connections import create_connection, delete_connection, refresh_pipelines

log = logging.getLogger("qualify.connections")


def connect_crm(runtime: Runtime, data: dict[str, Any], request_base: str) -> dict[str, Any]:
    """Create a connection (as POST /v1/connections) and mirror its pipelines (as .../pipelines/refresh);
    returns the connection with them. InvalidInputError for a missing secret or a refused CRM address (nothing
    stored); UpstreamError when the CRM is unreachable or refuses the credentials (the connection is removed
    again, so the admin can simply correct the form and send it once more)."""
    created = create_connection(runtime, dict(data), request_base)
    try:
        return refresh_pipelines(runtime, created["id"], request_base)
    except (CRMError, UpstreamError) as exc:
        delete_connection(runtime, created["id"], purge=True)
        log.info("connection %s removed again: its CRM could not be read (%s)", created["id"], type(exc).__name__)
        if isinstance(exc, CRMError):
            raise UpstreamError(f"The CRM answered: {exc.vendor_message or exc.message}") from None
        raise


def crm_kind(name: str) -> dict[str, Any]:
    """What the form connecting a CRM of kind `name` asks for: its title, the API address to prefill (None when
    each account has its own), the secrets it takes and those it requires, and whether its address may itself
    hold a secret (then it is never shown back). NotFoundError for a CRM Qualify does not speak."""
    try:
        kind = REGISTRY[name]
    except KeyError:
        raise NotFoundError(f"No CRM of kind {name!r}.") from None
    return {"name": kind.name, "title": kind.title, "default_base_url": kind.default_base_url,
            "secrets": kind.secret_inputs, "required": kind.required_secrets,
            "secret_base_url": kind.split_base_url is not base_url_as_given}


def crm_kinds() -> list[dict[str, Any]]:
    """Every CRM Qualify speaks, in the registry's order (see crm_kind)."""
    return [crm_kind(name) for name in REGISTRY]
