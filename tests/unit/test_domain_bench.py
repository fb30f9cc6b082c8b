"""The decide benchmark's scenario stays runnable (the timing itself is not a test)."""

from __future__ import annotations

from bench.decide import build
from service.domain.issues import Outcome
from service.domain.pipeline import StageRef


def test_the_benchmark_gate_blocks_on_the_two_unfilled_fields() -> None:
    keeper, values = build()
    decision = keeper.decide(StageRef("sales", "lead"), StageRef("sales", "proposal"), values)
    assert decision.outcome is Outcome.BLOCKED
    assert [issue.field for issue in decision.issues] == ["f05", "f29"]
