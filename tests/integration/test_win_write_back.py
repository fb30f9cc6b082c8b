"""The win probability written back to a CRM property through the outbox, on SQLite and PostgreSQL: with the best
fit when a deal is scored, after a rebuild for the pipeline's open deals, only when the percent changed, and ""
only once a value was written."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from service.models import ActionStatus, Connection, OutboxAction, Record, RecordScore, Transition
from service.runtime import Runtime
from service.services import win_models
from service.services.write_back import WRITE_FIELDS, queue_write_backs
from tests.integration.test_win_models import OPEN, T0, open_deal, planted, probability_of, seed

WIN, FIT = "qualify_win", "qualify_fit"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
PORTRAITS = [{"industry": i, "region": r, "size": s} for i in ("wholesale", "retail") for r in ("north", "south")
             for s in ("small", "big")]


def configure(runtime: Runtime, cid: int) -> None:
    with runtime.uow() as uow:
        uow.session.get_one(Connection, cid).score_write_back = {"score": FIT, "win_probability": WIN}
        uow.commit()


def scored_deal(runtime: Runtime, cid: int, name: str, values: dict[str, str], stage: str = "s1") -> int:
    """An open deal with a score row that has written nothing yet."""
    rid = open_deal(runtime, cid, name, values, stage)
    with runtime.uow() as uow:
        uow.session.add(RecordScore(record_id=rid, best_score=80, best_grade="A", written={}))
        uow.commit()
    return rid


def score(runtime: Runtime, *record_ids: int) -> int:
    """The best fit of the deals computed again (unchanged: 80, A), as scoring does."""
    with runtime.uow() as uow:
        queued = queue_write_backs(uow.session, [{"record_id": rid, "best_score": 80, "best_grade": "A",
                                                  "best_persona_id": None} for rid in record_ids], NOW)
        uow.commit()
        return queued


def writes(runtime: Runtime, after: int = 0) -> list[tuple[int, int, dict[str, str]]]:
    """(action id, record id, properties) of the queued writes after action `after`."""
    with runtime.read_uow() as uow:
        return [(a.id, a.record_id or 0, a.payload["properties"]) for a in uow.session.scalars(
            select(OutboxAction).where(OutboxAction.kind == WRITE_FIELDS, OutboxAction.id > after)
            .order_by(OutboxAction.id))]


def percent(runtime: Runtime, record_id: int) -> str:
    found = probability_of(runtime, record_id)
    assert found is not None and found["probability"] is not None
    return str(round(100 * found["probability"]))


def deliver_all(runtime: Runtime) -> None:
    """Mark every queued write delivered (so a later write carries nothing over)."""
    with runtime.uow() as uow:
        uow.session.execute(update(OutboxAction).values(status=ActionStatus.DONE))
        uow.commit()


def close_more(runtime: Runtime, cid: int, deals: list[tuple[dict[str, str], bool]]) -> None:
    """More closed deals in the pipeline, after those `seed` made (as `seed` stores them)."""
    rng = random.Random(5)
    with runtime.uow() as uow:
        s = uow.session
        for i, (values, won) in enumerate(deals):
            closed = T0 + timedelta(days=1000 + i)
            record = Record(connection_id=cid, external_id=f"more-{i}", pipeline_external_id="sales",
                            stage_external_id="won" if won else "lost", values=values, closed_at=closed)
            s.add(record)
            s.flush()
            s.add(Transition(connection_id=cid, record_id=record.id, from_pipeline="sales",
                             from_stage=rng.choice(OPEN), to_pipeline="sales", to_stage=record.stage_external_id,
                             occurred_at=closed, source="sync", direction="forward", decision="allowed", issues=[]))
        uow.commit()


def test_given_a_current_model_when_a_deal_is_scored_then_its_percent_is_written_once(runtime: Runtime) -> None:
    cid = seed(runtime, planted(300))
    configure(runtime, cid)
    assert win_models.rebuild(runtime, cid)[0]["status"] == "current"
    deal = scored_deal(runtime, cid, "open", {"industry": "wholesale", "region": "north", "size": "big"}, "s2")
    expected = percent(runtime, deal)

    assert score(runtime, deal) == 1
    assert score(runtime, deal) == 0  # nothing changed: nothing queued

    assert [(rid, props) for _, rid, props in writes(runtime)] == [(deal, {FIT: "80", WIN: expected})]
    assert 0 <= int(expected) <= 100
    with runtime.read_uow() as uow:
        assert uow.session.get_one(RecordScore, deal).written == {FIT: "80", WIN: expected}


def test_given_no_model_then_an_empty_value_is_written_only_once_a_percent_was(runtime: Runtime) -> None:
    cid = seed(runtime, planted(300))
    configure(runtime, cid)
    deal = scored_deal(runtime, cid, "open", {"industry": "retail", "region": "south", "size": "small"})

    score(runtime, deal)  # no model built yet: the score only
    assert [props for _, _, props in writes(runtime)] == [{FIT: "80"}]
    deliver_all(runtime)
    win_models.rebuild(runtime, cid)  # a current model: the open deal's percent follows
    ((last, rid, props),) = writes(runtime)[1:]
    assert (rid, props) == (deal, {WIN: percent(runtime, deal)})
    deliver_all(runtime)
    with runtime.uow() as uow:  # the closed deals leave the pipeline: under the floor, the model is retired
        uow.session.execute(update(Record).where(Record.id != deal).values(deleted=True))
        uow.commit()
    assert win_models.rebuild(runtime, cid)[0]["status"] == "disabled"

    assert [(rid, props) for _, rid, props in writes(runtime, last)] == [(deal, {WIN: ""})]
    assert score(runtime, deal) == 0


def test_given_a_rebuild_that_changes_probabilities_then_only_the_open_deals_whose_percent_changed_get_writes(
        runtime: Runtime) -> None:
    cid = seed(runtime, planted(240))
    configure(runtime, cid)
    closed = scored_deal(runtime, cid, "closed", PORTRAITS[0], "won")  # one of the model's deals
    win_models.rebuild(runtime, cid)
    deals = [scored_deal(runtime, cid, f"open-{i}-{stage}", values, stage)
             for i, values in enumerate(PORTRAITS) for stage in OPEN]
    score(runtime, *deals, closed)
    before = {rid: percent(runtime, rid) for rid in deals}
    assert {rid: props[WIN] for _, rid, props in writes(runtime) if rid != closed} == before
    assert [props for _, rid, props in writes(runtime) if rid == closed] == [{FIT: "80"}]  # closed: no percent
    deliver_all(runtime)
    last = writes(runtime)[-1][0]

    win_models.rebuild(runtime, cid)  # the same deals: the same tables, the same percents
    assert writes(runtime, last) == []

    close_more(runtime, cid, planted(400, seed_=29))
    assert win_models.rebuild(runtime, cid)[0]["status"] == "current"

    after = {rid: percent(runtime, rid) for rid in deals}
    changed = {rid: p for rid, p in after.items() if p != before[rid]}
    print(f"\n{len(changed)} of {len(deals)} open deals changed percent ({runtime.engine.dialect.name})")
    assert 0 < len(changed) < len(deals), "the test needs deals whose percent changed and deals whose did not"
    assert {rid: props for _, rid, props in writes(runtime, last)} == {rid: {WIN: p} for rid, p in changed.items()}
    assert len(writes(runtime, last)) == len(changed)  # one write per changed deal, the closed deal none


def test_given_no_win_probability_property_then_a_rebuild_queues_nothing(runtime: Runtime) -> None:
    cid = seed(runtime, planted(240))
    with runtime.uow() as uow:
        uow.session.get_one(Connection, cid).score_write_back = {"score": FIT}
        uow.commit()
    scored_deal(runtime, cid, "open", PORTRAITS[0])

    win_models.rebuild(runtime, cid)

    assert writes(runtime) == []


