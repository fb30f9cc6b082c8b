"""The data of the rescore benchmark (bench.rescore): 22 portrait fields, 5 personas of 20 mixed criteria
and N seeded records, written fast (PostgreSQL COPY, SQLite executemany in chunks).

Record values are drawn per field from a seeded pool of POOL JSON fragments (about 15% null, a few
invalid), picked independently per record with NumPy, so a million records cost seconds to make and the
same seed always gives the same records; `value_chunks` is the one generator both the seeding and the
in-memory baseline read. Stages: about 10% won, 8% lost, the rest in three open stages; 1% deleted.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from service.runtime import Runtime

POOL = 8191  # distinct values per field (dates and numbers are scored without memos either way)
CHUNK = 20_000
OPEN_STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled")
STAGES = (*OPEN_STAGES, "closedwon", "closedlost")
STAGE_WEIGHTS = (0.30, 0.27, 0.25, 0.10, 0.08)
DELETED_SHARE = 0.01
BLANK_SHARE = 0.15
INDUSTRIES = ("retail", "manufacturing", "finance", "it", "healthcare", "education", "logistics", "other")
REGIONS = ("north", "south", "east", "west", "central", "abroad")
SENIORITY = ("junior", "middle", "senior", "lead", "c-level")
COMPANY_TYPES = ("b2b", "b2c", "gov", "ngo")
CHANNELS = ("email", "phone", "web", "social", "events", "partners")
PAINS = ("price", "speed", "quality", "support", "integration", "reporting")
SOURCES = ("ads", "seo", "referral", "cold", "event")
ROLES = ("CEO", "Sales Director", "Head of Sales", "intern", "CTO", "Marketing Manager", "Founder", "owner",
         "Accountant", "student", "Procurement Lead", "  chief accountant ")
FIELDS: tuple[dict[str, Any], ...] = (
    {"key": "industry", "type": "enum", "constraints": {"options": list(INDUSTRIES)}},
    {"key": "headcount", "type": "integer"},
    {"key": "revenue", "type": "money"},
    {"key": "region", "type": "enum", "constraints": {"options": list(REGIONS)}},
    {"key": "role", "type": "text"},
    {"key": "email", "type": "email"},
    {"key": "phone", "type": "phone"},
    {"key": "website", "type": "url"},
    {"key": "founded_on", "type": "date"},
    {"key": "birth_date", "type": "date"},
    {"key": "last_contact", "type": "date"},
    {"key": "channels", "type": "multi_enum", "constraints": {"options": list(CHANNELS)}},
    {"key": "pains", "type": "multi_enum", "constraints": {"options": list(PAINS)}},
    {"key": "budget_owner", "type": "boolean"},
    {"key": "decision_maker", "type": "boolean"},
    {"key": "budget", "type": "money"},
    {"key": "nps", "type": "integer"},
    {"key": "seniority", "type": "enum", "constraints": {"options": list(SENIORITY)}},
    {"key": "company_type", "type": "enum", "constraints": {"options": list(COMPANY_TYPES)}},
    {"key": "source", "type": "enum", "constraints": {"options": list(SOURCES)}},  # read by no persona
    {"key": "city", "type": "text"},  # read by no persona
    {"key": "comment", "type": "text"},  # read by no persona
)
TYPES = {f["key"]: f["type"] for f in FIELDS}


def _day(rng: random.Random, today: date, low_days: int, high_days: int) -> str:
    return (today - timedelta(days=rng.randint(low_days, high_days))).isoformat()


def _value(key: str, rng: random.Random, today: date) -> object:
    """One filled stored value of a field (as normalized storage keeps it: money as text, integer as int)."""
    kind = TYPES[key]
    options = {"industry": INDUSTRIES, "region": REGIONS, "seniority": SENIORITY, "company_type": COMPANY_TYPES,
               "source": SOURCES, "channels": CHANNELS, "pains": PAINS}.get(key, ())
    if kind == "enum":
        return rng.choice(options)
    if kind == "multi_enum":
        return rng.sample(options, rng.randint(1, 3))
    if kind == "boolean":
        return rng.random() < 0.5
    if key == "headcount":
        return int(rng.lognormvariate(3.5, 1.4)) + 1
    if key == "nps":
        return rng.randint(0, 10)
    if kind == "money":
        return f"{rng.lognormvariate(11 if key == 'revenue' else 9, 1.5):.2f}"
    if key == "birth_date":
        return _day(rng, today, 18 * 365, 70 * 365)
    if key == "founded_on":
        return _day(rng, today, 30, 40 * 365)
    if key == "last_contact":
        return _day(rng, today, 0, 400)
    if kind == "email":
        return f"user{rng.randint(1, 99999)}@{rng.choice(('gmail.com', 'yandex.ru', 'acme.com', 'corp.io'))}"
    if kind == "phone":
        return f"+{rng.choice((7, 1, 44, 49))} {rng.randint(100, 999)} {rng.randint(1000000, 9999999)}"
    if kind == "url":
        return f"https://www.site{rng.randint(1, 9999)}.{rng.choice(('ru', 'com', 'io', 'de'))}"
    if key == "role":
        return rng.choice(ROLES)
    return f"{key} {rng.randint(1, 5000)}"


def _pool(key: str, rng: random.Random, today: date) -> list[str]:
    """POOL JSON fragments `"key": value` for one field: ~15% null, ~1% an invalid text."""
    out = []
    for _ in range(POOL):
        roll = rng.random()
        value = None if roll < BLANK_SHARE else "n/a" if roll < BLANK_SHARE + 0.01 and TYPES[key] in (
            "integer", "money", "date") else _value(key, rng, today)
        out.append(f"{json.dumps(key)}: {json.dumps(value)}")
    return out


def value_chunks(n: int, seed: int, today: date, chunk: int = CHUNK) -> Iterator[list[str]]:
    """The JSON text of every record's values, `chunk` records at a time (the same for the same seed)."""
    rng = random.Random(seed)
    pools = [_pool(f["key"], rng, today) for f in FIELDS]
    picks = np.random.default_rng(seed)
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        columns = [[pool[i] for i in picks.integers(0, POOL, size)] for pool in pools]
        yield ["{" + ", ".join(parts) + "}" for parts in zip(*columns, strict=True)]


