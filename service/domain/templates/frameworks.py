"""Qualification frameworks as gate templates: fields plus cumulative per-stage requirements.

The stage mapping is the proposed default of the scoring reference (section 4), cumulative: a
field required at a stage stays required at every later stage. "(all confirmed)" at negotiation
adds no field: the gate engine checks that answers are filled, so the negotiation gate requires
the whole framework, and the note asks managers to confirm the answers with the customer.
``lost`` is separate (moving into a lost stage checks only its own gate) and requires only the
loss reason.

======================  ===============  =====================  =========================================
stage                   BANT             CHAMP                  GPCTBA/C&I
======================  ===============  =====================  =========================================
qualified               Need, Authority  Challenges, Authority  Goals, Plans, Challenges
discovery               + Budget         + Money (budget)       + Timeline, Budget, Authority
proposal                + Timeline       + Prioritization       + Consequences, Implications
negotiation             (all confirmed)  (all confirmed)        (all confirmed)
lost (separate)         loss reason      loss reason            loss reason
======================  ===============  =====================  =========================================

MEDDPICC and SPICED live in ``deal_frameworks``.
"""

# Russian text is intentional here: Cyrillic letters are not confusables of Latin ones.
# ruff: noqa: RUF001

from __future__ import annotations

from service.domain.templates.common import AUTHORITY, BUDGET, CHALLENGES, LOSS_REASON, TIMELINE
from service.domain.templates.model import (
    GATE_STAGES,
    KIND_GATES,
    STAGE_DISCOVERY,
    STAGE_NEGOTIATION,
    STAGE_PROPOSAL,
    STAGE_QUALIFIED,
    Bilingual,
    Definition,
    StageStep,
    TemplateInfo,
    enum,
    text,
)

ALL_CONFIRMED: Bilingual = (
    "All answers confirmed with the customer.",
    "Все ответы подтверждены клиентом.",
)

NEED = text(
    "need", "Need", "Потребность", "pains", min_length=5,
    description=("What the customer needs and why now.", "Что нужно клиенту и почему сейчас."),
)
PRIORITY = enum(
    "priority", "Prioritization", "Приоритет", "behavioural", ("top", "high", "medium", "low"),
    description=("How high solving this ranks among the customer's priorities.",
                 "Насколько высоко эта задача стоит среди приоритетов клиента."),
)
GOALS = text(
    "goals", "Goals", "Цели", "pains", min_length=5,
    description=("The customer's business goals (quantified where possible).",
                 "Бизнес-цели клиента (по возможности в цифрах)."),
)
PLANS = text(
    "plans", "Plans", "Планы", "pains", min_length=5,
    description=("How the customer plans to reach the goals.", "Как клиент планирует достичь целей."),
)
CONSEQUENCES = text(
    "consequences", "Negative consequences", "Негативные последствия", "pains", min_length=5,
    description=("What happens if the goals are not reached.", "Что будет, если цели не будут достигнуты."),
)
IMPLICATIONS = text(
    "implications", "Positive implications", "Позитивные результаты", "pains", min_length=5,
    description=("What success means for the customer.", "Что даст клиенту достижение целей."),
)

BANT = Definition(
    info=TemplateInfo(
        key="bant",
        title="BANT qualification",
        title_ru="Квалификация BANT",
        kind=KIND_GATES,
        description="Budget, Authority, Need, Timeline (IBM): the classic qualification checklist.",
        stages=GATE_STAGES,
    ),
    fields=(NEED, AUTHORITY, BUDGET, TIMELINE, LOSS_REASON),
    steps=(
        StageStep(STAGE_QUALIFIED, ("need", "authority")),
        StageStep(STAGE_DISCOVERY, ("budget",)),
        StageStep(STAGE_PROPOSAL, ("timeline",)),
        StageStep(STAGE_NEGOTIATION, (), ALL_CONFIRMED),
    ),
    lost=("loss_reason",),
)

CHAMP = Definition(
    info=TemplateInfo(
        key="champ",
        title="CHAMP qualification",
        title_ru="Квалификация CHAMP",
        kind=KIND_GATES,
        description="Challenges, Authority, Money, Prioritization: BANT reordered to lead with the customer's "
        "challenges. Money uses the shared budget field.",
        stages=GATE_STAGES,
    ),
    fields=(CHALLENGES, AUTHORITY, BUDGET, PRIORITY, LOSS_REASON),
    steps=(
        StageStep(STAGE_QUALIFIED, ("challenges", "authority")),
        StageStep(STAGE_DISCOVERY, ("budget",)),
        StageStep(STAGE_PROPOSAL, ("priority",)),
        StageStep(STAGE_NEGOTIATION, (), ALL_CONFIRMED),
    ),
    lost=("loss_reason",),
)

GPCTBA_CI = Definition(
    info=TemplateInfo(
        key="gpctba-ci",
        title="GPCTBA/C&I qualification",
        title_ru="Квалификация GPCTBA/C&I",
        kind=KIND_GATES,
        description="Goals, Plans, Challenges, Timeline, Budget, Authority, negative Consequences and positive "
        "Implications (HubSpot's internal framework).",
        stages=GATE_STAGES,
    ),
    fields=(GOALS, PLANS, CHALLENGES, TIMELINE, BUDGET, AUTHORITY, CONSEQUENCES, IMPLICATIONS, LOSS_REASON),
    steps=(
        StageStep(STAGE_QUALIFIED, ("goals", "plans", "challenges")),
        StageStep(STAGE_DISCOVERY, ("timeline", "budget", "authority")),
        StageStep(STAGE_PROPOSAL, ("consequences", "implications")),
        StageStep(STAGE_NEGOTIATION, (), ALL_CONFIRMED),
    ),
    lost=("loss_reason",),
)
