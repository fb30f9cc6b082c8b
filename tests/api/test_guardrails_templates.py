"""Guardrail: a template that cannot reuse an existing field of the same key says so and suggests
field_prefix, instead of reusing a field whose options do not fit."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import assert_problem, define_field


def test_given_a_field_of_the_same_key_with_other_options_when_applying_a_template_then_409_suggests_a_prefix(
        client: Any, admin_headers: dict[str, str]) -> None:
    define_field(client, admin_headers, "gender", "enum", constraints={"options": ["f", "m"]})

    response = client.post("/v1/personas/from-template", json={"template": "customer-portrait"},
                           headers=admin_headers)

    problem = assert_problem(response, 409, detail_contains="gender")
    assert "field_prefix" in problem["detail"] and "female" in problem["detail"]
    assert "field_prefix" in problem["errors"]
    assert client.post("/v1/personas/from-template", json={"template": "customer-portrait", "field_prefix": "p_"},
                       headers=admin_headers).status_code == 201
