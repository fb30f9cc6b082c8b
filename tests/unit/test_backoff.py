"""Outbox retry delays: capped exponential backoff with jitter that honours Retry-After."""

from __future__ import annotations

import random

from service.services.outbox import backoff_seconds


def test_delays_grow_exponentially_until_the_cap() -> None:
    rng = random.Random(1)
    ceilings = [max(backoff_seconds(n, None, 60, rng) for _ in range(200)) for n in range(1, 10)]
    assert ceilings[0] <= 2.0
    assert ceilings[3] > ceilings[0]
    assert max(ceilings) <= 60


def test_jitter_spreads_delays() -> None:
    rng = random.Random(2)
    assert len({round(backoff_seconds(4, None, 300, rng), 3) for _ in range(20)}) > 10


def test_a_delay_is_never_shorter_than_retry_after() -> None:
    rng = random.Random(3)
    assert all(backoff_seconds(1, 45.0, 300, rng) >= 45.0 for _ in range(50))
