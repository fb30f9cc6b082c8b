"""The suggested persona of a segment: its index profile against every analysed customer, the draft persona the
domain draws from it (with disqualifiers from an anti-segment), and how the current personas compare with the
segment ("your persona says retail; 70 % of your Champions are wholesale"). Creating it is one call."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.analytics.index_profile import IndexProfile, IndexRow, index_profile
from service.domain.analytics.matrix import CELLS
from service.domain.analytics.persona_draft import draft_persona
from service.domain.analytics.rfm import Segment
from service.errors import InvalidInputError
from service.models import Customer, CustomerSegment, Field, Persona
from service.runtime import Runtime
from service.services.analytics.views import latest_run, members_query, resolve_segment
from service.services.personas import create_persona
from service.services.stored_config import field_spec

COMPARED = ("equals", "in")
PHASES = ("latest run", "customers' values", "index profiles", "draft", "current personas")


def _quiet(phase: str) -> None:
    """A progress callback that ignores everything."""


def _text(value: object) -> str | None:
    if value is None or isinstance(value, list | dict):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip() or None


def attributes(session: Session) -> dict[str, dict[str, str | None]]:
    """Every analysed customer's portrait values as text (lists and objects left out), by customer id."""
    rows = session.execute(select(Customer.id, Customer.values).join(
        CustomerSegment, CustomerSegment.customer_id == Customer.id).where(CustomerSegment.segment.is_not(None)))
    return {str(cid): {k: _text(v) for k, v in (values or {}).items()} for cid, values in rows}


def _members(session: Session, segment: str) -> set[str]:
    return {str(c.id) for c, _ in session.execute(members_query(segment))}


def _row(r: IndexRow) -> dict[str, Any]:
    return {"field": r.field, "value": r.value, "segment_count": r.segment_count, "segment_share": r.segment_share,
            "base_count": r.base_count, "base_share": r.base_share, "index": r.index, "low": r.low, "high": r.high,
            "z": r.z, "p_value": r.p_value}


def _profile(p: IndexProfile) -> dict[str, Any]:
    return {"segment": p.segment, "segment_size": p.segment_size, "base_size": p.base_size,
            "rows": [_row(r) for r in p.rows], "hidden": p.hidden, "min_support": p.min_support}


def compare_personas(personas: list[Persona], segment: str, members: set[str],
                     attrs: dict[str, dict[str, str | None]]) -> list[dict[str, Any]]:
    """For each equals/in criterion of each active persona: the share of the segment and of all customers
    holding the persona's values, the index, the segment's most common value of that field, whether the data
    agree (a wanted value at least as common in the segment as overall, a disqualified one at most as common)
    and a sentence saying so."""
    inside = [attrs[c] for c in members if c in attrs]
    out = []
    for persona in personas:
        for c in persona.criteria:
            if c.get("matcher") not in COMPARED:
                continue
            wanted = {str(c["value"])} if c["matcher"] == "equals" else {str(v) for v in c.get("values") or ()}
            field = c["field"]
            seg_hits = sum(1 for a in inside if a.get(field) in wanted)
            base_hits = sum(1 for a in attrs.values() if a.get(field) in wanted)
            seg_share = seg_hits / len(inside) if inside else None
            base_share = base_hits / len(attrs) if attrs else None
            top = Counter(a.get(field) for a in inside if a.get(field)).most_common(1)
            top_value, top_count = top[0] if top else (None, 0)
            top_share = top_count / len(inside) if inside else None
            index = seg_share / base_share * 100 if seg_share is not None and base_share else None
            disqualifier = c.get("kind") == "disqualifier"
            agrees = None if index is None else (index <= 100 if disqualifier else index >= 100)
            says = "excludes" if disqualifier else "says"
            text = (f"{persona.name} {says} {field} = {' / '.join(sorted(wanted))}; "
                    + (f"{seg_share:.0%} of your {segment} are (vs {base_share:.0%} overall)"
                       if seg_share is not None and base_share is not None else f"no {segment} customers to compare")
                    + (f"; the most common value among them is {top_value} ({top_share:.0%})"
                       if top_value is not None and top_value not in wanted and top_share is not None else ""))
            out.append({"persona_id": persona.id, "persona": persona.name, "field": field, "kind": c.get("kind"),
                        "values": sorted(wanted), "segment_share": seg_share, "base_share": base_share,
                        "index": index, "top_value": top_value, "top_share": top_share, "agrees": agrees,
                        "text": text})
    return out


