"""Client-side leaky-bucket limiting, the algorithm Bitrix24 uses on its side.

Bitrix24 keeps a request counter per portal (and source IP) that every call raises by one and that
drains by Y per second; above X the portal answers 503 QUERY_LIMIT_EXCEEDED. X/Y are 50/2 on
ordinary plans and 250/5 on Enterprise (https://github.com/bitrix24/b24restdocs/blob/main/limits.md).
`LeakyBucket` mirrors that counter locally so we wait before Bitrix24 would refuse us. It has the
same `acquire(bucket)` / `try_acquire(bucket)` interface as `adapters.ratelimit.RateLimiter`, so it
can be passed wherever a `limiter` is taken; every bucket name shares the one counter because
Bitrix24 counts all methods together. `stored_leaky_bucket` keeps the same counter in a `LimitStore`, so every
process calling one portal counts against the same bucket.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from adapters.ratelimit import LimitStore, Step, StoredLimiter, wait_for_slot

Clock = Callable[[], float]
Sleep = Callable[[float], None]

STANDARD_PLAN = (2.0, 50)  # (drain per second, capacity) on every plan but Enterprise
ENTERPRISE_PLAN = (5.0, 250)
# Calls our counter keeps free under the portal's capacity: a request reaches Bitrix24 a little later than
# we count it, so a counter run at exactly the portal's capacity is occasionally refused.
CLIENT_HEADROOM = 2


class LeakyBucket:
    """A thread-safe leaky bucket: `capacity` calls at once, refilled at `drain_rate` per second."""

    def __init__(
        self,
        drain_rate: float = STANDARD_PLAN[0],
        capacity: int = STANDARD_PLAN[1],
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        """Raises ValueError for a drain rate <= 0 or a capacity < 1."""
        if drain_rate <= 0 or capacity < 1:
            raise ValueError("a leaky bucket needs drain_rate > 0 and capacity >= 1")
        self.drain_rate = float(drain_rate)
        self.capacity = int(capacity)
        self._clock = clock
        self._sleep = sleep
        self._level = 0.0
        self._updated = clock()
        self._lock = threading.Lock()

    @classmethod
    def for_plan(
        cls, plan: str = "standard", *, headroom: int = 0, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> LeakyBucket:
        """The bucket for a Bitrix24 plan: "standard" (2/s, 50) or "enterprise" (5/s, 250), its capacity
        lowered by `headroom` (CLIENT_HEADROOM for our own side of a portal).

        Raises ValueError for another plan name.
        """
        rate, capacity = _plan(plan)
        return cls(rate, capacity - headroom, clock=clock, sleep=sleep)

    @property
    def level(self) -> float:
        """The counter now (calls still "in the bucket"), after draining."""
        with self._lock:
            self._drain()
            return self._level

    def _drain(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._level = max(0.0, self._level - elapsed * self.drain_rate)
        self._updated = now

    def try_acquire(self, bucket: str = "default") -> float:
        """Count one call and return 0.0 if the bucket has room; otherwise the seconds to wait.

        `bucket` is accepted for RateLimiter compatibility and ignored (one counter per portal).
        """
        with self._lock:
            self._drain()
            if self._level + 1.0 <= self.capacity + 1e-9:
                self._level += 1.0
                return 0.0
            return max((self._level + 1.0 - self.capacity) / self.drain_rate, 1e-6)

    def acquire(self, bucket: str = "default", *, timeout: float | None = None) -> float:
        """Block until the call fits, count it, and return the seconds waited.

        Raises RateLimitTimeoutError when `timeout` would be exceeded.
        """
        return wait_for_slot(self.try_acquire, bucket, timeout, self._clock, self._sleep, "leaky-bucket room")

    def reset(self) -> None:
        """Empty the bucket (tests, sandbox reset)."""
        with self._lock:
            self._level = 0.0
            self._updated = self._clock()


_SHARED: dict[str, LeakyBucket] = {}
_SHARED_LOCK = threading.Lock()


def leaky_bucket_for(key: str) -> LeakyBucket:
    """The process-wide bucket for `key` (e.g. a connection id): a standard-plan bucket lowered by
    CLIENT_HEADROOM, made on first use; later calls with the same key return the same bucket."""
    with _SHARED_LOCK:
        bucket = _SHARED.get(key)
        if bucket is None:
            bucket = _SHARED[key] = LeakyBucket.for_plan("standard", headroom=CLIENT_HEADROOM)
        return bucket


def _plan(plan: str) -> tuple[float, int]:
    plans = {"standard": STANDARD_PLAN, "enterprise": ENTERPRISE_PLAN}
    if plan not in plans:
        raise ValueError(f"unknown Bitrix24 plan {plan!r}; expected one of {sorted(plans)}")
    return plans[plan]


def leaky_step(drain_rate: float, capacity: int) -> Step:
    """LeakyBucket as a step over a stored [level, when it was measured]: drained at `drain_rate` per second
    since then, one call counted when it fits under `capacity`, else the seconds until it would."""

    def step(state: Any, now: float) -> tuple[Any, float]:
        level, at = (float(state[0]), float(state[1])) if state else (0.0, now)
        level = max(0.0, level - max(0.0, now - at) * drain_rate)
        if level + 1.0 <= capacity + 1e-9:
            return [level + 1.0, now], 0.0
        return [level, now], max((level + 1.0 - capacity) / drain_rate, 1e-6)

    return step


def stored_leaky_bucket(store: LimitStore, key: str, plan: str = "standard",
                        headroom: int = CLIENT_HEADROOM) -> StoredLimiter:
    """The bucket of `key` kept in `store`, shared by every process using it: a `plan` bucket ("standard" or
    "enterprise") lowered by `headroom`, one counter for every bucket name. ValueError for another plan."""
    rate, capacity = _plan(plan)
    # The state is meaningless once the bucket has drained: kept as long as a full bucket takes to drain.
    return StoredLimiter(store, key, {"default": (leaky_step(rate, capacity - headroom), capacity / rate)},
                         one_counter=True)
