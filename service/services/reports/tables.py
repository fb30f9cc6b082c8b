"""The qualification report as tables: one per section, with the same numbers as the JSON answer. CSV and
XLSX are written from these tables, so every format shows the same numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Table:
    """A titled table: column names, the rule of its numbers, rows of plain values (numbers stay numbers)."""

    name: str
    rule: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


PLACE = ("pipeline", "stage", "owner")
RATE = ("won", "closed", "win_rate", "low", "high")


def _place(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["pipeline_label"], row["stage_label"], row["owner_name"]


def _rate(rate: dict[str, Any]) -> tuple[Any, ...]:
    return rate["hits"], rate["n"], rate["value"], rate["low"], rate["high"]


def _pick(row: dict[str, Any], names: Sequence[str]) -> tuple[Any, ...]:
    return tuple(row[name] for name in names)


def report_tables(report: dict[str, Any]) -> list[Table]:
    """Every section of a report (qualification_report's answer) as tables, in the report's order."""
    rules = report["rules"]
    moved = ("moves", "allowed", "blocked", "warned", "audited", "blocked_share", "found_by_sync", "automated",
             "too_old", "passed_after_block", "pass_median_hours", "pass_p90_hours")
    pays = report["pays"]
    team = report["owners"]["team"]
    return [
        Table("compliance", f"{rules['moves']} {rules['decisions']} {rules['bypasses']} {rules['time_to_pass']}",
              (*PLACE, *moved), [(*_place(r), *_pick(r, moved)) for r in report["compliance"]["rows"]]),
        Table("stuck", rules["stuck"], (*PLACE, "deals", "held_median_hours", "held_max_hours"),
              [(*_place(r), r["deals"], r["held_median_hours"], r["held_max_hours"])
               for r in report["compliance"]["stuck"]]),
        Table("missing_fields", rules["missing_fields"], ("field", "label", "moves"),
              [(r["field"], r["label"], r["moves"]) for r in report["compliance"]["missing_fields"]]),
        Table("completeness", rules["completeness"], (*PLACE, "moves", "required", "filled", "share"),
              [(*_place(r), *_pick(r, ("moves", "required", "filled", "share")))
               for r in report["completeness"]["rows"]]),
        Table("persona_mix", rules["persona_mix"], ("kind", "name", "deals", "share"),
              [("persona", p["name"], p["deals"], p["share"]) for p in report["persona_mix"]["personas"]]
              + [("no_persona", "", report["persona_mix"]["no_persona"]["deals"],
                  report["persona_mix"]["no_persona"]["share"])]
              + [("grade", g["grade"], g["deals"], g["share"]) for g in report["persona_mix"]["grades"]]),
        Table("pays", f"{rules['pays']} {rules['cycle']}", ("group", *RATE),
              [("all", *_rate(pays["win_rate"]))] + [(f"grade {g['grade']}", *_rate(g)) for g in pays["by_grade"]]
              + [(name, *_rate(pays[name])) for name in ("persona_matched", "persona_unmatched", "ever_blocked",
                                                          "never_blocked")]
              + [("won_cycle_median_days", None, None, pays["won_cycle_median_days"], None, None)]),
        Table("owners", rules["owners"],
              ("owner", "moves", "blocked_share", "completeness", "created", "non_target_share", *RATE,
               "wrong_audience"),
              [(r["owner_name"], r["moves"], r["blocked_share"], r["completeness"], r["created"],
                r["non_target_share"], *_rate(r["win_rate"]), r["wrong_audience"]) for r in report["owners"]["rows"]]
              + [("team", team["moves"], team["blocked_share"], team["completeness"], None, team["non_target_share"],
                  *_rate(team["win_rate"]), None)]),
        Table("trend", rules["trend"],
              ("week", "moves", "blocked_share", "completeness", "created", "non_target_share", *RATE),
              [(w["week"], w["moves"], w["blocked_share"], w["completeness"], w["created"], w["non_target_share"],
                *_rate(w["win_rate"])) for w in report["trend"]["weeks"]]),
        Table("directions", rules["directions"], ("kind", "moves"),
              list(report["trend"]["directions"].items())),
        Table("conversion", rules["conversion"],
              ("pipeline", "deals", "stage", "any", "strict", "any_share", "strict_share"),
              [(p["pipeline_label"], p["deals"], s["stage_label"], s["any"], s["strict"], s["any_share"],
                s["strict_share"]) for p in report["conversion"] for s in p["stages"]]),
    ]
