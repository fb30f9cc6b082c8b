"""Benchmark of the portrait analyses: RFM + ABC-XYZ (the domain's columnar ``analyze_columns()``, what the service
runs: ABC, XYZ, the matrix, RFM with segments, check sizes, up to the same Analysis objects) over N purchases of M
customers (seeded), against a pandas groupby computing the same numbers (per-customer recency, frequency, monetary,
the 1-5 scores with the same tie policy, ABC classes, the monthly coefficient of variation and adaptive XYZ
classes) in the same run, and the reference ``analyze()`` over Purchase objects (a third line).

    python -m bench.analytics [--purchases 1000000] [--customers 100000] [--seed 15]

Prints the times (wall and CPU of this process; the CPU figure does not depend on other load on a shared
machine) and the ratios, next to the issue's goals (under 10 s, at most 1.5x pandas). The columns are built from
the generated data outside the timing, as the database load gives them. Exits 1 unless every customer's R, F and M
scores and ABC and XYZ classes agree with pandas and the columnar report equals the reference one. Not a test
(docs/benchmarks.md). Needs pandas (a dev extra, bench only).
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from service.domain.analytics.columnar import EPOCH, Columns
from service.domain.analytics.columnar_report import analyze_columns
from service.domain.analytics.purchases import Purchase
from service.domain.analytics.report import Analysis, analyze

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


def pandas_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Per customer: r, f, m scores, ABC class and XYZ class ("-" without one), as the domain counts them."""
    g = frame.groupby("customer")
    out = pd.DataFrame({"cents": g["cents"].sum(), "count": g["cents"].size(), "first": g["day"].min(),
                        "last": g["day"].max()})
    n = len(out)
    days = (pd.Timestamp(AS_OF) - out["last"]).dt.days
    out["r"] = _scores(n - days.rank(method="max").astype(np.int64), n)
    out["f"] = _scores(out["count"].rank(method="min").astype(np.int64) - 1, n)
    out["m"] = _scores(out["cents"].rank(method="min").astype(np.int64) - 1, n)
    # ABC: the share of the revenue of customers with a strictly larger revenue (every amount here is > 0).
    by_value = out.groupby("cents")["cents"].sum().sort_index(ascending=False)
    above = by_value.cumsum() - by_value
    share = out["cents"].map(above) / out["cents"].sum()
    out["abc"] = np.where(share < 0.80, "A", np.where(share < 0.95, "B", "C"))
    # XYZ: monthly amounts from each customer's first month, over at most HORIZON months, zeros included.
    month = frame["day"].dt.year * 12 + frame["day"].dt.month - 1
    start = out["first"].dt.year * 12 + out["first"].dt.month - 1
    periods = np.minimum(HORIZON, AS_OF.year * 12 + AS_OF.month - start)
    slot = month.to_numpy() - frame["customer"].map(start).to_numpy()
    inside = slot < frame["customer"].map(periods).to_numpy()
    monthly = (frame.loc[inside].assign(slot=slot[inside], amount=frame["cents"][inside] / 100)
               .groupby(["customer", "slot"])["amount"].sum())
    sums = monthly.groupby(level=0).sum()
    squares = (monthly ** 2).groupby(level=0).sum()
    mean = sums / periods
    cv = np.sqrt(np.maximum(squares / periods - mean ** 2, 0)) / mean
    eligible = (out["count"] >= MIN_PURCHASES) & (periods >= MIN_PERIODS)
    low, high = np.quantile(cv[eligible], QUANTILES)
    out["xyz"] = np.where(~eligible, "-", np.where(cv <= low, "X", np.where(cv <= high, "Y", "Z")))
    return out


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


def disagreements(analysis: Analysis, frame: pd.DataFrame) -> dict[str, int]:
    """How many customers' scores or classes differ between the domain and pandas, per number."""
    found = {"r": 0, "f": 0, "m": 0, "abc": 0, "xyz": 0}
    for cid, row in zip(frame.index, frame.itertuples(), strict=True):
        key, s = str(cid), analysis.rfm[str(cid)]
        found["r"] += s.r != row.r
        found["f"] += s.f != row.f
        found["m"] += s.m != row.m
        found["abc"] += analysis.abc.classes[key] != row.abc
        found["xyz"] += analysis.xyz.classes.get(key, "-") != row.xyz
    return found


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
    if not isinstance(result, Analysis):
        print(f"below the data floor: {result}")
        return 1
    numbers, p_wall, p_cpu = timed(pandas_numbers, frame)
    reference, r_wall, r_cpu = timed(analyze, purchases, AS_OF)
    print(f"domain analyze_columns() (RFM + ABC-XYZ + matrix + segments): {wall:.2f} s wall, {cpu:.2f} s CPU "
          f"(goal < {GOAL_SECONDS:.0f} s)")
    print(f"pandas groupby (the same per-customer numbers):               {p_wall:.2f} s wall, {p_cpu:.2f} s CPU")
    print(f"reference analyze() over Purchase objects:                    {r_wall:.2f} s wall, {r_cpu:.2f} s CPU")
    print(f"ratio domain / pandas: {wall / p_wall:.2f}x wall, {cpu / p_cpu:.2f}x CPU (goal <= {GOAL_RATIO}x); "
          f"reference / pandas: {r_wall / p_wall:.2f}x wall, {r_cpu / p_cpu:.2f}x CPU")
    wrong = disagreements(result, numbers)
    print("disagreements per number: " + ", ".join(f"{k} {v}" for k, v in wrong.items()))
    same = reference.results["USD"] == result
    print(f"columnar report equals the reference report: {same}")
    return 1 if any(wrong.values()) or not same else 0


if __name__ == "__main__":
    sys.exit(main())
