"""Benchmark of the portrait analyses: RFM + ABC-XYZ (the domain's columnar ``analyze_columns()``, what the service
runs: ABC, XYZ with Syntetos-Boylan, the matrix, RFM with segments, check sizes; per-customer results as arrays)
over N purchases of M customers (seeded), against pandas computing the same numbers in the same run: per customer
the R, F, M scores (same tie policy), segment, ABC class, monthly CV, adaptive XYZ class and Syntetos-Boylan class;
per ABC x XYZ cell and per RFM segment the customers, revenue, purchases, their shares, average check and purchases
per year; the check-size percentiles of A and C. Also timed: building the per-customer objects on demand
(``report()``) and the reference ``analyze()`` over Purchase objects.

    python -m bench.analytics [--purchases 1000000] [--customers 100000] [--seed 15]

Prints the times (wall and CPU of this process; the CPU figure depends less on other load on a shared machine)
and the ratios, next to the issue's goals (under 10 s, at most 1.5x pandas). The columns are built from the
generated data outside the timing, as the database load gives them. Exits 1 unless every one of those numbers
agrees with pandas (counts and money exactly, floats to 1e-9 relative) and the columnar report equals the reference
one. Not a test (docs/benchmarks.md). Needs pandas (a dev extra, bench only).
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import sys
import time
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from service.domain.analytics.columnar import EPOCH, SEGMENT_CODES, SEGMENTS, Columns
from service.domain.analytics.columnar_report import ColumnarAnalysis, analyze_columns
from service.domain.analytics.groups import CHECK_QUANTILES, GroupStats
from service.domain.analytics.purchases import DAYS_PER_YEAR, Purchase
from service.domain.analytics.report import Analysis, analyze
from service.domain.analytics.xyz import ADI_CUT, CV2_CUT

AS_OF = date(2026, 6, 30)
GOAL_SECONDS = 10.0
GOAL_RATIO = 1.5
HORIZON, MIN_PURCHASES, MIN_PERIODS, QUANTILES = 24, 2, 6, (0.30, 0.80)


def generate(n: int, customers: int, seed: int) -> tuple[list[Purchase], Columns, pd.DataFrame]:
    """``n`` purchases: every customer buys once, the rest go to customers skewed towards low ids (a few buy a
    lot); days spread over two years before AS_OF, amounts in cents (log-normal). The same data as columns and as
    a frame."""
    rng = random.Random(seed)
    days = [AS_OF - timedelta(days=d) for d in range(730)]
    cids, cents, ago = [], [], []
    for i in range(n):
        cids.append(i if i < customers else int(customers * rng.random() ** 3))
        cents.append(max(1, int(rng.lognormvariate(8.5, 1.0))))
        ago.append(rng.randrange(730))
    amounts: dict[int, Decimal] = {}
    purchases = [Purchase(str(c), amounts.setdefault(a, Decimal(a) / 100), "USD", days[d])
                 for c, a, d in zip(cids, cents, ago, strict=True)]
    frame = pd.DataFrame({"customer": np.array(cids, dtype=np.int64), "cents": np.array(cents, dtype=np.int64),
                          "day": pd.to_datetime(np.array([days[d] for d in ago], dtype="datetime64[D]"))})
    ids, units = np.array(cids, dtype=np.int64), np.array(cents, dtype=np.int64)
    epoch_days = ((AS_OF - EPOCH).days - np.array(ago, dtype=np.int64)).astype(np.int32)
    cols = Columns(ids, units, epoch_days, np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.bool_), 2)
    return purchases, cols, frame


def _scores(strictly_worse: pd.Series, n: int) -> pd.Series:
    return (1 + 5 * strictly_worse // n).astype(np.int64)


def _group_table(out: pd.DataFrame, label: str, total_cents: int) -> pd.DataFrame:
    """GroupStats' numbers per value of ``out[label]``: customers, revenue, purchases and their derived rates."""
    g = out.groupby(label).agg(customers=("cents", "size"), cents=("cents", "sum"), purchases=("count", "sum"),
                               years=("years", "sum"))
    g["customer_share"] = g["customers"] / len(out)
    g["revenue_share"] = g["cents"] / total_cents
    g["average_check"] = g["cents"] / g["purchases"] / 100
    g["purchases_per_year"] = g["purchases"] / g["years"]
    return g


