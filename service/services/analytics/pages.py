"""What the portrait's web pages read in one call each: the latest finished run's tables with its parameters and
the newest run's progress (a page shows "not enough data" rather than an error before any run has finished), and
every pipeline's win model across the connections."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

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
    of any status (so a queued or running one shows its progress, a failed one its error)."""
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
        return {"view": of(result), "run": run_view(done), "message": None,
                "latest": run_view(newest) if newest is not None else None}


def win_models_page(runtime: Runtime) -> dict[str, Any]:
    """Every non-archived pipeline's win model across the connections (as model_status's ``models``)."""
    with runtime.read_uow() as uow:
        return {"models": pipeline_models(uow.session, None)}
