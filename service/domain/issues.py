"""Results of gating: outcomes, field issues, decisions and per-stage completeness."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from service.domain.pipeline import Direction, GateMode


class Outcome(StrEnum):
    """What a move results in: allowed, blocked (enforce), warned (warn) or audited (audit)."""

    ALLOWED = "allowed"
    BLOCKED = "blocked"
    WARNED = "warned"
    AUDITED = "audited"


OUTCOME_FOR_MODE: dict[GateMode, Outcome] = {
    GateMode.ENFORCE: Outcome.BLOCKED,
    GateMode.WARN: Outcome.WARNED,
    GateMode.AUDIT: Outcome.AUDITED,
}
MODE_FOR_OUTCOME: dict[Outcome, GateMode] = {outcome: mode for mode, outcome in OUTCOME_FOR_MODE.items()}


class Reason(StrEnum):
    """Why a requirement fails: a field not filled, filled with a bad value or not configured; or the persona fit."""

    MISSING = "missing"
    INVALID = "invalid"
    UNKNOWN_FIELD = "unknown_field"
    PERSONA = "persona"  # the lead's fit to a persona fails the gate's persona requirement


@dataclass(frozen=True)
class FieldIssue:
    """A required field that is not filled, for the first gated stage that needs it.

    ``mode`` is the strictest mode among the gates requiring it; ``constraint`` names the
    failed check for INVALID; ``label`` and ``message`` are in the decision's language.
    """

    field: str
    label: str
    reason: Reason
    stage_id: str
    mode: GateMode
    message: str
    constraint: str | None = None


@dataclass(frozen=True)
class Decision:
    """The verdict on one stage move.

    ``gated_stages`` are the stage ids whose gates the move had to pass (in stage order);
    ``issues`` are ordered by stage order then requirement order, one per field.
    """

    outcome: Outcome
    direction: Direction
    gated_stages: tuple[str, ...]
    issues: tuple[FieldIssue, ...]
    message: str
    required: int = 0  # distinct fields the gates on the route required of this deal (a skipped condition: not)

    @property
    def missing(self) -> tuple[FieldIssue, ...]:
        """Issues whose reason is MISSING."""
        return tuple(i for i in self.issues if i.reason is Reason.MISSING)

    @property
    def invalid(self) -> tuple[FieldIssue, ...]:
        """Issues whose reason is INVALID."""
        return tuple(i for i in self.issues if i.reason is Reason.INVALID)

    @property
    def blocking_issues(self) -> tuple[FieldIssue, ...]:
        """Issues of the gate mode that produced the outcome (enforce for BLOCKED, ...); () when ALLOWED."""
        mode = MODE_FOR_OUTCOME.get(self.outcome)
        return tuple(i for i in self.issues if i.mode is mode) if mode is not None else ()

    @property
    def allowed(self) -> bool:
        """True unless the move is BLOCKED (warned and audited moves go through)."""
        return self.outcome is not Outcome.BLOCKED


@dataclass(frozen=True)
class StageCompleteness:
    """What entering ``stage_id`` from the current stage would need.

    ``required`` counts distinct fields required (conditions applied), ``filled`` how many
    of them are filled, ``outcome`` the decision such a move would get now.
    """

    stage_id: str
    label: str
    required: int
    filled: int
    outcome: Outcome
    issues: tuple[FieldIssue, ...]
