"""What the report reads of transitions besides the transitions themselves, on SQLite and PostgreSQL: the day
counts (transition_days, transition_field_days), each blocked move's passed_at and followed, and each deal's
reaches (deal_reaches), kept by triggers.
They must equal what counting the transitions gives after moves arrive (in order and late), are deleted (one by
one, or with their deal), or change; and the report must give the same numbers from them as from the
transitions alone, with partial days at both ends of the period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from service.models import Connection, Record, Transition
from service.models.reach_sql import SEPARATOR
from service.models.records import DealReach, TransitionDay, TransitionFieldDay
from service.models.rollup_sql import AUTOMATED, FIELD_DECISIONS, FIELD_REASONS
from service.runtime import Runtime
from service.services.reports import counts
from service.services.reports.filters import ReportFilter
from service.services.reports.qualification import qualification_report
from tests.e2e.browser import team as plan
from tests.fakes import memory_engine

Counts = dict[tuple[Any, ...], dict[str, int]]
Reaches = dict[tuple[int, int, str], tuple[frozenset[str], frozenset[str], int]]


def _measures(t: Transition) -> dict[str, int]:
    return {"moves": 1, "allowed": t.decision == "allowed", "blocked": t.decision == "blocked",
            "warned": t.decision == "warned", "audited": t.decision == "audited" and not t.too_old,
            "found_by_sync": t.source == "sync", "automated": t.mover_kind in AUTOMATED, "too_old": bool(t.too_old),
            "required": t.required_fields or 0, "unfilled": t.unfilled_fields or 0,
            "skips": t.decision != "blocked" and (t.stages_passed or 0) > 1}


def expected(moves: Iterable[Transition]) -> tuple[Counts, Counts, dict[int, tuple[datetime | None, bool]]]:
    """The day counts, field counts and blocked-move facts the transitions `moves` give, counted in Python."""
    moves = list(moves)
    days: Counts = defaultdict(lambda: defaultdict(int))
    fields: Counts = defaultdict(lambda: defaultdict(int))
    for t in moves:
        if t.owner_id is None or t.to_pipeline is None or t.mover_kind is None:
            continue
        day = t.occurred_at.astimezone(UTC).date()
        for name, value in _measures(t).items():
            days[(day, t.connection_id, t.to_pipeline, t.to_stage, t.owner_id, t.direction)][name] += int(value)
        if t.decision in FIELD_DECISIONS:
            named = {(i["field"], i.get("label") or "") for i in t.issues if i.get("reason") in FIELD_REASONS}
            for field, label in named:
                fields[(day, t.connection_id, t.to_pipeline, t.owner_id, field, label)]["moves"] += 1
    blocked = {}
    for b in (t for t in moves if t.decision == "blocked"):
        later = [t for t in moves if t.record_id == b.record_id and (t.occurred_at, t.id) > (b.occurred_at, b.id)]
        passes = [t.occurred_at for t in later if t.to_stage == b.to_stage and t.decision != "blocked"
                  and t.occurred_at > b.occurred_at]
        blocked[b.id] = (min(passes, default=None), bool(later))
    return ({k: dict(v) for k, v in days.items()}, {k: dict(v) for k, v in fields.items()}, blocked)


def expected_reaches(moves: Iterable[Transition]) -> Reaches:
    """Per deal and pipeline, the stages its moves reached (not blocked), those reached strictly, and how many
    were blocked, worked out in Python from the moves."""
    per: dict[tuple[int, int, str], list[Transition]] = defaultdict(list)
    for t in moves:
        per[(t.record_id, t.connection_id, t.to_pipeline or "")].append(t)
    found: Reaches = {}
    for key, mine in per.items():
        happened = [t for t in mine if t.decision != "blocked"]
        breaks = [t.occurred_at for t in happened if t.direction in ("forward", "enter") and t.stages_passed > 1]
        broke_at = min(breaks, default=None)
        started = any(t.direction == "enter" and t.stages_passed == 1 for t in happened)
        strict = {t.to_stage for t in happened if started and (broke_at is None or t.occurred_at < broke_at)}
        found[key] = (frozenset(t.to_stage for t in happened), frozenset(strict),
                      sum(1 for t in mine if t.decision == "blocked"))
    return found


def stored_reaches(session: Session) -> Reaches:
    """The reaches as the database keeps them."""
    def stage_set(joined: str | None) -> frozenset[str]:
        return frozenset(joined.split(SEPARATOR)) if joined else frozenset()
    return {(r.record_id, r.connection_id, r.pipeline): (stage_set(r.stages), stage_set(r.strict_stages), r.blocked)
            for r in session.scalars(select(DealReach))}


def stored(session: Session) -> tuple[Counts, Counts, dict[int, tuple[datetime | None, bool]]]:
    """The day counts, field counts and blocked-move facts as the database keeps them."""
    session.expire_all()
    measures = ("moves", "allowed", "blocked", "warned", "audited", "found_by_sync", "automated", "too_old",
                "required", "unfilled", "skips")
    days = {(d.day, d.connection_id, d.to_pipeline, d.to_stage, d.owner_id, d.direction):
            {m: getattr(d, m) for m in measures} for d in session.scalars(select(TransitionDay))}
    fields = {(f.day, f.connection_id, f.to_pipeline, f.owner_id, f.field, f.label): {"moves": f.moves}
              for f in session.scalars(select(TransitionFieldDay))}
    blocked = {t.id: (t.passed_at, bool(t.followed))
               for t in session.scalars(select(Transition).where(Transition.decision == "blocked"))}
    return days, fields, blocked


def assert_exact(session: Session) -> None:
    """The kept counts and facts equal those of the transitions now stored."""
    session.expire_all()
    moves = list(session.scalars(select(Transition)))
    assert stored(session) == expected(moves)
    assert stored_reaches(session) == expected_reaches(moves)


def _later(session: Session, record_id: int, **changes: Any) -> Transition:
    """A copy of the deal's last move with `changes`, added to the session."""
    last = session.scalars(select(Transition).where(Transition.record_id == record_id)
                           .order_by(Transition.occurred_at.desc(), Transition.id.desc())).first()
    assert last is not None
    columns = {c.key: getattr(last, c.key) for c in Transition.__table__.columns
               if c.key not in ("id", "passed_at", "followed")}
    move = Transition(**{**columns, **changes})
    session.add(move)
    return move