def pandas_numbers(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, list[float]]]:
    """Everything the domain computes, as it counts it: per customer the R, F, M scores, segment code, ABC and XYZ
    class ("-" without one), CV and Syntetos-Boylan class; the statistics per ABC x XYZ cell and per RFM segment;
    the check-size percentiles of A and C customers."""
    g = frame.groupby("customer")
    out = pd.DataFrame({"cents": g["cents"].sum(), "count": g["cents"].size(), "first": g["day"].min(),
                        "last": g["day"].max()})
    n = len(out)
    days = (pd.Timestamp(AS_OF) - out["last"]).dt.days
    out["r"] = _scores(n - days.rank(method="max").astype(np.int64), n)
    out["f"] = _scores(out["count"].rank(method="min").astype(np.int64) - 1, n)
    out["m"] = _scores(out["cents"].rank(method="min").astype(np.int64) - 1, n)
    out["segment"] = SEGMENT_CODES[out["r"].to_numpy(), out["f"].to_numpy()]
    out["years"] = np.maximum((pd.Timestamp(AS_OF) - out["first"]).dt.days, DAYS_PER_YEAR / 12) / DAYS_PER_YEAR
    # ABC: the share of the revenue of customers with a strictly larger revenue (every amount here is > 0).
    by_value = out.groupby("cents")["cents"].sum().sort_index(ascending=False)
    above = by_value.cumsum() - by_value
    total = int(out["cents"].sum())
    share = out["cents"].map(above) / total
    abc = np.where(share < 0.80, 0, np.where(share < 0.95, 1, 2))
    out["abc"] = np.array(list("ABC"))[abc]
    # XYZ: monthly amounts from each customer's first month, over at most HORIZON months, zeros included.
    month = frame["day"].dt.year * 12 + frame["day"].dt.month - 1
    start = out["first"].dt.year * 12 + out["first"].dt.month - 1
    periods = np.minimum(HORIZON, AS_OF.year * 12 + AS_OF.month - start)
    slot = month.to_numpy() - frame["customer"].map(start).to_numpy()
    inside = slot < frame["customer"].map(periods).to_numpy()
    monthly = (frame.loc[inside].assign(slot=slot[inside], amount=frame["cents"][inside] / 100)
               .groupby(["customer", "slot"])["amount"].sum())
    per = monthly.groupby(level=0)
    sums, squares, active = per.sum(), (monthly ** 2).groupby(level=0).sum(), per.size()
    mean, mean_nz = sums / periods, sums / active  # every amount is > 0: a month with purchases is non-zero
    out["cv"] = np.sqrt(np.maximum(squares / periods - mean ** 2, 0)) / mean
    cv2 = (np.maximum(squares / active - mean_nz ** 2, 0)) / mean_nz ** 2
    adi = periods / active
    eligible = (out["count"] >= MIN_PURCHASES) & (periods >= MIN_PERIODS)
    low, high = np.quantile(out["cv"][eligible], QUANTILES)
    out["xyz"] = np.where(~eligible, "-", np.where(out["cv"] <= low, "X", np.where(out["cv"] <= high, "Y", "Z")))
    out["demand"] = np.where(~eligible, "-", np.where(adi < ADI_CUT, np.where(cv2 < CV2_CUT, "smooth", "erratic"),
                                                      np.where(cv2 < CV2_CUT, "intermittent", "lumpy")))
    out["cell"] = out["abc"] + out["xyz"]
    cents, abc_of = frame["cents"].to_numpy() / 100, frame["customer"].map(pd.Series(abc, out.index)).to_numpy()
    checks = {name: np.quantile(cents[abc_of == code], CHECK_QUANTILES).tolist() for code, name in ((0, "A"), (2, "C"))}
    return out, _group_table(out, "cell", total), _group_table(out, "segment", total), checks


def timed(func, *args):  # type: ignore[no-untyped-def]
    """func(*args) with GC off, and its wall and CPU seconds."""
    gc.collect()
    gc.disable()
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        result = func(*args)
        return result, time.perf_counter() - wall, time.process_time() - cpu
    finally:
        gc.enable()


def _close(a: float | Decimal | None, b: float) -> bool:
    return a is not None and math.isclose(float(a), b, rel_tol=1e-9)


