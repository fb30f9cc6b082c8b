"""Exporting the stored configuration: fields, mappings, gates, personas and connection settings, never secrets."""

from __future__ import annotations

from typing import Any

from service.runtime import Runtime
from service.services.config_io.current import read_current
from service.services.config_io.document import render_yaml


def export_config(runtime: Runtime) -> dict[str, Any]:
    """The configuration as one document, in a stable order, with keys instead of database ids; ConflictError
    when two connections share a name."""
    with runtime.read_uow() as uow:
        return read_current(uow.session).document


def export_yaml(runtime: Runtime) -> str:
    """The configuration as the YAML file `qualify config export` writes (see export_config)."""
    return render_yaml(export_config(runtime))
