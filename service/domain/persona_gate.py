"""Persona requirements of gates: a stage may demand a minimum best-fit score, a minimum score against
one persona, or that no (or one named) persona disqualifies the lead. Failures become issues of the
gate decision, explained by the criterion that hurt the score most."""

# Russian text is intentional here: Cyrillic letters are not confusables of Latin ones.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from service.domain.fieldtypes import language_code
from service.domain.issues import OUTCOME_FOR_MODE, Decision, FieldIssue, Outcome, Reason
from service.domain.messages import decision_message
from service.domain.pipeline import MODE_RANK, GateMode
from service.domain.scoring import PersonaScore

PERSONA_FIELD = "persona"  # the issue's field when no single criterion explains the failure


@dataclass(frozen=True)
class PersonaRequirement:
    """What entering `stage_id` demands of the lead's fit (in the gate's mode)."""

    stage_id: str
    mode: GateMode
    persona_id: int | None = None  # None: the best fit over every persona
    min_score: int | None = None
    not_disqualified: bool = False


def requirement_from_dict(stage_id: str, mode: GateMode, data: Mapping[str, Any]) -> PersonaRequirement:
    """The requirement stored on a gate (`persona_id`, `min_score`, `not_disqualified`)."""
    return PersonaRequirement(stage_id=stage_id, mode=mode, persona_id=data.get("persona_id"),
                              min_score=data.get("min_score"), not_disqualified=bool(data.get("not_disqualified")))


def _reason(score: PersonaScore) -> tuple[str, str]:
    """The field and sentence of the criterion that hurt the score most (else the top unknown)."""
    if score.top_negative:
        worst = score.top_negative[0]
        return worst.field, worst.text
    if score.unknown:
        return score.unknown[0].field, score.unknown[0].text
    return PERSONA_FIELD, ""


def _issue(req: PersonaRequirement, field: str, label: str, message: str) -> FieldIssue:
    return FieldIssue(field=field, label=label, reason=Reason.PERSONA, stage_id=req.stage_id, mode=req.mode,
                      message=message)


def _too_low(req: PersonaRequirement, score: PersonaScore, name: str, ru: bool) -> FieldIssue:
    field, why = _reason(score)
    label = f"Соответствие портрету «{name}»" if ru else f"Fit to {name}"
    head = (f"Соответствие портрету «{name}» — {score.score}, нужно не меньше {req.min_score}" if ru
            else f"Fit to {name} is {score.score}, needs at least {req.min_score}")
    return _issue(req, field, label, f"{head}: {why}" if why else head)


def _disqualified(req: PersonaRequirement, score: PersonaScore, name: str, ru: bool) -> FieldIssue:
    field, why = _reason(score)
    label = f"Портрет «{name}»" if ru else f"Persona {name}"
    head = f"Лид отсеян портретом «{name}»" if ru else f"The lead is disqualified by {name}"
    return _issue(req, field, label, f"{head}: {why}" if why else head)


def _not_scored(req: PersonaRequirement, ru: bool) -> FieldIssue:
    message = (f"Портрет {req.persona_id} не активен: соответствие не проверить" if ru
               else f"Persona {req.persona_id} is not active, so the fit cannot be checked")
    return _issue(req, PERSONA_FIELD, "Портрет" if ru else "Persona", message)


def persona_issues(requirements: Sequence[PersonaRequirement], scores: Sequence[PersonaScore],
                   names: Mapping[int, str], language: str = "en") -> tuple[FieldIssue, ...]:
    """The issues of the requirements the lead's explained scores fail, in requirement order."""
    ru = language_code(language) == "ru"
    by_id = {s.persona_id: s for s in scores}
    issues: list[FieldIssue] = []
    for req in requirements:
        if req.persona_id is not None and req.persona_id not in by_id:
            issues.append(_not_scored(req, ru))
            continue
        candidates = [by_id[req.persona_id]] if req.persona_id is not None else list(scores)
        if req.not_disqualified:
            issues += [_disqualified(req, s, names.get(s.persona_id, str(s.persona_id)), ru)
                       for s in candidates if s.disqualified]
        if req.min_score is not None:
            best = max(candidates, key=lambda s: (s.score, -s.persona_id), default=None)
            if best is None:
                issues.append(_issue(req, PERSONA_FIELD, "Портрет" if ru else "Persona",
                                     "Нет активных портретов" if ru else "No persona is active"))
            elif best.score < req.min_score:
                issues.append(_too_low(req, best, names.get(best.persona_id, str(best.persona_id)), ru))
    return tuple(issues)


_HEADS = {
    Outcome.BLOCKED: ("Move to {0} is blocked", "Переход на этап «{0}» запрещён"),
    Outcome.WARNED: ("Move to {0} is allowed with a warning",
                     "Переход на этап «{0}» разрешён с предупреждением"),
    Outcome.AUDITED: ("Move to {0} is allowed; recorded for audit",
                      "Переход на этап «{0}» разрешён; записано для аудита"),
}


def with_persona_issues(decision: Decision, extra: Sequence[FieldIssue], target_label: str,
                        language: str = "en") -> Decision:
    """The decision with persona issues added: the outcome becomes the strictest mode among all issues."""
    if not extra:
        return decision
    issues = decision.issues + tuple(extra)
    rank = max(MODE_RANK[i.mode] for i in issues)
    outcome = next(OUTCOME_FOR_MODE[mode] for mode, r in MODE_RANK.items() if r == rank)
    field_issues = [i for i in issues if i.reason is not Reason.PERSONA]
    if field_issues:
        message = decision_message(outcome, target_label, field_issues, language)
    else:
        message = _HEADS[outcome][language_code(language) == "ru"].format(target_label)
    message += "; " + "; ".join(i.message for i in extra)
    return replace(decision, outcome=outcome, issues=issues, message=message)
