# ruff: noqa: RUF001
"""The articles' money questions on the portrait pages: per RFM segment and per ABC x XYZ cell, how much a client
pays, how often, the margin and ROI per client, and the minimum profitable purchase over the check sizes of A vs C;
every shown number checked against the test's own purchase history (margins known, then one margin missing);
the section in Russian.

A service of its own: the history's customers would show on other tests' pages."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from sqlalchemy import insert, select

from service.models import Customer, CustomerSegment, Purchase
from service.runtime import Runtime
from service.services.analytics.runs import queue_run, run_portrait
from tests.e2e.browser.conftest import Web, new_page, served, shot, sign_in

AS_OF = date(2026, 6, 30)
COST = Decimal(25)  # acquisition cost per client
RATE = Decimal("0.3")  # every planted purchase earns 30 % margin
SOURCE = "test:answers"


def _plant(runtime: Runtime) -> None:
    """60 big buyers (monthly for 18 months, 800-1,200 a purchase) and 180 small ones (1-3 purchases of 20-90 in
    the last two years), every purchase with a 30 % margin."""
    rnd = random.Random(15)
    rows: list[dict[str, object]] = []
    with runtime.uow() as uow:
        for i in range(240):
            big = i < 60
            customer = Customer(source=SOURCE, kind="company", external_id=f"c{i}", name=f"customer {i}", values={})
            uow.session.add(customer)
            uow.session.flush()
            buys = ([(30 * m + rnd.randint(1, 5), rnd.randint(800, 1200)) for m in range(18)] if big else
                    [(rnd.randint(1, 700), rnd.randint(20, 90)) for _ in range(rnd.randint(1, 3))])
            for n, (ago, amount) in enumerate(buys):
                rows.append({"customer_id": customer.id, "source": SOURCE, "external_id": f"c{i}-{n}",
                             "amount": Decimal(amount), "margin": Decimal(amount) * RATE, "currency": "USD",
                             "purchased_on": AS_OF - timedelta(days=ago)})
        uow.session.execute(insert(Purchase), rows)
        uow.commit()


def _run(runtime: Runtime) -> None:
    # Hysteresis 0: a customer's stored segment is then the one its segment's numbers are computed over (with
    # hysteresis a rerun may keep a customer in its previous segment while the table counts it in the new one).
    run = queue_run(runtime, {"as_of": AS_OF, "acquisition_cost": str(COST), "hysteresis": 0})
    assert run_portrait(runtime, run["id"])["status"] == "done"


def _history(runtime: Runtime) -> tuple[dict[int, CustomerSegment], list[tuple[int, Decimal, Decimal | None]]]:
    with runtime.read_uow() as uow:
        labels = {s.customer_id: s for s in uow.session.scalars(select(CustomerSegment))}
        bought = [(p.customer_id, p.amount, p.margin) for p in uow.session.scalars(select(Purchase))]
    return labels, bought


def _expected(groups: dict[str, set[int]], bought: list[tuple[int, Decimal, Decimal | None]]) -> dict[str, Any]:
    """Per group: pay per client, margin per client (None when a purchase has no margin) and ROI."""
    out: dict[str, Any] = {}
    for name, members in groups.items():
        mine = [(a, m) for c, a, m in bought if c in members]
        pay = sum((a for a, _ in mine), Decimal(0)) / len(members)
        known = [m for _, m in mine if m is not None]
        margin = sum(known, Decimal(0)) / len(members) if len(known) == len(mine) else None
        out[name] = {"pay": float(pay), "margin": None if margin is None else float(margin),
                     "roi": None if margin is None else float(margin / COST)}
    return out


def _value(cell: Any) -> float | None:
    raw = cell.get_attribute("data-value")
    return None if raw in ("", None) else float(raw)


def _money(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _check_rows(tab: Any, selector: str, expected: dict[str, Any]) -> None:
    for name, want in expected.items():
        row = tab.locator(selector.format(name=name))
        assert _value(row.locator("td.pay")) == pytest.approx(want["pay"], rel=1e-6), name
        assert row.locator("td.pay").inner_text() == _money(want["pay"])
        if want["margin"] is None:
            assert _value(row.locator("td.margin")) is None
            assert row.locator("td.margin").inner_text() == "margin unknown"
            assert _value(row.locator("td.roi")) is None
        else:
            assert _value(row.locator("td.margin")) == pytest.approx(want["margin"], rel=1e-6), name
            assert _value(row.locator("td.roi")) == pytest.approx(want["roi"], rel=1e-6), name
            assert row.locator("td.roi").inner_text() == _money(want["roi"]) + "×"


def _check_sizes(tab: Any, labels: dict[int, CustomerSegment], bought: list[tuple[int, Decimal, Decimal | None]]
                 ) -> dict[str, np.ndarray]:
    amounts = {k: np.array([float(a) for c, a, _ in bought if labels[c].abc == k]) for k in "AC"}
    for k, values in amounts.items():
        box = tab.locator(f"#check-sizes-1-title ~ g.check-box[data-class='{k}']")
        assert box.get_attribute("data-n") == str(len(values))
        for q in (10, 25, 50, 75, 90):
            assert float(box.get_attribute(f"data-p{q}")) == pytest.approx(np.quantile(values, q / 100), rel=1e-9)
    return amounts


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """A service whose database holds the planted history, analysed with an acquisition cost of 25."""
    with served(tmp_path_factory.mktemp("answers")) as web:
        _plant(web.runtime)
        _run(web.runtime)
        yield web


def test_given_known_margins_then_each_segment_and_cell_shows_pay_margin_roi_and_the_minimum_purchase(
        browser: Any, service: Web) -> None:
    labels, bought = _history(service.runtime)
    segments: dict[str, set[int]] = defaultdict(set)
    cells: dict[str, set[int]] = defaultdict(set)
    for cid, s in labels.items():
        segments[str(s.segment)].add(cid)
        cells[f"{s.abc}{s.xyz or '-'}"].add(cid)
    revenue = sum((a for _, a, _ in bought), Decimal(0))
    margin = sum((m or Decimal(0) for _, _, m in bought), Decimal(0))
    minimum = float(COST / (margin / revenue))  # 25 / 0.3
    tab = new_page(browser, service)
    try:
        sign_in(tab, service.key("manager"))
        tab.goto("/analytics")
        _check_rows(tab, "#matrix-table-1 tr[data-cell='{name}']", _expected(cells, bought))
        found = tab.locator("#min-purchase-1")
        assert found.get_attribute("data-basis") == "cost"
        assert float(found.get_attribute("data-value")) == pytest.approx(minimum, rel=1e-6)
        assert f"Minimum profitable purchase: {_money(minimum)}" in found.inner_text()
        assert tab.locator("#margin-unknown-1").count() == 0
        amounts = _check_sizes(tab, labels, bought)
        assert amounts["A"].min() > minimum > np.quantile(amounts["C"], 0.5)  # the marker sits between A and C
        marker = tab.locator("line.min-purchase")
        assert float(marker.get_attribute("data-value")) == pytest.approx(minimum, rel=1e-6)
        shot(tab, "analytics-answers-matrix", full_page=True)

        tab.goto("/analytics/rfm")
        _check_rows(tab, "#segments-table-1 tr[data-segment='{name}']", _expected(dict(segments), bought))
        assert tab.locator("#min-purchase-1").get_attribute("data-basis") == "cost"
        assert tab.locator("g.check-box").count() == 2
        shot(tab, "analytics-answers-rfm", full_page=True)
    finally:
        tab.context.close()


def test_given_a_purchase_without_a_margin_then_the_page_says_margin_unknown_and_estimates_from_a_vs_c(
        browser: Any, service: Web) -> None:
    with service.runtime.uow() as uow:
        small = uow.session.scalars(select(Customer).where(Customer.external_id == "c239")).one()
        uow.session.add(Purchase(customer_id=small.id, source=SOURCE, external_id="c239-extra", amount=Decimal(50),
                                 margin=None, currency="USD", purchased_on=AS_OF - timedelta(days=2)))
        uow.commit()
    _run(service.runtime)
    labels, bought = _history(service.runtime)
    unknown = str(labels[small.id].segment)
    segments: dict[str, set[int]] = defaultdict(set)
    for cid, s in labels.items():
        segments[str(s.segment)].add(cid)
    expected = _expected(dict(segments), bought)
    assert expected[unknown]["margin"] is None and any(e["margin"] is not None for e in expected.values())
    tab = new_page(browser, service)
    try:
        sign_in(tab, service.key("manager"))
        tab.goto("/analytics/rfm")
        _check_rows(tab, "#segments-table-1 tr[data-segment='{name}']", expected)
        assert "Margin unknown: map a margin field" in tab.locator("#margin-unknown-1").inner_text()
        found = tab.locator("#min-purchase-1")
        a_amounts = [float(a) for c, a, _ in bought if labels[c].abc == "A"]
        assert found.get_attribute("data-basis") == "a_floor"
        assert float(found.get_attribute("data-value")) == pytest.approx(np.quantile(a_amounts, 0.1), rel=1e-9)
        assert "margin unknown: map a margin field or import margins" in found.inner_text()
        _check_sizes(tab, labels, bought)
    finally:
        tab.context.close()


def test_given_a_russian_browser_then_the_segment_answers_are_in_russian(browser: Any, service: Web) -> None:
    tab = new_page(browser, service, locale="ru-RU")
    try:
        sign_in(tab, service.key("manager"))
        tab.goto("/analytics")
        head = tab.locator("#matrix-table-1 thead").inner_text()
        assert "Платит клиент" in head and "Маржа на клиента" in head and "ROI на клиента" in head
        assert tab.locator("#min-purchase-1").inner_text().startswith("Минимальная прибыльная покупка")
        assert tab.locator("figure.check-sizes figcaption").inner_text().startswith("Размеры чеков клиентов A и C")
    finally:
        tab.context.close()
