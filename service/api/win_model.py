"""/v1/analytics/win-model: each pipeline's win-probability model (status, why disabled, calibration) and its
rebuild."""

from __future__ import annotations

from typing import Any

from schemas.win_model import RebuildInSchema, RebuildOutSchema, WinModelArgsSchema, WinModelStatusSchema
from service.api.common import errors, protected_blueprint, runtime
from service.services.win_models import model_status, rebuild

blp = protected_blueprint("win_model", __name__, "/v1/analytics/win-model",
                          "Win probability per pipeline (naive Bayes over the portrait and the stage)")


@blp.route("", methods=["GET"])
@blp.arguments(WinModelArgsSchema, location="query")
@blp.response(200, WinModelStatusSchema)
@errors(blp, 400, 401, 404, 422)
def status(args: dict[str, Any]) -> dict[str, Any]:
    """The model in use per pipeline of the connection (or of `pipeline`), or why there is none, with its
    calibration on the latest 20 % of closed deals: win rate per probability decile with n, Brier score, AUC."""
    return model_status(runtime(), args["connection_id"], args.get("pipeline"))


@blp.route("/rebuild", methods=["POST"])
@blp.arguments(RebuildInSchema(), required=False)
@blp.response(200, RebuildOutSchema)
@errors(blp, 400, 401, 403, 404, 413, 422)
def rebuild_models(data: dict[str, Any]) -> dict[str, Any]:
    """Rebuild the models now (as the nightly job does): a rebuilt model replaces the one in use only if its
    hold-out AUC is at least 0.95 x the current one's; below 40 won or 40 lost closed deals the pipeline is
    disabled, with the reason."""
    return {"changes": rebuild(runtime(), data.get("connection_id"))}
