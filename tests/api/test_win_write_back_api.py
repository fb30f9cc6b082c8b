"""The win-probability property of a connection's write-back settings: validated like the other three, stored,
shown, and carried through a config export and apply byte for byte."""

from __future__ import annotations

from typing import Any

from service.runtime import Runtime
from tests.api.conftest import assert_problem, connection_body, error_paths
from tests.api.test_config_api import export, post_config
from tests.conftest import empty_database, make_key

WRITE_BACK = {"score": "qualify_fit_score", "win_probability": "qualify_win_probability"}


def test_given_a_win_probability_property_when_patched_then_it_is_stored_and_shown(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    response = client.patch(f"/v1/connections/{connection['id']}", json={"score_write_back": WRITE_BACK},
                            headers=admin_headers)

    assert response.status_code == 200, response.get_json()
    shown = client.get(f"/v1/connections/{connection['id']}", headers=admin_headers).get_json()
    assert shown["score_write_back"]["win_probability"] == "qualify_win_probability"
    assert shown["score_write_back"]["score"] == "qualify_fit_score"


def test_given_an_empty_or_too_long_win_probability_property_then_422_naming_it(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    for bad in ("", "x" * 101, 7):
        response = client.patch(f"/v1/connections/{connection['id']}",
                                json={"score_write_back": {"win_probability": bad}}, headers=admin_headers)
        problem = assert_problem(response, 422)
        assert any("win_probability" in path for path in error_paths(problem)), problem
    kept = client.get(f"/v1/connections/{connection['id']}", headers=admin_headers).get_json()
    assert kept["score_write_back"] is None


def test_given_a_win_probability_property_when_exported_and_applied_on_an_empty_instance_then_the_same_bytes(
        client: Any, runtime: Runtime, admin_headers: dict[str, str], connection: dict[str, Any],
        sandbox: Any) -> None:
    client.patch(f"/v1/connections/{connection['id']}", json={"score_write_back": WRITE_BACK},
                 headers=admin_headers)
    before = export(client, admin_headers)
    assert "win_probability: qualify_win_probability" in before
    empty_database(runtime.engine)
    runtime.cache.clear()
    headers = {"Authorization": f"Bearer {make_key(runtime, 'admin')}"}
    client.post("/v1/connections", json=connection_body(sandbox.base_url), headers=headers)

    applied = post_config(client, headers, before)

    assert applied.status_code == 200, applied.get_json()
    assert export(client, headers) == before
    stored = client.get("/v1/connections", headers=headers).get_json()["items"][0]
    assert stored["score_write_back"] == WRITE_BACK