def stage_chunks(n: int, seed: int, chunk: int = CHUNK) -> Iterator[tuple[list[str], list[bool]]]:
    """(stage external id, deleted) of every record, `chunk` records at a time."""
    picks = np.random.default_rng(seed + 1)
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        stages = picks.choice(len(STAGES), size, p=STAGE_WEIGHTS)
        deleted = picks.random(size) < DELETED_SHARE
        yield [STAGES[s] for s in stages], deleted.tolist()


def _criterion(key: str, kind: str, rng: random.Random) -> dict[str, Any]:
    """A realistic criterion on field `key` (disqualifiers match rarely)."""
    out: dict[str, Any] = {"field": key, "kind": kind, "weight": rng.choice((1, 2, 3, 5, 8))}
    if kind == "disqualifier":
        return {"industry": {**out, "matcher": "equals", "value": "other"},
                "role": {**out, "matcher": "regex", "pattern": r"^\s*(intern|student)\b"},
                "headcount": {**out, "matcher": "range", "max": 2},
                "email": {**out, "matcher": "regex", "pattern": r"@competitor\.|@gmail\.com$"}}[key]
    ranges: dict[str, Callable[[], dict[str, Any]]] = {
        "headcount": lambda: {"min": rng.choice((10, 50, 200)), "max": rng.choice((500, 2000, None)),
                              "soft_margin": rng.choice((5, 20))},
        "revenue": lambda: {"min": rng.choice((50_000, 100_000)), "soft_margin": 25_000},
        "budget": lambda: {"min": 5_000, "max": rng.choice((50_000, 200_000)), "soft_margin": 2_500},
        "nps": lambda: {"min": 7},
        "birth_date": lambda: {"min": 25, "max": rng.choice((40, 45)), "soft_margin": 3, "unit": "years"},
        "founded_on": lambda: {"min": rng.choice((12, 36)), "unit": "months"},
        "last_contact": lambda: {"max": rng.choice((30, 90)), "soft_margin": 30, "unit": "days"},
    }
    if key in ranges:
        if key == "nps" and rng.random() < 0.5:
            return {**out, "matcher": "equals", "value": 10}
        return {**out, "matcher": "range", **{k: v for k, v in ranges[key]().items() if v is not None}}
    if TYPES[key] == "enum":
        options = {"industry": INDUSTRIES[:-1], "region": REGIONS, "seniority": SENIORITY,
                   "company_type": COMPANY_TYPES}[key]
        if rng.random() < 0.3:
            return {**out, "matcher": "equals", "value": rng.choice(options)}
        return {**out, "matcher": "in", "values": rng.sample(options, 3)}
    if TYPES[key] == "multi_enum":
        options = CHANNELS if key == "channels" else PAINS
        matcher = "contains_all" if rng.random() < 0.3 else "contains_any"
        return {**out, "matcher": matcher, "values": rng.sample(options, 2)}
    if TYPES[key] == "boolean":
        return {**out, "matcher": "boolean", "value": True, "blank_is_value": rng.random() < 0.3}
    pattern = {"role": r"director|head|ceo|founder|owner", "email": r"\.(ru|io)$", "phone": r"^\+7",
               "website": r"\.(ru|com)$"}[key]
    if key == "role" and rng.random() < 0.5:
        return {**out, "matcher": "in", "values": ["CEO", "Founder", "OWNER", "Head of Sales"]}
    return {**out, "matcher": "regex", "pattern": pattern}


