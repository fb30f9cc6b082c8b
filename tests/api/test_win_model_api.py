"""GET /v1/analytics/win-model and POST /v1/analytics/win-model/rebuild on SQLite and PostgreSQL: the status
before and after a rebuild (calibration deciles, Brier, AUC), the data floor's reason, who may rebuild, and bad
queries as problems; the deal page and the report page show the model."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from service.domain.analytics.win_model import from_tables, probability
from service.models import WinModel
from service.runtime import Runtime
from tests.api.conftest import assert_problem
from tests.conftest import make_key
from tests.e2e.browser.test_pages_http import signed_in_client
from tests.integration.test_win_models import open_deal, planted, seed

URL = "/v1/analytics/win-model"


def test_given_closed_deals_when_an_admin_rebuilds_then_managers_read_the_calibrated_model(
        client: Any, runtime: Runtime, admin_headers: dict[str, str], manager_headers: dict[str, str]) -> None:
    deals = planted(300)
    cid = seed(runtime, deals)
    before = client.get(f"{URL}?connection_id={cid}", headers=manager_headers)
    assert before.status_code == 200, before.get_data(as_text=True)
    (model,) = before.get_json()["models"]
    assert model["status"] == "none" and "POST /v1/analytics/win-model/rebuild" in model["reason"]

    rebuilt = client.post(f"{URL}/rebuild", json={"connection_id": cid}, headers=admin_headers)

    assert rebuilt.status_code == 200, rebuilt.get_data(as_text=True)
    won = sum(1 for _, w in deals if w)
    (change,) = rebuilt.get_json()["changes"]
    assert (change["status"], change["won"], change["lost"], change["pipeline"]) == ("current", won, 300 - won,
                                                                                       "sales")
    body = client.get(f"{URL}?connection_id={cid}&pipeline=sales", headers=manager_headers).get_json()
    (model,) = body["models"]
    assert model["status"] == "current" and model["reason"] is None
    assert (model["won"], model["lost"], model["auc"]) == (won, 300 - won, change["auc"])
    assert 0 <= model["brier"] <= 1
    calibration = model["calibration"]
    assert calibration["n"] == 60 and len(calibration["deciles"]) == 10
    assert sum(d["n"] for d in calibration["deciles"]) == 60
    assert sum(d["won"] for d in calibration["deciles"]) == calibration["won"]


def test_given_too_few_deals_then_the_status_says_what_is_missing(
        client: Any, runtime: Runtime, admin_headers: dict[str, str]) -> None:
    cid = seed(runtime, [({"industry": "retail"}, False)] * 50 + [({"industry": "wholesale"}, True)] * 45)
    rebuilt = client.post(f"{URL}/rebuild", headers=admin_headers)  # no body: every active connection
    assert rebuilt.status_code == 200, rebuilt.get_data(as_text=True)
    assert [c["status"] for c in rebuilt.get_json()["changes"]] == ["current"]
    cid2 = seed(runtime, [({"industry": "retail"}, False)] * 10 + [({"industry": "wholesale"}, True)] * 45)
    client.post(f"{URL}/rebuild", json={"connection_id": cid2}, headers=admin_headers)
    (model,) = client.get(f"{URL}?connection_id={cid2}", headers=admin_headers).get_json()["models"]
    assert model["status"] == "disabled"
    assert model["reason"] == "not enough closed deals: 10 lost deals, 40 needed"
    assert cid != cid2


def test_managers_may_not_rebuild(client: Any, runtime: Runtime, manager_headers: dict[str, str]) -> None:
    cid = seed(runtime, planted(100))
    assert_problem(client.post(f"{URL}/rebuild", json={"connection_id": cid}, headers=manager_headers), 403)


def test_bad_queries_and_bodies_are_problems(client: Any, runtime: Runtime, admin_headers: dict[str, str]) -> None:
    cid = seed(runtime, planted(10))
    assert_problem(client.get(URL, headers=admin_headers), 422)  # connection_id is required
    assert_problem(client.get(f"{URL}?connection_id=abc", headers=admin_headers), 422)
    assert_problem(client.get(f"{URL}?connection_id={cid}&grade=A", headers=admin_headers), 400,
                   detail_contains="grade")
    assert_problem(client.get(f"{URL}?connection_id={cid + 1000}", headers=admin_headers), 404)
    assert_problem(client.get(f"{URL}?connection_id={cid}&pipeline=nope", headers=admin_headers), 404)
    assert_problem(client.post(f"{URL}/rebuild", json={"connection_id": "x"}, headers=admin_headers), 422)
    assert_problem(client.post(f"{URL}/rebuild", json={"pipeline": "sales"}, headers=admin_headers), 422)
    assert_problem(client.post(f"{URL}/rebuild", json={"connection_id": cid + 1000}, headers=admin_headers), 404)
    assert_problem(client.get(URL), 401)


def test_given_a_model_then_the_deal_page_and_the_report_show_it(
        app: Any, client: Any, runtime: Runtime, admin_headers: dict[str, str]) -> None:
    cid = seed(runtime, planted(200))
    client.post(f"{URL}/rebuild", json={"connection_id": cid}, headers=admin_headers)
    deal = open_deal(runtime, cid, "open", {"industry": "wholesale", "region": "north"}, "s2")
    with runtime.read_uow() as uow:
        row = uow.session.scalars(select(WinModel)).one()
        expected = probability(from_tables(row.tables), {"industry": "wholesale", "region": "north"}, "s2")
    pages = signed_in_client(app, make_key(runtime, "manager"))

    html = pages.get(f"/deals/{deal}").get_data(as_text=True)

    shown = re.search(r'id="win-probability">\s*<strong>([^<]+)</strong>', html)
    assert shown is not None, html
    assert shown.group(1).replace("\xa0", "").strip() == f"{round(expected * 100)}%"
    assert f"learnt from {row.won + row.lost} closed deals" in html
    report = pages.get("/reports").get_data(as_text=True)
    table = report[report.index('id="win-models-table"'):]
    assert 'data-pipeline="sales" data-status="current"' in table
    assert f"{row.auc:.2f}" in table and f"{row.won} won, {row.lost} lost" in table
    api = client.get(f"/v1/reports/qualification?connection_id={cid}", headers=admin_headers)
    assert api.status_code == 200, api.get_data(as_text=True)
    (in_api,) = api.get_json()["win_models"]
    assert (in_api["pipeline"], in_api["status"], in_api["won"], in_api["lost"], in_api["auc"]) == (
        "sales", "current", row.won, row.lost, row.auc)
