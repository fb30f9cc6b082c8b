"""MEDDPICC and SPICED as gate templates (cumulative per-stage requirements, ``lost`` separate).

MEDDPICC follows the scoring reference (section 4) exactly:

===========  ==========================================================================
qualified    Identify pain, Metrics (draft), Champion (candidate)
discovery    + Economic buyer, Decision criteria
proposal     + Decision process, Competition
negotiation  + Paper process, Champion confirmed
lost         loss reason
===========  ==========================================================================

"Champion confirmed" is its own field, ``champion_confirmed_on`` (a date): the gate engine checks
that a field is filled, so a confirmation is recorded as the day the champion proved themselves
(for example by getting the team to the economic buyer), which nobody fills for a mere candidate.

SPICED (Winning by Design) is not in the reference table; this mapping is derived here, in the
same four stages, by analogy with the table's rows:

===========  ==========================================================================
qualified    Situation, Pain  (like BANT Need / MEDDPICC Identify pain: why talk at all)
discovery    + Impact         (the quantified value, like BANT Budget / CHAMP Money)
proposal     + Critical event, Decision  (timing like BANT Timeline; the decision criteria
             and process, like MEDDPICC Decision process, before a proposal is written)
negotiation  (all confirmed)
lost         loss reason
===========  ==========================================================================
"""

# Russian text is intentional here: Cyrillic letters are not confusables of Latin ones.
# ruff: noqa: RUF001

from __future__ import annotations

from service.domain.templates.common import LOSS_REASON, PAIN
from service.domain.templates.frameworks import ALL_CONFIRMED
from service.domain.templates.model import (
    GATE_STAGES,
    KIND_GATES,
    STAGE_DISCOVERY,
    STAGE_NEGOTIATION,
    STAGE_PROPOSAL,
    STAGE_QUALIFIED,
    Definition,
    StageStep,
    TemplateInfo,
    field,
    text,
)

METRICS = text(
    "metrics", "Metrics", "Метрики", "other", min_length=5,
    description=("The measurable gain the customer expects (a draft is enough at qualification).",
                 "Измеримый результат, которого ждёт клиент (на квалификации достаточно черновика)."),
)
ECONOMIC_BUYER = text(
    "economic_buyer", "Economic buyer", "Экономический покупатель", "firmographic", min_length=2, max_length=200,
    description=("Name and position of the person who signs off the money.",
                 "Имя и должность человека, который распоряжается бюджетом."),
)
DECISION_CRITERIA = text(
    "decision_criteria", "Decision criteria", "Критерии решения", "other", min_length=5,
    description=("How the customer will compare and choose.", "По каким критериям клиент будет сравнивать и выбирать."),
)
DECISION_PROCESS = text(
    "decision_process", "Decision process", "Процесс принятия решения", "other", min_length=5,
    description=("Steps, people and dates between now and the decision.",
                 "Шаги, участники и сроки до принятия решения."),
)
PAPER_PROCESS = text(
    "paper_process", "Paper process", "Процесс согласования документов", "other", min_length=5,
    description=("Legal, procurement and signing steps until the contract is signed.",
                 "Юридические, закупочные и подписные шаги до подписания договора."),
)
CHAMPION = text(
    "champion", "Champion", "Чемпион", "firmographic", min_length=2, max_length=200,
    description=("The insider who sells for us (a candidate at first).",
                 "Сторонник внутри компании клиента, который продвигает нас (сначала — кандидат)."),
)
CHAMPION_CONFIRMED_ON = field(
    "champion_confirmed_on", "Champion confirmed on", "Дата подтверждения чемпиона", "date", "firmographic",
    description=("The day the champion proved their influence; leave empty while only a candidate.",
                 "Дата, когда чемпион подтвердил своё влияние; пусто, пока он только кандидат."),
)
COMPETITION = text(
    "competition", "Competition", "Конкуренты", "other", min_length=2,
    description=("Competitors and alternatives in the deal (including doing nothing).",
                 "Конкуренты и альтернативы в сделке (включая «ничего не делать»)."),
)
SITUATION = text(
    "situation", "Situation", "Ситуация", "pains", min_length=5,
    description=("The customer's current situation: facts, setup, context.",
                 "Текущая ситуация клиента: факты, устройство процессов, контекст."),
)
IMPACT = text(
    "impact", "Impact", "Влияние", "pains", min_length=5,
    description=("The business impact of solving the pain, quantified where possible.",
                 "Эффект для бизнеса от решения проблемы, по возможности в цифрах."),
)
CRITICAL_EVENT = text(
    "critical_event", "Critical event", "Критическое событие", "behavioural", min_length=5,
    description=("The dated event that forces a decision (deadline, launch, contract end).",
                 "Событие с датой, которое вынуждает принять решение (дедлайн, запуск, конец договора)."),
)
DECISION = text(
    "decision", "Decision", "Решение", "other", min_length=5,
    description=("Who decides, by which criteria and through which process.",
                 "Кто принимает решение, по каким критериям и в каком порядке."),
)

MEDDPICC = Definition(
    info=TemplateInfo(
        key="meddpicc",
        title="MEDDPICC qualification",
        title_ru="Квалификация MEDDPICC",
        kind=KIND_GATES,
        description="Metrics, Economic buyer, Decision criteria, Decision process, Paper process, Identify pain, "
        "Champion, Competition (PTC): qualification for complex enterprise deals.",
        stages=GATE_STAGES,
    ),
    fields=(
        PAIN, METRICS, CHAMPION, ECONOMIC_BUYER, DECISION_CRITERIA, DECISION_PROCESS, COMPETITION,
        PAPER_PROCESS, CHAMPION_CONFIRMED_ON, LOSS_REASON,
    ),
    steps=(
        StageStep(STAGE_QUALIFIED, ("pain", "metrics", "champion")),
        StageStep(STAGE_DISCOVERY, ("economic_buyer", "decision_criteria")),
        StageStep(STAGE_PROPOSAL, ("decision_process", "competition")),
        StageStep(STAGE_NEGOTIATION, ("paper_process", "champion_confirmed_on")),
    ),
    lost=("loss_reason",),
)

SPICED = Definition(
    info=TemplateInfo(
        key="spiced",
        title="SPICED qualification",
        title_ru="Квалификация SPICED",
        kind=KIND_GATES,
        description="Situation, Pain, Impact, Critical event, Decision (Winning by Design). The stage mapping is "
        "derived by analogy with the other frameworks (not from the reference table).",
        stages=GATE_STAGES,
    ),
    fields=(SITUATION, PAIN, IMPACT, CRITICAL_EVENT, DECISION, LOSS_REASON),
    steps=(
        StageStep(STAGE_QUALIFIED, ("situation", "pain")),
        StageStep(STAGE_DISCOVERY, ("impact",)),
        StageStep(STAGE_PROPOSAL, ("critical_event", "decision")),
        StageStep(STAGE_NEGOTIATION, (), ALL_CONFIRMED),
    ),
    lost=("loss_reason",),
)