@pytest.fixture
def team(runtime: Runtime) -> plan.Team:
    return plan.seed_team(runtime)


def test_given_a_team_then_the_counts_equal_the_transitions(runtime: Runtime, team: plan.Team) -> None:
    with runtime.read_uow() as uow:
        days, _, blocked = stored(uow.session)
        assert_exact(uow.session)
    assert sum(d["moves"] for d in days.values()) > 50
    assert sum(1 for passed, _ in blocked.values() if passed is not None) == len(plan.BLOCKED_THEN_PASSED)


def test_given_new_moves_deletions_and_changes_then_the_counts_stay_exact(runtime: Runtime,
                                                                          team: plan.Team) -> None:
    stuck, passed = team.records[plan.STUCK[0]], team.records[plan.BLOCKED_THEN_PASSED[0]]
    with runtime.uow() as uow:
        s = uow.session
        block = s.scalars(select(Transition).where(Transition.record_id == stuck,
                                                   Transition.decision == "blocked")).one()
        at = block.occurred_at
        # The stuck deal passes after all; a move found late by sync lands before the block; a move without an
        # owner then, one without a pipeline, and two at the same instant (the later id is the later move).
        _later(s, stuck, occurred_at=at + timedelta(hours=30), from_stage="new", to_stage="qualified",
               decision="allowed", issues=[], source="webhook")
        _later(s, stuck, occurred_at=at - timedelta(hours=1), from_stage=None, to_stage="new", direction="enter",
               decision="audited", too_old=True, source="sync", issues=[])
        _later(s, passed, occurred_at=at + timedelta(days=2), owner_id=None, decision="warned", issues=[
            {"field": "budget", "label": "Budget", "reason": "missing"},
            {"field": "budget", "label": "Budget", "reason": "invalid"}, {"field": "x", "reason": "persona"}])
        _later(s, passed, occurred_at=at + timedelta(days=3), to_pipeline=None, decision="blocked")
        _later(s, passed, occurred_at=at + timedelta(days=3, hours=1), mover_kind=None)  # as before migration 0005
        same = at + timedelta(days=4)
        _later(s, passed, occurred_at=same, decision="blocked", to_stage="proposal", stages_passed=2, issues=[
            {"field": "decision_maker", "label": "Decision maker", "reason": "missing"}])
        _later(s, passed, occurred_at=same, decision="allowed", to_stage="proposal", mover_kind="import")
        uow.commit()
    with runtime.read_uow() as uow:
        assert_exact(uow.session)
        assert stored(uow.session)[2][block.id][0] == at + timedelta(hours=30)

    with runtime.uow() as uow:  # retention deletes the oldest moves; a decision changes; a deal goes
        s = uow.session
        oldest = s.scalars(select(Transition.id).order_by(Transition.created_at, Transition.id).limit(5)).all()
        s.execute(delete(Transition).where(Transition.id.in_(oldest)))
        s.execute(update(Transition).where(Transition.record_id == passed, Transition.decision == "allowed")
                  .values(decision="blocked"))
        s.execute(delete(Record).where(Record.id == team.records[plan.STUCK[1]]))
        uow.commit()
    with runtime.read_uow() as uow:
        assert_exact(uow.session)


