"""A small sales team for the report pages, stored as model rows (and through the services' session helpers
for fields, personas and scores): one HubSpot connection with one pipeline, four owners, 28 deals created in
the last four weeks, their moves with allowed, blocked, warned and API-made ones, 22 closed (15 won, 7 lost),
two deals stuck in front of the Qualified gate.

Every count the tests check is written here as a constant computed from the plan below, never read back from
what Qualify answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from service.models import CrmUser, Record, Transition
from service.runtime import Runtime
from service.services.fields import add_field
from service.services.personas import add_persona
from service.services.scoring import score_records
from tests.fakes import add_connection, add_gate, add_pipeline

PIPELINE = ("sales", "Sales")
STAGES = (("new", "New", "open"), ("qualified", "Qualified", "open"), ("proposal", "Proposal", "open"),
          ("won", "Won", "won"), ("lost", "Lost", "lost"))
OWNERS = (("101", "Anna Petrova"), ("102", "Boris Ivanov"), ("103", "Clara Smith"), ("104", "Dmitri Orlov"))
FIELDS = {  # key: (label, Russian label, type, constraints)
    "industry": ("Industry", "Отрасль", "enum", {"options": ["retail", "manufacturing", "other"]}),
    "company_size": ("Company size", "Размер компании", "integer", {"min": 1}),
    "decision_maker": ("Decision maker", "ЛПР", "boolean", {}),
}
QUALIFIED_NEEDS = ("industry", "company_size")  # enforced: a move without them is reverted
PROPOSAL_NEEDS = ("decision_maker",)  # warned: a task only
DEALS = 28
CLOSED = 22  # deals 0..21 are won or lost
STUCK = (24, 25)  # blocked on the way to Qualified and still in New
BLOCKED_THEN_PASSED = (0, 5, 10, 15, 20)  # blocked once on the way to Qualified, then moved again with the field
BY_API = 7  # its move to Won was made through the API
NOT_ENTERED = (5, 11, 17, 23)  # no move into New was seen: they count in the "any" conversion only
MOVED_BY_OTHER = 4  # moved by Boris although Anna owns it


def owner_of(i: int) -> str:
    """The CRM id of deal i's owner."""
    return OWNERS[i % len(OWNERS)][0]


def won(i: int) -> bool:
    """Whether closed deal i was won."""
    return i % 3 != 2


def industry_of(i: int) -> str:
    """Deal i's industry: retail mostly, some manufacturing, every seventh another (fits no persona)."""
    return ("retail", "retail", "retail", "retail", "manufacturing", "manufacturing", "other")[i % 7]


def missing_of(i: int) -> set[str]:
    """The portrait fields deal i lacks now."""
    gone = {"decision_maker"} if i % 3 == 0 else set()
    if i == STUCK[0]:
        gone.add("company_size")
    if i == STUCK[1]:
        gone.add("industry")
    return gone


def values_of(i: int) -> dict[str, Any]:
    """Deal i's portrait values as Qualify stores them (normalized)."""
    industry = industry_of(i)
    values: dict[str, Any] = {"industry": industry, "company_size": 20 if industry == "other" else 150 + 35 * i,
                              "decision_maker": True}
    return {k: v for k, v in values.items() if k not in missing_of(i)}


def _blocked_stages(i: int) -> int:
    return 1 if i in BLOCKED_THEN_PASSED or i in STUCK else 0


# What the plan above adds up to, per owner and for the team (the tests' independent counts).
def blocked_at_qualified(owner: str | None = None) -> int:
    """Blocked moves into Qualified (of one owner)."""
    return sum(_blocked_stages(i) for i in range(DEALS) if owner in (None, owner_of(i)))


def moves_into_qualified(owner: str | None = None) -> int:
    """Moves into Qualified its gate applied to: one per deal, plus the blocked attempts of those passed."""
    return sum(1 + (i in BLOCKED_THEN_PASSED) for i in range(DEALS) if owner in (None, owner_of(i)))


def won_of_closed(owner: str | None = None) -> tuple[int, int]:
    """(won, closed) of the closed deals (of one owner)."""
    closed = [i for i in range(CLOSED) if owner in (None, owner_of(i))]
    return sum(1 for i in closed if won(i)), len(closed)


@dataclass
class Team:
    """What was stored: the connection and the record id of each deal by its plan number."""

    connection_id: int
    records: dict[int, int] = field(default_factory=dict)


