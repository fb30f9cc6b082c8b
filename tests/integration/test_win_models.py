"""The win model on stored deals, on SQLite and PostgreSQL: a synthetic pipeline with planted truth (wholesale
buyers in the north mostly win, retail buyers in the south mostly lose, insolvent buyers never pay), the data
floor, the replacement rule and the live increment when a deal is won through a gated move."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from service.domain.pipeline import StageRef
from service.models import Connection, Record, Transition, WinModel
from service.runtime import Runtime
from service.services import win_models
from service.services.moves import Move, gate_move
from tests.fakes import add_connection, add_pipeline

T0 = datetime(2025, 1, 1, tzinfo=UTC)
OPEN = ("s1", "s2", "s3")
STAGES = (("s1", "New", "open"), ("s2", "Meeting", "open"), ("s3", "Proposal", "open"), ("won", "Won", "won"),
          ("lost", "Lost", "lost"))
# The planted truth: the chance a deal is won, by (industry, region); `size` is noise.
WIN_RATE = {("wholesale", "north"): 0.95, ("wholesale", "south"): 0.6, ("retail", "north"): 0.4,
            ("retail", "south"): 0.05}
INSOLVENT = 0.1  # in the planted test, the share of buyers found insolvent: their deals are never won, whoever they are


def seed(runtime: Runtime, deals: list[tuple[dict[str, str], bool]]) -> int:
    """A connection with one pipeline and the given closed deals (one a day; lost ones reached a random open
    stage, seen as a move from it into the lost stage); returns the connection id."""
    rng = random.Random(3)
    with runtime.uow() as uow:
        s = uow.session
        connection = add_connection(s, runtime.vault)
        add_pipeline(s, connection, "sales", "Sales", STAGES)
        for i, (values, won) in enumerate(deals):
            closed = T0 + timedelta(days=i)
            record = Record(connection_id=connection.id, external_id=str(i), pipeline_external_id="sales",
                            stage_external_id="won" if won else "lost", values=values, closed_at=closed)
            s.add(record)
            s.flush()
            s.add(Transition(connection_id=connection.id, record_id=record.id, from_pipeline="sales",
                             from_stage=rng.choice(OPEN), to_pipeline="sales", to_stage=record.stage_external_id,
                             occurred_at=closed, source="sync", direction="forward", decision="allowed", issues=[]))
        uow.commit()
        return connection.id


def planted(n: int, seed_: int = 11, insolvent: float = 0.0) -> list[tuple[dict[str, str], bool]]:
    """`n` closed deals drawn by WIN_RATE; with `insolvent`, that share of them carries `credit: insolvent` and
    is lost whatever its portrait (the others `credit: good`)."""
    rng = random.Random(seed_)
    out = []
    for _ in range(n):
        industry, region = rng.choice(["wholesale", "retail"]), rng.choice(["north", "south"])
        values = {"industry": industry, "region": region, "size": rng.choice(["small", "big"])}
        won = rng.random() < WIN_RATE[(industry, region)]
        if insolvent:
            broke = rng.random() < insolvent
            values["credit"] = "insolvent" if broke else "good"
            won = won and not broke
        out.append((values, won))
    return out


def rows(runtime: Runtime) -> list[WinModel]:
    with runtime.read_uow() as uow:
        return list(uow.session.scalars(select(WinModel).order_by(WinModel.id)))


def open_deal(runtime: Runtime, cid: int, external_id: str, values: dict[str, str], stage: str) -> int:
    with runtime.uow() as uow:
        record = Record(connection_id=cid, external_id=external_id, pipeline_external_id="sales",
                        stage_external_id=stage, values=values)
        uow.session.add(record)
        uow.commit()
        return record.id


def probability_of(runtime: Runtime, record_id: int) -> dict[str, Any] | None:
    with runtime.read_uow() as uow:
        return win_models.win_probability(uow.session, uow.session.get_one(Record, record_id))


def test_given_a_planted_history_then_the_model_ranks_planted_winners_above_losers(runtime: Runtime) -> None:
    deals = planted(500, insolvent=INSOLVENT)
    cid = seed(runtime, deals)

    changes = win_models.rebuild(runtime)

    won = sum(1 for _, w in deals if w)
    assert changes == [{"connection_id": cid, "pipeline": "sales", "won": won, "lost": 500 - won,
                        "previous_auc": None, "status": "current", "auc": changes[0]["auc"], "reason": None}]
    (row,) = rows(runtime)
    print(f"\nhold-out AUC on the planted pipeline ({runtime.engine.dialect.name}): {row.auc:.3f}")
    assert row.auc is not None and row.auc > 0.8
    assert (row.won, row.lost) == (won, 500 - won)
    assert row.calibration is not None and row.calibration["n"] == 100
    assert sum(d["n"] for d in row.calibration["deciles"]) == 100
    wholesale = [v["industry"] == "wholesale" for v, _ in deals]
    assert row.tables["fields"]["industry"]["wholesale"] == [
        sum(1 for (v, w), ws in zip(deals, wholesale, strict=True) if ws and w),
        sum(1 for (v, w), ws in zip(deals, wholesale, strict=True) if ws and not w)]
    best = open_deal(runtime, cid, "best", {"industry": "wholesale", "region": "north", "size": "big",
                                            "credit": "good"}, "s1")
    worst = open_deal(runtime, cid, "worst", {"industry": "retail", "region": "south", "size": "big",
                                              "credit": "good"}, "s1")
    insolvent = open_deal(runtime, cid, "insolvent", {"industry": "wholesale", "region": "north", "size": "big",
                                                      "credit": "insolvent"}, "s1")
    p_best, p_worst, p_insolvent = (probability_of(runtime, d) for d in (best, worst, insolvent))
    assert p_best is not None and p_worst is not None and p_insolvent is not None
    assert p_best["probability"] > 0.8 > 0.2 > p_worst["probability"]
    assert p_insolvent["probability"] < 0.2  # the anti-portrait: the best profile, insolvent, is a loser
    assert p_best["n"] == 500 and p_best["closed"] is False


def test_given_too_few_won_deals_then_the_pipeline_is_disabled_with_the_reason(runtime: Runtime) -> None:
    deals = [({"industry": "wholesale"}, True)] * 39 + [({"industry": "retail"}, False)] * 60
    cid = seed(runtime, deals)

    (change,) = win_models.rebuild(runtime, cid)
    win_models.rebuild(runtime, cid)  # the same verdict the next night: still one row

    assert change["status"] == "disabled"
    assert change["reason"] == "not enough closed deals: 39 won deals, 40 needed"
    (row,) = rows(runtime)
    assert (row.status, row.reason) == ("disabled", change["reason"])
    deal = open_deal(runtime, cid, "new", {"industry": "wholesale"}, "s1")
    assert probability_of(runtime, deal) == {"probability": None, "status": "disabled", "reason": change["reason"],
                                             "built_at": row.built_at, "won": 39, "lost": 60}
    status = win_models.model_status(runtime, cid, "sales")["models"][0]
    assert (status["status"], status["reason"]) == ("disabled", change["reason"])


def test_a_rebuilt_model_replaces_the_current_only_if_it_does_nearly_as_well(runtime: Runtime) -> None:
    deals = planted(300)
    cid = seed(runtime, deals)
    win_models.rebuild(runtime, cid)
    win_models.rebuild(runtime, cid)  # the same deals: the same AUC, so it replaces the first
    first, second = rows(runtime)
    assert (first.status, second.status) == ("replaced", "current")
    # The portraits become noise: the rebuilt model ranks no better than chance and loses to the current one.
    rng = random.Random(5)
    with runtime.uow() as uow:
        for record in uow.session.scalars(select(Record)):
            record.values = {"industry": rng.choice(["wholesale", "retail"]), "region": rng.choice(["north", "south"])}
        uow.commit()

    (change,) = win_models.rebuild(runtime, cid)

    third = rows(runtime)[2]
    assert second.auc is not None and third.auc is not None and third.auc < 0.95 * second.auc
    assert change["status"] == third.status == "rejected" and change["previous_auc"] == second.auc
    assert [r.status for r in rows(runtime)] == ["replaced", "current", "rejected"]
    status = win_models.model_status(runtime, cid)["models"][0]
    assert status["status"] == "current" and status["auc"] == second.auc
    assert status["last_rebuild"]["status"] == "rejected" and "0.95" in status["last_rebuild"]["reason"]


def test_a_deal_won_after_the_build_increments_the_tables_once(runtime: Runtime) -> None:
    cid = seed(runtime, planted(200))
    win_models.rebuild(runtime, cid)
    (before,) = rows(runtime)
    values = {"industry": "retail", "region": "north", "size": "small"}
    deal = open_deal(runtime, cid, "late", values, "s2")

    for target in ("won", "s3", "won"):  # won, reopened, won again: counted once
        with runtime.uow() as uow:
            s = uow.session
            record = s.get_one(Record, deal)
            source = StageRef("sales", record.stage_external_id or "")
            gate_move(runtime, s, s.get_one(Connection, cid), record,
                      Move(source, StageRef("sales", target), runtime.clock(), None, "ui", "webhook"))
            uow.commit()

    (after,) = rows(runtime)
    assert (after.won, after.lost) == (before.won + 1, before.lost)
    assert after.tables["won"] == before.tables["won"] + 1
    for name, value in values.items():
        old = before.tables["fields"][name][value]
        assert after.tables["fields"][name][value] == [old[0] + 1, old[1]]
    for stage in OPEN:  # a won deal counts as won in every open stage
        old = before.tables["stage_counts"][stage]
        assert after.tables["stage_counts"][stage] == [old[0] + 1, old[1]]
    assert after.tables["live"] == [deal]
    assert probability_of(runtime, deal) == {"built_at": after.built_at, "n": before.won + before.lost + 1,
                                             "auc": after.auc, "reason": None, "probability": 1.0, "closed": True}


def test_a_deal_lost_after_the_build_counts_as_lost_up_to_the_stage_it_reached(runtime: Runtime) -> None:
    cid = seed(runtime, planted(200))
    win_models.rebuild(runtime, cid)
    (before,) = rows(runtime)
    deal = open_deal(runtime, cid, "late", {"industry": "wholesale"}, "s2")

    with runtime.uow() as uow:
        s = uow.session
        gate_move(runtime, s, s.get_one(Connection, cid), s.get_one(Record, deal),
                  Move(StageRef("sales", "s2"), StageRef("sales", "lost"), runtime.clock(), None, "ui", "webhook"))
        uow.commit()

    (after,) = rows(runtime)
    assert (after.won, after.lost) == (before.won, before.lost + 1)
    bumped = {s: after.tables["stage_counts"][s][1] - before.tables["stage_counts"][s][1] for s in OPEN}
    assert bumped == {"s1": 1, "s2": 1, "s3": 0}
