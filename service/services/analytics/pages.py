"""What the portrait's web pages read in one call each: the latest finished run's tables with its parameters and
the newest run's progress (a page shows "not enough data" rather than an error before any run has finished), and
every pipeline's win model across the connections."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from service.domain.analytics.groups import CheckSizes, roi
from service.domain.analytics.profitability import margin_rate, minimum_purchase, total_margin
from service.errors import NotFoundError
from service.models import AnalyticsRun
from service.runtime import Runtime
from service.services.analytics.runs import KIND, run_view
from service.services.analytics.views import NO_RUN, abc_xyz_of, latest_run, rfm_of
from service.services.win_models import pipeline_models

TABLES = {"abc-xyz": abc_xyz_of, "rfm": rfm_of}


def portrait_page(runtime: Runtime, table: str) -> dict[str, Any]:
    """The ``table`` ("abc-xyz" or "rfm", as abc_xyz_view / rfm_view) of the latest finished run, or None with
    ``message`` saying how to make one; ``run``: that run (run_view, with its params); ``latest``: the newest run
    of any status (so a queued or running one shows its progress, a failed one its error); with a finished run,
    ``answers``: per analysed currency, segment_answers (the money questions per segment and cell)."""
    of = TABLES[table]
    with runtime.read_uow() as uow:
        newest = uow.session.scalars(select(AnalyticsRun).where(AnalyticsRun.kind == KIND)
                                     .order_by(AnalyticsRun.id.desc())).first()
        try:
            done = latest_run(uow.session)
        except NotFoundError:
            return {"view": None, "run": None, "message": NO_RUN,
                    "latest": run_view(newest) if newest is not None else None}
        result = {"run_id": done.id, **(done.result or {})}
        cost = _decimal(done.params.get("acquisition_cost"))
        answers = {c["currency"]: segment_answers(c, cost) for c in result["currencies"] if c["enough"]}
        return {"view": of(result), "answers": answers, "run": run_view(done), "message": None,
                "latest": run_view(newest) if newest is not None else None}


def win_models_page(runtime: Runtime) -> dict[str, Any]:
    """Every non-archived pipeline's win model across the connections (as model_status's ``models``)."""
    with runtime.read_uow() as uow:
        return {"models": pipeline_models(uow.session, None)}


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _check_sizes(name: str, stored: dict[str, Any] | None) -> CheckSizes | None:
    if not stored:
        return None
    return CheckSizes(name, stored["n"], {int(k[1:]) / 100: v for k, v in stored["quantiles"].items()})


def segment_answers(currency: dict[str, Any], cost: Decimal | None) -> dict[str, Any]:
    """The articles' money questions of one analysed currency of a stored result (results.analysis_json) with the
    run's acquisition ``cost`` per client: ``rows`` per segment and cell name ({customers, pay_per_client (revenue
    / customers), purchases_per_year, margin_known, margin_per_customer, roi}); ``margin_known`` (every analysed
    customer's margin), ``margin_rate`` (margin / revenue of all of them), ``cost``; ``minimum`` (profitability.
    minimum_purchase: value, basis, reasons, margin_rate, a_floor, c_median); ``check_sizes`` as stored (A, C)."""
    rows: dict[str, dict[str, Any]] = {}
    for g in (*currency.get("segments", ()), *currency.get("matrix", ())):
        per = _decimal(g.get("margin_per_customer"))
        rows[g["name"]] = {
            "customers": g["customers"],
            "pay_per_client": g["revenue"] / g["customers"] if g["customers"] else None,
            "purchases_per_year": g.get("purchases_per_year"), "margin_known": per is not None,
            "margin_per_customer": None if per is None else float(per), "roi": roi(per, cost)}
    segments = currency.get("segments", ())
    margin = total_margin((g["customers"], _decimal(g.get("margin_per_customer"))) for g in segments)
    revenue = sum((Decimal(str(g["revenue"])) for g in segments), Decimal(0))
    rate = margin_rate(margin, revenue)
    checks = currency.get("check_sizes") or {}
    found = minimum_purchase(_check_sizes("A", checks.get("A")), _check_sizes("C", checks.get("C")), rate, cost)
    return {"rows": rows, "margin_known": margin is not None and revenue > 0, "margin_rate": rate,
            "cost": None if cost is None else float(cost), "check_sizes": checks,
            "minimum": {"value": found.value, "basis": found.basis.value,
                        "reasons": [r.value for r in found.reasons], "margin_rate": found.margin_rate,
                        "a_floor": found.a_floor, "c_median": found.c_median}}
