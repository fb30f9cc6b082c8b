# ruff: noqa: RUF001
"""Managers read the portrait in the browser: the ABC x XYZ heatmap (cell numbers checked against the planted
history), the RFM segments, a segment's customers, the suggested persona (the planted attribute on top) and the
win models' calibration; an admin queues a run and creates the suggested persona; the pages in Russian; a
history under the data floor says "not enough data" with its numbers; a bad segment is a readable 404.

A service of its own (not the session's shared one): the planted customers and purchases would show on other
tests' pages, and the data floor needs a second, small history."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from service.models import CustomerSegment, Purchase
from service.runtime import Runtime
from service.services import win_models
from service.services.analytics.runs import queue_run, run_portrait
from tests.e2e.browser.conftest import Web, new_page, served, shot, sign_in
from tests.integration.analytics_history import AS_OF, plant, portrait_fields
from tests.integration.test_win_models import planted as planted_deals
from tests.integration.test_win_models import seed as seed_deals


def _run(runtime: Runtime) -> None:
    run = queue_run(runtime, {"as_of": AS_OF})
    assert run_portrait(runtime, run["id"])["status"] == "done"


@pytest.fixture(scope="module")
def portrait(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """A service whose database holds the planted purchase history (analysed) and a pipeline with 500 closed
    deals (its win model built)."""
    with served(tmp_path_factory.mktemp("portrait")) as web:
        portrait_fields(web.runtime)
        plant(web.runtime)
        _run(web.runtime)
        seed_deals(web.runtime, planted_deals(500))
        win_models.rebuild(web.runtime)
        yield web


@pytest.fixture
def tab(browser: Any, portrait: Web) -> Iterator[Any]:
    """A fresh English-speaking browser tab on the portrait service."""
    page = new_page(browser, portrait)
    yield page
    page.context.close()


def _segments(runtime: Runtime) -> list[CustomerSegment]:
    with runtime.read_uow() as uow:
        return list(uow.session.scalars(select(CustomerSegment).where(CustomerSegment.segment.is_not(None))))


def _amounts(runtime: Runtime) -> dict[int, Decimal]:
    spent: dict[int, Decimal] = Counter()  # type: ignore[assignment]
    with runtime.read_uow() as uow:
        for customer, amount in uow.session.execute(select(Purchase.customer_id, Purchase.amount)):
            spent[customer] += amount
    return spent


def _cell(s: CustomerSegment) -> str:
    return f"{s.abc}{s.xyz or '-'}"


def test_given_a_planted_history_when_a_manager_reads_the_portrait_then_the_numbers_match_the_data(
        tab: Any, portrait: Web) -> None:
    segments = _segments(portrait.runtime)
    spent = _amounts(portrait.runtime)
    total = sum(spent.values(), Decimal(0))
    cells = Counter(_cell(s) for s in segments)
    sign_in(tab, portrait.key("manager"))
    tab.get_by_role("link", name="Portrait").first.click()
    assert tab.locator("h1").inner_text() == "Portrait: ABC × XYZ"
    assert f"data as of {AS_OF.isoformat()}" in tab.locator("#run-date").inner_text()
    assert tab.locator("#run-now").count() == 0  # managers read only
    assert tab.locator("a.cell").count() == 12
    for name, n in [*cells.most_common(2), ("AX", cells["AX"])]:
        cell = tab.locator(f"a.cell[data-cell='{name}']")
        share = float(sum((spent[s.customer_id] for s in segments if _cell(s) == name), Decimal(0)) / total)
        assert cell.get_attribute("data-customers") == str(n)
        assert float(cell.get_attribute("data-revenue-share") or "nan") == pytest.approx(share, abs=1e-5)
        assert cell.locator("text.customers").text_content() == f"{n:,} customers"
    shot(tab, "analytics-matrix", full_page=True)

    biggest = cells.most_common(1)[0][0]
    tab.locator(f"a.cell[data-cell='{biggest}']").click()
    assert tab.locator("#segment-total").inner_text() == f"{cells[biggest]:,}"

    tab.get_by_role("link", name="RFM segments").first.click()
    champions = sum(1 for s in segments if s.segment == "Champions")
    row = tab.locator("#segments-table-1 tr[data-segment='Champions']")
    assert row.locator("td.count").first.inner_text() == str(champions)
    assert tab.locator("g[data-r]").count() == 25
    shot(tab, "analytics-rfm", full_page=True)

    row.get_by_role("link", name="Champions").click()
    assert tab.locator("h1").inner_text() == "Customers of Champions"
    assert tab.locator("#customers-table tbody tr").count() == min(champions, 50)
    assert all(v.endswith("client_type=wholesale") or "client_type=wholesale" in v
               for v in tab.locator("#customers-table tbody td:nth-of-type(4)").all_inner_texts())
    if champions > 50:
        tab.get_by_role("link", name="Next page").click()
        assert tab.locator("#customers-table tbody tr").count() == min(champions - 50, 50)

    tab.get_by_role("link", name="Suggest a persona from this segment").click()
    rows = tab.locator("#profile g.index-row").evaluate_all(
        "rows => rows.map(r => [r.dataset.field, r.dataset.value, parseFloat(r.dataset.index)])")
    assert max(rows, key=lambda r: r[2])[:2] == ["client_type", "wholesale"]
    assert tab.locator("#anti-profile g.index-row[data-field='client_type'][data-value='retail']").count() == 1
    assert tab.locator("#draft-table tr[data-field='client_type']").count() == 2  # wanted wholesale, not retail
    assert tab.locator("#create-persona").count() == 0
    shot(tab, "analytics-suggest", full_page=True)

    tab.get_by_role("link", name="Win probability").click()
    model = tab.locator("section.win-model[data-pipeline='sales']")
    assert model.get_attribute("data-status") == "current"
    assert float(model.locator("dd.auc").inner_text()) > 0.8
    with portrait.runtime.read_uow() as uow:
        deciles = win_models.pipeline_models(uow.session, None)[0]["calibration"]["deciles"]
    held_out = [d["n"] for d in deciles if d["n"]]
    assert model.locator("circle.point").evaluate_all("cs => cs.map(c => +c.dataset.n)") == held_out
    assert model.locator("line.diagonal").count() == 1
    shot(tab, "analytics-win-model", full_page=True)


def test_given_an_admin_when_pressing_run_now_and_create_then_a_run_is_queued_and_the_persona_exists(
        tab: Any, portrait: Web) -> None:
    sign_in(tab, portrait.key("admin"))
    tab.goto("/analytics")
    tab.locator("#run-now").click()
    assert "is queued" in tab.locator("p.flash").inner_text()
    progress = tab.locator("#run-progress")
    assert progress.get_attribute("data-status") == "queued"
    assert re.search(r"run \d+ is queued: 0 of 0 purchases read", progress.inner_text())
    assert tab.locator("a.cell").count() == 12  # the previous run's heatmap stays until the new one is done

    tab.goto("/analytics/suggest?segment=champions")
    tab.locator("#create-persona").click()
    assert re.search(r"/admin/personas/\d+$", tab.url)
    assert "Suggested: Champions" in tab.locator("h1").inner_text()
    tab.goto("/analytics/suggest?segment=champions")
    assert tab.locator("#comparison li[data-agrees='True']").count() >= 1  # the new persona agrees with the data
    tab.locator("#create-persona").click()  # the name is taken now: said, nothing created
    assert "The persona was not created" in tab.locator("p.flash").inner_text()


def test_given_a_russian_browser_then_the_portrait_pages_are_in_russian(browser: Any, portrait: Web) -> None:
    tab = new_page(browser, portrait, locale="ru-RU")
    try:
        sign_in(tab, portrait.key("manager"))
        tab.goto("/analytics")
        assert tab.locator("html").get_attribute("lang") == "ru"
        assert tab.locator("h1").inner_text() == "Портрет: ABC × XYZ"
        assert "клиент" in tab.locator("a.cell text.customers").first.text_content()
        shot(tab, "analytics-ru", full_page=True)
        for path, title in (("/analytics/rfm", "Портрет: RFM-сегменты"), ("/analytics/win-model", "Вероятность")):
            tab.goto(path)
            assert tab.locator("h1").inner_text().startswith(title)
        tab.goto("/analytics/segments/champions")
        assert tab.locator("h1").inner_text() == "Клиенты сегмента «Чемпионы»"
    finally:
        tab.context.close()


def test_given_a_bad_segment_name_then_a_readable_404_page(tab: Any, portrait: Web) -> None:
    sign_in(tab, portrait.key("manager"))
    answer = tab.goto("/analytics/segments/nonsense")
    assert answer.status == 404
    assert tab.locator("h1").inner_text() == "There is no such segment"
    assert "Champions" in tab.locator("ul.details").inner_text()
    assert tab.goto("/analytics/suggest?segment=nonsense").status == 404


def _months(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month - (1 if end.day < start.day else 0)


def test_given_a_history_under_the_data_floor_then_the_page_says_not_enough_data_with_the_numbers(
        browser: Any, tmp_path: Path) -> None:
    with served(tmp_path) as small:
        tab = new_page(browser, small)
        try:
            sign_in(tab, small.key("manager"))
            tab.goto("/analytics")
            assert "no portrait run has finished yet" in tab.locator("#not-enough").inner_text()
            assert tab.goto("/analytics/segments/champions").status == 404

            planted = plant(small.runtime, wholesale=5, retail=10, dealers=5, insolvent=0)
            _run(small.runtime)
            with small.runtime.read_uow() as uow:
                first = min(uow.session.scalars(select(Purchase.purchased_on)))
            for path in ("/analytics", "/analytics/rfm"):
                answer = tab.goto(path)
                assert answer.status == 200
                assert tab.locator("p.not-enough").inner_text() == (
                    f"Not enough data: {planted.buyers} customers with purchases of 200 needed, "
                    f"{_months(first, AS_OF)} months of 12.")
                assert tab.locator("a.cell").count() == 0
            tab.goto("/analytics/suggest")
            assert "Not enough data" in tab.locator("#not-enough").inner_text()
        finally:
            tab.context.close()