def _group_disagreements(stats: Mapping[str, GroupStats], table: pd.DataFrame) -> int:
    """How many groups' customers, revenue, purchases, shares, average check or rate differ from pandas."""
    wrong = 0
    for name, g in stats.items():
        if g.customers == 0:
            wrong += name in table.index
            continue
        row = table.loc[name]
        wrong += not (g.customers == row.customers and g.revenue * 100 == row.cents and g.purchases == row.purchases
                      and _close(g.customer_share, row.customer_share) and _close(g.revenue_share, row.revenue_share)
                      and _close(g.average_check, row.average_check)
                      and _close(g.purchases_per_year, row.purchases_per_year))
    return wrong


def disagreements(result: ColumnarAnalysis, analysis: Analysis, numbers: tuple[pd.DataFrame, pd.DataFrame,
                  pd.DataFrame, dict[str, list[float]]]) -> dict[str, int]:
    """How many customers (or groups, or percentiles) differ between the domain and pandas, per number."""
    out, cells, segments, checks = numbers
    row = out.reindex(result.keys)
    scores = result.scores()
    xyz = np.array(["-", "X", "Y", "Z"])[result.xyz + 1]
    demand = [v.demand.value if (v := analysis.xyz.variation.get(c)) else "-" for c in result.ids]
    cv = np.full(len(result.ids), np.nan)
    cv[result.variations.index] = result.variations.cv
    eligible = ~np.isnan(cv)
    return {
        "r": int((scores[:, 0] != row["r"]).sum()), "f": int((scores[:, 1] != row["f"]).sum()),
        "m": int((scores[:, 2] != row["m"]).sum()), "segment": int((result.segment != row["segment"]).sum()),
        "abc": int((np.array(list("ABC"))[result.abc] != row["abc"]).sum()), "xyz": int((xyz != row["xyz"]).sum()),
        "cv": int((~np.isclose(cv[eligible], row["cv"][eligible], rtol=1e-9, atol=0)).sum()),
        "demand": int((np.array(demand) != row["demand"]).sum()),
        "cells": _group_disagreements(result.cells, cells),
        "segments": _group_disagreements({s.value: g for s, g in result.segments.items()},
                                         segments.rename(index=lambda c: SEGMENTS[c].value)),
        "check sizes": sum(result.check_sizes[name].n != int((out["abc"] == name) @ out["count"])
                           or not all(_close(result.check_sizes[name].quantiles.get(q), v)
                                      for q, v in zip(CHECK_QUANTILES, checks[name], strict=True))
                           for name in ("A", "C")),
    }


def main(argv: list[str] | None = None) -> int:
    """Generate, time both, compare, print; exit 1 when the numbers disagree."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    purchases, cols, frame = generate(args.purchases, args.customers, args.seed)
    print(f"generated {len(purchases):,} purchases of {args.customers:,} customers in "
          f"{time.perf_counter() - start:.1f} s")
    report, wall, cpu = timed(analyze_columns, {"USD": cols}, AS_OF)
    result = report.results["USD"]
    if not isinstance(result, ColumnarAnalysis):
        print(f"below the data floor: {result}")
        return 1
    numbers, p_wall, p_cpu = timed(pandas_numbers, frame)
    converted, c_wall, c_cpu = timed(report.report)
    reference, r_wall, r_cpu = timed(analyze, purchases, AS_OF)
    print(f"domain analyze_columns() (RFM + ABC-XYZ + matrix + segments): {wall:.2f} s wall, {cpu:.2f} s CPU "
          f"(goal < {GOAL_SECONDS:.0f} s)")
    print(f"pandas (the same numbers):                                    {p_wall:.2f} s wall, {p_cpu:.2f} s CPU")
    print(f"per-customer objects on demand (report()):                    {c_wall:.2f} s wall, {c_cpu:.2f} s CPU")
    print(f"reference analyze() over Purchase objects:                    {r_wall:.2f} s wall, {r_cpu:.2f} s CPU")
    print(f"ratio domain / pandas: {wall / p_wall:.2f}x wall, {cpu / p_cpu:.2f}x CPU (goal <= {GOAL_RATIO}x); "
          f"reference / pandas: {r_wall / p_wall:.2f}x wall, {r_cpu / p_cpu:.2f}x CPU")
    analysis = converted.results["USD"]
    assert isinstance(analysis, Analysis)
    wrong = disagreements(result, analysis, numbers)
    print("disagreements with pandas: " + ", ".join(f"{k} {v}" for k, v in wrong.items()))
    same = reference == converted
    print(f"columnar report equals the reference report: {same}")
    return 1 if any(wrong.values()) or not same else 0

if __name__ == "__main__":
    sys.exit(main())
