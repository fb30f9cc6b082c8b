"""Benchmark persona scoring: 5 personas x 20 mixed criteria over N synthetic leads (seeded).

Run from the repo root: ``python -m bench.scoring [--leads N] [--seed S]``. Measures the pure
scorer (a ``Preparer`` once per lead, then ``CompiledPersona.quick`` per persona) in (lead x persona)
evaluations/s, and in the same run a NumPy evaluation of the same rules on the same data (columns
as arrays, matches as boolean masks, weights as a matrix). Exits 1 unless both give identical
(score, grade, completeness, disqualified) for every lead and persona. Not a test: timings are
printed next to the target (pure >= 200,000/s), never asserted. Rates are given per wall-clock and
per CPU second of this process (the CPU figure is the one that does not depend on other load on a
shared machine; the target is checked against it). GC is off while timing, as in ``timeit``.
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import sys
import time
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import numpy as np

from service.domain.fields import Constraints, FieldSpec, FieldType
from service.domain.personas import Criterion, CriterionKind, Grade, Matcher, PersonaSpec, Ring, parse_criteria
from service.domain.scoring import CompiledPersona, Preparer

TARGET = 200_000
TODAY = date(2025, 6, 1)
KINDS = (FieldType.MONEY, FieldType.INTEGER, FieldType.NUMBER, FieldType.ENUM, FieldType.MULTI_ENUM,
         FieldType.TEXT, FieldType.BOOLEAN, FieldType.DATE)
ENUM_OPTIONS = tuple(f"o{i}" for i in range(8))
MULTI_OPTIONS = tuple(f"m{i}" for i in range(6))
TITLES = ("CEO", "Sales Director", "intern", "Head of Sales", "cto", "Marketing Manager", "Founder", "owner")
Chunk = 50_000  # leads per vectorized block (bounds memory)


def build_fields() -> dict[str, FieldSpec]:
    """24 fields, three of each kind in KINDS."""
    fields = {}
    for i in range(24):
        kind = KINDS[i % len(KINDS)]
        options = ENUM_OPTIONS if kind is FieldType.ENUM else MULTI_OPTIONS if kind is FieldType.MULTI_ENUM else ()
        fields[f"f{i:02d}"] = FieldSpec(f"f{i:02d}", f"Field {i}", kind, Constraints(options=options))
    return fields


def random_value(kind: FieldType, rng: random.Random) -> object:
    """A normalized stored value of ``kind`` (about 8% blank, a few invalid)."""
    roll = rng.random()
    if roll < 0.08:
        return None
    if roll < 0.09:
        return "n/a" if kind is not FieldType.MULTI_ENUM else []
    if kind is FieldType.MONEY:
        return f"{rng.randint(0, 200_000)}.{rng.randint(0, 99):02d}"
    if kind is FieldType.INTEGER:
        return rng.randint(1, 5000)
    if kind is FieldType.NUMBER:
        return str(round(rng.uniform(0, 10), 1))
    if kind is FieldType.ENUM:
        return rng.choice(ENUM_OPTIONS)
    if kind is FieldType.MULTI_ENUM:
        return rng.sample(MULTI_OPTIONS, rng.randint(1, 3))
    if kind is FieldType.TEXT:
        return rng.choice(TITLES)
    if kind is FieldType.BOOLEAN:
        return rng.random() < 0.5
    return date.fromordinal(rng.randint(date(1960, 1, 1).toordinal(), TODAY.toordinal())).isoformat()


def random_criterion(key: str, kind: FieldType, ck: CriterionKind, rng: random.Random) -> dict[str, object]:
    """A criterion dict on field ``key`` using a matcher allowed for ``kind``."""
    out: dict[str, object] = {"field": key, "kind": ck.value, "weight": rng.choice((1, 2, 3, 0.5, 5))}
    if ck is CriterionKind.DISQUALIFIER:  # rare matches: one option in eight
        if kind is FieldType.ENUM:
            return {**out, "matcher": "equals", "value": rng.choice(ENUM_OPTIONS)}
        return {**out, "matcher": "range", "max": 300} if kind is FieldType.INTEGER else \
            {**out, "matcher": "regex", "pattern": "^intern"}
    margin = {"soft_margin": rng.choice((1, 2, 5))} if rng.random() < 0.5 else {}
    if kind is FieldType.MONEY:
        low = rng.randint(0, 100_000)
        return {**out, "matcher": "range", "min": low, "max": low + 80_000, "soft_margin": 10_000}
    if kind is FieldType.INTEGER:
        return rng.choice(({**out, "matcher": "range", "min": 100, **margin}, {**out, "matcher": "equals", "value": 7}))
    if kind is FieldType.NUMBER:
        return {**out, "matcher": "range", "min": 2.5, "max": 7.5, **margin}
    if kind is FieldType.ENUM:
        return {**out, "matcher": "in", "values": rng.sample(ENUM_OPTIONS, 3)}
    if kind is FieldType.MULTI_ENUM:
        return {**out, "matcher": rng.choice(("contains_any", "contains_all")), "values": rng.sample(MULTI_OPTIONS, 2)}
    if kind is FieldType.TEXT:
        return rng.choice(({**out, "matcher": "regex", "pattern": "director|head|ceo"},
                           {**out, "matcher": "in", "values": ["ceo", "Founder", "OWNER"], "blank_is_value": False}))
    if kind is FieldType.BOOLEAN:
        return {**out, "matcher": "boolean", "value": True, "blank_is_value": rng.random() < 0.3}
    unit = rng.choice(("years", "months", "days"))
    scale = {"years": 1, "months": 12, "days": 365}[unit]
    return {**out, "matcher": "range", "min": 20 * scale, "max": 45 * scale, "unit": unit, **margin}


def build(n_leads: int, seed: int) -> tuple[dict[str, FieldSpec], list[PersonaSpec], list[dict[str, object]]]:
    """Fields, 5 personas of 20 criteria (2 must, 2 disqualifiers, 16 nice) and ``n_leads`` records."""
    rng = random.Random(seed)
    fields = build_fields()
    keys = list(fields)
    personas = []
    for pid in range(1, 6):
        items = []
        for i in range(20):
            ck = CriterionKind.MUST if i < 2 else CriterionKind.DISQUALIFIER if i < 4 else CriterionKind.NICE
            pool = [k for k in keys if fields[k].type in (FieldType.ENUM, FieldType.INTEGER, FieldType.TEXT)] \
                if ck is CriterionKind.DISQUALIFIER else keys
            key = rng.choice(pool)
            items.append(random_criterion(key, FieldType(fields[key].type), ck, rng))
        personas.append(PersonaSpec(pid, 1, f"Persona {pid}", list(Ring)[pid % 3], parse_criteria(items, fields)))
    leads = [{k: random_value(FieldType(s.type), rng) for k, s in fields.items()} for _ in range(n_leads)]
    return fields, personas, leads


def clock() -> tuple[float, float]:
    """(wall-clock, CPU) seconds now."""
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    """(wall-clock, CPU) seconds since ``start``."""
    wall, cpu = clock()
    return wall - start[0], cpu - start[1]


def run_pure(fields: dict[str, FieldSpec], personas: Sequence[PersonaSpec], leads: Sequence[dict[str, object]]
             ) -> tuple[tuple[float, float], list[tuple[int, Grade, int, bool]]]:
    """((wall, CPU) seconds, results in lead-major order) of prepare once per lead + quick per persona."""
    compiled = [CompiledPersona(p, fields) for p in personas]
    quicks = [c.quick for c in compiled]
    prepare = Preparer(fields)
    out: list[tuple[int, Grade, int, bool]] = []
    append = out.append
    gc.disable()  # as timeit does: keeping 1M results alive would otherwise trigger full collections
    try:
        start = clock()
        for values in leads:
            prepared = prepare(values, TODAY)
            for quick in quicks:
                append(quick(prepared))
        return since(start), out
    finally:
        gc.enable()


class Columns:
    """The leads as NumPy columns: float values (NaN = blank), option codes and bit masks."""

    def __init__(self, fields: dict[str, FieldSpec], leads: Sequence[dict[str, object]]) -> None:
        self.n = len(leads)
        self.num: dict[str, np.ndarray] = {}
        self.codes: dict[str, np.ndarray] = {}
        self.vocab: dict[str, list[str]] = {}
        today = np.datetime64(TODAY.isoformat(), "D")
        t_months = (TODAY.year - 1970) * 12 + TODAY.month - 1  # months since 1970-01, like datetime64[M]
        for key, spec in fields.items():
            raw = [v.get(key) for v in leads]
            kind = FieldType(spec.type)
            if kind in (FieldType.MONEY, FieldType.INTEGER, FieldType.NUMBER):
                self.num[key] = np.array([_float(v) for v in raw], dtype=np.float64)
            elif kind is FieldType.BOOLEAN:
                self.num[key] = np.array([float(v) if isinstance(v, bool) else np.nan for v in raw])
            elif kind is FieldType.DATE:
                days = np.array([v if isinstance(v, str) and len(v) == 10 else "NaT" for v in raw], "datetime64[D]")
                ok = ~np.isnat(days)
                months = days.astype("datetime64[M]")
                day_of_month = (days - months).astype(np.int64) + 1
                age_m = t_months - months.astype(np.int64) - (TODAY.day < day_of_month)
                self.num[key] = np.where(ok, (today - days).astype(np.float64), np.nan)
                self.num[key + "#m"] = np.where(ok, age_m.astype(np.float64), np.nan)
            elif kind is FieldType.MULTI_ENUM:
                bits = {o: 1 << i for i, o in enumerate(MULTI_OPTIONS)}
                self.codes[key] = np.array([sum(bits[o] for o in v) if isinstance(v, list) else 0 for v in raw])
            else:  # enum and text: codes into a vocabulary of stripped strings (-1 = blank)
                words = sorted({v.strip() for v in raw if isinstance(v, str) and v.strip()})
                index = {w: i for i, w in enumerate(words)}
                self.vocab[key] = words
                self.codes[key] = np.array([index[v.strip()] if isinstance(v, str) and v.strip() else -1 for v in raw])


def _float(v: object) -> float:
    if isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        try:
            return float(Decimal(v))
        except ArithmeticError:
            return np.nan
    return np.nan


def credit_column(c: Criterion, kind: FieldType, cols: Columns, rows: slice) -> tuple[np.ndarray, np.ndarray]:
    """(credit: 1 / partial / -1 / 0, known mask) of one criterion for the leads in ``rows``."""
    key, m = c.field, c.matcher
    if m is Matcher.RANGE:
        unit = (c.unit or "years") if kind is FieldType.DATE else None
        v = cols.num[key + "#m" if unit in ("months", "years") else key][rows]
        if unit == "years":
            v = np.floor_divide(v, 12)
        known = ~np.isnan(v)
        low = -np.inf if c.min is None else c.min
        high = np.inf if c.max is None else c.max
        inside = (v >= low) & (v <= high)
        d = np.where(v < low, low - v, v - high)
        margin = c.soft_margin or 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            partial = ~inside & (d < margin)
            credit = np.where(inside, 1.0, np.where(partial, 1.0 - d / (margin or 1.0), -1.0))
        match_blank = -1.0
    elif m is Matcher.BOOLEAN:
        v = cols.num[key][rows]
        known = ~np.isnan(v)
        credit = np.where(v == float(bool(c.value)), 1.0, -1.0)
        match_blank = -1.0
    elif m in (Matcher.CONTAINS_ANY, Matcher.CONTAINS_ALL):
        bits = cols.codes[key][rows]
        mask = sum(1 << MULTI_OPTIONS.index(o) for o in c.values)
        known = bits != 0
        hit = (bits & mask) == mask if m is Matcher.CONTAINS_ALL else (bits & mask) != 0
        credit, match_blank = np.where(hit, 1.0, -1.0), -1.0
    elif m is Matcher.EQUALS and kind in (FieldType.MONEY, FieldType.INTEGER, FieldType.NUMBER):
        v = cols.num[key][rows]
        known = ~np.isnan(v)
        credit, match_blank = np.where(v == float(c.value), 1.0, -1.0), -1.0  # type: ignore[arg-type]
    else:  # equals / in / regex over a vocabulary: decide once per distinct word
        words = cols.vocab[key]
        if m is Matcher.REGEX:
            rx = re.compile(c.pattern or "", re.IGNORECASE)
            table = np.array([rx.search(w) is not None for w in words] + [False])
            match_blank = -1.0
        else:
            listed = c.values if m is Matcher.IN else (str(c.value),)
            fold = kind is FieldType.TEXT
            wanted = {x.strip().casefold() if fold else x for x in listed}
            table = np.array([(w.casefold() if fold else w) in wanted for w in words] + [False])
            match_blank = 1.0 if "" in listed else -1.0
        codes = cols.codes[key][rows]
        known = codes >= 0
        credit = np.where(table[codes], 1.0, -1.0)
    if c.blank_is_value:
        return np.where(known, credit, match_blank), np.ones_like(known)
    return np.where(known, credit, 0.0), known


def run_vectorized(fields: dict[str, FieldSpec], personas: Sequence[PersonaSpec], cols: Columns
                   ) -> tuple[tuple[float, float], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """((wall, CPU) seconds, score, grade index, completeness, disqualified), arrays of (leads, personas)."""
    crits = [(j, c) for j, p in enumerate(personas) for c in p.criteria]
    n_p, n_c = len(personas), len(crits)
    weights = np.zeros((n_c, n_p))  # must+nice weights per persona
    musts, dqs, member = np.zeros((n_c, n_p)), np.zeros((n_c, n_p)), np.zeros((n_c, n_p))
    for i, (j, c) in enumerate(crits):
        member[i, j] = 1.0
        if c.kind == CriterionKind.DISQUALIFIER:
            dqs[i, j] = 1.0
        else:
            weights[i, j] = c.weight
            musts[i, j] = float(c.kind == CriterionKind.MUST)
    total_w = weights.sum(axis=0)
    caps = np.array([p.thresholds.cap_score(p.must_cap) for p in personas])
    counts = np.array([len(p.criteria) for p in personas])
    grade_table = np.array([["ABCD".index(p.thresholds.grade_for(s)) for s in range(101)] for p in personas])
    score = np.empty((cols.n, n_p), np.int64)
    grade, complete, disq = np.empty_like(score), np.empty_like(score), np.empty((cols.n, n_p), bool)
    start = clock()
    for begin in range(0, cols.n, Chunk):
        rows = slice(begin, min(begin + Chunk, cols.n))
        credit = np.empty((rows.stop - rows.start, n_c))
        known = np.empty_like(credit, dtype=bool)
        for i, (_, c) in enumerate(crits):
            credit[:, i], known[:, i] = credit_column(c, FieldType(fields[c.field].type), cols, rows)
        raw = 50.0 + 50.0 * (credit @ weights) / np.where(total_w > 0, total_w, 1.0)
        s = np.where(total_w > 0, np.floor(raw + 0.5 + 1e-9), 50).astype(np.int64)
        s = np.where((credit < 0) @ musts > 0, np.minimum(s, caps), s)
        dq = (credit > 0) @ dqs > 0
        s = np.where(dq, 0, s)
        k = known @ member
        score[rows], disq[rows] = s, dq
        grade[rows] = np.take_along_axis(grade_table.T, s, axis=0)
        complete[rows] = np.floor_divide(200 * k + counts, 2 * counts)
    return since(start), score, grade, complete, disq


def main(argv: Sequence[str] | None = None) -> int:
    """Run both evaluations, compare them, print the rates; 1 when any result differs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    fields, personas, leads = build(args.leads, args.seed)
    evaluations = len(leads) * len(personas)
    pure_s, pure = run_pure(fields, personas, leads)
    start = clock()
    cols = Columns(fields, leads)
    columns_s = since(start)
    vec_s, score, grade, complete, disq = run_vectorized(fields, personas, cols)
    mismatches = 0
    for i, (s, g, k, d) in enumerate(pure):
        lead, p = divmod(i, len(personas))
        if (s, "ABCD".index(g), k, d) != (score[lead, p], grade[lead, p], complete[lead, p], disq[lead, p]):
            mismatches += 1
            if mismatches <= 5:
                print(f"MISMATCH lead {lead} persona {p + 1}: pure {(s, g, k, d)} vs numpy "
                      f"{(score[lead, p], 'ABCD'[grade[lead, p]], complete[lead, p], disq[lead, p])}")
    print(f"{len(leads)} leads x {len(personas)} personas x 20 criteria = {evaluations} evaluations")
    rates = {}
    for clock_name, c in (("wall", 0), ("CPU", 1)):
        pure_rate, vec_rate = evaluations / pure_s[c], evaluations / vec_s[c]
        with_columns = evaluations / (vec_s[c] + columns_s[c])
        rates[clock_name] = pure_rate
        print(f"[{clock_name}] pure (prepare + quick): {pure_rate:,.0f} evaluations/s ({pure_s[c]:.2f} s); "
              f"numpy vectorized: {vec_rate:,.0f}/s ({vec_s[c]:.2f} s), with building the columns "
              f"{with_columns:,.0f}/s; ratio numpy/pure {vec_rate / pure_rate:.1f}x "
              f"(with columns {with_columns / pure_rate:.1f}x)")
    print(f"target: pure >= {TARGET:,}/s per CPU second: {'met' if rates['CPU'] >= TARGET else 'NOT met'}")
    disqualified = sum(1 for r in pure if r[3])
    print(f"identical results: {'yes' if not mismatches else f'NO ({mismatches} differ)'}; "
          f"disqualified {disqualified / evaluations:.0%}, mean score {sum(r[0] for r in pure) / evaluations:.1f}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
