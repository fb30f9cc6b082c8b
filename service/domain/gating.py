"""Stage gating: which gates a move must pass and whether the deal's values satisfy them.

Rules. Stages are ordered by ``order``. Moving to the same stage or backwards within a pipeline
is always ALLOWED with no issues. Moving forward from stage M to N requires the gates of every
OPEN/WON stage after M up to and including N, so skipping stages never bypasses a gate.
Entering a pipeline (no previous stage, another pipeline, an unknown source stage, or from a
LOST stage) requires the gates of every OPEN/WON stage up to and including the target (ENTER).
Moving into a LOST stage requires only that stage's own gate (TO_LOST). A requirement whose
``required_if`` is False is skipped; one naming a field that is not configured fails with
reason UNKNOWN_FIELD. Any failing ENFORCE requirement -> BLOCKED, else WARN -> WARNED, else
AUDIT -> AUDITED, else ALLOWED. A field failing for several stages is reported once, at the
first stage needing it, with the strictest mode; issues follow stage order, then requirement order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from service.domain.checkers import Checked, compile_checker
from service.domain.condition_compile import compile_condition
from service.domain.condition_model import referenced_fields
from service.domain.errors import FieldSpecError, PipelineError
from service.domain.evaluation import evaluate_route
from service.domain.fieldtypes import DEFAULT_PLACEHOLDERS, FieldSpec, ValueState, language_code
from service.domain.issues import OUTCOME_FOR_MODE, Decision, FieldIssue, Outcome, Reason, StageCompleteness
from service.domain.messages import decision_message, issue_message
from service.domain.pipeline import (
    MODE_RANK,
    Direction,
    Gate,
    GateMode,
    Pipeline,
    Stage,
    StageKind,
    StageRef,
)
from service.domain.routing import CompiledRequirement, Route, build_route
from service.domain.specs import validate_spec

_OUTCOME_BY_RANK = {MODE_RANK[mode]: outcome for mode, outcome in OUTCOME_FOR_MODE.items()}
_MODE_BY_RANK = {rank: mode for mode, rank in MODE_RANK.items()}
_LANGUAGES = {"en": "en", "ru": "ru"}  # fast path before language_code()
_MISSING_CODE, _UNKNOWN_CODE = "", "!"  # issue memo codes; INVALID uses the constraint name
_MAX_CACHE = 65_536  # memo entries (issues, messages) before a memo is reset


class Gatekeeper:
    """Compiled, immutable gating policy for one connection; build once, call decide() many times.

    Construction validates every field (FieldSpecError for an invalid spec or a duplicate key)
    and pipeline ids (PipelineError for duplicates), compiles value checkers and conditions, and
    ignores gates whose pipeline or stage is unknown (listed in ``orphan_gates``). Instances hold
    only internal memo caches, so one instance may be shared across threads.
    """

    def __init__(
        self,
        pipelines: Iterable[Pipeline],
        gates: Iterable[Gate],
        fields: Iterable[FieldSpec],
        placeholders: frozenset[str] = DEFAULT_PLACEHOLDERS,
    ) -> None:
        self._fields: dict[str, FieldSpec] = {}
        for spec in fields:
            validate_spec(spec)
            if spec.key in self._fields:
                raise FieldSpecError(f"duplicate field {spec.key!r}", {"key": [f"duplicate {spec.key!r}"]})
            self._fields[spec.key] = spec
        self._checkers = {key: compile_checker(spec, placeholders) for key, spec in self._fields.items()}
        self._pipelines: dict[str, Pipeline] = {}
        self._ordered: dict[str, tuple[Stage, ...]] = {}
        self._positions: dict[str, dict[str, int]] = {}
        for pipeline in pipelines:
            if pipeline.id in self._pipelines:
                message = f"duplicate pipeline {pipeline.id!r}"
                raise PipelineError(message, {"id": [message]})
            self._pipelines[pipeline.id] = pipeline
            self._ordered[pipeline.id] = pipeline.ordered_stages
            self._positions[pipeline.id] = {s.id: i for i, s in enumerate(self._ordered[pipeline.id])}
        self._stage_requirements: dict[tuple[str, str], tuple[CompiledRequirement, ...]] = {}
        orphans: list[Gate] = []
        gates_list = list(gates)
        for gate in gates_list:
            if gate.stage_id not in self._positions.get(gate.pipeline_id, {}):
                orphans.append(gate)
                continue
            key = (gate.pipeline_id, gate.stage_id)
            self._stage_requirements[key] = self._stage_requirements.get(key, ()) + self._compile_gate(gate)
        self.orphan_gates: tuple[Gate, ...] = tuple(orphans)
        self._condition_fields = frozenset(
            key
            for gate in gates_list
            for r in gate.requirements
            if r.required_if is not None
            for key in referenced_fields(r.required_if)
        )
        self._routes: dict[tuple[str, int | None, int], Route] = {}
        self._issues: dict[tuple[str, str, int, str | None, str], FieldIssue] = {}
        self._messages: dict[tuple[str, int, str, tuple[str, ...]], str] = {}

    def _compile_gate(self, gate: Gate) -> tuple[CompiledRequirement, ...]:
        mode, checkers = GateMode(gate.mode), self._checkers
        return tuple(
            (
                r.field,
                self._checkers.get(r.field),
                None if r.required_if is None else compile_condition(r.required_if, self._fields, checkers),
                gate.stage_id,
                mode,
                MODE_RANK[mode],
            )
            for r in gate.requirements
        )

    @property
    def fields(self) -> Mapping[str, FieldSpec]:
        """The configured fields by key (a copy)."""
        return dict(self._fields)

    def stages_to_gate(
        self, source: StageRef | None, target: StageRef
    ) -> tuple[Direction, tuple[StageRef, ...]]:
        """Return the move's direction and the stages whose gates it must pass, in stage order.

        SAME/BACKWARD -> (); FORWARD -> OPEN/WON stages after the source up to the target;
        ENTER -> OPEN/WON stages up to the target; TO_LOST -> the lost target only. Raises
        PipelineError for an unknown target pipeline or stage; an unknown source is ENTER.
        """
        route = self._route(source, target)
        return route.direction, route.refs

    def _route(self, source: StageRef | None, target: StageRef) -> Route:
        positions = self._positions.get(target.pipeline_id)
        if positions is None:
            message = f"unknown pipeline {target.pipeline_id!r}"
            raise PipelineError(message, {"pipeline_id": [message]})
        if target.stage_id not in positions:
            raise PipelineError(
                f"unknown stage {target.stage_id!r} in pipeline {target.pipeline_id!r}",
                {"stage_id": [f"unknown {target.stage_id!r}"]},
            )
        source_position = None
        if source is not None and source.pipeline_id == target.pipeline_id:
            source_position = positions.get(source.stage_id)
        key = (target.pipeline_id, source_position, positions[target.stage_id])
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = build_route(
                target.pipeline_id,
                self._ordered[target.pipeline_id],
                source_position,
                positions[target.stage_id],
                self._stage_requirements,
                self._condition_fields,
            )
        return route

    def decide(
        self, source: StageRef | None, target: StageRef, values: Mapping[str, object], language: str = "en"
    ) -> Decision:
        """Decide a move from ``source`` (None = new deal) to ``target`` given raw field ``values``.

        Raises PipelineError for an unknown target pipeline or stage; an unknown source stage
        or pipeline is treated as ENTER. Deterministic: equal inputs give equal decisions.
        """
        route = self._route(source, target)
        lang = _LANGUAGES.get(language) or language_code(language)
        # Only a route with conditions needs its required fields collected; otherwise they are known up front.
        required: set[str] | None = set() if route.special else None
        issues, rank = self._evaluate(route, values, lang, {}, required)
        outcome = _OUTCOME_BY_RANK.get(rank, Outcome.ALLOWED)
        key = (route.target.label, rank, lang, tuple(issue.field for issue in issues))
        message = self._messages.get(key)
        if message is None:
            message = decision_message(outcome, route.target.label, issues, lang)
            if len(self._messages) >= _MAX_CACHE:
                self._messages.clear()
            self._messages[key] = message
        count = len(route.plain_fields) if required is None else len(required)
        return Decision(outcome, route.direction, route.gated_stages, issues, message, count)

    def completeness(
        self, current: StageRef, values: Mapping[str, object], language: str = "en"
    ) -> tuple[StageCompleteness, ...]:
        """For each stage reachable forward from ``current``, what entering it now would need.

        Covers every later OPEN/WON stage of the pipeline (every OPEN/WON stage when ``current``
        is LOST) and every other LOST stage that has a gate, in stage order. Raises
        PipelineError when ``current``'s pipeline or stage is unknown.
        """
        self._route(None, current)  # validates the pipeline and stage
        ordered = self._ordered[current.pipeline_id]
        here = self._positions[current.pipeline_id][current.stage_id]
        from_lost = ordered[here].kind == StageKind.LOST
        lang = language_code(language)
        cache: dict[str, Checked] = {}  # shared across stages: each field is checked once
        out: list[StageCompleteness] = []
        for position, stage in enumerate(ordered):
            if position == here:
                continue
            if stage.kind == StageKind.LOST:
                if (current.pipeline_id, stage.id) not in self._stage_requirements:
                    continue
            elif not from_lost and position < here:
                continue
            route = self._route(current, StageRef(current.pipeline_id, stage.id))
            required: set[str] = set()
            issues, rank = self._evaluate(route, values, lang, cache, required)
            outcome = _OUTCOME_BY_RANK.get(rank, Outcome.ALLOWED)
            filled = len(required) - len(issues)
            out.append(StageCompleteness(stage.id, stage.label, len(required), filled, outcome, issues))
        return tuple(out)

    def _evaluate(
        self,
        route: Route,
        values: Mapping[str, object],
        lang: str,
        cache: dict[str, Checked],
        required: set[str] | None,
    ) -> tuple[tuple[FieldIssue, ...], int]:
        """Return (issues, strictest failing mode rank or 0); add required field keys to ``required``."""
        if not route.requirements:
            return (), 0
        failures = evaluate_route(route, values, self._checkers, cache, required)
        if not failures:
            return (), 0
        issues = tuple(
            self._issue(field, stage, rank, checked, lang) for field, stage, _, rank, checked in failures
        )
        return issues, max(failure[3] for failure in failures)

    def _issue(self, field: str, stage_id: str, rank: int, result: Checked | None, lang: str) -> FieldIssue:
        # Memo keys hold only str/int: hashing Enum members runs Python code and would cost more.
        if result is None:
            code: str | None = _UNKNOWN_CODE
        else:
            code = result[2] if result[0] is ValueState.INVALID else _MISSING_CODE
        key = (field, stage_id, rank, code, lang)
        issue = self._issues.get(key)
        if issue is None:
            if code == _UNKNOWN_CODE:
                reason, constraint = Reason.UNKNOWN_FIELD, None
            elif code == _MISSING_CODE:
                reason, constraint = Reason.MISSING, None
            else:
                reason, constraint = Reason.INVALID, code
            spec = self._fields.get(field)
            label = spec.label_for(lang) if spec is not None else field
            message = issue_message(label, reason, constraint, lang, spec=spec)
            issue = FieldIssue(field, label, reason, stage_id, _MODE_BY_RANK[rank], message, constraint)
            if len(self._issues) >= _MAX_CACHE:
                self._issues.clear()
            self._issues[key] = issue
        return issue


def decide(
    pipelines: Iterable[Pipeline],
    gates: Iterable[Gate],
    fields: Iterable[FieldSpec],
    source: StageRef | None,
    target: StageRef,
    values: Mapping[str, object],
    language: str = "en",
    placeholders: frozenset[str] = DEFAULT_PLACEHOLDERS,
) -> Decision:
    """Build a Gatekeeper and decide one move (prefer a reused Gatekeeper on hot paths).

    Raises FieldSpecError, PipelineError as the Gatekeeper does.
    """
    return Gatekeeper(pipelines, gates, fields, placeholders).decide(source, target, values, language)
