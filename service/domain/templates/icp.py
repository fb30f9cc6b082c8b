"""The B2B "ideal customer profile" template: firmographic fields plus one example core persona.

Negative portrait ("insolvent audience", one-off tiny orders). There is no separate negative persona
(and no "negative-one-off-buyer" template): the persona model has no "negative" flag, so a persona
describing the bad buyer would be *chosen* by best-fit for exactly the leads it should reject and
count as a persona match in reports. The persona spec's tool for this is the ``disqualifier``
criterion, so the negative portrait lives inside the positive persona: a company in liquidation or
bankruptcy, and an expected deal below the minimal profitable order, disqualify the lead; a one-off
purchase pattern only counts against it (a one-off big contract can still be a good deal). The fields
(``legal_status``, ``purchase_pattern``, ``expected_deal_value``) are part of this template, so an
admin can add the same disqualifiers to any other persona.
"""

# Russian text is intentional here: Cyrillic letters are not confusables of Latin ones.
# ruff: noqa: RUF001

from __future__ import annotations

from service.domain.templates.model import (
    KIND_PERSONA,
    Definition,
    TemplateInfo,
    criterion,
    enum,
    field,
    multi_enum,
    text,
)

FIELDS = (
    enum("industry", "Industry", "Отрасль", "firmographic",
         ("retail", "wholesale", "manufacturing", "construction", "logistics", "it", "finance", "healthcare",
          "education", "professional_services", "hospitality", "public_sector", "other")),
    enum("headcount_band", "Headcount", "Численность сотрудников", "firmographic",
         ("1-10", "11-50", "51-200", "201-500", "501-1000", "1001+")),
    enum("revenue_band", "Annual revenue", "Годовая выручка", "firmographic",
         ("under_10m", "10m-100m", "100m-1b", "1b-10b", "over_10b"),
         description=("Annual revenue band in the CRM's currency (m = million, b = billion).",
                      "Диапазон годовой выручки в валюте CRM (m — миллион, b — миллиард).")),
    text("region", "Region", "Регион", "geographic", min_length=2, max_length=100),
    enum("contact_role", "Contact's role in the decision", "Роль контакта в решении", "firmographic",
         ("decision_maker", "influencer", "end_user", "assistant"),
         description=("Decision maker, or the people around them: influencers (middle managers who actually "
                      "choose), end users, assistants/secretaries.",
                      "ЛПР или его окружение: влияющие на решение (менеджеры среднего звена, которые фактически "
                      "выбирают), пользователи, ассистенты и секретари.")),
    enum("seniority", "Seniority", "Уровень должности", "firmographic",
         ("owner", "c_level", "director", "head_of_department", "manager", "specialist")),
    field("budget_owner", "Budget owner", "Распоряжается бюджетом", "boolean", "firmographic"),
    multi_enum("tech_stack", "Tech stack", "Используемые системы", "firmographic",
               ("crm", "erp", "accounting", "bi", "ecommerce", "marketing_automation", "spreadsheets_only")),
    enum("legal_status", "Legal status", "Правовой статус компании", "firmographic",
         ("active", "reorganization", "liquidation", "bankruptcy")),
    enum("purchase_pattern", "Purchase pattern", "Характер закупок", "behavioural",
         ("one_off", "repeat", "subscription")),
    field("expected_deal_value", "Expected deal value", "Ожидаемая сумма сделки", "money", "behavioural", min=0),
    text("business_pain", "Business pain", "Проблема бизнеса", "pains", min_length=5),
)

DISTRIBUTOR = {
    "name": ("Igor, commercial director of a growing distributor", "Игорь, коммерческий директор дистрибьютора"),
    "segment": ("Mid-size wholesale and manufacturing companies with repeat purchases",
                "Средние оптовые и производственные компании с повторными закупками"),
    "ring": "core",
    "description": (
        "Igor, 42, commercial director of a wholesale distributor with 120 employees and about 800 million in "
        "annual revenue. Owns the sales budget and signs off tools himself, but his head of sales shortlists "
        "the vendors. Runs sales in a CRM and an ERP that do not talk to each other; managers spend meetings on "
        "non-target clients and he cannot see why. Buys on a yearly subscription, wants results within a "
        "quarter, fears a long rollout that the team will ignore.",
        "Игорь, 42 года, коммерческий директор оптового дистрибьютора: 120 сотрудников, выручка около 800 млн "
        "в год. Сам распоряжается бюджетом отдела продаж и утверждает покупки, но поставщиков отбирает "
        "руководитель отдела продаж. Продажи ведутся в CRM и ERP, которые не связаны между собой; менеджеры "
        "тратят встречи на нецелевых клиентов, и он не видит почему. Покупает по годовой подписке, ждёт "
        "результата в течение квартала, боится долгого внедрения, которое команда проигнорирует.",
    ),
    "review_interval_days": 182,
    "criteria": (
        criterion("industry", "in", "must", 3, values=("wholesale", "manufacturing", "retail")),
        criterion("headcount_band", "in", "nice", 2, values=("51-200", "201-500")),
        criterion("revenue_band", "in", "nice", 2, values=("100m-1b", "1b-10b")),
        criterion("contact_role", "in", "nice", 2, values=("decision_maker", "influencer")),
        criterion("seniority", "in", "nice", 1, values=("owner", "c_level", "director", "head_of_department")),
        criterion("budget_owner", "boolean", "nice", 2, value=True),
        criterion("tech_stack", "contains_any", "nice", 1, values=("crm", "erp")),
        criterion("purchase_pattern", "in", "nice", 2, values=("repeat", "subscription")),
        criterion("expected_deal_value", "range", "nice", 2, min=300000, soft_margin=150000),
        # The negative portrait as disqualifiers: an insolvent company, a deal below the minimal profitable order.
        criterion("legal_status", "in", "disqualifier", values=("liquidation", "bankruptcy")),
        criterion("expected_deal_value", "range", "disqualifier", max=50000),
    ),
}

B2B_ICP = Definition(
    info=TemplateInfo(
        key="b2b-icp",
        title="Ideal customer profile (B2B)",
        title_ru="Профиль идеального клиента (B2B)",
        kind=KIND_PERSONA,
        description="Firmographic fields (industry, headcount, revenue, region, contact role and seniority, budget "
        "owner, tech stack) with one example core persona whose disqualifiers encode the negative portrait "
        "(insolvent company, tiny one-off orders).",
    ),
    fields=FIELDS,
    personas=(DISTRIBUTOR,),
)
