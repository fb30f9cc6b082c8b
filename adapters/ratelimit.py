"""Client-side rolling-window rate limiting, one limiter per CRM connection.

A `RateLimiter` holds several named buckets (HubSpot: a general 10-second burst budget and a
separate per-second budget for the search endpoints). Each bucket remembers the start times of the
calls inside its window; `acquire` blocks until the oldest of them leaves the window.

Those limiters count in this process only. Several processes calling one CRM account share a `LimitStore`
(PostgreSQL or Redis, chosen by the service) through a `StoredLimiter`: the same algorithms as pure steps over a
small state kept in the store, read and written atomically, timed by the store's clock. A bucket lifted by its
connection (`is_lifted`: a budget no client reaches) is not counted in the store at all: counting it would cost a
store round trip per call and hold nothing back.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

Clock = Callable[[], float]
Sleep = Callable[[float], None]
BucketSpec = Mapping[str, tuple[int, float]]
# (stored state or None, the store's clock in seconds) -> (state to store, seconds to wait: 0.0 when a call was counted)
Step = Callable[[Any, float], tuple[Any, float]]
# Calls per second from which a bucket counts as lifted. Every CRM's real limits are under 100/s; a budget of
# 10,000/s or more (the tests' and benches' "unlimited", or an admin's 100,000 per 10 s) only says "no limit".
LIFTED_RATE = 10_000.0


class RateLimitTimeoutError(TimeoutError):
    """`acquire` could not get a slot within its timeout."""


class Limiter(Protocol):
    """What an adapter needs from a limiter (a RateLimiter or a LeakyBucket): block until one call may go."""

    def acquire(self, bucket: str = "default", *, timeout: float | None = None) -> float:
        """Block until a call may be sent in `bucket`; return the seconds waited."""


def wait_for_slot(try_acquire: Callable[[str], float], bucket: str, timeout: float | None,
                  clock: Callable[[], float], sleep: Callable[[float], None], what: str) -> float:
    """Every limiter's `acquire`: try, sleep the wait it names, try again; the seconds waited in all, or
    RateLimitTimeoutError (naming `what`) when `timeout` would be exceeded."""
    started = clock()
    while True:
        wait = try_acquire(bucket)
        if wait == 0.0:
            return clock() - started
        if timeout is not None and clock() - started + wait > timeout:
            raise RateLimitTimeoutError(f"no {what} within {timeout:.3f}s")
        sleep(wait)


class RateLimiter:
    """A thread-safe rolling-window limiter with named buckets of (limit, window_seconds)."""

    def __init__(
        self, buckets: BucketSpec, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> None:
        """Build a limiter; raises ValueError for an empty spec, a limit < 1 or a window <= 0."""
        if not buckets:
            raise ValueError("a rate limiter needs at least one bucket")
        for name, (limit, window) in buckets.items():
            if limit < 1 or window <= 0:
                raise ValueError(f"bucket {name!r}: limit must be >= 1 and window > 0")
        self._specs: dict[str, tuple[int, float]] = {k: (int(v[0]), float(v[1])) for k, v in buckets.items()}
        self._calls: dict[str, deque[float]] = {name: deque() for name in self._specs}
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()

    @property
    def buckets(self) -> dict[str, tuple[int, float]]:
        """A copy of the bucket spec: name -> (limit, window_seconds)."""
        return dict(self._specs)

    def try_acquire(self, bucket: str = "default") -> float:
        """Take a slot if one is free and return 0.0; otherwise return the seconds to wait.

        Raises KeyError for an unknown bucket.
        """
        if bucket not in self._specs:
            raise KeyError(f"unknown rate-limit bucket {bucket!r}")
        limit, window = self._specs[bucket]
        with self._lock:
            now = self._clock()
            calls = self._calls[bucket]
            while calls and calls[0] <= now - window:
                calls.popleft()
            if len(calls) < limit:
                calls.append(now)
                return 0.0
            return max(calls[0] + window - now, 1e-6)

    def acquire(self, bucket: str = "default", *, timeout: float | None = None) -> float:
        """Block until the bucket has a free slot, take it, and return the seconds waited.

        Raises KeyError for an unknown bucket and RateLimitTimeoutError when `timeout` would be exceeded.
        """
        # Sleeps outside the lock, so other threads can use other buckets meanwhile.
        return wait_for_slot(self.try_acquire, bucket, timeout, self._clock, self._sleep, f"{bucket!r} slot")


_REGISTRY: dict[str, RateLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def limiter_for(key: str, buckets: BucketSpec) -> RateLimiter:
    """The process-wide limiter for `key` (e.g. a connection id), created on first use.

    Later calls with the same key return the same instance; if the bucket spec changed, the
    limiter is replaced so new limits apply (in-flight windows are forgotten).
    """
    wanted = {k: (int(v[0]), float(v[1])) for k, v in buckets.items()}
    with _REGISTRY_LOCK:
        limiter = _REGISTRY.get(key)
        if limiter is None or limiter.buckets != wanted:
            limiter = RateLimiter(wanted)
            _REGISTRY[key] = limiter
        return limiter


def is_lifted(limit: int, window: float) -> bool:
    """Whether a bucket of `limit` calls per `window` seconds allows LIFTED_RATE calls per second or more: a
    budget no client reaches, so it need not be counted."""
    return limit >= LIFTED_RATE * window


def shared_buckets(defaults: Callable[[], BucketSpec]) -> Callable[..., Limiter]:
    """A limiter factory for a CRM kind: (key, overrides, store=None) -> the limiter for `key` with the
    `defaults()` buckets, each bucket named in `overrides` replaced by its (limit, window): shared by every
    process using `store`, or process-wide without one. In the store, lifted buckets (`is_lifted`) are not
    counted: a call in one asks nothing of the store."""

    def limiter(key: str, overrides: BucketSpec, store: LimitStore | None = None) -> Limiter:
        buckets = {**defaults(), **overrides}
        if store is None:
            return limiter_for(key, buckets)
        return StoredLimiter(store, key, {name: (window_step(int(limit), float(window)), float(window))
                                          for name, (limit, window) in buckets.items()
                                          if not is_lifted(int(limit), float(window))},
                             lifted=[name for name, (limit, window) in buckets.items()
                                     if is_lifted(int(limit), float(window))])

    return limiter


def forget_limiter(key: str) -> None:
    """Drop the limiter for `key` (e.g. when a connection is deleted); unknown keys are ignored."""
    with _REGISTRY_LOCK:
        _REGISTRY.pop(key, None)


class LimitStore(Protocol):
    """Where limiter state lives when several processes share it (the service picks PostgreSQL or Redis)."""

    def update(self, key: str, step: Step, ttl_seconds: float) -> float:
        """Atomically, against every other process: read the state of `key` (None when absent or older than its
        ttl), call `step(state, now)` with the store's clock, keep the state it returns for `ttl_seconds`, and
        return its wait. Raises whatever the store raises when it is unreachable."""


def window_step(limit: int, window: float) -> Step:
    """The rolling window of RateLimiter as a step: the state is the start times of the last `limit` calls."""

    def step(state: Any, now: float) -> tuple[Any, float]:
        calls = [float(t) for t in (state or []) if now - window < float(t) <= now + window][-limit:]
        if len(calls) < limit:
            return [*calls, now], 0.0
        return calls, max(calls[0] + window - now, 1e-6)

    return step


class StoredLimiter:
    """A Limiter whose buckets live in a LimitStore under `key:bucket`, so every process sharing the store
    shares the budget. `buckets` maps a bucket name to its (step, ttl seconds); with `one_counter`, every
    bucket name counts in the first bucket (a CRM counting all methods together). Calls in a `lifted` bucket go
    at once, uncounted, without asking the store."""

    def __init__(self, store: LimitStore, key: str, buckets: Mapping[str, tuple[Step, float]], *,
                 one_counter: bool = False, lifted: Iterable[str] = (), clock: Clock = time.monotonic,
                 sleep: Sleep = time.sleep) -> None:
        """Raises ValueError without buckets (counted or lifted), or with one_counter and lifted buckets."""
        self._lifted = frozenset(lifted) - set(buckets)
        if not buckets and not self._lifted:
            raise ValueError("a rate limiter needs at least one bucket")
        if one_counter and self._lifted:
            raise ValueError("one counter cannot have lifted buckets")
        self._store = store
        self._key = key
        self._buckets = dict(buckets)
        self._first = next(iter(self._buckets), "")
        self._one_counter = one_counter
        self._clock = clock
        self._sleep = sleep

    def try_acquire(self, bucket: str = "default") -> float:
        """Take a slot if one is free and return 0.0; otherwise the seconds to wait. KeyError for an unknown
        bucket (never with one_counter)."""
        if bucket in self._lifted:
            return 0.0
        name = self._first if self._one_counter else bucket
        if name not in self._buckets:
            raise KeyError(f"unknown rate-limit bucket {bucket!r}")
        step, ttl = self._buckets[name]
        return self._store.update(f"{self._key}:{name}", step, ttl)

    def acquire(self, bucket: str = "default", *, timeout: float | None = None) -> float:
        """Block until the bucket has a free slot, take it, and return the seconds waited.

        Raises KeyError for an unknown bucket and RateLimitTimeoutError when `timeout` would be exceeded.
        """
        if bucket in self._lifted:
            return 0.0
        return wait_for_slot(self.try_acquire, bucket, timeout, self._clock, self._sleep, f"{bucket!r} slot")


class MemoryStore:
    """A LimitStore in this process's memory (tests; one process needs no store at all)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._states: dict[str, tuple[Any, float]] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def update(self, key: str, step: Step, ttl_seconds: float) -> float:
        """See LimitStore.update."""
        with self._lock:
            now = self._clock()
            state, expires = self._states.get(key, (None, now))
            new_state, wait = step(state if expires > now else None, now)
            self._states[key] = (new_state, now + ttl_seconds)
            return wait
