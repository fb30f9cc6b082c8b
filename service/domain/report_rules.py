"""How each number of the qualification report is counted, in one line a person can read next to it (en, ru).
The API description, the pages and the exports show these same texts."""

# ruff: noqa: RUF001

from __future__ import annotations

from service.domain.fieldtypes import language_code
from service.domain.report_math import MIN_CASES

RULES: dict[str, tuple[str, str]] = {
    "moves": ("Moves into the stage that its gates apply to (forward, into a pipeline, to lost; not backward), "
              "made in the period.",
              "Переходы на этап, к которым применяются его ворота (вперёд, вход в воронку, в проигрыш; не назад), "
              "за период."),
    "decisions": ("Of those moves: allowed, blocked (Qualify moved the deal back), warned (a task only), "
                  "audited (recorded only, the gate in audit mode).",
                  "Из них: разрешено, заблокировано (Qualify вернул сделку), предупреждено (только задача), "
                  "записано (ворота в режиме аудита)."),
    "blocked_share": ("Blocked ÷ moves.", "Заблокировано ÷ переходы."),
    "bypasses": ("Moves around the gates: seen only by sync (no webhook came), made through the API, an automation, "
                 "an import or an integration, and moves found by sync too old to gate (recorded, not acted on).",
                 "Переходы в обход ворот: замечены только синхронизацией (вебхука не было), сделаны через API, "
                 "автоматизацию, импорт или интеграцию, и найденные синхронизацией слишком старые (записаны без "
                 "действий)."),
    "time_to_pass": ("For moves blocked in the period: hours until the deal entered the stage after all (median, "
                     "90th percentile), and how many did.",
                     "Для заблокированных за период переходов: часы до успешного входа сделки на этап (медиана, "
                     "90-й процентиль) и сколько сделок вошли."),
    "stuck": ("Deals whose last move was blocked and that still stand where they were sent back, now; how long "
              "(median, longest).",
              "Сделки, последний переход которых заблокирован и которые стоят там, куда их вернули, сейчас; как "
              "долго (медиана, максимум)."),
    "missing_fields": ("Fields missing or invalid on blocked and warned moves in the period; each counted once per "
                       "move.",
                       "Поля, не заполненные или неверные при заблокированных и предупреждённых переходах за "
                       "период; каждое — один раз на переход."),
    "completeness": ("Share of the fields the gates required that were filled when the deals entered the stage "
                     "(over the moves of the period).",
                     "Доля требуемых воротами полей, заполненных при входе сделок на этап (по переходам за период)."),
    "persona_mix": ("Deals created in the period by their best-fitting persona now; none: no persona above the "
                    "floor (the non-target share); by grade.",
                    "Сделки, созданные за период, по лучше всего подходящей персоне сейчас; нет персоны — доля "
                    "нецелевых; по грейду."),
    "pays": (f"Deals won ÷ deals won or lost, closed in the period, with n and the 95% Wilson interval; below "
             f"{MIN_CASES} closed deals: not enough data.",
             f"Выигранные ÷ выигранные и проигранные сделки, закрытые за период, с n и 95% интервалом Уилсона; "
             f"меньше {MIN_CASES} закрытых сделок — недостаточно данных."),
    "cycle": ("Median days from creation to close of the deals won in the period.",
              "Медиана дней от создания до закрытия сделок, выигранных за период."),
    "owners": ("Each owner beside the team: gated moves, share blocked, completeness, non-target share of the "
               "deals created, win rate. Flagged: more moves than the team's median owner, yet a win rate below "
               "the team's with 95% intervals apart.",
               "Каждый менеджер рядом с командой: переходы через ворота, доля блокировок, полнота, доля "
               "нецелевых среди созданных сделок, доля выигрышей. Отмечен: переходов больше медианы команды, а "
               "доля выигрышей ниже командной и 95% интервалы не пересекаются."),
    "trend": ("Each ISO week of the period (from its Monday, UTC): the same numbers, counted for that week.",
              "Каждая неделя периода (с понедельника, UTC): те же показатели за эту неделю."),
    "conversion": ("Deals created in the period that moved in the pipeline: share that reached each stage — any: "
                   "the stage or a later one by any path; strict: every stage up to it, one at a time from the "
                   "first.",
                   "Созданные за период сделки, двигавшиеся по воронке: доля дошедших до этапа — любым путём: "
                   "до этапа или дальше; строго: через каждый этап по очереди с первого."),
    "directions": ("Moves that happened in the period: to the next stage, skipping stages, backward, into a "
                   "pipeline, to lost.",
                   "Совершённые за период переходы: на следующий этап, с пропуском этапов, назад, вход в воронку, "
                   "в проигрыш."),
}


def rules(language: str) -> dict[str, str]:
    """Every rule in one language (en, ru; others: en)."""
    russian = language_code(language) == "ru"
    return {key: texts[1] if russian else texts[0] for key, texts in RULES.items()}
