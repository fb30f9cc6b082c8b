"""Guardrail: a query parameter a list endpoint does not know is a 400 naming it and the accepted ones, on
every list endpoint (never an unfiltered answer that looks filtered)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import assert_problem

LISTS = [("/v1/records", "grade"), ("/v1/transitions", "stage"), ("/v1/events", "kind"), ("/v1/fields", "group"),
         ("/v1/gates", "stage"), ("/v1/personas", "name"), ("/v1/connections", "kind")]


@pytest.mark.parametrize(("path", "unknown"), LISTS)
def test_given_an_unknown_query_parameter_on_a_list_endpoint_then_400_names_it_and_the_accepted_ones(
        client: Any, admin_headers: dict[str, str], path: str, unknown: str) -> None:
    response = client.get(f"{path}?{unknown}=D&page=1", headers=admin_headers)

    problem = assert_problem(response, 400, detail_contains=unknown)
    assert "page_size" in problem["detail"]
    assert unknown in problem["errors"]
