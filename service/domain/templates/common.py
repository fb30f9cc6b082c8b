"""Qualification fields shared by several framework templates.

A field that two frameworks both ask about (budget, authority, timeline, challenges, pain, loss
reason) is defined once here, so applying a second framework reuses the first one's fields
instead of colliding on the key with a different definition.

Value design: the gate engine checks that a field is *filled* (and valid), so every answer is a
field a manager can only fill once the answer is known. There is deliberately no "unknown"
option: "unknown" (like "n/a", "tbd", "-") is a placeholder that counts as missing.
"""

# Russian text is intentional here: Cyrillic letters are not confusables of Latin ones.
# ruff: noqa: RUF001

from __future__ import annotations

from service.domain.templates.model import enum, field, text

BUDGET = field(
    "budget", "Budget", "Бюджет", "money", "behavioural", min=0,
    description=("Money the customer has set aside for this purchase (CHAMP: Money).",
                 "Сумма, которую клиент готов потратить на покупку (в CHAMP — Money)."),
)
AUTHORITY = enum(
    "authority", "Authority", "Полномочия", "firmographic",
    ("decision_maker", "influencer", "user", "gatekeeper"),
    description=("The contact's role in the buying decision.", "Роль контакта в принятии решения о покупке."),
)
TIMELINE = field(
    "timeline", "Timeline (expected decision date)", "Сроки (ожидаемая дата решения)", "date", "behavioural",
    description=("When the customer expects to decide or to start.", "Когда клиент планирует принять решение."),
)
CHALLENGES = text(
    "challenges", "Challenges", "Проблемы и вызовы", "pains", min_length=5,
    description=("The business challenges the customer wants to solve.",
                 "Бизнес-задачи и проблемы, которые клиент хочет решить."),
)
PAIN = text(
    "pain", "Pain", "Боль", "pains", min_length=5,
    description=("The identified pain: what hurts today and why it matters.",
                 "Выявленная боль: что мешает сейчас и почему это важно."),
)
LOSS_REASON = enum(
    "loss_reason", "Loss reason", "Причина проигрыша", "other",
    (
        "no_budget", "no_need", "no_authority", "bad_timing", "lost_to_competitor", "price",
        "no_response", "not_target_audience", "other",
    ),
    description=("Why the deal was lost; required to close a deal as lost.",
                 "Почему сделка проиграна; обязательно при закрытии сделки как проигранной."),
)
