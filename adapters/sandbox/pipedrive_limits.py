"""Rate limits and failure injection for the Pipedrive sandbox.

Per https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting: a burst limit per token per 2-second
window (Professional: 80 per api_token) and a daily budget. Every answer carries `x-ratelimit-limit`,
`x-ratelimit-remaining`, `x-ratelimit-reset` (seconds left in the window) and `x-daily-requests-left`.
The sandbox counts the daily budget in requests (one token per request), not in per-endpoint token costs.
"""

from __future__ import annotations

import math

from adapters.sandbox import pipedrive_errors as errors
from adapters.sandbox.failures import Failure, FailureInjector
from adapters.sandbox.hubspot_limits import RollingWindow

FAILURE_MODES = frozenset({"500", "503", "429", "429-daily", "401", "timeout"})


class Limits:
    """The burst window of the one API token and the company's daily budget."""

    def __init__(self, burst: tuple[int, float], daily: int) -> None:
        self.burst = RollingWindow(*burst)
        self.daily = daily
        self.daily_used = 0

    def admit(self) -> dict[str, str]:
        """Count a request; returns the rate-limit headers, or raises a 429 PipedriveApiError."""
        if self.daily_used >= self.daily:
            raise errors.rate_limited(self.headers(self.burst.max_requests, self.burst.seconds), daily=True)
        ok, remaining, wait = self.burst.acquire()
        if not ok:
            raise errors.rate_limited(self.headers(0, wait))
        self.daily_used += 1
        return self.headers(remaining, self.burst.seconds)

    def headers(self, remaining: int, reset: float) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.burst.max_requests),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(max(1, math.ceil(reset))),
            "x-daily-requests-left": str(max(0, self.daily - self.daily_used)),
        }

    def reset(self) -> None:
        self.burst.reset()
        self.daily_used = 0


class PipedriveFailures(FailureInjector):
    """The shared one-shot failure queue with Pipedrive's modes (adds "429-daily")."""

    def __init__(self) -> None:
        super().__init__(FAILURE_MODES)


def failure_error(rule: Failure, limits: Limits) -> errors.PipedriveApiError:
    """The response an injected failure produces (not used for `timeout`).

    "429" is a burst 429 (remaining 0, x-ratelimit-reset = retry_after, kept fractional so tests stay fast);
    "429-daily" leaves room in the burst window and reports x-daily-requests-left: 0.
    """
    if rule.mode == "429":
        retry_after = 1.0 if rule.retry_after is None else rule.retry_after
        headers = limits.headers(0, retry_after)
        headers["x-ratelimit-reset"] = f"{retry_after:g}"
        return errors.rate_limited(headers)
    if rule.mode == "429-daily":
        headers = limits.headers(max(1, limits.burst.max_requests - 1), limits.burst.seconds)
        headers["x-daily-requests-left"] = "0"
        return errors.rate_limited(headers, daily=True)
    if rule.mode == "401":
        return errors.unauthorized()
    if rule.mode == "503":
        return errors.unavailable()
    return errors.internal_error()
