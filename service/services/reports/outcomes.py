"""The deal sections of the report, from the database's counts: persona mix of the deals created in the period,
whether qualification pays (win rates of the deals closed in it), each owner beside the team, the weekly trend."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from service.domain.report_math import Rate, share, wilson, wrong_audience
from service.services.reports.deals import DealGroup
from service.services.reports.labels import Labels
from service.services.reports.weeks import weeks_between

GRADES = ("A", "B", "C", "D")


def rate_view(rate: Rate) -> dict[str, Any]:
    """A rate as the report shows it: hits of n, the share (None below the minimum of cases), its interval."""
    return {"hits": rate.hits, "n": rate.n, "value": rate.value if rate.enough else None,
            "low": rate.low if rate.enough else None, "high": rate.high if rate.enough else None,
            "enough": rate.enough}


def count(groups: Iterable[DealGroup], where: Callable[[DealGroup], bool] = lambda g: True) -> int:
    """How many deals the groups that pass `where` hold."""
    return sum(g.deals for g in groups if where(g))


def win_rate(closed: Iterable[DealGroup], where: Callable[[DealGroup], bool] = lambda g: True) -> Rate:
    """Won of the closed deals that pass `where`, with its Wilson interval."""
    chosen = [g for g in closed if where(g)]
    return wilson(count(chosen, lambda g: g.outcome == "won"), count(chosen))


def groups_by(groups: Iterable[DealGroup], trait: str) -> dict[Any, list[DealGroup]]:
    """The groups by the value of one trait ("grade", "owner", "week"), in one pass (a report at a million
    deals holds tens of thousands of groups, and each owner, week and grade needs its own)."""
    found: dict[Any, list[DealGroup]] = defaultdict(list)
    for g in groups:
        found[getattr(g, trait)].append(g)
    return found


def non_target(groups: Iterable[DealGroup]) -> float | None:
    """The share of deals matching no persona."""
    chosen = list(groups)
    return share(count(chosen, lambda g: g.persona_id is None), count(chosen))


def persona_mix(created: Sequence[DealGroup], labels: Labels) -> dict[str, Any]:
    """How the deals created in the period fit the personas: per best persona, none (the non-target share),
    and per grade."""
    total = count(created)
    per: dict[int | None, int] = defaultdict(int)
    for g in created:
        per[g.persona_id] += g.deals
    personas = [{"persona_id": pid, "name": labels.personas.get(pid, str(pid)), "deals": n, "share": share(n, total)}
                for pid, n in sorted(per.items(), key=lambda kv: (-kv[1], kv[0] or 0)) if pid is not None]
    by_grade = groups_by(created, "grade")
    grades = [(grade, count(by_grade.get(grade, []))) for grade in (*GRADES, None)]
    return {"deals": total, "personas": personas,
            "no_persona": {"deals": per.get(None, 0), "share": share(per.get(None, 0), total)},
            "grades": [{"grade": g or "none", "deals": n, "share": share(n, total)} for g, n in grades]}


def pays(closed: Sequence[DealGroup], won_cycle_days: float | None) -> dict[str, Any]:
    """Whether qualification pays: the win rate of the deals closed in the period by grade, persona matched or
    not, ever blocked or never, each with n and its 95% interval; and the median cycle of won deals."""
    by_grade = groups_by(closed, "grade")
    return {
        "closed": count(closed), "won": count(closed, lambda g: g.outcome == "won"),
        "win_rate": rate_view(win_rate(closed)),
        "by_grade": [{"grade": grade or "none", **rate_view(win_rate(by_grade.get(grade, [])))}
                     for grade in (*GRADES, None)],
        "persona_matched": rate_view(win_rate(closed, lambda g: g.persona_id is not None)),
        "persona_unmatched": rate_view(win_rate(closed, lambda g: g.persona_id is None)),
        "ever_blocked": rate_view(win_rate(closed, lambda g: g.ever_blocked)),
        "never_blocked": rate_view(win_rate(closed, lambda g: not g.ever_blocked)),
        "won_cycle_median_days": won_cycle_days,
    }


def owners(moves: Sequence[dict[str, Any]], created: Sequence[DealGroup], closed: Sequence[DealGroup],
           labels: Labels) -> dict[str, Any]:
    """Each owner beside the team: gated moves, share blocked, portrait completeness, non-target share and win
    rate, flagged when the owner is busier than the team's median owner but wins less (intervals apart)."""
    per: dict[str | None, dict[str, Any]] = defaultdict(lambda: {"moves": 0, "blocked": 0, "required": 0,
                                                                 "unfilled": 0, "connection_id": None})
    for row in moves:
        entry = per[row["owner"]]
        for name in ("moves", "blocked", "required", "unfilled"):
            entry[name] += row[name] or 0
        entry["connection_id"] = row["connection_id"]
    everyone = set(per) | {g.owner for g in created} | {g.owner for g in closed}
    team_rate = win_rate(closed)
    activity = [per[o]["moves"] for o in everyone if o is not None]
    team_activity = statistics.median(activity) if activity else None
    rows = []
    closed_by, created_by = groups_by(closed, "owner"), groups_by(created, "owner")
    for owner in sorted(everyone, key=lambda o: (labels.person(per[o]["connection_id"], o), o or "")):
        entry, rate = per[owner], win_rate(closed_by.get(owner, []))
        mine = created_by.get(owner, [])
        rows.append({
            "owner": owner, "owner_name": labels.person(entry["connection_id"], owner), "moves": entry["moves"],
            "blocked": entry["blocked"], "blocked_share": share(entry["blocked"], entry["moves"]),
            "completeness": share(entry["required"] - entry["unfilled"], entry["required"]),
            "created": count(mine), "non_target_share": non_target(mine), "win_rate": rate_view(rate),
            "wrong_audience": owner is not None and wrong_audience(entry["moves"], team_activity, rate, team_rate),
        })
    total = {name: sum(e[name] for e in per.values()) for name in ("moves", "blocked", "required", "unfilled")}
    return {"team": {"moves": total["moves"], "blocked_share": share(total["blocked"], total["moves"]),
                     "completeness": share(total["required"] - total["unfilled"], total["required"]),
                     "non_target_share": non_target(created), "win_rate": rate_view(team_rate),
                     "median_owner_moves": team_activity},
            "rows": rows}


def weekly_trend(weeks: dict[str, dict[str, int]], created: Sequence[DealGroup], closed: Sequence[DealGroup],
                 start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every ISO week of the period: gated moves, share blocked, completeness, non-target share of the deals
    created and win rate of the deals closed that week."""
    rows = []
    closed_by, created_by = groups_by(closed, "week"), groups_by(created, "week")
    for week in weeks_between(start, end):
        moved = weeks.get(week, {"moves": 0, "blocked": 0, "required": 0, "unfilled": 0})
        mine = created_by.get(week, [])
        rows.append({"week": week, "moves": moved["moves"], "blocked_share": share(moved["blocked"], moved["moves"]),
                     "completeness": share(moved["required"] - moved["unfilled"], moved["required"]),
                     "created": count(mine), "non_target_share": non_target(mine),
                     "win_rate": rate_view(win_rate(closed_by.get(week, [])))})
    return rows