def _default_anti(segment: str) -> str:
    return "CZ" if segment in CELLS or segment.endswith("-") else Segment.LOST.value


def suggested_persona(runtime: Runtime, segment: str = "Champions", anti_segment: str | None = None,
                      progress: Callable[[str], None] = _quiet) -> dict[str, Any]:
    """The suggestion for ``segment`` (an RFM segment or an ABC x XYZ cell) against ``anti_segment`` (default Lost,
    or CZ for a cell), from the latest run: {run_id, as_of, enough, message, segment, anti_segment, profile,
    anti_profile (index profiles: rows with field, value, counts, shares, index, Wilson low/high, z, p_value),
    draft (the body POST /v1/personas accepts), evidence (one per draft criterion: field, values, kind, weight,
    shares, index, n, z, text), comparison (compare_personas)}. Under the data floor ``enough`` is false, the
    message says what is missing, and the draft has no criteria. InvalidInputError for an unknown segment or the
    same segment twice; NotFoundError when no run has finished. ``progress`` hears each of PHASES once it is
    done."""
    name = resolve_segment(segment)
    anti = resolve_segment(anti_segment) if anti_segment else _default_anti(name)
    if anti == name:
        raise InvalidInputError("The anti-segment must differ from the segment.", {"anti": ["same as segment"]})
    with runtime.read_uow() as uow:
        s = uow.session
        run = latest_run(s)
        result = run.result or {}
        floors = [c for c in result.get("currencies", []) if not c["enough"]]
        enough = any(c["enough"] for c in result.get("currencies", []))
        progress(PHASES[0])
        attrs = attributes(s)
        members, anti_members = _members(s, name), _members(s, anti)
        progress(PHASES[1])
        profile = index_profile(name, members, attrs)
        anti_profile = index_profile(anti, anti_members, attrs)
        progress(PHASES[2])
        specs = {f.key: field_spec(f) for f in s.scalars(select(Field))}
        draft = draft_persona(profile, anti_profile, fields=specs)
        progress(PHASES[3])
        personas = list(s.scalars(select(Persona).where(Persona.active.is_(True)).order_by(Persona.id)))
        comparison = compare_personas(personas, name, members, attrs)
        progress(PHASES[4])
    return {"run_id": run.id, "as_of": result.get("as_of"), "enough": enough,
            "message": None if enough else "; ".join(f"{c['currency'] or 'all'}: {c['message']}" for c in floors),
            "segment": name, "anti_segment": anti, "profile": _profile(profile), "anti_profile": _profile(anti_profile),
            "draft": draft.body, "evidence": [{"field": e.field, "values": list(e.values), "kind": e.kind,
                                               "weight": e.weight, "segment_share": e.segment_share,
                                               "base_share": e.base_share, "index": e.index, "n": e.segment_count,
                                               "z": e.z, "text": e.text} for e in draft.evidence],
            "comparison": comparison}


def create_suggested_persona(runtime: Runtime, segment: str = "Champions",
                             anti_segment: str | None = None) -> dict[str, Any]:
    """Create the suggested persona of ``segment`` through the persona use case (one call); InvalidInputError when
    the data give no criterion (or as create_persona), ConflictError when the name is taken."""
    found = suggested_persona(runtime, segment, anti_segment)
    if not found["draft"].get("criteria"):
        raise InvalidInputError(f"The data suggest no criterion for {found['segment']}: nothing to create.",
                                {"segment": [found["message"] or "no attribute value stands out"]})
    return create_persona(runtime, found["draft"])
