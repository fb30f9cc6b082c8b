"""The layering rules of DESIGN.md, checked on the source tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from schemas import common
from service.domain.fields import FieldType
from service.domain.gating import GateMode, Outcome, Reason

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(folder: str) -> list[tuple[str, str]]:
    """(file, imported module) for every import under a top-level folder."""
    found = []
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found += [(str(path), alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.append((str(path), node.module))
    return found


@pytest.mark.parametrize("folder", ["adapters", "schemas"])
def test_adapters_and_schemas_never_import_the_service(folder: str) -> None:
    offenders = [(f, m) for f, m in imported_modules(folder) if m == "service" or m.startswith("service.")]
    assert offenders == []


def test_the_domain_does_no_io() -> None:
    forbidden = (
        "flask",
        "sqlalchemy",
        "httpx",
        "werkzeug",
        "requests",
        "socket",
        "adapters",
        "service.api",
        "service.services",
        "service.models",
    )
    offenders = [(f, m) for f, m in imported_modules("service/domain") if m.startswith(forbidden)]
    assert offenders == []


def test_schema_vocabularies_match_the_domain() -> None:
    assert set(common.FIELD_TYPES) == {t.value for t in FieldType}
    assert set(common.GATE_MODES) == {m.value for m in GateMode}
    assert set(common.OUTCOMES) == {o.value for o in Outcome}
    assert set(common.REASONS) == {r.value for r in Reason}
