"""What the portrait pages read (service/services/analytics/pages.py): the latest finished run's tables with its
parameters and the newest run's progress, and every pipeline's win model."""

from __future__ import annotations

from service.runtime import Runtime
from service.services import win_models
from service.services.analytics.pages import portrait_page, win_models_page
from service.services.analytics.runs import queue_run, run_portrait
from service.services.analytics.views import NO_RUN, abc_xyz_view, rfm_view
from tests.integration.analytics_history import AS_OF, plant
from tests.integration.test_win_models import planted as planted_deals
from tests.integration.test_win_models import seed as seed_deals


def test_given_no_finished_run_then_the_page_has_no_tables_but_the_queued_runs_progress(runtime: Runtime) -> None:
    assert portrait_page(runtime, "abc-xyz") == {"view": None, "run": None, "message": NO_RUN, "latest": None}
    queued = queue_run(runtime, {"as_of": AS_OF})
    found = portrait_page(runtime, "rfm")
    assert found["view"] is None and found["latest"]["id"] == queued["id"]
    assert found["latest"]["status"] == "queued"


def test_given_a_finished_run_then_the_page_shows_its_tables_and_params_and_a_newer_queued_run(
        runtime: Runtime) -> None:
    plant(runtime, wholesale=60, retail=150, dealers=60, insolvent=0)
    done = queue_run(runtime, {"as_of": AS_OF, "hysteresis": 0})
    run_portrait(runtime, done["id"])
    found = portrait_page(runtime, "abc-xyz")
    assert found["view"] == abc_xyz_view(runtime) and found["message"] is None
    assert found["run"]["id"] == done["id"] and found["run"]["params"]["hysteresis"] == 0
    assert found["latest"]["id"] == done["id"]
    assert portrait_page(runtime, "rfm")["view"] == rfm_view(runtime)
    newer = queue_run(runtime, {})
    found = portrait_page(runtime, "abc-xyz")
    assert found["run"]["id"] == done["id"] and found["latest"]["id"] == newer["id"]


def test_win_models_page_lists_every_connections_pipeline(runtime: Runtime) -> None:
    assert win_models_page(runtime) == {"models": []}
    cid = seed_deals(runtime, planted_deals(200))
    win_models.rebuild(runtime)
    (model,) = win_models_page(runtime)["models"]
    assert (model["connection_id"], model["pipeline"]) == (cid, "sales")
    assert model == win_models.model_status(runtime, cid)["models"][0]
