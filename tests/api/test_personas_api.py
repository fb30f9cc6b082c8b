"""/v1/personas (CRUD, versions, review, rescore), /v1/records/{id}/scores and /v1/score against a real
database; records are stored rows scored by the background rescore the persona change queued."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from service.models import Connection, Persona, Record
from service.runtime import Runtime
from service.services.rescore import run_queued_rescores
from tests.api.conftest import assert_problem, define_field, error_paths

CRITERIA = [
    {"field": "industry", "matcher": "in", "values": ["retail"], "weight": 2},
    {"field": "budget", "matcher": "range", "min": 1000},
    {"field": "region", "matcher": "equals", "value": "EU", "kind": "must"},
]


@pytest.fixture
def portrait(client: Any, admin_headers: dict[str, str]) -> None:
    """Industry (enum), budget (number) and region (text) fields."""
    define_field(client, admin_headers, "industry", "enum", constraints={"options": ["retail", "it"]})
    define_field(client, admin_headers, "budget", "number")
    define_field(client, admin_headers, "region", "text")


def create_persona(client: Any, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    body = {"name": "Retail EU buyer", "segment": "SMB retail", "ring": "core", "owner": "ops@example.com",
            "description": "Olena, 35, owns two grocery shops in Lviv", "criteria": CRITERIA, **changes}
    response = client.post("/v1/personas", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def store_records(runtime: Runtime, values: list[dict[str, Any]]) -> list[int]:
    with runtime.uow() as uow:
        connection = Connection(name="c", kind="hubspot", base_url="https://api.hubapi.com",
                                credentials_encrypted="x")
        uow.session.add(connection)
        uow.session.flush()
        rows = [Record(connection_id=connection.id, external_id=str(i), values=v) for i, v in enumerate(values)]
        uow.session.add_all(rows)
        uow.commit()
        return [r.id for r in rows]


def test_given_fields_when_creating_a_persona_then_version_1_with_its_review_date(
        client: Any, admin_headers: dict[str, str], portrait: None, runtime: Runtime) -> None:
    persona = create_persona(client, admin_headers)

    assert (persona["version"], persona["ring"], persona["stale"], persona["must_cap"]) == (1, "core", False, "C")
    assert persona["thresholds"] == {"A": 80, "B": 60, "C": 40}
    assert persona["review_due_on"] == (runtime.clock().date() + timedelta(days=182)).isoformat()
    assert [c["field"] for c in persona["criteria"]] == ["industry", "budget", "region"]
    versions = client.get(f"/v1/personas/{persona['id']}/versions", headers=admin_headers).get_json()["items"]
    assert [(v["version"], v["change"]) for v in versions] == [(1, "create")]


def test_given_bad_criteria_when_creating_then_422_naming_each_problem(
        client: Any, admin_headers: dict[str, str], portrait: None) -> None:
    criteria = [{"field": "nope", "matcher": "equals", "value": "x"},
                {"field": "budget", "matcher": "contains_any", "values": ["a"]},
                {"field": "region", "matcher": "regex", "pattern": "(unclosed"}]

    response = client.post("/v1/personas", json={"name": "Bad", "criteria": criteria}, headers=admin_headers)

    body = assert_problem(response, 422)
    paths = error_paths(body)
    assert all(p.startswith("criteria") for p in paths), paths
    assert {"0", "1", "2"} <= {p.split(".")[1] for p in paths}, paths


def test_given_a_persona_when_patching_then_a_new_version_and_an_unchanged_patch_keeps_it(
        client: Any, admin_headers: dict[str, str], portrait: None) -> None:
    persona = create_persona(client, admin_headers)
    url = f"/v1/personas/{persona['id']}"

    changed = client.patch(url, json={"ring": "target", "criteria": CRITERIA[:2]}, headers=admin_headers)
    same = client.patch(url, json={"ring": "target"}, headers=admin_headers)

    assert changed.status_code == 200 and changed.get_json()["version"] == 2
    assert same.get_json()["version"] == 2
    versions = client.get(f"{url}/versions", headers=admin_headers).get_json()["items"]
    assert [v["version"] for v in versions] == [2, 1]
    assert len(versions[0]["definition"]["criteria"]) == 2 and len(versions[1]["definition"]["criteria"]) == 3


def test_given_a_name_in_use_when_creating_then_409(client: Any, admin_headers: dict[str, str], portrait: None) -> None:
    create_persona(client, admin_headers)

    assert_problem(client.post("/v1/personas", json={"name": "Retail EU buyer"}, headers=admin_headers), 409)


def test_given_a_manager_key_then_personas_are_read_only_but_ad_hoc_scoring_is_allowed(
        client: Any, admin_headers: dict[str, str], manager_headers: dict[str, str], portrait: None) -> None:
    create_persona(client, admin_headers)

    assert_problem(client.post("/v1/personas", json={"name": "X"}, headers=manager_headers), 403)
    assert client.get("/v1/personas", headers=manager_headers).status_code == 200
    scored = client.post("/v1/score", json={"values": {"industry": "retail"}}, headers=manager_headers)
    assert scored.status_code == 200, scored.get_json()


def test_given_records_when_a_persona_is_created_then_the_rescore_scores_every_open_record(
        client: Any, admin_headers: dict[str, str], portrait: None, runtime: Runtime) -> None:
    ids = store_records(runtime, [
        {"industry": "retail", "budget": "5000", "region": "EU"},  # all three match: 100, A
        {"industry": "it", "budget": "500", "region": "EU"},  # 50 + 50 * (-2 - 1 + 1) / 4 = 25: D, no persona
        {"industry": "retail"},  # 50 + 50 * 2 / 4 = 75: B, two unknowns to ask about
    ])
    persona = create_persona(client, admin_headers)

    assert run_queued_rescores(runtime) == 1

    runs = client.get(f"/v1/personas/{persona['id']}/rescore", headers=admin_headers).get_json()["items"]
    assert [(r["status"], r["done"], r["total"], r["progress"]) for r in runs] == [("done", 3, 3, 100.0)]
    fits = [client.get(f"/v1/records/{i}/scores", headers=admin_headers).get_json() for i in ids]
    assert [(f["scores"][0]["score"], f["scores"][0]["grade"]) for f in fits] == [(100, "A"), (25, "D"), (75, "B")]
    assert [f["best"] and f["best"]["persona_name"] for f in fits] == ["Retail EU buyer", None, "Retail EU buyer"]
    assert [f["no_persona"] for f in fits] == [False, True, False]
    assert {u["field"] for u in fits[2]["scores"][0]["unknown"]} == {"budget", "region"}
    assert fits[1]["scores"][0]["top_negative"] and fits[0]["scores"][0]["top_positive"]
    assert fits[0]["scores"][0]["version"] == persona["version"]


def test_given_scored_records_when_the_persona_changes_then_the_trend_shows_the_move(
        client: Any, admin_headers: dict[str, str], portrait: None, runtime: Runtime) -> None:
    [record_id] = store_records(runtime, [{"industry": "retail", "region": "EU"}])
    persona = create_persona(client, admin_headers)
    run_queued_rescores(runtime)
    first = client.get(f"/v1/records/{record_id}/scores", headers=admin_headers).get_json()

    client.patch(f"/v1/personas/{persona['id']}", json={"criteria": CRITERIA[:1] + CRITERIA[2:]},
                 headers=admin_headers)
    run_queued_rescores(runtime)
    second = client.get(f"/v1/records/{record_id}/scores", headers=admin_headers).get_json()

    assert first["scores"][0]["score"] < second["scores"][0]["score"] == 100
    assert (second["trend"], second["previous_best_score"]) == ("improving", first["scores"][0]["score"])
    assert second["scores"][0]["version"] == 2


def test_given_an_ad_hoc_payload_when_scoring_then_reasons_and_invalid_values_without_storing(
        client: Any, admin_headers: dict[str, str], portrait: None, runtime: Runtime) -> None:
    create_persona(client, admin_headers)

    response = client.post("/v1/score", json={"values": {"industry": "retail", "budget": "lots"}, "language": "ru"},
                           headers=admin_headers)

    body = response.get_json()
    assert response.status_code == 200, body
    assert body["invalid"].keys() == {"budget"}
    assert body["scores"][0]["score"] == 75 and body["best"]["grade"] == "B"
    assert body["scores"][0]["top_positive"][0]["field"] == "industry"
    assert any("а" <= ch <= "я" for ch in body["scores"][0]["top_positive"][0]["text"].lower())  # noqa: RUF001
    with runtime.read_uow() as uow:
        assert uow.session.query(Record).count() == 0


def test_given_unknown_fields_or_personas_when_scoring_then_422(
        client: Any, admin_headers: dict[str, str], portrait: None) -> None:
    body = assert_problem(client.post("/v1/score", json={"values": {"shoe_size": 42}}, headers=admin_headers), 422)
    assert error_paths(body) == {"values.shoe_size"}
    assert_problem(client.post("/v1/score", json={"values": {}, "persona_ids": [999]}, headers=admin_headers), 422)


def test_given_no_personas_when_scoring_then_no_persona(
        client: Any, admin_headers: dict[str, str], portrait: None) -> None:
    body = client.post("/v1/score", json={"values": {"industry": "it"}}, headers=admin_headers).get_json()

    assert (body["best"], body["no_persona"], body["scores"]) == (None, True, [])


def test_given_a_persona_past_its_review_date_then_stale_until_reviewed(
        client: Any, admin_headers: dict[str, str], portrait: None, runtime: Runtime) -> None:
    persona = create_persona(client, admin_headers, review_interval_days=30)
    with runtime.uow() as uow:
        uow.session.get_one(Persona, persona["id"]).last_reviewed_on = runtime.clock().date() - timedelta(days=31)
        uow.commit()

    stale = client.get("/v1/personas?stale=true", headers=admin_headers).get_json()
    reviewed = client.post(f"/v1/personas/{persona['id']}/review", headers=admin_headers).get_json()

    assert [p["id"] for p in stale["items"]] == [persona["id"]] and stale["items"][0]["stale"] is True
    assert reviewed["stale"] is False and reviewed["last_reviewed_on"] == runtime.clock().date().isoformat()
    assert client.get("/v1/personas?stale=true", headers=admin_headers).get_json()["total"] == 0


def test_given_a_field_a_persona_uses_when_deleting_it_then_409_and_after_the_persona_goes_204(
        client: Any, admin_headers: dict[str, str], portrait: None) -> None:
    persona = create_persona(client, admin_headers)
    fields = {f["key"]: f["id"] for f in client.get("/v1/fields", headers=admin_headers).get_json()["items"]}

    assert_problem(client.delete(f"/v1/fields/{fields['region']}", headers=admin_headers), 409,
                   detail_contains="personas")
    assert client.delete(f"/v1/personas/{persona['id']}", headers=admin_headers).status_code == 204
    assert client.delete(f"/v1/fields/{fields['region']}", headers=admin_headers).status_code == 204
    assert_problem(client.get(f"/v1/personas/{persona['id']}", headers=admin_headers), 404)
