"""Shared builders for the gating unit tests (a plain module: no fixtures magic needed)."""

# Russian labels and messages are intentional: Cyrillic letters are not Latin confusables.

from __future__ import annotations

from decimal import Decimal

from service.domain.conditions import parse_condition
from service.domain.fields import Constraints, FieldSpec, FieldType
from service.domain.gating import Gatekeeper
from service.domain.pipeline import Gate, GateMode, Pipeline, Requirement, Stage, StageKind, StageRef

FIELDS = (
    FieldSpec(
        "industry", "Industry", FieldType.ENUM, Constraints(options=("retail", "b2b", "it")), "Отрасль"
    ),
    FieldSpec("budget", "Budget", FieldType.MONEY, Constraints(min=Decimal(1000)), "Бюджет"),
    FieldSpec("decision_maker", "Decision maker", FieldType.TEXT, label_ru="ЛПР"),
    FieldSpec("company_size", "Company size", FieldType.INTEGER, Constraints(min=Decimal(1))),
    FieldSpec("email", "Email", FieldType.EMAIL),
    FieldSpec("contract_date", "Contract date", FieldType.DATE),
    FieldSpec("loss_reason", "Loss reason", FieldType.TEXT, label_ru="Причина отказа"),
)

SALES = Pipeline(
    "sales",
    "Sales",
    (
        Stage("lead", "Lead", 10),
        Stage("qualification", "Qualification", 20),
        Stage("presentation", "Presentation", 30),
        Stage("proposal", "Proposal", 40),
        Stage("won", "Won", 50, StageKind.WON),
        Stage("lost", "Lost", 60, StageKind.LOST),
        Stage("dead", "Dead", 70, StageKind.LOST),
    ),
)
PARTNERS = Pipeline("partners", "Partners", (Stage("p1", "Signed", 1), Stage("p2", "Active", 2)))

GATES = (
    Gate(
        "sales", "qualification", GateMode.ENFORCE, (Requirement("industry"), Requirement("budget")), id="g1"
    ),
    Gate(
        "sales",
        "presentation",
        GateMode.WARN,
        (
            Requirement("decision_maker"),
            Requirement("budget"),
            Requirement("company_size", parse_condition({"field": "industry", "op": "eq", "value": "b2b"})),
        ),
        id="g2",
    ),
    Gate("sales", "proposal", GateMode.AUDIT, (Requirement("email"),), id="g3"),
    Gate("sales", "won", GateMode.ENFORCE, (Requirement("contract_date"),), id="g4"),
    Gate("sales", "lost", GateMode.ENFORCE, (Requirement("loss_reason"),), id="g5"),
    Gate("partners", "p2", GateMode.ENFORCE, (Requirement("industry"),), id="g6"),
)

COMPLETE = {
    "industry": "retail",
    "budget": "5000",
    "decision_maker": "Ann",
    "company_size": "40",
    "email": "ann@acme.com",
    "contract_date": "2024-05-01",
    "loss_reason": "Too expensive",
}


def keeper(gates: tuple[Gate, ...] = GATES, fields: tuple[FieldSpec, ...] = FIELDS) -> Gatekeeper:
    return Gatekeeper([SALES, PARTNERS], gates, fields)


def ref(stage_id: str, pipeline_id: str = "sales") -> StageRef:
    return StageRef(pipeline_id, stage_id)
