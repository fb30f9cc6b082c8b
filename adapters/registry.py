"""Every CRM Qualify speaks, declared once: a plain dict of name -> CRMKind, nothing built at import.

Each CRM's entry lives next to its adapter (`adapters/<crm>_kind.py`); adding a CRM adds one line here.
"""

from __future__ import annotations

from adapters import amocrm_kind, bitrix24_kind, hubspot_kind, pipedrive_kind
from adapters.kind import CRMKind


class UnknownCRM(KeyError):
    """No CRM of this name is registered."""


REGISTRY: dict[str, CRMKind] = {kind.name: kind for kind in (
    hubspot_kind.KIND,
    pipedrive_kind.KIND,
    amocrm_kind.KIND,
    bitrix24_kind.KIND,
)}  # fmt: skip


def kind_of(name: str) -> CRMKind:
    """The registry entry of the CRM called `name` ("hubspot"); raises UnknownCRM."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownCRM(f"no CRM of kind {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
