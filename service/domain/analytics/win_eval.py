"""How far a win model can be trusted: the time-based split, the calibration on the hold-out (win rate per
probability decile with n, Brier score, AUC), the data floor and the rule for replacing the current model.

The hold-out scores each deal as it entered the pipeline (its portrait values, no stage): the stage a closed deal
reached is part of its outcome (a won deal passed every stage), so scoring it there would leak the answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from service.domain.analytics.win_model import Example, Model, probability, train

MIN_WON = 40
MIN_LOST = 40
HOLDOUT_SHARE = 0.2
REPLACE_RATIO = 0.95  # a rebuilt model must reach this share of the current model's hold-out AUC


@dataclass(frozen=True)
class Calibration:
    """A model's record on deals it did not learn from: per probability decile (0-10 %, ..., 90-100 %) how many
    deals, their mean predicted probability and their win rate; the Brier score; the AUC (None without both won
    and lost deals)."""

    n: int
    won: int
    deciles: tuple[dict[str, Any], ...]
    brier: float | None
    auc: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"n": self.n, "won": self.won, "deciles": list(self.deciles), "brier": self.brier, "auc": self.auc}


def time_split(examples: Sequence[Example], holdout_share: float = HOLDOUT_SHARE
               ) -> tuple[list[Example], list[Example]]:
    """(train, hold-out): the deals closed before the cut, and the latest `holdout_share` of them (rounded up;
    deals closed at the same instant as the first held-out one are held out too)."""
    ordered = sorted(examples, key=lambda e: e.closed_at)
    if not ordered:
        return [], []
    cut = len(ordered) - math.ceil(len(ordered) * holdout_share)
    while 0 < cut < len(ordered) and ordered[cut].closed_at == ordered[cut - 1].closed_at:
        cut -= 1
    return ordered[:cut], ordered[cut:]


def auc(scored: Sequence[tuple[float, bool]]) -> float | None:
    """The probability that a won deal scores above a lost one (Mann-Whitney U / (won x lost), ties counted
    half); None without both won and lost deals."""
    won = sum(1 for _, w in scored if w)
    lost = len(scored) - won
    if not won or not lost:
        return None
    ordered = sorted(scored, key=lambda s: s[0])
    rank_sum = 0.0
    i = 0
    while i < len(ordered):
        j = i
        while j < len(ordered) and ordered[j][0] == ordered[i][0]:
            j += 1
        mid_rank = (i + 1 + j) / 2  # ranks i+1..j share their mean
        rank_sum += mid_rank * sum(1 for k in range(i, j) if ordered[k][1])
        i = j
    return (rank_sum - won * (won + 1) / 2) / (won * lost)


def brier(scored: Sequence[tuple[float, bool]]) -> float | None:
    """The mean squared gap between the predicted probability and the outcome (1 won, 0 lost); None without
    deals."""
    if not scored:
        return None
    return sum((p - (1.0 if w else 0.0)) ** 2 for p, w in scored) / len(scored)


def deciles(scored: Sequence[tuple[float, bool]]) -> tuple[dict[str, Any], ...]:
    """Ten bins of predicted probability (the last includes 100 %): n, won, mean predicted, win rate (None when
    empty)."""
    bins: list[list[tuple[float, bool]]] = [[] for _ in range(10)]
    for p, w in scored:
        bins[min(int(p * 10), 9)].append((p, w))
    out = []
    for i, members in enumerate(bins):
        n, won = len(members), sum(1 for _, w in members if w)
        out.append({"low": i / 10, "high": (i + 1) / 10, "n": n, "won": won,
                    "predicted": sum(p for p, _ in members) / n if n else None,
                    "win_rate": won / n if n else None})
    return tuple(out)


def calibration(model: Model, holdout: Sequence[Example]) -> Calibration:
    """How `model` does on `holdout` (each deal scored from its portrait values, without a stage)."""
    scored = [(probability(model, e.values, None), e.won) for e in holdout]
    return Calibration(len(scored), sum(1 for _, w in scored if w), deciles(scored), brier(scored), auc(scored))


def floor_reason(won: int, lost: int, min_won: int = MIN_WON, min_lost: int = MIN_LOST) -> str | None:
    """None when there are enough closed deals to build a model; otherwise what is missing."""
    missing = [f"{have} {kind} deals, {need} needed" for have, need, kind in
               ((won, min_won, "won"), (lost, min_lost, "lost")) if have < need]
    return "not enough closed deals: " + "; ".join(missing) if missing else None


def replaces(new_auc: float | None, current_auc: float | None, ratio: float = REPLACE_RATIO) -> bool:
    """Whether a rebuilt model with hold-out AUC `new_auc` replaces the current one (None: no current model, or
    one without an AUC): only if its AUC is at least `ratio` x the current one's."""
    if current_auc is None:
        return True
    return new_auc is not None and new_auc >= ratio * current_auc


@dataclass(frozen=True)
class Built:
    """A rebuilt model: trained on the earlier deals for the calibration, then on every deal to be used."""

    model: Model
    calibration: Calibration


def build(examples: Sequence[Example], stages: Sequence[str], holdout_share: float = HOLDOUT_SHARE) -> Built:
    """Calibrate a model trained before the cut on the hold-out after it, then train on every deal (the model
    used from now on learns from the latest deals too; the calibration is what it earned out of sample)."""
    before, after = time_split(examples, holdout_share)
    trained = train(before, stages)
    check = calibration(trained, after) if trained.won and trained.lost else \
        Calibration(len(after), sum(1 for e in after if e.won), deciles([]), None, None)
    return Built(train(examples, stages), check)
