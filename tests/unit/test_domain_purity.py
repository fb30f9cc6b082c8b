"""The domain layer stays pure, small and documented (checked on the source, no imports needed)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "service" / "domain"
MODULES = sorted(DOMAIN.rglob("*.py"))
# Standard-library modules without I/O; anything else (flask, sqlalchemy, httpx, os, ...) is banned.
ALLOWED_IMPORTS = {
    "__future__",
    "bisect",
    "collections",
    "collections.abc",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "functools",
    "math",
    "numpy",  # pure computation over arrays (service/domain/analytics/columnar.py), like re2
    "numpy.typing",
    "operator",
    "re",
    "re2",  # google-re2: a linear-time regex engine, pure computation (service/domain/patterns.py)
    "typing",
    "urllib.parse",
}
MAX_LINES = 300


def tree_of(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_domain_package_has_modules() -> None:
    assert {"errors.py", "fields.py", "conditions.py", "gating.py", "messages.py"} <= {
        p.name for p in MODULES
    }


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(DOMAIN)))
def test_domain_modules_import_only_pure_stdlib_and_the_domain_itself(path: Path) -> None:
    for node in ast.walk(tree_of(path)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            assert name in ALLOWED_IMPORTS or name.startswith("service.domain"), f"{path.name} imports {name}"


# The one exception: score_rules generates the quick scorer, and only from `_source`, which refuses any line
# holding more than names, numbers and operators (see test_scoring's hostile-persona test).
GENERATES_CODE = "score_rules.py"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(DOMAIN)))
def test_domain_modules_never_evaluate_code(path: Path) -> None:
    for node in ast.walk(tree_of(path)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if path.name == GENERATES_CODE and node.func.id == "exec":
                source = node.args[0]
                assert isinstance(source, ast.Call) and isinstance(source.func, ast.Name), path.name
                assert source.func.id == "_source", f"{path.name} executes code not built by _source"
                continue
            assert node.func.id not in {"eval", "exec", "compile", "__import__", "open"}, path.name


def test_generated_code_refuses_anything_but_names_and_operators() -> None:
    from service.domain.score_rules import _source

    assert _source("f", "v", ["r0 = G0(get(K0), N0)"], "return r0").startswith("def f(v):")
    for line in ('r0 = "x"', "r0 = 1\nimport os", "r0 = b'\\x00'", "r0 = f(v); __import__(v)", "r0 = {}"):
        with pytest.raises(ValueError, match="refusing"):
            _source("f", "v", [line])


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(DOMAIN)))
def test_domain_modules_stay_small(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def public_definitions(module: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    found: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = []
    for node in module.body:
        if isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        ) and not node.name.startswith("_"):
            found.append(node)
            if isinstance(node, ast.ClassDef):
                found.extend(
                    item
                    for item in node.body
                    if isinstance(item, ast.FunctionDef) and not item.name.startswith("_")
                )
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(DOMAIN)))
def test_every_public_function_and_class_has_a_docstring(path: Path) -> None:
    module = tree_of(path)
    assert ast.get_docstring(module), f"{path.name} has no module docstring"
    for node in public_definitions(module):
        assert ast.get_docstring(node), f"{path.name}: {node.name} has no docstring"
