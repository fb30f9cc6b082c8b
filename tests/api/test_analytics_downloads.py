"""CSV and XLSX downloads of the portrait beyond the ABC x XYZ and RFM tables: the A vs C check sizes as their own
section of the ABC x XYZ download, every customer of a segment, and the win models' calibration; each file is
read back (csv, openpyxl) and compared with the JSON answer's numbers."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from service.runtime import Runtime
from service.services.analytics.runs import queue_run, run_portrait
from tests.api.conftest import assert_problem
from tests.integration.analytics_history import AS_OF, plant, portrait_fields
from tests.integration.test_win_models import planted as planted_deals
from tests.integration.test_win_models import seed

URL = "/v1/analytics"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _csv_section(text: str, name: str) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    start = next(i for i, row in enumerate(rows) if row and row[0].startswith(f"# {name}:"))
    end = rows.index([], start)
    return [dict(zip(rows[start + 1], row, strict=True)) for row in rows[start + 2:end]]


def _sheet(data: bytes, name: str) -> list[dict[str, Any]]:
    rows = list(load_workbook(io.BytesIO(data), read_only=True)[name].iter_rows(values_only=True))
    return [dict(zip(rows[1], row, strict=True)) for row in rows[2:]]  # row 1: the rule; row 2: the header


def _excel(value: float | None) -> Any:
    """``value`` as read back from XLSX: numbers keep 15 significant digits there."""
    return None if value is None else pytest.approx(value, rel=1e-14)


def _number(text: str) -> float | None:
    return float(text) if text else None


@pytest.fixture
def ran(runtime: Runtime) -> Any:
    portrait_fields(runtime)
    planted = plant(runtime)
    done = run_portrait(runtime, queue_run(runtime, {"as_of": AS_OF})["id"])
    assert done["status"] == "done", done["error"]
    return planted


def test_given_a_run_then_the_abc_xyz_download_has_the_check_sizes_of_a_and_c(
        client: Any, runtime: Runtime, ran: Any, manager_headers: dict[str, str]) -> None:
    (usd,) = client.get(f"{URL}/abc-xyz", headers=manager_headers).get_json()["currencies"]
    sizes = usd["check_sizes"]
    assert set(sizes) == {"A", "C"}
    for name in ("A", "C"):  # every purchase of the class's customers, whatever their XYZ class
        assert sizes[name]["n"] == sum(r["purchases"] for r in usd["matrix"] if r["name"].startswith(name))

    text = client.get(f"{URL}/abc-xyz?format=csv", headers=manager_headers).get_data(as_text=True)
    rows = _csv_section(text, "check_sizes")
    assert [(r["currency"], r["class"]) for r in rows] == [("USD", "A"), ("USD", "C")]
    for row in rows:
        wanted = sizes[row["class"]]
        assert int(row["n"]) == wanted["n"]
        assert {q: _number(row[q]) for q in ("p10", "p25", "p50", "p75", "p90")} == wanted["quantiles"]
    assert _csv_section(text, "abc_xyz")  # the other sections stay

    book = client.get(f"{URL}/abc-xyz", headers={**manager_headers, "Accept": XLSX})
    assert book.status_code == 200 and book.mimetype == XLSX
    sheet = _sheet(book.data, "check_sizes")
    assert {r["class"]: (r["n"], {q: r[q] for q in wanted["quantiles"]}) for r in sheet} == {
        name: (s["n"], {q: _excel(v) for q, v in s["quantiles"].items()}) for name, s in sizes.items()}


def test_given_a_run_then_a_segments_customers_download_as_csv_and_xlsx_all_of_them(
        client: Any, runtime: Runtime, ran: Any, manager_headers: dict[str, str]) -> None:
    pages: list[dict[str, Any]] = []
    page = 1
    while True:
        body = client.get(f"{URL}/segments/champions/customers?page={page}&page_size=7",
                          headers=manager_headers).get_json()
        pages += body["items"]
        if page * 7 >= body["total"]:
            break
        page += 1
    assert len(pages) == body["total"] >= len(ran.wholesale) > 7  # more than one page: the file holds them all
    by_id = {c["id"]: c for c in pages}

    got = client.get(f"{URL}/segments/champions/customers?format=csv&page_size=7", headers=manager_headers)
    assert got.status_code == 200 and got.mimetype == "text/csv"
    assert f'segment-champions-{AS_OF.isoformat()}.csv' in got.headers["Content-Disposition"]
    rows = _csv_section(got.get_data(as_text=True), "customers")
    assert [int(r["id"]) for r in rows] == sorted(by_id)
    for row in rows:
        wanted = by_id[int(row["id"])]
        assert (row["segment"], row["scores"], row["abc"], row["xyz"] or None, row["external_id"]) == (
            "Champions", wanted["scores"], wanted["abc"], wanted["xyz"], wanted["external_id"])
        assert (row["value.client_type"], row["value.region"]) == (wanted["values"]["client_type"],
                                                                   wanted["values"]["region"])

    book = client.get(f"{URL}/segments/AX/customers", headers={**manager_headers, "Accept": XLSX})
    assert book.status_code == 200 and book.mimetype == XLSX
    cell = client.get(f"{URL}/segments/AX/customers?page_size=500", headers=manager_headers).get_json()
    sheet = _sheet(book.data, "customers")
    assert [(r["id"], r["abc"], r["xyz"], r["scores"]) for r in sheet] == [
        (c["id"], "A", "X", c["scores"]) for c in cell["items"]]
    assert len(sheet) == cell["total"] > 0

    assert_problem(client.get(f"{URL}/segments/Nobody/customers?format=csv", headers=manager_headers), 422)
    assert_problem(client.get(f"{URL}/segments/AX/customers?format=pdf", headers=manager_headers), 422)


def test_given_no_run_then_a_segment_download_says_not_enough_data(
        client: Any, runtime: Runtime, manager_headers: dict[str, str]) -> None:
    assert_problem(client.get(f"{URL}/segments/AX/customers?format=xlsx", headers=manager_headers), 404,
                   detail_contains="not enough data")


def test_given_a_rebuilt_win_model_then_its_calibration_downloads_as_csv_and_xlsx(
        client: Any, runtime: Runtime, admin_headers: dict[str, str], manager_headers: dict[str, str]) -> None:
    cid = seed(runtime, planted_deals(300))
    before = _csv_section(client.get(f"{URL}/win-model?connection_id={cid}&format=csv",
                                     headers=manager_headers).get_data(as_text=True), "win_models")
    assert [(r["pipeline"], r["status"], r["auc"]) for r in before] == [("sales", "none", "")]
    assert "rebuild" in before[0]["reason"]

    assert client.post(f"{URL}/win-model/rebuild", json={"connection_id": cid}, headers=admin_headers).status_code \
        == 200
    (model,) = client.get(f"{URL}/win-model?connection_id={cid}", headers=manager_headers).get_json()["models"]
    deciles = model["calibration"]["deciles"]

    got = client.get(f"{URL}/win-model?connection_id={cid}&pipeline=sales", headers={**manager_headers,
                                                                                        "Accept": "text/csv"})
    assert got.status_code == 200 and got.mimetype == "text/csv"
    text = got.get_data(as_text=True)
    (row,) = _csv_section(text, "win_models")
    assert (row["status"], int(row["won"]), int(row["lost"]), float(row["auc"]), float(row["brier"])) == (
        "current", model["won"], model["lost"], model["auc"], model["brier"])
    assert (int(row["holdout_n"]), int(row["holdout_won"])) == (model["calibration"]["n"],
                                                                model["calibration"]["won"])
    assert [(float(r["low"]), float(r["high"]), int(r["n"]), int(r["won"]), _number(r["predicted"]),
             _number(r["win_rate"])) for r in _csv_section(text, "calibration")] == [
        (d["low"], d["high"], d["n"], d["won"], d.get("predicted"), d.get("win_rate")) for d in deciles]

    book = client.get(f"{URL}/win-model?connection_id={cid}&format=xlsx", headers=manager_headers)
    assert book.status_code == 200 and book.mimetype == XLSX
    sheet = _sheet(book.data, "calibration")
    assert [(r["n"], r["won"], r["win_rate"]) for r in sheet] == [
        (d["n"], d["won"], _excel(d.get("win_rate"))) for d in deciles]
    assert sum(r["n"] for r in sheet) == model["calibration"]["n"]
    assert_problem(client.get(f"{URL}/win-model?connection_id={cid + 1000}&format=csv", headers=manager_headers), 404)
