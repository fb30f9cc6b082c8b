"""/v1/analytics over a planted purchase history: the tables as JSON, CSV and XLSX (the same numbers), a segment's
customers, the suggested persona, queueing runs (admins only) and following their progress, and the "not enough
data" answers."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from service.runtime import Runtime
from service.services.analytics.runs import run_queued_runs
from tests.api.conftest import assert_problem
from tests.integration.analytics_history import AS_OF, plant, portrait_fields

URL = "/v1/analytics"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _queue_and_run(client: Any, runtime: Runtime, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    queued = client.post(f"{URL}/runs", json={"as_of": AS_OF.isoformat(), **params}, headers=headers)
    assert queued.status_code == 202, queued.get_json()
    assert queued.get_json()["status"] == "queued"
    assert run_queued_runs(runtime) == 1
    done = client.get(f"{URL}/runs/{queued.get_json()['id']}", headers=headers)
    assert done.status_code == 200
    return done.get_json()  # type: ignore[no-any-return]


def _csv_section(text: str, name: str) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    start = next(i for i, row in enumerate(rows) if row and row[0].startswith(f"# {name}:"))
    end = rows.index([], start)
    return [dict(zip(rows[start + 1], row, strict=True)) for row in rows[start + 2:end]]


@pytest.fixture
def planted(runtime: Runtime) -> Any:
    portrait_fields(runtime)
    return plant(runtime)


def test_given_a_run_then_tables_show_as_json_csv_and_xlsx_with_the_same_numbers(
        client: Any, runtime: Runtime, planted: Any, admin_headers: dict[str, str],
        manager_headers: dict[str, str]) -> None:
    run = _queue_and_run(client, runtime, admin_headers)
    assert (run["status"], run["progress"], run["done"]) == ("done", 100.0, len(planted.amounts))
    body = client.get(f"{URL}/abc-xyz", headers=manager_headers).get_json()
    assert body["run_id"] == run["id"] and body["as_of"] == AS_OF.isoformat()
    (usd,) = body["currencies"]
    assert usd["enough"] and usd["customers"] == planted.buyers and len(usd["matrix"]) == 12

    as_csv = client.get(f"{URL}/abc-xyz?format=csv", headers=manager_headers)
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    cells = {r["cell"]: r for r in _csv_section(as_csv.get_data(as_text=True), "abc_xyz")}
    assert {name: int(r["customers"]) for name, r in cells.items()} == {r["name"]: r["customers"]
                                                                        for r in usd["matrix"]}
    assert {name: float(r["revenue"]) for name, r in cells.items()} == {r["name"]: r["revenue"]
                                                                        for r in usd["matrix"]}

    as_xlsx = client.get(f"{URL}/rfm", headers={**manager_headers, "Accept": XLSX})
    assert as_xlsx.status_code == 200 and as_xlsx.mimetype == XLSX
    sheet = load_workbook(io.BytesIO(as_xlsx.data), read_only=True)["rfm_segments"]
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    segments = client.get(f"{URL}/rfm", headers=manager_headers).get_json()["currencies"][0]["segments"]
    assert {r[1]: (r[2], r[4]) for r in rows} == {s["name"]: (s["customers"], s["revenue"]) for s in segments}


def test_given_a_run_then_segment_customers_are_paged_and_the_suggestion_is_wholesale_north(
        client: Any, runtime: Runtime, planted: Any, admin_headers: dict[str, str],
        manager_headers: dict[str, str]) -> None:
    _queue_and_run(client, runtime, admin_headers)
    first = client.get(f"{URL}/segments/Champions/customers?page_size=5", headers=manager_headers).get_json()
    second = client.get(f"{URL}/segments/champions/customers?page=2&page_size=5", headers=manager_headers).get_json()
    assert first["total"] == second["total"] >= len(planted.wholesale)
    assert len(first["items"]) == 5 and {i["id"] for i in first["items"]}.isdisjoint(i["id"] for i in second["items"])
    assert all(i["segment"] == "Champions" for i in first["items"] + second["items"])
    assert_problem(client.get(f"{URL}/segments/Nobody/customers", headers=manager_headers), 422,
                   detail_contains="unknown segment")

    found = client.get(f"{URL}/suggested-persona?segment=Champions&anti=Lost", headers=manager_headers).get_json()
    wanted = {(c["field"], c["kind"], c.get("value")) for c in found["draft"]["criteria"]}
    assert wanted == {("client_type", "nice", "wholesale"), ("region", "nice", "north"),
                      ("client_type", "disqualifier", "retail")}
    created = client.post("/v1/personas", json=found["draft"], headers=admin_headers)
    assert created.status_code == 201, created.get_json()


def test_given_a_manager_then_queueing_a_run_is_forbidden_and_bad_params_are_422(
        client: Any, runtime: Runtime, admin_headers: dict[str, str], manager_headers: dict[str, str]) -> None:
    assert_problem(client.post(f"{URL}/runs", json={}, headers=manager_headers), 403)
    assert_problem(client.post(f"{URL}/runs", json={"abc_cutoffs": [50, 30, 30]}, headers=admin_headers), 422)
    assert_problem(client.post(f"{URL}/runs", json={"colour": "red"}, headers=admin_headers), 422)
    assert_problem(client.get(f"{URL}/runs/999", headers=manager_headers), 404)


def test_given_no_run_or_too_little_data_then_the_answer_says_not_enough_data(
        client: Any, runtime: Runtime, admin_headers: dict[str, str], manager_headers: dict[str, str]) -> None:
    for path in ("/abc-xyz", "/rfm", "/suggested-persona", "/segments/AX/customers", "/rfm?format=csv"):
        assert_problem(client.get(URL + path, headers=manager_headers), 404, detail_contains="not enough data")
    plant(runtime, wholesale=3, retail=5, dealers=2, insolvent=0)
    _queue_and_run(client, runtime, admin_headers)
    (usd,) = client.get(f"{URL}/abc-xyz", headers=manager_headers).get_json()["currencies"]
    assert (usd["enough"], usd["customers"], usd["customers_needed"]) == (False, 10, 200)
    assert "not enough data" in usd["message"] and "abc" not in usd
    floor = _csv_section(client.get(f"{URL}/rfm?format=csv", headers=manager_headers).get_data(as_text=True),
                         "data_floor")
    assert floor == [{"currency": "USD", "enough": "False", "customers": "10", "customers_needed": "200",
                      "months": str(usd["months"]), "months_needed": "12", "message": usd["message"]}]
    suggestion = client.get(f"{URL}/suggested-persona", headers=manager_headers).get_json()
    assert suggestion["enough"] is False and "200 needed" in suggestion["message"]
