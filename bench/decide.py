"""Benchmark ``Gatekeeper.decide``: a 30-field gate with 10 conditional requirements.

Run from the repo root: ``python -m bench.decide``. Prints µs per call (best of 5 timeit
repeats) next to a same-run baseline (a loop doing the equivalent 30 dict lookups and one
trivial function call per field), so the number can be judged on any machine. Not a test.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from decimal import Decimal

from service.domain.conditions import parse_condition
from service.domain.fields import Constraints, FieldSpec, FieldType
from service.domain.gating import Gatekeeper
from service.domain.pipeline import Gate, GateMode, Pipeline, Requirement, Stage, StageKind, StageRef

TARGET_US = 20.0
REPEATS = 5


def build() -> tuple[Gatekeeper, dict[str, object]]:
    """A pipeline with a 30-requirement enforce gate on "proposal" and CRM-style string values."""
    kinds = [
        FieldType.TEXT,
        FieldType.NUMBER,
        FieldType.MONEY,
        FieldType.ENUM,
        FieldType.BOOLEAN,
        FieldType.DATE,
    ]
    fields: list[FieldSpec] = []
    values: dict[str, object] = {}
    for i in range(30):
        kind = kinds[i % len(kinds)]
        key = f"f{i:02d}"
        constraints = Constraints()
        value: object = f"value {i}"
        if kind is FieldType.NUMBER:
            constraints, value = Constraints(min=Decimal(0), max=Decimal(1000)), "12.5"
        elif kind is FieldType.MONEY:
            constraints, value = Constraints(min=Decimal(100)), "25000"
        elif kind is FieldType.ENUM:
            constraints, value = Constraints(options=("retail", "b2b", "other")), "retail"
        elif kind is FieldType.BOOLEAN:
            value = "true"
        elif kind is FieldType.DATE:
            value = "2024-05-01"
        else:
            constraints = Constraints(min_length=2, max_length=200)
        fields.append(FieldSpec(key, f"Field {i}", kind, constraints))
        values[key] = value
    values["f05"] = ""  # a missing date
    values["f29"] = "n/a"  # a placeholder
    requirements = []
    for i in range(30):
        condition = None
        if i % 3 == 0:  # 10 conditional requirements of varied shapes
            condition = parse_condition(
                [
                    {"field": "f03", "op": "eq", "value": "retail"},
                    {
                        "any": [
                            {"field": "f01", "op": "gt", "value": 10},
                            {"field": "f04", "op": "eq", "value": True},
                        ]
                    },
                    {"field": "f09", "op": "in", "value": ["b2b", "other"]},
                    {"all": [{"field": "f02", "op": "gte", "value": 1000}, {"field": "f00", "op": "filled"}]},
                ][i % 4]
            )
        requirements.append(Requirement(f"f{i:02d}", condition))
    stages = (
        Stage("lead", "Lead", 0),
        Stage("proposal", "Proposal", 1),
        Stage("lost", "Lost", 9, StageKind.LOST),
    )
    keeper = Gatekeeper(
        [Pipeline("sales", "Sales", stages)],
        [Gate("sales", "proposal", GateMode.ENFORCE, tuple(requirements))],
        fields,
    )
    return keeper, values


def best_us(fn: Callable[[], object], number: int) -> float:
    """Best-of-REPEATS microseconds per call of ``fn``."""
    return min(timeit.repeat(fn, number=number, repeat=REPEATS)) / number * 1e6


def main() -> None:
    """Measure and print decide vs. baseline."""
    keeper, values = build()
    source, target = StageRef("sales", "lead"), StageRef("sales", "proposal")
    decision = keeper.decide(source, target, values)
    keys = [f"f{i:02d}" for i in range(30)]

    def touch(value: object) -> object:
        return value

    def baseline() -> None:
        for key in keys:
            touch(values.get(key))

    decide_us = best_us(lambda: keeper.decide(source, target, values), 20_000)
    base_us = best_us(baseline, 20_000)
    print(f"decision: {decision.outcome} with {len(decision.issues)} issues ({decision.message})")
    print(
        f"decide: {decide_us:.2f} µs/call (target ≤ {TARGET_US:.0f} µs); baseline: {base_us:.2f} µs; "
        f"ratio: {decide_us / base_us:.1f}"
    )


if __name__ == "__main__":
    main()
