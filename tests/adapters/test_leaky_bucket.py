"""LeakyBucket with a fake clock: burst, drain, blocking acquire, plans."""

from __future__ import annotations

import pytest

from adapters.leaky_bucket import CLIENT_HEADROOM, ENTERPRISE_PLAN, STANDARD_PLAN, LeakyBucket
from adapters.ratelimit import RateLimitTimeoutError


class FakeClock:
    """A monotonic clock that only moves when told to (or when `sleep` is called)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make(rate: float = 2.0, capacity: int = 5) -> tuple[LeakyBucket, FakeClock]:
    clock = FakeClock()
    return LeakyBucket(rate, capacity, clock=clock, sleep=clock.sleep), clock


def test_given_empty_bucket_when_burst_up_to_capacity_then_all_pass_and_next_waits() -> None:
    bucket, _ = make(2.0, 5)

    assert [bucket.try_acquire() for _ in range(5)] == [0.0] * 5
    assert bucket.try_acquire() == pytest.approx(0.5)  # one slot drains in 1/2 s


def test_given_full_bucket_when_time_passes_then_it_drains_at_the_rate() -> None:
    bucket, clock = make(2.0, 5)
    for _ in range(5):
        bucket.try_acquire()

    clock.now += 1.0

    assert bucket.level == pytest.approx(3.0)
    assert [bucket.try_acquire() for _ in range(2)] == [0.0, 0.0]
    assert bucket.try_acquire() > 0


def test_given_idle_bucket_when_long_pause_then_level_never_goes_below_zero() -> None:
    bucket, clock = make(2.0, 5)
    bucket.try_acquire()

    clock.now += 3600

    assert bucket.level == 0.0
    assert [bucket.try_acquire() for _ in range(5)] == [0.0] * 5


def test_given_full_bucket_when_acquire_then_sleeps_until_a_slot_drains() -> None:
    bucket, clock = make(2.0, 3)
    for _ in range(3):
        bucket.acquire()

    waited = bucket.acquire("anything")  # every bucket name shares the one counter

    assert waited == pytest.approx(0.5)
    assert clock.slept == [pytest.approx(0.5)]


def test_given_sustained_calls_when_acquire_then_throughput_is_the_drain_rate() -> None:
    bucket, clock = make(2.0, 10)
    start = clock.now

    for _ in range(30):
        bucket.acquire()

    assert clock.now - start == pytest.approx((30 - 10) / 2.0)


def test_given_full_bucket_when_acquire_with_short_timeout_then_raises() -> None:
    bucket, _ = make(1.0, 1)
    bucket.acquire()

    with pytest.raises(RateLimitTimeoutError):
        bucket.acquire(timeout=0.1)


def test_given_plans_when_for_plan_then_standard_and_enterprise_limits() -> None:
    standard, enterprise = LeakyBucket.for_plan("standard"), LeakyBucket.for_plan("enterprise")

    assert (standard.drain_rate, standard.capacity) == STANDARD_PLAN == (2.0, 50)
    assert (enterprise.drain_rate, enterprise.capacity) == ENTERPRISE_PLAN == (5.0, 250)
    with pytest.raises(ValueError):
        LeakyBucket.for_plan("gold")
    ours = LeakyBucket.for_plan("standard", headroom=CLIENT_HEADROOM)
    assert (ours.drain_rate, ours.capacity) == (2.0, 50 - CLIENT_HEADROOM)


@pytest.mark.parametrize(("rate", "capacity"), [(0.0, 5), (-1.0, 5), (2.0, 0)])
def test_given_bad_spec_when_built_then_value_error(rate: float, capacity: int) -> None:
    with pytest.raises(ValueError):
        LeakyBucket(rate, capacity)


def test_given_used_bucket_when_reset_then_empty() -> None:
    bucket, _ = make(2.0, 2)
    bucket.try_acquire()
    bucket.try_acquire()

    bucket.reset()

    assert bucket.level == 0.0