def test_given_partial_days_then_the_report_reads_the_counts_as_the_transitions(
        runtime: Runtime, team: plan.Team, monkeypatch: pytest.MonkeyPatch) -> None:
    now = runtime.clock()
    monkeypatch.setattr(runtime, "clock", lambda: now)  # the deals held: for as long in both reports
    filters = [ReportFilter(start=now - timedelta(days=20, hours=5), end=now - timedelta(hours=7)),
               ReportFilter(start=now - timedelta(days=30), end=now, owner=plan.OWNERS[0][0]),
               ReportFilter(start=now - timedelta(days=30), end=now, pipeline=plan.PIPELINE[0])]
    assert all(counts.whole_days(f) for f in filters)
    with runtime.uow() as uow:  # moves the day counts leave out: the deal had no owner; recorded before 0005
        _later(uow.session, team.records[3], occurred_at=now - timedelta(days=2), owner_id=None)
        _later(uow.session, team.records[6], occurred_at=now - timedelta(days=3), mover_kind=None, owner_id=None)
        uow.commit()
    from_counts = [qualification_report(runtime, f) for f in filters]
    monkeypatch.setattr(counts, "whole_days", lambda f: None)
    from_moves = [qualification_report(runtime, f) for f in filters]
    for a, b in zip(from_counts, from_moves, strict=True):
        a.pop("generated_at"), b.pop("generated_at")
        assert a == b
    assert from_counts[0]["compliance"]["rows"] and from_counts[0]["trend"]["directions"]["next"]


def test_given_the_models_metadata_then_create_all_makes_the_triggers_too() -> None:
    engine: Engine = memory_engine()
    try:
        with Session(engine) as s:
            connection = Connection(name="CRM", kind="hubspot", base_url="https://crm.invalid",
                                    credentials_encrypted="x")
            s.add(connection)
            s.flush()
            record = Record(connection_id=connection.id, external_id="1", owner_external_id="7")
            s.add(record)
            s.flush()
            at = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
            for hours, decision in ((0, "blocked"), (1, "allowed")):
                s.add(Transition(connection_id=connection.id, record_id=record.id, to_pipeline="p", to_stage="s",
                                 occurred_at=at + timedelta(hours=hours), owner_id="7", mover_kind="ui",
                                 source="webhook", direction="forward", decision=decision, issues=[]))
            s.commit()
            assert {d.day: d.moves for d in s.scalars(select(TransitionDay))} == {date(2026, 3, 2): 1,
                                                                                  date(2026, 3, 3): 1}
            assert_exact(s)
    finally:
        engine.dispose()
