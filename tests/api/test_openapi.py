"""The committed openapi.yaml is what the code generates, and it documents every answer precisely."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "openapi.yaml"
METHODS = ("get", "post", "put", "patch", "delete")


def generate(tmp_path: Path) -> str:
    """Run `flask openapi write` the way `make openapi` does, in a scratch instance folder."""
    out = tmp_path / "openapi.yaml"
    env = {**os.environ, "QUALIFY_INSTANCE_PATH": str(tmp_path / "instance"),
           "QUALIFY_SECRET_KEY": Fernet.generate_key().decode(),
           "QUALIFY_DATABASE_URL": f"sqlite:///{tmp_path / 'openapi.db'}"}
    command = [sys.executable, "-m", "flask", "--app", "service:create_app", "openapi", "write", "--format=yaml",
               str(out)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return out.read_text()


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(COMMITTED.read_text())  # type: ignore[no-any-return]


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, item[method]) for path, item in spec["paths"].items() for method in METHODS
            if method in item]


def test_the_committed_openapi_yaml_is_what_the_code_generates(tmp_path: Path) -> None:
    assert COMMITTED.exists(), "openapi.yaml is missing: run `make openapi` and commit it"

    generated = generate(tmp_path)

    assert generated == COMMITTED.read_text(), (
        "openapi.yaml is out of date with the schemas and views: run `make openapi` and commit the result")


def test_no_operation_has_a_catch_all_default_response(spec: dict[str, Any]) -> None:
    offenders = [f"{m.upper()} {p}" for p, m, op in operations(spec) if "default" in op["responses"]]

    assert offenders == []


def test_every_error_response_is_a_documented_problem_document(spec: dict[str, Any]) -> None:
    for path, method, op in operations(spec):
        for status, response in op["responses"].items():
            if int(status) < 400:
                continue
            assert list(response["content"]) == ["application/problem+json"], (method, path, status)
            assert response["content"]["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"}, (method, path, status)


def test_every_protected_operation_documents_401_and_every_write_documents_403(spec: dict[str, Any]) -> None:
    for path, method, op in operations(spec):
        if op.get("security") == []:
            continue
        assert "401" in op["responses"], (method, path)
        if method != "get" and path not in ("/v1/gate/check", "/v1/score"):  # the two a manager may call
            assert "403" in op["responses"], (method, path)


def test_every_operation_with_a_body_documents_malformed_too_large_and_invalid(spec: dict[str, Any]) -> None:
    for path, method, op in operations(spec):
        if "requestBody" in op and path.startswith("/v1/") and "webhooks" not in path:
            assert {"400", "413", "422"} <= set(op["responses"]), (method, path)


def test_every_id_in_a_path_is_a_bounded_positive_integer(spec: dict[str, Any]) -> None:
    for path, item in spec["paths"].items():
        for parameter in item.get("parameters", []):
            if parameter["in"] != "path":
                continue
            if path == "/v1/keys/{prefix}":  # a key is named by its public prefix, never by a database id
                assert parameter["schema"] == {"type": "string", "minLength": 8, "maxLength": 8}, path
            elif path == "/v1/analytics/segments/{segment}/customers":  # a segment or cell name, never an id
                assert parameter["schema"] == {"type": "string", "minLength": 1, "maxLength": 32}, path
            else:
                assert parameter["schema"] == {"type": "integer", "minimum": 1, "maximum": 2_147_483_647}, path


def test_request_bodies_reject_unknown_properties(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for name in ("FieldIn", "FieldPatch", "ConnectionIn", "ConnectionPatch", "GateIn", "GatePatch", "GateCheckIn",
                 "MappingsIn", "Constraints", "Requirement"):
        assert schemas[name]["additionalProperties"] is False, name


def test_secrets_are_write_only(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]

    for name in ("ConnectionIn", "ConnectionPatch"):
        for secret in ("access_token", "client_secret"):
            assert schemas[name]["properties"][secret]["writeOnly"] is True
    assert not {"access_token", "client_secret"} & set(schemas["ConnectionOut"]["properties"])