def _move(record: Record, i: int, at: datetime, source: str, target: str, *, decision: str = "allowed",
          issues: list[dict[str, Any]] | None = None, required: int = 0, mover: str | None = None,
          mover_kind: str = "ui", direction: str = "forward", how: str = "webhook") -> Transition:
    mover = mover or owner_of(i)
    return Transition(
        connection_id=record.connection_id, record_id=record.id, from_pipeline=PIPELINE[0] if source else None,
        from_stage=source or None,
        to_pipeline=PIPELINE[0], to_stage=target, occurred_at=at,
        actor=f"userId:{mover}" if mover_kind == "ui" else "app:987",
        mover_user_id=mover if mover_kind == "ui" else None,
        mover_kind=mover_kind, owner_id=owner_of(i), source=how, direction=direction, decision=decision,
        mode="enforce" if decision == "blocked" else ("warn" if decision == "warned" else None),
        issues=issues or [], message="; ".join(x["message"] for x in issues or ()),
        action={"blocked": "revert+task", "warned": "task"}.get(decision, "none"),
        required_fields=required, unfilled_fields=len(issues or ()), stages_passed=1)


def _issue(key: str, stage: str) -> dict[str, Any]:
    label = FIELDS[key][0]
    return {"field": key, "label": label, "reason": "missing", "constraint": None, "stage": stage,
            "mode": "enforce" if stage == "qualified" else "warn", "message": f"{label} is required."}


def _history(record: Record, i: int, created: datetime) -> list[Transition]:
    """Deal i's moves: into Qualified (blocked first for some), into Proposal (warned without a decision
    maker), then won or lost for the closed ones."""
    hour = timedelta(hours=1)
    moves = [] if i in NOT_ENTERED else [_move(record, i, created, "", "new", direction="enter")]
    lacking = sorted(missing_of(i) & set(QUALIFIED_NEEDS)) or ["company_size"]
    if _blocked_stages(i):
        moves.append(_move(record, i, created + 3 * hour, "new", "qualified", decision="blocked",
                           issues=[_issue(k, "qualified") for k in lacking], required=2,
                           mover=OWNERS[1][0] if i == MOVED_BY_OTHER else None))
    if i in STUCK:
        return moves
    moves.append(_move(record, i, created + 20 * hour, "new", "qualified", required=2,
                       mover=OWNERS[1][0] if i == MOVED_BY_OTHER else None))
    warned = "decision_maker" in missing_of(i)
    moves.append(_move(record, i, created + 40 * hour, "qualified", "proposal", required=1,
                       decision="warned" if warned else "allowed",
                       issues=[_issue("decision_maker", "proposal")] if warned else None))
    if i < CLOSED:
        target = "won" if won(i) else "lost"
        moves.append(_move(record, i, created + 60 * hour, "proposal", target,
                           direction="forward" if won(i) else "to_lost",
                           mover_kind="api" if i == BY_API else "ui"))
    return moves


def seed_team(runtime: Runtime) -> Team:
    """Store the team in one transaction; returns what the tests need to find it."""
    now = runtime.clock()
    with runtime.uow() as uow:
        session = uow.session
        connection = add_connection(session, runtime.vault)
        pipeline = add_pipeline(session, connection, PIPELINE[0], PIPELINE[1], STAGES)
        for key, (label, label_ru, type_, constraints) in FIELDS.items():
            add_field(session, {"key": key, "label": label, "label_ru": label_ru, "type": type_,
                                "constraints": constraints})
        add_gate(session, connection, pipeline, "qualified", "enforce", QUALIFIED_NEEDS)
        add_gate(session, connection, pipeline, "proposal", "warn", PROPOSAL_NEEDS)
        add_persona(session, {"name": "Retail buyer", "criteria": [
            {"field": "industry", "matcher": "in", "values": ["retail"]},
            {"field": "company_size", "matcher": "range", "min": 100, "max": 5000}]}, now)
        add_persona(session, {"name": "Manufacturer", "criteria": [
            {"field": "industry", "matcher": "in", "values": ["manufacturing"]},
            {"field": "company_size", "matcher": "range", "min": 200, "max": 5000}]}, now)
        session.add_all(CrmUser(connection_id=connection.id, external_id=uid, user_id=uid, name=name,
                                email=f"{name.split()[0].lower()}@example.com") for uid, name in OWNERS)
        team = Team(connection.id)
        records = []
        for i in range(DEALS):
            created = now - timedelta(days=26) + i * timedelta(hours=18)
            record = Record(connection_id=connection.id, external_id=str(9000 + i), name=f"Deal {i:02d}",
                            pipeline_external_id=PIPELINE[0], stage_external_id="new", owner_external_id=owner_of(i),
                            amount=str(1000 * (i + 1)), amount_value=1000 * (i + 1), currency="EUR",
                            crm_created_at=created, values=values_of(i), created_at=created)
            session.add(record)
            session.flush()
            history = _history(record, i, created)
            session.add_all(history)
            last = next((t for t in reversed(history) if t.decision != "blocked"), None)
            if last is not None:
                record.stage_external_id, record.stage_changed_at = last.to_stage, last.occurred_at
                if last.to_stage in ("won", "lost"):
                    record.closed_at = last.occurred_at
            team.records[i] = record.id
            records.append(record)
        session.flush()
        score_records(session, [(r.id, r.values) for r in records], now, runtime.settings.persona_floor)
        uow.commit()
    return team
