"""The win probability of a pipeline's open deals: naive Bayes over the portrait fields and the stage, in the manner
of Odoo's predictive lead scoring (crm_lead.py, `_pls_get_naive_bayes_probabilities`).

- Frequency tables count closed deals per (field, value), won and lost apart; every count gets +0.1 when it is
  used, so a value never seen won (or lost) does not zero the product.
- A value seen on fewer than `min_support` closed deals is ignored (no factor at all).
- The stage counts the way Odoo counts it: a won deal passed every open stage, so it counts as won in each; a
  lost deal counts as lost in every open stage up to and including the furthest one it reached. The factor of
  a stage is then (won there + 0.1) / (won + 0.1) against (lost there + 0.1) / (lost + 0.1): the further a
  deal stands, the fewer lost deals got that far and the likelier a win.
- Tables hold raw integer counts (smoothing is applied when scoring), so `add` of one deal gives exactly the
  tables a retraining with that deal gives.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SMOOTHING = 0.1
MIN_SUPPORT = 5  # closed deals a value must have been seen on to count

Counts = tuple[int, int]  # (won, lost)


@dataclass(frozen=True)
class Example:
    """One closed deal as the model learns from it: its portrait values (as text), the furthest open stage it
    reached (None: not known, counted at the first), when it closed and whether it was won."""

    values: Mapping[str, str]
    won: bool
    closed_at: datetime
    reached: str | None = None


@dataclass(frozen=True)
class Model:
    """Won/lost counts of a pipeline's closed deals: in all, per field value and per open stage (`stages`: the
    pipeline's open stages in order)."""

    won: int
    lost: int
    fields: Mapping[str, Mapping[str, Counts]]
    stages: tuple[str, ...]
    stage_counts: Mapping[str, Counts]
    min_support: int = MIN_SUPPORT

    @property
    def closed(self) -> int:
        """Closed deals behind the tables."""
        return self.won + self.lost


def empty(stages: Sequence[str], min_support: int = MIN_SUPPORT) -> Model:
    """A model of no deals over a pipeline's open `stages` (in order)."""
    return Model(0, 0, {}, tuple(stages), {s: (0, 0) for s in stages}, min_support)


def train(examples: Iterable[Example], stages: Sequence[str], min_support: int = MIN_SUPPORT) -> Model:
    """The tables of `examples` over the pipeline's open `stages` (in order)."""
    fields_: dict[str, dict[str, list[int]]] = {}
    stage_counts = {s: [0, 0] for s in stages}
    won = lost = 0
    for example in examples:
        won += example.won
        lost += not example.won
        _count(fields_, stage_counts, tuple(stages), example)
    return Model(won, lost, _freeze(fields_), tuple(stages), {s: (c[0], c[1]) for s, c in stage_counts.items()},
                 min_support)


def add(model: Model, example: Example) -> Model:
    """The model with one more closed deal: the same tables as `train` over the old examples plus this one."""
    fields_ = {name: {value: list(c) for value, c in values.items()} for name, values in model.fields.items()}
    stage_counts = {s: list(c) for s, c in model.stage_counts.items()}
    _count(fields_, stage_counts, model.stages, example)
    return Model(model.won + example.won, model.lost + (not example.won), _freeze(fields_), model.stages,
                 {s: (c[0], c[1]) for s, c in stage_counts.items()}, model.min_support)


def _count(fields_: dict[str, dict[str, list[int]]], stage_counts: dict[str, list[int]], stages: tuple[str, ...],
           example: Example) -> None:
    side = 0 if example.won else 1
    for name, value in example.values.items():
        fields_.setdefault(name, {}).setdefault(value, [0, 0])[side] += 1
    for stage in _stages_counted(stages, example):
        stage_counts[stage][side] += 1


def _stages_counted(stages: tuple[str, ...], example: Example) -> tuple[str, ...]:
    if example.won:
        return stages
    furthest = stages.index(example.reached) if example.reached in stages else 0
    return stages[: furthest + 1]


def _freeze(fields_: dict[str, dict[str, list[int]]]) -> dict[str, dict[str, Counts]]:
    return {name: {value: (c[0], c[1]) for value, c in values.items()} for name, values in fields_.items()}


def log_odds(model: Model, values: Mapping[str, str], stage: str | None) -> float:
    """log(score won / score lost) of a deal with `values` standing in `stage` (None or an unknown stage: no
    stage factor); ValueError when the model has no won or no lost deal."""
    if not model.won or not model.lost:
        raise ValueError("a model needs won and lost deals")
    total = math.log(model.won / model.lost)
    # Sorted, so the sums (and so the probability, to the last bit) do not depend on the order deals came in.
    for name, value in sorted(values.items()):
        counts = model.fields.get(name, {}).get(value)
        if counts is None or sum(counts) < model.min_support:
            continue
        table = [model.fields[name][v] for v in sorted(model.fields[name])]
        won_total = sum(c[0] + SMOOTHING for c in table)
        lost_total = sum(c[1] + SMOOTHING for c in table)
        total += math.log((counts[0] + SMOOTHING) / won_total) - math.log((counts[1] + SMOOTHING) / lost_total)
    if stage is not None and stage in model.stage_counts:
        won_here, lost_here = model.stage_counts[stage]
        total += math.log((won_here + SMOOTHING) / (model.won + SMOOTHING))
        total -= math.log((lost_here + SMOOTHING) / (model.lost + SMOOTHING))
    return total


def probability(model: Model, values: Mapping[str, str], stage: str | None) -> float:
    """The probability that a deal with `values` standing in `stage` is won: score won / (score won + score
    lost); ValueError when the model has no won or no lost deal."""
    odds = log_odds(model, values, stage)
    # The logistic of the log-odds, written to stay finite on either side.
    if odds >= 0:
        return 1.0 / (1.0 + math.exp(-odds))
    e = math.exp(odds)
    return e / (1.0 + e)


def to_tables(model: Model) -> dict[str, Any]:
    """The model as JSON-ready tables (what `from_tables` reads back)."""
    return {
        "won": model.won, "lost": model.lost, "min_support": model.min_support, "stages": list(model.stages),
        "stage_counts": {s: list(c) for s, c in model.stage_counts.items()},
        "fields": {name: {value: list(c) for value, c in values.items()} for name, values in model.fields.items()},
    }


def from_tables(tables: Mapping[str, Any]) -> Model:
    """The model stored as `to_tables` wrote it; ValueError on malformed tables."""
    try:
        return Model(
            int(tables["won"]), int(tables["lost"]),
            {str(name): {str(v): (int(c[0]), int(c[1])) for v, c in values.items()}
             for name, values in tables["fields"].items()},
            tuple(str(s) for s in tables["stages"]),
            {str(s): (int(c[0]), int(c[1])) for s, c in tables["stage_counts"].items()},
            int(tables.get("min_support", MIN_SUPPORT)),
        )
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        raise ValueError(f"malformed win-model tables: {exc}") from exc
