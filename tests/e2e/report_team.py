"""A sales team generated for the report's truth test (tests/e2e/test_report_truth.py) and played through the
HubSpot sandbox: eight owners, three pipelines, deals imported with their history, deals created and moved while
the webhooks arrive, while they are lost (found by sync) and long enough before a sync to be too old to gate, with
blocks, warnings, fixes, moves made through the API, an automation or an import, wins, losses and deletions.

The plan is the only source of truth for the test: what Qualify must decide for each move follows from the rules
Qualify documents (service/domain/gating.py: which gates a move passes; service/domain/scoring.py: a persona's
score), applied here to the values the plan itself wrote into the CRM. Nothing is read back from Qualify; the
sandbox (the CRM) only tells when a write happened. Below the team: the report's numbers as the plan adds them
up, each by the rule service/domain/report_rules.py states for it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.sandbox.hubspot import HubSpotSandbox
from adapters.sandbox.hubspot_seed import DEFAULT_STAGES, PARTNER_STAGES
from adapters.sandbox.people import SandboxUser

RENEWALS = "23456789"
RENEWAL_STAGES = [("23456790", "Renewal due", "0.3", False), ("23456791", "Renewal review", "0.5", False),
                  ("23456792", "Quote sent", "0.8", False), ("23456793", "Renewed", "1.0", True),
                  ("23456794", "Churned", "0.0", True)]
PIPELINES = {"default": ("Sales Pipeline", DEFAULT_STAGES), "12345678": ("Partners", PARTNER_STAGES),
             RENEWALS: ("Renewals", RENEWAL_STAGES)}
PIPELINE_WEIGHTS = {"default": 6, RENEWALS: 3, "12345678": 1}
# stage id -> (pipeline, label, kind, position in the pipeline); HubSpot: closed with probability 1.0 is won
STAGES = {s[0]: (p, s[1], "won" if s[3] and s[2] == "1.0" else "lost" if s[3] else "open", i)
          for p, (_, stages) in PIPELINES.items() for i, s in enumerate(stages)}
GATES = {"qualifiedtobuy": ("enforce", ("industry", "company_size")),
         "presentationscheduled": ("warn", ("pain_points", "decision_maker")),
         "23456791": ("enforce", ("budget",))}
FIELDS: list[dict[str, Any]] = [
    {"key": "industry", "label": "Industry", "type": "enum",
     "constraints": {"options": ["retail", "manufacturing", "it", "finance", "other"]}},
    {"key": "company_size", "label": "Company size", "type": "integer", "constraints": {"min": 1}},
    {"key": "decision_maker", "label": "Decision maker known", "type": "boolean"},
    {"key": "budget", "label": "Budget", "type": "money", "constraints": {"min": 1000}},
    {"key": "pain_points", "label": "Pain points", "type": "text", "constraints": {"min_length": 10}},
]
LABELS = {f["key"]: f["label"] for f in FIELDS}
# name, ring, industry that matches, company size range: two criteria of weight 1 each
PERSONA_RULES = (("Retail buyer", "core", "retail", (50, 1000)),
                 ("Manufacturer", "target", "manufacturing", (200, 5000)))
PERSONAS = [{"name": name, "ring": ring, "criteria": [
    {"field": "industry", "matcher": "in", "values": [industry]},
    {"field": "company_size", "matcher": "range", "min": low, "max": high}]}
    for name, ring, industry, (low, high) in PERSONA_RULES]
NEW_OWNERS = (("Fiona", "Finder"), ("Gus", "Grower"), ("Hana", "Hunter"), ("Ivan", "Igniter"))
OWNER_WEIGHTS = (6, 5, 4, 3, 3, 2, 2, 1)  # some owners are busier than others; a few deals have no owner
MOVERS = {"ui": "ui", "api": "integration", "import": "import", "automation": "automation"}  # source -> mover kind


def first_stage(pipeline: str) -> str:
    return PIPELINES[pipeline][1][0][0]


def stages_of(pipeline: str, kind: str | None = None) -> list[str]:
    return [s for s, (p, _, k, _) in STAGES.items() if p == pipeline and kind in (None, k)]


def route(source: tuple[str, str] | None, target: tuple[str, str]) -> tuple[str, list[str]]:
    """The direction of a move and the stages whose gates it passes, as gating.py documents them."""
    pipeline, stage = target
    _, _, kind, position = STAGES[stage]
    if source is not None and source[1] == stage:
        return "same", []
    if kind == "lost":
        return "to_lost", [stage]
    ordered = PIPELINES[pipeline][1]
    if source is None or source[0] != pipeline or STAGES[source[1]][2] == "lost":
        first, direction = 0, "enter"
    elif position < STAGES[source[1]][3]:
        return "backward", []
    else:
        first, direction = STAGES[source[1]][3] + 1, "forward"
    return direction, [s[0] for s in ordered[first:position + 1] if STAGES[s[0]][2] != "lost"]


def decide(values: dict[str, str], gated: list[str]) -> tuple[str, int, tuple[str, ...]]:
    """(decision, required fields, missing fields) of a move through `gated` stages with these CRM values."""
    needed = [(f, GATES[s][0]) for s in gated if s in GATES for f in GATES[s][1]]
    missing = [(f, mode) for f, mode in needed if not values.get(f)]
    modes = {mode for _, mode in missing}
    decision = "blocked" if "enforce" in modes else "warned" if "warn" in modes else "allowed"
    return decision, len({f for f, _ in needed}), tuple(dict.fromkeys(f for f, _ in missing))


def fit(values: dict[str, str], floor: int) -> tuple[str | None, str]:
    """(best persona or None, grade) per scoring.py: +1 a criterion met, -1 not met, 0 unknown; score = 50 + 50 x
    sum / 2; grades from 80, 60, 40; best: the highest score at the floor or above (a tie goes to the core ring);
    without one the grade is the highest score's."""
    industry, size = values.get("industry"), values.get("company_size")
    scores = []
    for name, _, wanted, (low, high) in PERSONA_RULES:
        terms = (0 if not industry else 1 if industry == wanted else -1) + \
            (0 if not size else 1 if low <= int(size) <= high else -1)
        scores.append((50 + 25 * terms, name))
    top = max(score for score, _ in scores)
    best = next((name for score, name in scores if score == top), None) if top >= floor else None
    return best, "A" if top >= 80 else "B" if top >= 60 else "C" if top >= 40 else "D"


