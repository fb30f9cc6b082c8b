"""A draft persona from an index profile and an anti-profile (scoring-and-personas.md §3.5 steps 3-5): for each
field the over-represented values of the best segment become a nice-to-have criterion (``equals`` or ``in``) with a
weight growing with the log of the index; values over-represented in the worst segment and under-represented in
the best one become disqualifiers. The body has the shape ``POST /v1/personas`` accepts (schemas/personas.py), so
creating the persona from the draft is one call; every criterion carries its evidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from service.domain.analytics.index_profile import UNKNOWN, IndexProfile, IndexRow
from service.domain.fieldtypes import OPTION_TYPES, FieldSpec, FieldType
from service.domain.personas import ALLOWED_MATCHERS, Matcher

MIN_INDEX = 120.0  # over-represented by at least a fifth
ANTI_MIN_INDEX = 150.0
MIN_Z = 3.0  # Apteco's default significance threshold


@dataclass(frozen=True)
class Evidence:
    """Why a criterion is in the draft: its values, segment and base shares, index, n and z of the evidence."""

    field: str
    values: tuple[str, ...]
    kind: str
    weight: float
    segment: str
    segment_share: float
    base_share: float
    index: float
    segment_count: int
    segment_size: int
    z: float

    @property
    def text(self) -> str:
        """The evidence in one line: "industry = wholesale: 70 % of Champions vs 20 % overall, index 350, n=70"."""
        return (f"{self.field} = {' / '.join(self.values)}: {self.segment_share:.0%} of {self.segment} vs "
                f"{self.base_share:.0%} overall, index {self.index:.0f}, n={self.segment_count}, z={self.z:.1f}")


@dataclass(frozen=True)
class DraftPersona:
    """A persona body ready for the persona API, and the evidence of each of its criteria (same order)."""

    body: dict[str, object]
    evidence: tuple[Evidence, ...]


def weight_for(index: float) -> float:
    """A criterion weight from an index: 10 x log2(index / 100), within 1..100 (index 200 -> 10, 400 -> 20)."""
    return round(min(100.0, max(1.0, 10 * math.log2(max(index, 100.0) / 100))), 1)


def _usable(field: str, values: Sequence[str], fields: Mapping[str, FieldSpec] | None) -> tuple[str, ...]:
    """The values a persona criterion on ``field`` may name (all when no field specs are given)."""
    if fields is None:
        return tuple(values)
    spec = fields.get(field)
    if spec is None or Matcher.IN not in ALLOWED_MATCHERS[FieldType(spec.type)]:
        return ()
    if FieldType(spec.type) in OPTION_TYPES:
        return tuple(v for v in values if v in spec.constraints.options)
    return tuple(values)


def _criterion(field: str, values: tuple[str, ...], kind: str, weight: float) -> dict[str, object]:
    body: dict[str, object] = {"field": field, "kind": kind, "weight": weight}
    if len(values) == 1:
        return {**body, "matcher": "equals", "value": values[0]}
    return {**body, "matcher": "in", "values": list(values)}


def _pick(profile: IndexProfile, min_index: float, kind: str, fields: Mapping[str, FieldSpec] | None,
          exclude: Mapping[str, set[str]]) -> list[tuple[dict[str, object], Evidence]]:
    chosen: dict[str, list[IndexRow]] = {}
    for row in profile.rows:
        if (row.value != UNKNOWN and row.index >= min_index and row.z >= MIN_Z
                and row.value not in exclude.get(row.field, set())):
            chosen.setdefault(row.field, []).append(row)
    out = []
    for field, rows in sorted(chosen.items()):
        values = _usable(field, [r.value for r in rows], fields)
        kept = [r for r in rows if r.value in values]
        if not kept:
            continue
        count = sum(r.segment_count for r in kept)
        seg_share, base_share = sum(r.segment_share for r in kept), sum(r.base_share for r in kept)
        index = seg_share / base_share * 100
        weight = weight_for(index)
        z = min(r.z for r in kept)
        out.append((_criterion(field, values, kind, weight),
                    Evidence(field, values, kind, weight, profile.segment, seg_share, base_share, index, count,
                             profile.segment_size, z)))
    return out


def draft_persona(profile: IndexProfile, anti_profile: IndexProfile | None = None, *,
                  fields: Mapping[str, FieldSpec] | None = None, min_index: float = MIN_INDEX,
                  anti_min_index: float = ANTI_MIN_INDEX) -> DraftPersona:
    """The draft persona of ``profile``'s segment, with disqualifiers from ``anti_profile``'s (see the module doc).
    With ``fields`` only criteria valid for those field specs are emitted (``equals``/``in`` on known options)."""
    positive = _pick(profile, min_index, "nice", fields, {})
    taken: dict[str, set[str]] = {}
    for _, ev in positive:
        taken.setdefault(ev.field, set()).update(ev.values)
    # A disqualifier must not hit values the best segment holds at least as often as everyone else.
    for row in profile.rows:
        if row.index >= 100:
            taken.setdefault(row.field, set()).add(row.value)
    negative = _pick(anti_profile, anti_min_index, "disqualifier", fields, taken) if anti_profile else []
    picked = positive + negative
    description = "Drawn from the data: " + "; ".join(ev.text for _, ev in picked) if picked else None
    body: dict[str, object] = {
        "name": f"Suggested: {profile.segment}", "segment": profile.segment, "ring": "core",
        "criteria": [c for c, _ in picked],
    }
    if description:
        body["description"] = description[:5000]
    return DraftPersona(body, tuple(ev for _, ev in picked))
