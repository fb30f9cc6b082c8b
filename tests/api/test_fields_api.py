"""/v1/fields: CRUD, validation problems, body limits and pagination."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.api.conftest import assert_problem, define_field, define_gate, error_paths

INDUSTRY = {"key": "industry", "label": "Industry", "label_ru": "Отрасль", "type": "enum", "group": "firmographic",
            "description": "What the customer does", "constraints": {"options": ["retail", "it"]}}


def test_given_a_valid_field_when_created_then_201_and_readable(client: Any, admin_headers: dict[str, str]) -> None:
    response = client.post("/v1/fields", json=INDUSTRY, headers=admin_headers)

    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert {k: created[k] for k in ("key", "label", "label_ru", "type", "group", "description")} == {
        k: INDUSTRY[k] for k in ("key", "label", "label_ru", "type", "group", "description")}
    assert created["constraints"] == {"options": ["retail", "it"]}
    assert created["created_at"].endswith(("Z", "+00:00"))
    fetched = client.get(f"/v1/fields/{created['id']}", headers=admin_headers)
    assert fetched.status_code == 200
    assert fetched.get_json() == created


def test_given_numeric_bounds_when_created_then_they_are_kept_exactly(client: Any,
                                                                      admin_headers: dict[str, str]) -> None:
    field = define_field(client, admin_headers, "budget", "money", constraints={"min": 0.5, "max": 1000000})

    assert field["constraints"] == {"min": "0.5", "max": "1000000"}


def test_given_a_field_when_patched_then_label_and_constraints_change_but_key_and_type_stay(
        client: Any, admin_headers: dict[str, str]) -> None:
    field = define_field(client, admin_headers, "company_size", "integer", constraints={"min": 1})

    response = client.patch(f"/v1/fields/{field['id']}", json={"label": "Headcount", "constraints": {"min": 10}},
                            headers=admin_headers)

    assert response.status_code == 200, response.get_json()
    patched = response.get_json()
    assert (patched["label"], patched["constraints"], patched["key"], patched["type"]) == (
        "Headcount", {"min": "10"}, "company_size", "integer")


@pytest.mark.parametrize("change", [{"key": "other"}, {"type": "text"}])
def test_given_a_field_when_patching_key_or_type_then_422_naming_it(client: Any, admin_headers: dict[str, str],
                                                                    change: dict[str, str]) -> None:
    field = define_field(client, admin_headers, "company_size", "integer")

    body = assert_problem(client.patch(f"/v1/fields/{field['id']}", json=change, headers=admin_headers), 422)

    assert error_paths(body) == set(change)


def test_given_a_field_when_deleted_then_204_and_gone(client: Any, admin_headers: dict[str, str]) -> None:
    field = define_field(client, admin_headers, "pains")

    assert client.delete(f"/v1/fields/{field['id']}", headers=admin_headers).status_code == 204

    gone = client.get(f"/v1/fields/{field['id']}", headers=admin_headers)
    assert_problem(gone, 404, detail_contains="does not exist")
    assert_problem(client.delete(f"/v1/fields/{field['id']}", headers=admin_headers), 404)
    assert_problem(client.patch(f"/v1/fields/{field['id']}", json={"label": "X"}, headers=admin_headers), 404)


def test_given_an_existing_key_when_created_again_then_409(client: Any, admin_headers: dict[str, str]) -> None:
    define_field(client, admin_headers, "industry")

    response = client.post("/v1/fields", json={"key": "industry", "label": "Again", "type": "text"},
                           headers=admin_headers)

    assert_problem(response, 409, detail_contains="industry")


def test_given_an_unknown_body_field_when_creating_then_422_naming_it(client: Any,
                                                                     admin_headers: dict[str, str]) -> None:
    response = client.post("/v1/fields", json={**INDUSTRY, "colour": "red"}, headers=admin_headers)

    body = assert_problem(response, 422)
    assert error_paths(body) == {"colour"}
    assert body["errors"]["colour"] == ["Unknown field."]


def test_given_an_unknown_nested_constraint_when_creating_then_422_with_its_path(
        client: Any, admin_headers: dict[str, str]) -> None:
    body = {"key": "notes", "label": "Notes", "type": "text", "constraints": {"max_len": 5}}

    problem = assert_problem(client.post("/v1/fields", json=body, headers=admin_headers), 422)

    assert error_paths(problem) == {"constraints.max_len"}


@pytest.mark.parametrize(("body", "path"), [
    ({"key": 5, "label": "X", "type": "text"}, "key"),
    ({"key": "x", "label": ["X"], "type": "text"}, "label"),
    ({"key": "x", "label": "X", "type": "colour"}, "type"),
    ({"key": "x", "label": "X", "type": "text", "group": "astrology"}, "group"),
    ({"key": "Bad Key", "label": "X", "type": "text"}, "key"),
    ({"key": "x", "label": "   ", "type": "text"}, "label"),
    ({"key": "x", "label": "X", "type": "text", "constraints": "none"}, "constraints._schema"),
    ({"key": "x", "label": "X", "type": "text", "constraints": {"min_length": "3"}}, "constraints.min_length"),
    ({"key": "x", "label": "X", "type": "number", "constraints": {"min": "3"}}, "constraints.min"),
    ({"key": "x", "label": "X", "type": "number", "constraints": {"min": True}}, "constraints.min"),
    ({"label": "X", "type": "text"}, "key"),
])
def test_given_wrong_types_when_creating_then_422_naming_the_field(client: Any, admin_headers: dict[str, str],
                                                                  body: dict[str, Any], path: str) -> None:
    problem = assert_problem(client.post("/v1/fields", json=body, headers=admin_headers), 422)

    assert path in error_paths(problem), problem


@pytest.mark.parametrize(("body", "path"), [
    ({"type": "text", "constraints": {"regex": "([a-z"}}, "constraints.regex"),
    ({"type": "number", "constraints": {"min": 10, "max": 1}}, "constraints.min"),
    ({"type": "text", "constraints": {"min_length": 10, "max_length": 2}}, "constraints.min_length"),
    ({"type": "enum"}, "constraints.options"),
    ({"type": "multi_enum", "constraints": {"options": []}}, "constraints.options"),
    ({"type": "text", "constraints": {"options": ["a"]}}, "constraints.options"),
    ({"type": "boolean", "constraints": {"min": 1}}, "constraints.min"),
    ({"type": "enum", "constraints": {"options": ["a", "a"]}}, "constraints.options"),
    ({"type": "multi_enum", "constraints": {"options": ["a;b"]}}, "constraints.options[0]"),
])
def test_given_constraints_that_break_the_rules_when_creating_then_422_naming_them(
        client: Any, admin_headers: dict[str, str], body: dict[str, Any], path: str) -> None:
    response = client.post("/v1/fields", json={"key": "x", "label": "X", **body}, headers=admin_headers)

    problem = assert_problem(response, 422)
    assert path in error_paths(problem), problem
    assert client.get("/v1/fields", headers=admin_headers).get_json()["total"] == 0


def test_given_constraints_that_break_the_rules_when_patching_then_422_and_nothing_changes(
        client: Any, admin_headers: dict[str, str]) -> None:
    field = define_field(client, admin_headers, "budget", "number", constraints={"min": 1, "max": 10})

    response = client.patch(f"/v1/fields/{field['id']}", json={"constraints": {"min": 10, "max": 1}},
                            headers=admin_headers)

    assert "constraints.min" in error_paths(assert_problem(response, 422))
    assert client.get(f"/v1/fields/{field['id']}", headers=admin_headers).get_json()["constraints"] == {
        "min": "1", "max": "10"}


@pytest.mark.parametrize("raw", [b'{"key": "x", "label": ', b"not json", b"\xff\xfe", b"[" * 5000 + b"]" * 5000,
                                 b'{"a":' * 3000 + b"1" + b"}" * 3000])
def test_given_malformed_json_when_creating_then_400_problem(client: Any, admin_headers: dict[str, str],
                                                             raw: bytes) -> None:
    response = client.post("/v1/fields", data=raw, content_type="application/json", headers=admin_headers)

    assert_problem(response, 400, detail_contains="not valid JSON")


def test_given_a_body_over_the_limit_when_creating_then_413_problem(make_client: Callable[..., Any],
                                                                     admin_headers: dict[str, str]) -> None:
    small = make_client(max_body_bytes=2000)
    body = {"key": "notes", "label": "Notes", "type": "text", "description": "x" * 1990}

    response = small.post("/v1/fields", data=json.dumps(body), content_type="application/json",
                          headers=admin_headers)

    assert_problem(response, 413)
    assert small.get("/v1/fields", headers=admin_headers).get_json()["total"] == 0
    fits = {"key": "notes", "label": "Notes", "type": "text", "description": "x" * 1000}
    assert small.post("/v1/fields", json=fits, headers=admin_headers).status_code == 201


def test_given_a_field_a_gate_requires_when_deleting_then_409_naming_the_gate(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    field = define_field(client, admin_headers, "industry")
    gate = define_gate(client, admin_headers, connection["id"], "qualifiedtobuy", ["industry"])

    response = client.delete(f"/v1/fields/{field['id']}", headers=admin_headers)

    assert_problem(response, 409, detail_contains=str(gate["id"]))
    assert client.get(f"/v1/fields/{field['id']}", headers=admin_headers).status_code == 200


def test_given_a_field_named_only_in_a_gate_condition_when_deleting_then_409(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    define_field(client, admin_headers, "budget", "number")
    segment = define_field(client, admin_headers, "segment")
    body = {"connection_id": connection["id"], "pipeline": "default", "stage": "qualifiedtobuy",
            "requirements": [{"field": "budget", "required_if": {"field": "segment", "op": "eq", "value": "smb"}}]}
    assert client.post("/v1/gates", json=body, headers=admin_headers).status_code == 201

    assert_problem(client.delete(f"/v1/fields/{segment['id']}", headers=admin_headers), 409)


def test_given_seven_fields_when_paging_by_three_then_pages_are_stable_and_total_is_seven(
        client: Any, admin_headers: dict[str, str]) -> None:
    keys = ["g", "c", "a", "f", "b", "e", "d"]
    for key in keys:
        define_field(client, admin_headers, key)

    pages = [client.get(f"/v1/fields?page={n}&page_size=3", headers=admin_headers).get_json() for n in (1, 2, 3, 4)]

    assert [p["total"] for p in pages] == [7, 7, 7, 7]
    assert [(p["page"], p["page_size"]) for p in pages] == [(1, 3), (2, 3), (3, 3), (4, 3)]
    assert [[f["key"] for f in p["items"]] for p in pages] == [["a", "b", "c"], ["d", "e", "f"], ["g"], []]


def test_given_no_paging_arguments_when_listing_then_first_page_of_fifty(client: Any,
                                                                         admin_headers: dict[str, str]) -> None:
    page = client.get("/v1/fields", headers=admin_headers).get_json()

    assert (page["page"], page["page_size"], page["total"], page["items"]) == (1, 50, 0, [])


@pytest.mark.parametrize("query", ["page=0", "page_size=0", "page_size=501", "page=abc", "page_size=-1"])
def test_given_bad_paging_arguments_when_listing_then_422_naming_them(client: Any, admin_headers: dict[str, str],
                                                                       query: str) -> None:
    problem = assert_problem(client.get(f"/v1/fields?{query}", headers=admin_headers), 422)

    assert any(path.endswith(query.split("=")[0]) for path in error_paths(problem)), problem


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), [
    ("GET", "/v1/fields/999", {}, 404),
    ("POST", "/v1/fields", {"json": {"key": "industry", "label": "Industry", "type": "text"}}, 409),
    ("POST", "/v1/fields", {"json": {"key": "x"}}, 422),
    ("POST", "/v1/fields", {"data": b"{", "content_type": "application/json"}, 400),
    ("PUT", "/v1/fields", {}, 405),
    ("GET", "/v1/no-such-thing", {}, 404),
])
def test_given_any_error_then_the_body_is_a_problem_document(client: Any, admin_headers: dict[str, str],
                                                             method: str, path: str, kwargs: dict[str, Any],
                                                             status: int) -> None:
    define_field(client, admin_headers, "industry")

    response = client.open(path, method=method, headers=admin_headers, **kwargs)

    body = assert_problem(response, status)
    assert body["type"] == "about:blank"
    assert body["instance"] == path
    assert body["request_id"]
    if status == 405:
        assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_given_a_request_id_header_when_an_error_happens_then_the_problem_quotes_it(
        client: Any, admin_headers: dict[str, str]) -> None:
    response = client.get("/v1/fields/999", headers={**admin_headers, "X-Request-Id": "req-123"})

    assert assert_problem(response, 404)["request_id"] == "req-123"
