"""The parameters of a portrait run: a plain JSON dict (stored on the run) turned into the domain's settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from service.domain.analytics.abc import AbcCutoffs
from service.domain.analytics.purchases import AnalyticsError
from service.domain.analytics.report import AbcBasis, AnalyticsConfig
from service.domain.analytics.xyz import XyzConfig, XyzMode
from service.errors import InvalidInputError

DEFAULT_HYSTERESIS = 0.5  # score points a customer must move past a segment's border before it changes segment
KEYS = frozenset({"as_of", "abc_cutoffs", "basis", "xyz_mode", "period_months", "horizon_months", "min_purchases",
                  "min_periods", "rates", "base", "hysteresis", "acquisition_cost"})


@dataclass(frozen=True)
class RunSettings:
    """Everything one run needs besides the purchases."""

    as_of: date
    config: AnalyticsConfig
    rates: dict[str, Decimal] | None
    base: str | None
    hysteresis: float


def _decimal(raw: object, path: str) -> Decimal:
    try:
        return Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise InvalidInputError("Invalid analytics parameters.", {path: ["must be a number"]}) from None


def clean_params(params: dict[str, Any], today: date) -> dict[str, Any]:
    """``params`` as stored on a run (JSON values, ``as_of`` defaulting to ``today``), checked by building the
    settings once; InvalidInputError naming each bad parameter."""
    unknown = sorted(set(params) - KEYS)
    if unknown:
        raise InvalidInputError("Unknown analytics parameters.", {k: ["unknown parameter"] for k in unknown})
    cleaned = {k: v for k, v in params.items() if v is not None}
    as_of = cleaned.get("as_of") or today
    cleaned["as_of"] = as_of.isoformat() if isinstance(as_of, date) else str(as_of)
    if "rates" in cleaned:
        cleaned["rates"] = {str(c): str(r) for c, r in dict(cleaned["rates"]).items()}
    if "acquisition_cost" in cleaned:
        cleaned["acquisition_cost"] = str(cleaned["acquisition_cost"])
    run_settings(cleaned)
    return cleaned


def run_settings(params: dict[str, Any]) -> RunSettings:
    """The domain settings of stored ``params``; InvalidInputError naming each bad parameter."""
    try:
        as_of = date.fromisoformat(str(params["as_of"]))
    except ValueError:
        raise InvalidInputError("Invalid analytics parameters.", {"as_of": ["must be a date YYYY-MM-DD"]}) from None
    try:
        default = XyzConfig()
        xyz = XyzConfig(period_months=int(params.get("period_months", default.period_months)),
                        horizon_months=int(params.get("horizon_months", default.horizon_months)),
                        min_purchases=int(params.get("min_purchases", default.min_purchases)),
                        min_periods=int(params.get("min_periods", default.min_periods)),
                        mode=XyzMode(params.get("xyz_mode", XyzMode.ADAPTIVE)))
        cut = params.get("abc_cutoffs")
        config = AnalyticsConfig(
            abc=AbcCutoffs(*(float(c) for c in cut)) if cut else AbcCutoffs(),
            basis=AbcBasis(params.get("basis", AbcBasis.REVENUE)), xyz=xyz,
            acquisition_cost=_decimal(params["acquisition_cost"], "acquisition_cost")
            if "acquisition_cost" in params else None)
    except AnalyticsError as exc:
        raise InvalidInputError(exc.message, exc.errors) from None
    except (ValueError, TypeError) as exc:
        raise InvalidInputError("Invalid analytics parameters.", {"params": [str(exc)]}) from None
    rates = {c: _decimal(r, f"rates.{c}") for c, r in params["rates"].items()} if "rates" in params else None
    if rates is not None and not params.get("base"):
        raise InvalidInputError("Invalid analytics parameters.", {"base": ["required with rates"]})
    hysteresis = float(params.get("hysteresis", DEFAULT_HYSTERESIS))
    if not 0 <= hysteresis <= 5:
        raise InvalidInputError("Invalid analytics parameters.", {"hysteresis": ["must be from 0 to 5"]})
    return RunSettings(as_of, config, rates, params.get("base"), hysteresis)
