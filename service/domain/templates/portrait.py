"""The B2C "customer portrait" template: geographic, socio-demographic, psychographic, behavioural and
pains fields (DOMAIN.md, "Attribute groups"), plus one living example persona built on them.

No gates: which portrait fields are required is chosen per persona, not globally (scoring reference,
section 4). The example persona is the DOMAIN.md portrait (a healthy-food delivery for busy
families); it has one disqualifier: a purchase budget below the minimal profitable order (the
"one-off tiny orders" negative portrait). Money amounts are in the CRM's currency (roubles here).
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
    # geographic
    text("country", "Country", "Страна", "geographic", min_length=2, max_length=100),
    text("city", "City", "Город", "geographic", min_length=2, max_length=100),
    enum("city_size", "City size", "Размер населённого пункта", "geographic",
         ("million_plus", "large", "medium", "small", "rural")),
    # socio-demographic
    field("age", "Age", "Возраст", "integer", "demographic", min=14, max=110),
    enum("gender", "Gender", "Пол", "demographic", ("female", "male")),
    enum("marital_status", "Marital status", "Семейное положение", "demographic",
         ("single", "in_relationship", "married", "divorced", "widowed")),
    field("children_count", "Number of children", "Количество детей", "integer", "demographic", min=0, max=20),
    enum("income_level", "Income level", "Уровень дохода", "demographic",
         ("low", "lower_middle", "middle", "upper_middle", "high"),
         description=("Personal monthly income band, relative to the region.",
                      "Уровень личного ежемесячного дохода относительно региона.")),
    enum("education", "Education", "Образование", "demographic",
         ("secondary", "vocational", "higher", "postgraduate")),
    enum("occupation", "Occupation", "Род занятий", "demographic",
         ("employee", "specialist", "manager", "business_owner", "self_employed", "student", "homemaker",
          "retired", "other")),
    # psychographic
    multi_enum("values_interests", "Values and interests", "Ценности и интересы", "psychographic",
               ("family", "health", "career", "self_development", "saving_money", "comfort", "status", "travel",
                "sport", "cooking", "ecology", "technology", "creativity")),
    text("motives", "Motives, dreams and fears", "Мотивы, мечты и страхи", "psychographic", min_length=5),
    # behavioural
    enum("acquisition_channel", "Acquisition channel", "Канал привлечения", "behavioural",
         ("search", "social_media", "advertising", "referral", "marketplace", "offline", "email", "other")),
    enum("decision_factor", "Decision factor", "Фактор принятия решения", "behavioural",
         ("price", "quality", "brand", "advertising", "referral")),
    enum("product_knowledge", "Product knowledge", "Знание продукта", "behavioural",
         ("expert", "amateur", "spectator"),
         description=("Expert: knows the category well; amateur: some experience; spectator: a newcomer.",
                      "Эксперт — хорошо знает категорию; любитель — есть опыт; наблюдатель — новичок.")),
    field("monthly_spend", "Monthly spend in the category", "Ежемесячные траты в категории", "money",
          "behavioural", min=0),
    field("purchase_budget", "Budget for this purchase", "Бюджет на эту покупку", "money", "behavioural", min=0),
    enum("purchase_frequency", "Purchase frequency", "Частота покупок", "behavioural",
         ("one_off", "rare", "monthly", "weekly")),
    enum("customer_status", "Customer status", "Статус клиента", "behavioural",
         ("potential", "visitor", "one_time_buyer", "regular_customer")),
    enum("preferred_channel", "Preferred communication channel", "Предпочтительный канал связи", "behavioural",
         ("phone", "messenger", "email", "social_media", "in_person")),
    # pains and needs
    text("main_problem", "Main problem to solve", "Главная проблема", "pains", min_length=5),
    text("objections", "Objections and purchase fears", "Возражения и страхи перед покупкой", "pains",
         min_length=5),
)

NATALIA = {
    "name": ("Natalia, the busy working mother", "Наталья, работающая мама"),
    "segment": ("Working parents who want healthy family food without cooking",
                "Работающие родители, которым нужна здоровая еда для семьи без готовки"),
    "ring": "core",
    "description": (
        "Natalia, 30, accountant, married, two kids (4 and 7), lives in a big city, earns about 70,000 a month. "
        "Works full time and has no time to cook; wants healthy, tasty food for the family within a set budget "
        "(10-25 thousand a month). Finds services through social media and friends' recommendations, chooses on "
        "quality and reviews rather than the lowest price. Fears overpaying and meals the kids will not eat.",
        "Наталья, 30 лет, бухгалтер, замужем, двое детей (4 и 7 лет), живёт в крупном городе, доход около "
        "70 000 в месяц. Работает полный день, готовить некогда; хочет здоровую и вкусную еду для семьи в "
        "рамках бюджета (10-25 тысяч в месяц). Узнаёт о сервисах из соцсетей и по рекомендациям подруг, "
        "выбирает по качеству и отзывам, а не по самой низкой цене. Боится переплатить и того, что дети не "
        "станут есть.",
    ),
    "review_interval_days": 182,
    "criteria": (
        criterion("age", "range", "nice", 2, min=25, max=40, soft_margin=5),
        criterion("gender", "equals", "nice", 1, value="female"),
        criterion("marital_status", "in", "nice", 1, values=("married", "in_relationship")),
        criterion("children_count", "range", "must", 3, min=1),
        criterion("income_level", "in", "must", 3, values=("middle", "upper_middle")),
        criterion("occupation", "in", "nice", 1, values=("employee", "specialist", "manager")),
        criterion("city_size", "in", "nice", 1, values=("million_plus", "large")),
        criterion("values_interests", "contains_any", "nice", 2, values=("family", "health")),
        criterion("decision_factor", "in", "nice", 2, values=("quality", "referral")),
        criterion("product_knowledge", "in", "nice", 1, values=("amateur", "expert")),
        criterion("monthly_spend", "range", "nice", 2, min=10000, max=25000, soft_margin=5000),
        criterion("purchase_frequency", "in", "nice", 2, values=("monthly", "weekly")),
        # The negative portrait: a budget below the minimal profitable order disqualifies the lead.
        criterion("purchase_budget", "range", "disqualifier", max=1500),
    ),
}

CUSTOMER_PORTRAIT = Definition(
    info=TemplateInfo(
        key="customer-portrait",
        title="Customer portrait (B2C)",
        title_ru="Портрет клиента (B2C)",
        kind=KIND_PERSONA,
        description="Geographic, socio-demographic, psychographic, behavioural and pains fields of a B2C "
        "customer portrait, with one example core persona.",
    ),
    fields=FIELDS,
    personas=(NATALIA,),
)
