"""POST /v1/config with files that cannot be applied: every error is listed with its path in the file, and
nothing stored changes."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.api.conftest import assert_problem
from tests.api.test_config_api import configured, export, post_config  # noqa: F401 (a fixture)


@pytest.mark.usefixtures("configured")
def test_given_a_file_with_many_errors_when_applying_then_422_lists_each_with_its_path_and_nothing_changes(
        client: Any, admin_headers: dict[str, str]) -> None:
    before = export(client, admin_headers)
    document = yaml.safe_load(before)
    document["gates"][1]["requirements"][1]["required_if"] = {"any": [
        {"field": "industry", "op": "eq", "value": "it"}, {"field": "industry", "op": "equals", "value": "x"}]}
    document["gates"][1]["requirements"].append({"field": "nosuchfield"})
    document["fields"][0]["constraints"]["max"] = 10  # below its min of 1000
    document["personas"][0]["criteria"][0]["matcher"] = "range"
    document["connections"][0]["mappings"][0]["field"] = "ghost"

    problem = assert_problem(post_config(client, admin_headers, yaml.safe_dump(document)), 422)

    assert {"gates[1].requirements[1].required_if.any[1].op", "gates[1].requirements[2].field",
            "connections[0].mappings[0].field"} <= set(problem["errors"]), problem["errors"]
    assert any(path.startswith("fields[0].constraints") for path in problem["errors"]), problem["errors"]
    assert any(path.startswith("personas[0].criteria[0]") for path in problem["errors"]), problem["errors"]
    assert "nothing was changed" in problem["detail"]
    assert export(client, admin_headers) == before


@pytest.mark.usefixtures("configured")
def test_given_unknown_keys_when_applying_then_each_is_refused_with_its_path(
        client: Any, admin_headers: dict[str, str]) -> None:
    document = yaml.safe_load(export(client, admin_headers))
    document["gates"][0]["colour"] = "red"
    document["connections"][0]["access_token"] = "pat-secret"
    document["fields"][2]["constraints"]["pattern"] = "x"

    problem = assert_problem(post_config(client, admin_headers, yaml.safe_dump(document), dry_run=True), 422)

    assert set(problem["errors"]) == {"gates[0].colour", "connections[0].access_token",
                                      "fields[2].constraints.pattern"}


def test_given_yaml_that_is_not_a_configuration_when_applying_then_422_naming_what_is_wrong(
        client: Any, admin_headers: dict[str, str]) -> None:
    cases = {
        "gates: [unclosed\n": "not valid YAML",
        "version: 1\nfields: &a [1]\npersonas: *a\n": "anchors and aliases",
        "version: 1\nversion: 1\n": "repeated",
        "version: 1\nfields:\n- key: when\n  label: 2024-01-01\n  type: date\n": "quote it",
        "fields: []\n": "Missing data",
        "- 1\n- 2\n": "must be a mapping",
        "": "empty",
        "version: 1\nconnections:\n- name: Nowhere\n  kind: hubspot\n": "no connection named 'Nowhere'",
    }
    for text, expected in cases.items():
        problem = assert_problem(post_config(client, admin_headers, text), 422)
        messages = [m for ms in problem["errors"].values() for m in ms]
        assert any(expected in m for m in messages), (text, problem["errors"])


def test_given_a_body_that_is_not_utf8_when_applying_then_422(client: Any, admin_headers: dict[str, str]) -> None:
    response = client.post("/v1/config", data=b"version: 1\n\xff\xfe", headers={**admin_headers,
                                                                              "Content-Type": "application/yaml"})

    assert_problem(response, 422)


@pytest.mark.usefixtures("configured")
def test_given_a_mapping_of_a_property_the_crm_lacks_when_applying_then_422_with_the_closest_names(
        client: Any, admin_headers: dict[str, str]) -> None:
    document = yaml.safe_load(export(client, admin_headers))
    document["connections"][0]["mappings"][0]["property"] = "budgett"

    problem = assert_problem(post_config(client, admin_headers, yaml.safe_dump(document), dry_run=True), 422)

    assert "budget" in problem["errors"]["connections[0].mappings[0].property"][0]