def persona_definitions(seed: int) -> list[dict[str, Any]]:
    """5 personas of 20 criteria: 3 must, 2 disqualifiers and 15 nice over the 19 fields personas read."""
    rng = random.Random(seed)
    scored = [f["key"] for f in FIELDS if f["key"] not in ("source", "city", "comment")]
    rings = ("core", "target", "target", "near-target", "core")
    personas = []
    for i in range(5):
        dq_keys = rng.sample(("industry", "role", "headcount", "email"), 2)
        nice_keys = rng.sample(scored, 18)
        criteria = [_criterion(k, "must", rng) for k in nice_keys[:3]]
        criteria += [_criterion(k, "disqualifier", rng) for k in dq_keys]
        criteria += [_criterion(k, "nice", rng) for k in nice_keys[3:]]
        personas.append({"name": f"Persona {i + 1}", "ring": rings[i], "segment": "bench", "criteria": criteria,
                         "must_cap": rng.choice(("B", "C"))})
    return personas


COLUMNS = ("connection_id", "external_id", "kind", "name", "pipeline_external_id", "stage_external_id",
           "values", "deleted", "version", "created_at", "updated_at")
QUOTED = ", ".join(f'"{c}"' for c in COLUMNS)


def _rows(connection_id: int, n: int, seed: int, today: date, now: object) -> Iterator[list[tuple[Any, ...]]]:
    """The record rows (in COLUMNS order), a chunk at a time."""
    number = 0
    for texts, (stages, deleted) in zip(value_chunks(n, seed, today), stage_chunks(n, seed), strict=True):
        rows = []
        for values, stage, gone in zip(texts, stages, deleted, strict=True):
            number += 1
            rows.append((connection_id, f"d{number}", "deal", f"Deal {number}", "default", stage, values, gone, 1,
                         now, now))
        yield rows


def seed_records(runtime: Runtime, connection_id: int, n: int, seed: int, today: date) -> int:
    """Insert `n` records (PostgreSQL: COPY; SQLite: executemany per chunk); returns how many are open."""
    now = datetime.now(UTC)
    open_count = 0
    raw = runtime.engine.raw_connection()
    try:
        cursor: Any = raw.cursor()
        if runtime.engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY records ({QUOTED}) FROM STDIN") as copy:
                for rows in _rows(connection_id, n, seed, today, now):
                    open_count += sum(r[5] in OPEN_STAGES and not r[7] for r in rows)
                    for row in rows:
                        copy.write_row(row)
        else:  # SQLAlchemy's SQLite DateTime text format
            stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
            cursor.execute("BEGIN")  # the engine's raw SQLite connections autocommit
            insert = f"INSERT INTO records ({QUOTED}) VALUES ({', '.join('?' * len(COLUMNS))})"
            for rows in _rows(connection_id, n, seed, today, stamp):
                open_count += sum(r[5] in OPEN_STAGES and not r[7] for r in rows)
                cursor.executemany(insert, rows)
        raw.commit()
    finally:
        raw.close()
    return open_count
