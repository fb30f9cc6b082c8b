"""A light HTTP/1.1 load generator: `connections` keep-alive connections, each sending its next request as soon as
the previous answer is read (a closed loop), spread over a few processes so that neither the interpreter lock nor
one core of the client decides the latencies measured.

Each connection is a thread holding one `http.client` connection (a few tens of µs of Python per request,
several times less than httpx). The requests are made by a picklable `RequestMaker` called in the client
process, so bodies can be unique and signed per request. Every process starts at the same wall-clock moment and
counts only the answers received inside the measured window.
"""

from __future__ import annotations

import http.client
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Protocol
from urllib.parse import urlsplit


class RequestMaker(Protocol):
    """Builds request number `n` of connection `connection`: (path with query, headers, body)."""

    def __call__(self, connection: int, n: int) -> tuple[str, dict[str, str], bytes]: ...


@dataclass(frozen=True)
class LoadResult:
    """What one run measured: 2xx answers per second, latency percentiles of those answers, non-2xx answers,
    transport errors and the CPU the client processes used per second of the run (in cores)."""

    rate: float
    p50_ms: float
    p99_ms: float
    bad: int
    errors: int
    client_cores: float
    latencies_ms: tuple[float, ...] = ()

    def line(self) -> str:
        """One printable line."""
        return (f"{self.rate:7.0f} req/s  p50 {self.p50_ms:6.1f} ms  p99 {self.p99_ms:6.1f} ms  "
                f"(non-2xx {self.bad}, errors {self.errors}, client CPU {self.client_cores:.2f} cores)")


def _connection_loop(base: str, make: RequestMaker, index: int, start: float, stop: float,
                     out: list[float], counts: list[int]) -> None:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    conn.connect()  # connected before the window opens: no connect time in the first latency
    n = 0
    while time.time() < start:
        time.sleep(0.001)
    while True:
        path, headers, body = make(index, n)
        n += 1
        sent = time.perf_counter()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            counts[1] += 1
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
            continue
        now = time.time()
        if now > stop:
            break
        if response.status < 300:
            out.append((time.perf_counter() - sent) * 1000)
        else:
            counts[0] += 1
    conn.close()


def _process(args: tuple[str, RequestMaker, list[int], float, float]) -> tuple[list[float], int, int, float]:
    base, make, indexes, start, stop = args
    sys.setswitchinterval(0.0005)  # a thread whose answer arrived waits at most 0.5 ms for the interpreter
    cpu = os.times()
    outs: list[list[float]] = [[] for _ in indexes]
    counts: list[list[int]] = [[0, 0] for _ in indexes]
    threads = [threading.Thread(target=_connection_loop, args=(base, make, i, start, stop, outs[k], counts[k]))
               for k, i in enumerate(indexes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    used = os.times()
    return ([x for o in outs for x in o], sum(c[0] for c in counts), sum(c[1] for c in counts),
            (used.user - cpu.user) + (used.system - cpu.system))


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile of `values` (nearest rank); 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def run_load(base: str, make: RequestMaker, *, connections: int = 16, processes: int = 4,
             seconds: float = 5.0, keep_latencies: bool = False) -> LoadResult:
    """Drive `connections` keep-alive connections to `base` for `seconds` (after a common start) and measure."""
    groups = [list(range(p, connections, processes)) for p in range(processes)]
    start = time.time() + 0.5  # every process is up and connected before the window opens
    stop = start + seconds
    with get_context("fork").Pool(processes) as pool:
        results = pool.map(_process, [(base, make, g, start, stop) for g in groups if g])
    latencies = [x for r in results for x in r[0]]
    return LoadResult(
        rate=len(latencies) / seconds, p50_ms=statistics.median(latencies) if latencies else 0.0,
        p99_ms=percentile(latencies, 0.99), bad=sum(r[1] for r in results), errors=sum(r[2] for r in results),
        client_cores=sum(r[3] for r in results) / seconds,
        latencies_ms=tuple(latencies) if keep_latencies else ())


def median_result(results: list[LoadResult]) -> LoadResult:
    """The median of each figure over rounds (errors summed)."""
    return LoadResult(
        rate=statistics.median(r.rate for r in results), p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results), bad=sum(r.bad for r in results),
        errors=sum(r.errors for r in results), client_cores=statistics.median(r.client_cores for r in results))
