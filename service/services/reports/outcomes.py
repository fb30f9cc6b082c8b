"""The deal sections of the report: persona mix of the deals created in the period, whether qualification pays
(win rates of the deals closed in it), each owner beside the team, and the weekly trend."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from service.domain.report_math import Rate, median, share, wilson, wrong_audience
from service.services.reports.deals import Deal
from service.services.reports.labels import Labels

GRADES = ("A", "B", "C", "D")


def rate_view(rate: Rate) -> dict[str, Any]:
    """A rate as the report shows it: hits of n, the share (None below the minimum of cases), its interval."""
    return {"hits": rate.hits, "n": rate.n, "value": rate.value if rate.enough else None,
            "low": rate.low if rate.enough else None, "high": rate.high if rate.enough else None,
            "enough": rate.enough}


def win_rate(deals: Iterable[Deal]) -> Rate:
    """Won of the closed deals, with its Wilson interval."""
    closed = list(deals)
    return wilson(sum(1 for d in closed if d.outcome == "won"), len(closed))


def persona_mix(created: Sequence[Deal], labels: Labels) -> dict[str, Any]:
    """How the deals created in the period fit the personas: per best persona, none (the non-target share),
    and per grade."""
    by_persona = Counter(d.persona_id for d in created)
    total = len(created)
    personas = [{"persona_id": pid, "name": labels.personas.get(pid, str(pid)), "deals": n,
                 "share": share(n, total)} for pid, n in by_persona.most_common() if pid is not None]
    grades = Counter(d.grade for d in created)
    return {"deals": total, "personas": personas,
            "no_persona": {"deals": by_persona.get(None, 0), "share": share(by_persona.get(None, 0), total)},
            "grades": [{"grade": g or "none", "deals": grades.get(g, 0), "share": share(grades.get(g, 0), total)}
                       for g in (*GRADES, None)]}


def cycle_days(deals: Iterable[Deal]) -> list[float]:
    """Days from creation to close of closed deals (those closed before they were created are left out)."""
    return [(d.closed_at - d.created_at).total_seconds() / 86400 for d in deals
            if d.closed_at is not None and d.closed_at >= d.created_at]


def pays(closed: Sequence[Deal]) -> dict[str, Any]:
    """Whether qualification pays: the win rate of the deals closed in the period by grade, persona matched or
    not, ever blocked or never, each with n and its 95% interval; and the median cycle of won deals."""
    won = [d for d in closed if d.outcome == "won"]
    return {
        "closed": len(closed), "won": len(won), "win_rate": rate_view(win_rate(closed)),
        "by_grade": [{"grade": g or "none", **rate_view(win_rate(d for d in closed if d.grade == g))}
                     for g in (*GRADES, None)],
        "persona_matched": rate_view(win_rate(d for d in closed if d.persona_id is not None)),
        "persona_unmatched": rate_view(win_rate(d for d in closed if d.persona_id is None)),
        "ever_blocked": rate_view(win_rate(d for d in closed if d.ever_blocked)),
        "never_blocked": rate_view(win_rate(d for d in closed if not d.ever_blocked)),
        "won_cycle_median_days": median(cycle_days(won)),
    }


def owners(moves: Sequence[dict[str, Any]], fields: Sequence[dict[str, Any]], created: Sequence[Deal],
           closed: Sequence[Deal], labels: Labels) -> dict[str, Any]:
    """Each owner beside the team: gated moves, share blocked, portrait completeness, non-target share and win
    rate, flagged when the owner is busier than the team's median owner but wins less (intervals apart)."""
    per: dict[str | None, dict[str, Any]] = defaultdict(lambda: {"moves": 0, "blocked": 0, "required": 0,
                                                                 "unfilled": 0, "connection_id": None})
    for row in moves:
        entry = per[row["owner"]]
        entry["moves"] += row["moves"]
        entry["blocked"] += row["blocked"]
        entry["connection_id"] = row["connection_id"]
    for row in fields:
        entry = per[row["owner"]]
        entry["required"] += row["required"] or 0
        entry["unfilled"] += row["unfilled"] or 0
    created_by: dict[str | None, list[Deal]] = defaultdict(list)
    closed_by: dict[str | None, list[Deal]] = defaultdict(list)
    for d in created:
        created_by[d.owner].append(d)
    for d in closed:
        closed_by[d.owner].append(d)
    everyone = set(per) | set(created_by) | set(closed_by)
    team_rate = win_rate(closed)
    activity = [per[o]["moves"] for o in everyone if o is not None]
    team_activity = statistics.median(activity) if activity else None
    rows = []
    for owner in sorted(everyone, key=lambda o: labels.person(per[o]["connection_id"], o)):
        entry, rate = per[owner], win_rate(closed_by[owner])
        mine = created_by[owner]
        rows.append({
            "owner": owner, "owner_name": labels.person(entry["connection_id"], owner), "moves": entry["moves"],
            "blocked": entry["blocked"], "blocked_share": share(entry["blocked"], entry["moves"]),
            "completeness": share(entry["required"] - entry["unfilled"], entry["required"]),
            "created": len(mine), "non_target_share": share(sum(1 for d in mine if d.persona_id is None), len(mine)),
            "win_rate": rate_view(rate),
            "wrong_audience": owner is not None and wrong_audience(entry["moves"], team_activity, rate, team_rate),
        })
    team = {"moves": sum(e["moves"] for e in per.values()), "blocked": sum(e["blocked"] for e in per.values()),
            "required": sum(e["required"] for e in per.values()), "unfilled": sum(e["unfilled"] for e in per.values())}
    return {"team": {"moves": team["moves"], "blocked_share": share(team["blocked"], team["moves"]),
                     "completeness": share(team["required"] - team["unfilled"], team["required"]),
                     "non_target_share": share(sum(1 for d in created if d.persona_id is None), len(created)),
                     "win_rate": rate_view(team_rate), "median_owner_moves": team_activity},
            "rows": rows}


def monday(moment: datetime) -> str:
    """The Monday (YYYY-MM-DD, UTC) of the ISO week of a time, as reports.moves.week_of computes it."""
    day: date = moment.date()
    return (day - timedelta(days=day.weekday())).isoformat()


def weekly_trend(weeks: dict[str, dict[str, int]], created: Sequence[Deal], closed: Sequence[Deal],
                 start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every ISO week of the period: gated moves, share blocked, completeness, non-target share of the deals
    created and win rate of the deals closed that week."""
    created_by: dict[str, list[Deal]] = defaultdict(list)
    closed_by: dict[str, list[Deal]] = defaultdict(list)
    for d in created:
        created_by[monday(d.created_at)].append(d)
    for d in closed:
        if d.closed_at is not None:
            closed_by[monday(d.closed_at)].append(d)
    rows, week = [], date.fromisoformat(monday(start))
    while datetime.combine(week, time(), UTC) < end:
        key = week.isoformat()
        moved = weeks.get(key, {"moves": 0, "blocked": 0, "required": 0, "unfilled": 0})
        mine = created_by[key]
        rows.append({"week": key, "moves": moved["moves"], "blocked_share": share(moved["blocked"], moved["moves"]),
                     "completeness": share(moved["required"] - moved["unfilled"], moved["required"]),
                     "created": len(mine),
                     "non_target_share": share(sum(1 for d in mine if d.persona_id is None), len(mine)),
                     "win_rate": rate_view(win_rate(closed_by[key]))})
        week += timedelta(days=7)
    return rows
