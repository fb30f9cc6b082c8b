"""The layering rules of DESIGN.md, checked on the source tree."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

from schemas import common
from service.domain.fields import FieldType
from service.domain.issues import Outcome, Reason
from service.domain.pipeline import GateMode
from service.models.statuses import EventStatus

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(folder: str) -> list[tuple[str, str]]:
    """(file, imported module) for every import under a top-level folder."""
    return imports_of((ROOT / folder).rglob("*.py"))


def imports_of(paths: Iterable[Path]) -> list[tuple[str, str]]:
    """(file, imported module) for every import in the given files."""
    found = []
    for path in paths:
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
    assert set(common.EVENT_STATUSES) == {s.value for s in EventStatus}


def interface_files() -> list[Path]:
    """The modules of the two interfaces over the use cases (API and web views) and the CLI."""
    return [p for folder in ("service/api", "service/web") for p in (ROOT / folder).rglob("*.py")] + [
        ROOT / "service/cli.py"]


def test_views_and_the_cli_never_commit_a_unit_of_work() -> None:
    offenders = [str(p) for p in interface_files() if "commit(" in p.read_text()]
    assert offenders == []


def test_views_and_the_cli_never_touch_the_models() -> None:
    offenders = [(f, m) for f, m in imports_of(interface_files())
                 if m == "service.models" or m.startswith("service.models.")]
    assert offenders == []
