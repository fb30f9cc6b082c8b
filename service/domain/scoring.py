"""Deterministic lead-to-persona scoring: a 0..100 score, an A-D grade and a plain-language explanation.

Each criterion is MATCH (credit 1, or in (0, 1) inside a soft margin), MISMATCH (-1) or UNKNOWN
(0: a blank or invalid value, unless ``blank_is_value``). With W the weight of all must+nice
criteria, score = round-half-up(50 + 50 * fsum(w_i * s_i) / W) (50 when W == 0). A mismatched
``must`` caps the score one point below the grade above ``must_cap``; a matched disqualifier gives
0/D. ``prepare`` converts a record once; ``CompiledPersona.quick`` is the hot path and
``explain`` adds the top contributions and the unknown fields worth asking about.

Choices where the spec leaves room (what a sales manager would expect; explanation order and
unknown-field semantics are in ``score_messages``):
- Date ages count completed calendar units (born 40 years and 6 months ago -> 40 years).
- Text-like equals/in ignore case and surrounding spaces; regex searches the original text. An
  enum value that is not (or no longer) an option is a known value, so it mismatches.
- ``capped``: the must-cap lowered the score (never when disqualified); ``best_fit`` never picks a
  disqualified PersonaScore; half-up rounding tolerates 1e-9 of float noise.
- ``CompiledPersona`` re-validates criteria against the current fields (PersonaSpecError).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date  # noqa: F401  (re-exported with prepare)
from math import fsum

from service.domain import personas as _personas
from service.domain import score_messages as msg
from service.domain.fieldtypes import FieldSpec, FieldType, language_code
from service.domain.personas import Criterion, CriterionKind, PersonaSpec, Ring
from service.domain.prepared import PreparedValues, Preparer, prepare  # noqa: F401  (the scoring API)
from service.domain.score_messages import Contribution, CriterionState, PersonaScore, Trend, UnknownField  # noqa: F401
from service.domain.score_rules import AGE_PART, EPS, Quick, compile_rule, generate_quick


class CompiledPersona:
    """A persona version compiled once to score many leads; PersonaSpecError when a criterion no longer fits
    ``fields``.

    ``quick(prepared) -> (score, grade, completeness, disqualified)`` is the hot path, without an explanation.
    It is generated straight-line code (as ``dataclasses`` generates ``__init__``): range criteria inlined,
    equals/in as one dict look-up, regex and contains through memos of results by prepared value. Each term
    is +-weight or a partial credit, 0.0 for unknown; a matched disqualifier weighs +inf (a known non-matching
    one a tiny positive), so one ``fsum`` also tells disqualification."""

    quick: Quick

    def __init__(self, persona: PersonaSpec, fields: Mapping[str, FieldSpec]) -> None:
        # Re-validate against the current fields: PersonaSpecError when a field is gone or changed type.
        _personas.parse_criteria([_personas.criterion_to_dict(c) for c in persona.criteria], fields)
        self.persona, self._fields = persona, dict(fields)
        crit, t = persona.criteria, persona.thresholds
        kinds = [FieldType(fields[c.field].type) for c in crit]
        self._credits = [compile_rule(c, k, 1.0, -1.0) for c, k in zip(crit, kinds, strict=True)]
        self._weight = fsum(float(c.weight) for c in crit if c.kind != CriterionKind.DISQUALIFIER)
        self._grades = tuple(t.grade_for(s) for s in range(101))
        self._cap = t.cap_score(persona.must_cap)
        n = len(crit)
        self._completeness = tuple((200 * (n - u) + n) // (2 * n) if n else 100 for u in range(n + 1))
        self.quick = generate_quick(persona, kinds, self._weight, self._cap, self._grades, self._completeness)

    def _final(self, terms: Sequence[float], must_missed: bool) -> tuple[int, bool]:
        """(score after the must-cap, whether the cap lowered it) for known weighted terms."""
        w = self._weight
        score = int(50.0 + 50.0 * fsum(terms) / w + 0.5 + EPS) if w else 50
        return (self._cap, True) if must_missed and score > self._cap else (score, False)

    def explain(self, prepared: PreparedValues, language: str = "en") -> PersonaScore:
        """The score with its explanation (top contributions, unknown fields) in ``language`` ("en"/"ru")."""
        lang, get, p = language_code(language), prepared.values.get, self.persona
        credits = [rule(get(key)) for key, rule, _ in self._credits]
        pairs = list(zip(p.criteria, credits, strict=True))
        terms = [float(c.weight) * s for c, s in pairs if s is not None and c.kind != CriterionKind.DISQUALIFIER]
        missed = any(s is not None and s < 0 and c.kind == CriterionKind.MUST for c, s in pairs)
        disqualified = any(s is not None and s > 0 and c.kind == CriterionKind.DISQUALIFIER for c, s in pairs)
        score, capped = self._final(terms, missed)
        final = 0 if disqualified else score
        items: list[tuple[float, int, bool, Contribution]] = []
        unknown: list[tuple[int, UnknownField]] = []
        for i, (c, s) in enumerate(pairs):
            spec = self._fields[c.field]
            label, kind, raw = spec.label_for(lang), FieldType(spec.type), prepared.raw.get(c.field)
            if s is None:
                unknown.append((i, self._unknown(c, label, terms, missed, final, disqualified, lang)))
            elif c.kind != CriterionKind.DISQUALIFIER or s > 0:
                unit = (c.unit or "years") if kind is FieldType.DATE else None
                age = ages[AGE_PART[unit]] if unit and (ages := get(c.field)) is not None else None
                dq = c.kind == CriterionKind.DISQUALIFIER
                effect = -float(score) if dq else 50.0 * float(c.weight) * s / self._weight
                contribution = msg.contribution(c, label, raw, kind, unit, age, s, effect, lang)
                items.append((effect, i, dq or (s < 0 and c.kind == CriterionKind.MUST), contribution))
        positive, negative = msg.top_contributions(items)
        grade = self._grades[final]
        return PersonaScore(p.id, p.version, final, grade, self._completeness[credits.count(None)], disqualified,
                            capped and not disqualified, positive, negative, msg.rank_unknown(grade, unknown), p.ring)

    def _unknown(self, c: Criterion, label: str, terms: list[float], missed: bool, score: int, disqualified: bool,
                 lang: str) -> UnknownField:
        if c.kind == CriterionKind.DISQUALIFIER:
            good, bad = score, 0
        elif disqualified:
            good = bad = 0
        else:
            good = self._final([*terms, float(c.weight)], missed)[0]
            bad = self._final([*terms, -float(c.weight)], missed or c.kind == CriterionKind.MUST)[0]
        now, if_good, if_bad = self._grades[score], self._grades[good], self._grades[bad]
        text = msg.unknown_text(label, now, if_good, if_bad, good - score, bad - score, c.kind == "disqualifier", lang)
        return UnknownField(c.field, label, c.kind, good - score, bad - score, if_good, if_bad, text)



def best_fit(scores: Sequence[PersonaScore] | Sequence[tuple[int, int, Ring | str]], floor: int) -> int | None:
    """The persona id with the highest score (ties: ring core > target > near-target, then lowest id);
    None when every score is below ``floor``. Disqualified PersonaScores never win."""
    rows = [(s.persona_id, s.score, s.ring) if isinstance(s, PersonaScore) else s for s in scores
            if not (isinstance(s, PersonaScore) and s.disqualified)]
    found = [(-score, list(Ring).index(Ring(ring)), pid) for pid, score, ring in rows if score >= floor]
    return min(found)[2] if found else None


def trend(previous: int | None, current: int, threshold: int = 5) -> Trend:
    """improving/declining when the score moved by ``threshold`` or more, else steady; no previous: not_enough_info."""
    if previous is None:
        return Trend.NOT_ENOUGH_INFO
    delta = current - previous
    return Trend.STEADY if abs(delta) < threshold else Trend.IMPROVING if delta > 0 else Trend.DECLINING