@dataclass
class Deal:
    """A deal as the plan knows it: where it stands in the CRM, what the CRM holds, what the owner knows."""

    key: int
    owner: str | None
    pipeline: str
    stage: str
    truth: dict[str, str]
    values: dict[str, str]
    crm_id: str = ""
    created: datetime | None = None
    closed: datetime | None = None  # the CRM's close date, meaningful while the deal stands in a closed stage
    deleted: bool = False
    last: str | None = None  # the plan's decision of its last move
    retry: tuple[str, str] | None = None  # the target of its last blocked move


@dataclass(frozen=True)
class Move:
    """A move as Qualify must record it."""

    deal: int
    source: tuple[str, str] | None
    target: tuple[str, str]
    direction: str
    gated: int
    required: int
    missing: tuple[str, ...]
    decision: str
    owner: str | None
    mover: str
    origin: str  # webhook | sync | old (found by sync past the window: audited, nothing done)
    at: datetime


@dataclass
class Team:
    """The generated team and everything that happened to it, in order."""

    users: list[SandboxUser]
    floor: int
    rng: random.Random = field(default_factory=lambda: random.Random(13))
    deals: list[Deal] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)

    # ---- people and deals ------------------------------------------------------------------------------------
    def user_of(self, owner: str | None) -> int:
        return next((u.user_id for u in self.users if u.owner_id == owner), self.users[0].user_id)

    def new_deal(self, pipeline: str | None = None) -> Deal:
        rng = self.rng
        pipeline = pipeline or rng.choices(list(PIPELINE_WEIGHTS), list(PIPELINE_WEIGHTS.values()))[0]
        owner = None if rng.random() < 0.03 else rng.choices(self.users, OWNER_WEIGHTS)[0].owner_id
        industry = rng.choices(("retail", "manufacturing", "other"), (5, 3, 2))[0]
        size = {"retail": rng.choice((rng.randint(60, 900), rng.randint(60, 900), rng.randint(5, 40))),
                "manufacturing": rng.choice((rng.randint(250, 4000), rng.randint(100, 190))),
                "other": rng.randint(5, 30)}[industry]
        truth = {"industry": industry, "company_size": str(size), "decision_maker": rng.choice(("true", "false")),
                 "budget": str(rng.randrange(5000, 90000, 500)), "pain_points": "Orders are keyed in by hand twice"}
        known = rng.choices((list(truth), ["industry", "company_size"], ["industry"], []), (3, 3, 1, 3))[0]
        deal = Deal(len(self.deals), owner, pipeline, first_stage(pipeline), truth, {k: truth[k] for k in known})
        self.deals.append(deal)
        return deal

    def import_history(self, sandbox: HubSpotSandbox, count: int, now: datetime) -> None:
        """Deals imported with their past (created up to 90 days ago, some closed since): a baseline sync only
        records them. One won deal's close date was typed before its creation date; the second owner, busy,
        seldom wins (the report's "wrong audience" symptom)."""
        for i in range(count):
            deal, rng = self.new_deal(), self.rng
            deal.values = dict(deal.truth) if rng.random() < 0.6 else deal.values
            deal.created = (now - timedelta(days=rng.uniform(0.5, 90))).replace(microsecond=0)
            odds = (11, 1, 8) if deal.owner == self.users[1].owner_id else (11, 5, 4)  # one owner seldom wins
            kind = "won" if i == 0 else rng.choices(("open", "won", "lost"), odds)[0]
            deal.stage = rng.choice(stages_of(deal.pipeline, kind))
            props = {"pipeline": deal.pipeline, "dealstage": deal.stage, "createdate": iso(deal.created)}
            if kind != "open":
                closing = deal.created + (now - deal.created) * rng.uniform(0.05, 0.95)
                deal.closed = deal.created - timedelta(days=3) if i == 0 else closing.replace(microsecond=0)
                props["closedate"] = iso(deal.closed)
            deal.crm_id = sandbox.ui_create_deal(self._props(deal, props), self.user_of(deal.owner), "import")

    def _props(self, deal: Deal, extra: dict[str, str]) -> dict[str, str]:
        owner = {"hubspot_owner_id": deal.owner} if deal.owner else {}
        return {"dealname": f"Deal {deal.key:04d}", **owner, **deal.values, **extra}

    def create(self, sandbox: HubSpotSandbox, origin: str, deal: Deal | None = None, stage: str | None = None) -> Deal:
        """A deal created now in its pipeline's first stage, or now and then right in a later open stage (its
        entry then passes the gates up to it), by its owner, an integration or an import; or `deal`, planned
        already, by its owner in `stage`."""
        rng, planned = self.rng, deal
        deal = deal or self.new_deal()
        later = stages_of(deal.pipeline, "open")[1:]
        stage = stage or (rng.choice(later) if later and rng.random() < 0.15 else deal.stage)
        via = "ui" if planned else rng.choices(("ui", "api", "import"), (17, 2, 1))[0]
        deal.crm_id = sandbox.ui_create_deal(self._props(deal, {"pipeline": deal.pipeline, "dealstage": stage}),
                                             self.user_of(deal.owner), via)
        deal.created = written_at(sandbox, deal)
        self._record(deal, None, (deal.pipeline, stage), MOVERS[via], origin, deal.created)
        return deal

    # ---- one step of a deal ----------------------------------------------------------------------------------
    def step(self, sandbox: HubSpotSandbox, deal: Deal, origin: str, *, must_move: bool = False) -> bool:
        """What the deal's owner (or a colleague, the API, an automation) does next; False when nothing."""
        rng, kind = self.rng, STAGES[deal.stage][2]
        if deal.deleted or kind != "open":
            return False
        chance = rng.random()
        edits: dict[str, str] = {}
        via, user = self._mover(deal)
        if deal.last == "blocked" and deal.retry is not None:
            target = deal.retry
            if chance < 0.55:  # fill what the task asked for, then move again
                edits = {k: deal.truth[k] for k in decide(deal.values, route((deal.pipeline, deal.stage),
                                                                              target)[1])[2]}
                via, user = "ui", self.user_of(deal.owner)
            elif chance < 0.7:
                via, user = "api", None  # try to get around the gate through the API: blocked again
            elif chance < 0.8:
                target = (deal.pipeline, stages_of(deal.pipeline, "lost")[0])
            elif not must_move:
                return False  # left where it was sent back: stuck in front of the gate
        else:
            ahead = self._next_target(deal, chance, must_move)
            if ahead is None:
                return False
            target, missing = ahead, [k for k in deal.truth if not deal.values.get(k)]
            if missing and rng.random() < 0.25:  # the owner adds what was learnt on a call
                edits = {k: deal.truth[k] for k in rng.sample(missing, min(2, len(missing)))}
        if rng.random() < 0.04 and origin == "webhook":
            self.hand_over(sandbox, deal, rng.choice(self.users).owner_id)
        if edits:
            sandbox.ui_update_deal(deal.crm_id, edits, self.user_of(deal.owner))
            deal.values.update(edits)
        self.move(sandbox, deal, target, via, user, origin)
        return True

    def hand_over(self, sandbox: HubSpotSandbox, deal: Deal, owner: str) -> None:
        """The manager gives the deal to another owner (no webhook: Qualify learns it with the next move)."""
        sandbox.ui_update_deal(deal.crm_id, {"hubspot_owner_id": owner}, self.users[0].user_id)
        deal.owner = owner

    def _mover(self, deal: Deal) -> tuple[str, int | None]:
        via = self.rng.choices(("ui", "colleague", "api", "automation", "import"), (40, 4, 4, 1, 1))[0]
        if via == "colleague":
            return "ui", self.rng.choice(self.users).user_id
        return via, self.user_of(deal.owner)

    def _next_target(self, deal: Deal, chance: float, must_move: bool) -> tuple[str, str] | None:
        opened, position = stages_of(deal.pipeline, "open"), STAGES[deal.stage][3]
        here = opened.index(deal.stage)
        lost = (deal.pipeline, stages_of(deal.pipeline, "lost")[0])
        if chance < 0.08 and not must_move:
            return None
        if chance < 0.13 and here > 0:
            return deal.pipeline, opened[here - 1]  # back a stage
        if chance < 0.23:
            return lost
        if chance < 0.26 and deal.pipeline != RENEWALS:
            return RENEWALS, "23456791"  # handed over to renewals, straight into review
        if here == len(opened) - 1 or (chance > 0.93 and position >= 1):  # won or lost from the last stage
            persona, grade = fit(deal.values, self.floor)
            won = self.rng.random() < {"A": 0.75, "B": 0.5, "C": 0.4}.get(grade, 0.2) + (0.1 if persona else 0)
            return (deal.pipeline, stages_of(deal.pipeline, "won")[0]) if won else lost
        step = 2 if chance > 0.85 and here + 2 < len(opened) else 1  # now and then a stage is skipped
        return deal.pipeline, opened[here + step]

    def move(self, sandbox: HubSpotSandbox, deal: Deal, target: tuple[str, str], via: str, user: int | None,
             origin: str) -> None:
        """Move the deal in the CRM and note what Qualify must decide and do."""
        props = {"dealstage": target[1], **({"pipeline": target[0]} if target[0] != deal.pipeline else {})}
        sandbox.ui_update_deal(deal.crm_id, props, user or self.user_of(deal.owner), via)
        self._record(deal, (deal.pipeline, deal.stage), target, MOVERS[via], origin, written_at(sandbox, deal))

    def _record(self, deal: Deal, source: tuple[str, str] | None, target: tuple[str, str], mover: str, origin: str,
                at: datetime) -> None:
        direction, gated = route(source, target)
        decision, required, missing = decide(deal.values, gated)
        if origin == "old" and decision != "allowed":
            decision = "audited"
        self.moves.append(Move(deal.key, source, target, direction, len(gated), required, missing, decision,
                               deal.owner, mover, origin, at))
        if STAGES[target[1]][2] != "open" and (source is None or STAGES[source[1]][2] == "open"):
            deal.closed = at  # HubSpot sets the close date when a deal enters a closed stage
        deal.last, deal.retry = decision, target if decision == "blocked" else None
        deal.pipeline, deal.stage = target
        if decision == "blocked":  # Qualify moves it back where it came from (a new deal: to the first stage)
            deal.pipeline, deal.stage = source or (target[0], first_stage(target[0]))

    def delete(self, sandbox: HubSpotSandbox, deal: Deal) -> None:
        sandbox.ui_delete_deal(deal.crm_id, self.user_of(deal.owner))
        deal.deleted = True


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def written_at(sandbox: HubSpotSandbox, deal: Deal) -> datetime:
    """When the CRM wrote the deal last (the time HubSpot gives the write in the stage history)."""
    return datetime.fromisoformat(sandbox.deal(deal.crm_id)["properties"]["hs_lastmodifieddate"])


