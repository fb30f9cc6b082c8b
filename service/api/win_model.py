"""/v1/analytics/win-model: each pipeline's win-probability model (status, why disabled, calibration) and its
rebuild."""

from __future__ import annotations

from typing import Any

from schemas.win_model import RebuildInSchema, RebuildOutSchema, WinModelArgsSchema, WinModelStatusSchema
from service.api.analytics import FILE_TYPES, wanted_format
from service.api.common import download, errors, protected_blueprint, runtime
from service.services.analytics.exports import win_model_for
from service.services.reports.exports import ReportFile
from service.services.win_models import rebuild

blp = protected_blueprint("win_model", __name__, "/v1/analytics/win-model",
                          "Win probability per pipeline (naive Bayes over the portrait and the stage)")


@blp.route("", methods=["GET"])
@blp.arguments(WinModelArgsSchema, location="query")
@blp.response(200, WinModelStatusSchema,
              description="The models; as CSV or XLSX (models, calibration deciles): ?format or Accept")
@blp.doc(responses={"200": {"content": {"application/json": {"schema": WinModelStatusSchema}, **FILE_TYPES}}})
@errors(blp, 400, 401, 404, 422)
def status(args: dict[str, Any]) -> Any:
    """The model in use per pipeline of the connection (or of `pipeline`), or why there is none, with its
    calibration on the latest 20 % of closed deals: win rate per probability decile with n, Brier score, AUC."""
    found = win_model_for(runtime(), args["connection_id"], args.get("pipeline"), wanted_format(args))
    return download(found) if isinstance(found, ReportFile) else found


@blp.route("/rebuild", methods=["POST"])
@blp.arguments(RebuildInSchema(), required=False)
@blp.response(200, RebuildOutSchema)
@errors(blp, 400, 401, 403, 404, 413, 422)
def rebuild_models(data: dict[str, Any]) -> dict[str, Any]:
    """Rebuild the models now (as the nightly job does): a rebuilt model replaces the one in use only if its
    hold-out AUC is at least 0.95 x the current one's; below 40 won or 40 lost closed deals the pipeline is
    disabled, with the reason."""
    return {"changes": rebuild(runtime(), data.get("connection_id"))}