# ---- what the plan adds up to: the report's numbers by the rules service/domain/report_rules.py states ----------
GATED = ("forward", "enter", "to_lost")  # "Moves into the stage that its gates apply to ... not backward"
Z95 = 1.959963984540054
GRADES = ("A", "B", "C", "D", "none")  # "none": not scored
Key = tuple[str, str, str | None]  # pipeline, stage, owner


@dataclass(frozen=True)
class Scope:
    """A report's period [start, end) and filters: moves by their owner then, deals by their owner now."""

    start: datetime
    end: datetime
    owner: str | None = None
    pipeline: str | None = None

    def move(self, m: Move) -> bool:
        return self.start <= m.at < self.end and self.owner in (None, m.owner) and self.pipeline in (None, m.target[0])

    def deal(self, d: Deal) -> bool:
        return not d.deleted and self.owner in (None, d.owner) and self.pipeline in (None, d.pipeline)

    def has(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end


@dataclass(frozen=True)
class Seen:
    """A deal as the deal sections count it: its owner, best persona and grade now, the week that counts."""

    owner: str | None
    persona: str | None
    grade: str
    week: str
    won: bool = False
    ever_blocked: bool = False


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's default); None without values."""
    if not values:
        return None
    ordered, at = sorted(values), (len(values) - 1) * q
    below = int(at)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (at - below)


def rate(hits: int, n: int, minimum: int = 20) -> dict[str, Any]:
    """hits of n with the 95% Wilson score interval; the share and interval only from `minimum` cases."""
    low = high = None
    if n:
        p, z2 = hits / n, Z95 * Z95
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = Z95 * (p * (1 - p) / n + z2 / (4 * n * n)) ** 0.5 / (1 + z2 / n)
        low, high = (0.0 if hits == 0 else centre - half), (1.0 if hits == n else centre + half)
    enough = n >= minimum
    return {"hits": hits, "n": n, "value": hits / n if enough else None, "low": low if enough else None,
            "high": high if enough else None, "enough": enough}


def win(closed: list[Seen]) -> dict[str, Any]:
    return rate(sum(c.won for c in closed), len(closed))


def monday(moment: datetime) -> str:
    day = moment.astimezone(UTC).date()
    return (day - timedelta(days=day.weekday())).isoformat()


def gated(team: Team, s: Scope) -> list[Move]:
    return [m for m in team.moves if m.direction in GATED and s.move(m)]


def passed(team: Team, m: Move) -> float | None:
    """Hours from a blocked move to the deal's first later move into the same stage that was not blocked."""
    later = [n.at for n in team.moves if n.deal == m.deal and n.target[1] == m.target[1] and n.decision != "blocked"
             and n.at > m.at]
    return (min(later) - m.at).total_seconds() / 3600 if later else None


def place(key: Key, names: dict[str | None, str]) -> dict[str, Any]:
    return {"pipeline_label": PIPELINES[key[0]][0], "stage_label": STAGES[key[1]][1], "owner_name": names[key[2]]}


def compliance(team: Team, s: Scope, names: dict[str | None, str]) -> dict[Key, dict[str, Any]]:
    """Per pipeline x stage x owner at the move: the moves the stage's gates applied to and what became of them
    (a move found too old to gate is not "audited"), the moves around the gates, how long blocked deals took to
    pass; the fields required and filled."""
    rows: dict[Key, dict[str, Any]] = {}
    for m in gated(team, s):
        key = (*m.target, m.owner)
        row = rows.setdefault(key, {**place(key, names), **dict.fromkeys(
            ("moves", "allowed", "blocked", "warned", "audited", "found_by_sync", "automated", "too_old", "required",
             "filled"), 0), "hours": []})
        row["moves"] += 1
        row[m.decision] += m.origin != "old" or m.decision != "audited"
        row["found_by_sync"] += m.origin != "webhook"
        row["automated"] += m.mover != "ui"
        row["too_old"] += m.origin == "old"
        row["required"] += m.required
        row["filled"] += m.required - len(m.missing)
        row["hours"] += [] if m.decision != "blocked" or (hours := passed(team, m)) is None else [hours]
    for row in rows.values():
        hours = row.pop("hours")
        row.update(blocked_share=share(row["blocked"], row["moves"]), passed_after_block=len(hours),
                   pass_median_hours=quantile(hours, 0.5), pass_p90_hours=quantile(hours, 0.9),
                   share=share(row["filled"], row["required"]))
    return rows


def held(team: Team, s: Scope) -> list[tuple[Deal, Move]]:
    """Deals whose last move was blocked and that stand where Qualify sent them back, now (a deal blocked as it
    entered the pipeline was sent to its first stage), with that move."""
    last = {m.deal: m for m in team.moves}
    found = []
    for deal in (d for d in team.deals if s.deal(d) and d.key in last):
        m = last[deal.key]
        back = m.source or (m.target[0], first_stage(m.target[0]))
        if m.decision == "blocked" and deal.stage == back[1]:
            found.append((deal, m))
    return found


def stuck(team: Team, s: Scope, now: datetime, names: dict[str | None, str]) -> dict[Key, dict[str, Any]]:
    """The held deals per pipeline x stage of the gate x owner now, and for how long (hours)."""
    hours: dict[Key, list[float]] = {}
    for deal, m in held(team, s):
        hours.setdefault((*m.target, deal.owner), []).append((now - m.at).total_seconds() / 3600)
    return {k: {**place(k, names), "deals": len(v), "held_median_hours": quantile(v, 0.5), "held_max_hours": max(v)}
            for k, v in hours.items()}


def missing_fields(team: Team, s: Scope) -> list[dict[str, Any]]:
    """Fields missing on blocked and warned moves, once per move, most first (then by key), the first ten."""
    found = [k for m in team.moves if s.move(m) and m.decision in ("blocked", "warned") for k in m.missing]
    ranked = sorted(set(found), key=lambda k: (-found.count(k), k))[:10]
    return [{"field": k, "label": LABELS[k], "moves": found.count(k)} for k in ranked]


def deals(team: Team, s: Scope) -> tuple[list[Seen], list[Seen], list[float]]:
    """The deals created in the period, the deals won or lost closed in it, and the days from creation to close
    of the won ones (those closed before they were created left out)."""
    created, closed, cycle = [], [], []
    blocked = {m.deal for m in team.moves if m.decision == "blocked"}
    for d in (d for d in team.deals if s.deal(d)):
        persona, grade = fit(d.values, team.floor)
        if d.created and s.has(d.created):
            created.append(Seen(d.owner, persona, grade, monday(d.created)))
        kind = STAGES[d.stage][2]
        if kind != "open" and d.closed and d.created and s.has(d.closed):
            closed.append(Seen(d.owner, persona, grade, monday(d.closed), kind == "won", d.key in blocked))
            cycle += [(d.closed - d.created).total_seconds() / 86400] if kind == "won" and d.closed >= d.created else []
    return created, closed, cycle


def persona_mix(created: list[Seen], ids: dict[str, int]) -> dict[str, Any]:
    """Deals created in the period by best persona now (most first), none, and by grade."""
    total, per = len(created), {name: sum(c.persona == name for c in created) for name in ids}
    none = total - sum(per.values())
    return {"deals": total, "personas": sorted(
        ({"persona_id": ids[name], "name": name, "deals": n, "share": share(n, total)} for name, n in per.items() if n),
        key=lambda p: (-p["deals"], p["persona_id"])), "no_persona": {"deals": none, "share": share(none, total)},
        "grades": [{"grade": g, "deals": (n := sum(c.grade == g for c in created)), "share": share(n, total)}
                   for g in GRADES], "warnings": persona_warnings(ids)}


def persona_warnings(ids: dict[str, int]) -> list[dict[str, Any]]:
    """The personas whose criteria use fields the test did not map (it maps every field of FIELDS): their ids and
    names; the report's warning texts themselves are not compared, only who is warned about."""
    mapped = {f["key"] for f in FIELDS}
    return [{"persona_id": ids[p["name"]], "name": p["name"]} for p in PERSONAS
            if any(c["field"] not in mapped for c in p["criteria"])]


def pays(closed: list[Seen], cycle: list[float]) -> dict[str, Any]:
    """Win rates of the deals closed in the period: all, by grade, persona matched or not, ever blocked or not."""
    return {"closed": len(closed), "won": sum(c.won for c in closed), "win_rate": win(closed),
            "by_grade": [{"grade": g, **win([c for c in closed if c.grade == g])} for g in GRADES],
            "persona_matched": win([c for c in closed if c.persona]),
            "persona_unmatched": win([c for c in closed if not c.persona]),
            "ever_blocked": win([c for c in closed if c.ever_blocked]),
            "never_blocked": win([c for c in closed if not c.ever_blocked]),
            "won_cycle_median_days": quantile(cycle, 0.5)}


def tally(moves: list[Move], made: list[Seen], shut: list[Seen]) -> dict[str, Any]:
    """Gated moves, share blocked, completeness, deals created, non-target share, win rate."""
    required = sum(m.required for m in moves)
    return {"moves": len(moves), "blocked_share": share(sum(m.decision == "blocked" for m in moves), len(moves)),
            "completeness": share(required - sum(len(m.missing) for m in moves), required), "created": len(made),
            "non_target_share": share(sum(c.persona is None for c in made), len(made)), "win_rate": win(shut)}


def owners(team: Team, s: Scope, created: list[Seen], closed: list[Seen],
           names: dict[str | None, str]) -> dict[str | None, dict[str, Any]]:
    """Each owner (and the team, key "team"); flagged when busier than the team's median owner yet winning less,
    with 95% intervals apart."""
    moves = gated(team, s)
    everyone = {m.owner for m in moves} | {c.owner for c in created} | {c.owner for c in closed}
    team_rate = win(closed)
    median = quantile([float(sum(m.owner == o for m in moves)) for o in everyone if o is not None], 0.5)
    rows: dict[str | None, dict[str, Any]] = {"team": {**tally(moves, created, closed), "median_owner_moves": median}}
    for o in everyone:
        row = tally([m for m in moves if m.owner == o], [c for c in created if c.owner == o],
                    [c for c in closed if c.owner == o])
        below = row["win_rate"]["enough"] and team_rate["enough"] and row["win_rate"]["high"] < team_rate["low"]
        blocked = sum(m.owner == o and m.decision == "blocked" for m in moves)
        rows[o] = {**row, "owner_name": names[o], "blocked": blocked,
                   "wrong_audience": o is not None and median is not None and row["moves"] > median and below}
    return rows


def weeks(team: Team, s: Scope, created: list[Seen], closed: list[Seen]) -> list[dict[str, Any]]:
    """Every ISO week overlapping the period (named by its Monday): the same numbers, each counted in its week."""
    out, week = [], datetime.fromisoformat(monday(s.start)).replace(tzinfo=UTC)
    while week < s.end:
        name = week.date().isoformat()
        made, shut = [c for c in created if c.week == name], [c for c in closed if c.week == name]
        out.append({"week": name, **tally([m for m in gated(team, s) if monday(m.at) == name], made, shut)})
        week += timedelta(days=7)
    return out


def directions(team: Team, s: Scope) -> dict[str, int]:
    """Moves that happened (not blocked): to the next stage, skipping stages, backward, into a pipeline, to lost."""
    kinds = [m.direction if m.direction != "forward" else "skip" if m.gated > 1 else "next"
             for m in team.moves if s.move(m) and m.decision != "blocked"]
    return {k: kinds.count(k) for k in ("next", "skip", "backward", "enter", "to_lost")}


def conversion(team: Team, s: Scope) -> list[dict[str, Any]]:
    """Per pipeline, the deals created in the period that moved in it (moves that happened, at any time): how
    many reached each open or won stage by any path, and strictly (entered at the first stage, then one stage
    at a time until the first skip or entry further in)."""
    happened: dict[int, list[Move]] = {}
    for m in team.moves:
        if m.decision != "blocked" and STAGES[m.target[1]][2] != "lost":
            happened.setdefault(m.deal, []).append(m)
    out = []
    for pipeline in sorted(PIPELINES):
        places, reached = [x for x in stages_of(pipeline) if STAGES[x][2] != "lost"], []
        for d in (d for d in team.deals if s.deal(d) and s.has(d.created) and d.key in happened):
            steps = [(places.index(m.target[1]), m) for m in happened[d.key] if m.target[0] == pipeline]
            started, strict = any(p == 0 and m.direction == "enter" for p, m in steps), -1
            for p, m in steps:
                if (m.direction == "forward" and m.gated > 1) or (m.direction == "enter" and p != 0):
                    break
                strict = max(strict, p) if started else strict
            reached += [(max(p for p, _ in steps), strict)] if steps else []
        n = len(reached)
        out += [{"pipeline": pipeline, "pipeline_label": PIPELINES[pipeline][0], "deals": n, "stages": [
            {"stage": x, "stage_label": STAGES[x][1], "any": (a := sum(r[0] >= i for r in reached)),
             "strict": (b := sum(r[1] >= i for r in reached)), "any_share": share(a, n), "strict_share": share(b, n)}
            for i, x in enumerate(places)]}] if n else []
    return out
