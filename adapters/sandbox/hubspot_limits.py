"""Rate limits and the injected-failure answers of the HubSpot sandbox.

Limits per https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines:
a rolling ten-second burst window per app (100 for privately distributed apps), a daily count,
and a separate search bucket (5 requests/s) whose responses carry no rate-limit headers.
"""

from __future__ import annotations

import time
from collections import deque

from adapters.sandbox import hubspot_errors as errors
from adapters.sandbox.failures import Failure


class RollingWindow:
    """At most `max_requests` in any `seconds`-long window."""

    def __init__(self, max_requests: int, seconds: float) -> None:
        self.max_requests = max_requests
        self.seconds = seconds
        self._hits: deque[float] = deque()

    def acquire(self) -> tuple[bool, int, float]:
        """Count one request if allowed; returns (allowed, remaining, seconds until a slot frees)."""
        now = time.monotonic()
        while self._hits and now - self._hits[0] >= self.seconds:
            self._hits.popleft()
        if len(self._hits) >= self.max_requests:
            return False, 0, self.seconds - (now - self._hits[0])
        self._hits.append(now)
        return True, self.max_requests - len(self._hits), 0.0

    def reset(self) -> None:
        self._hits.clear()


class Limits:
    """Burst, search and daily budgets of one app/portal."""

    def __init__(self, burst: tuple[int, float], search: tuple[int, float], daily: int, app_id: int) -> None:
        self.burst = RollingWindow(*burst)
        self.search = RollingWindow(*search)
        self.daily = daily
        self.daily_used = 0
        self.app_id = app_id

    def admit(self, is_search: bool) -> dict[str, str]:
        """Count a request; returns the rate-limit headers, or raises a 429 HubSpotApiError."""
        if self.daily_used >= self.daily:
            raise errors.rate_limited("DAILY", 60.0, f"api-calls-daily:{self.app_id}")
        if is_search:
            ok, _, wait = self.search.acquire()
            if not ok:
                raise errors.rate_limited("SECONDLY", wait, f"api-calls-search:{self.app_id}")
            self.daily_used += 1
            return {}
        ok, remaining, wait = self.burst.acquire()
        headers = self.headers(remaining)
        if not ok:
            error = errors.rate_limited("TEN_SECONDLY_ROLLING", wait, f"api-calls-ten-secondly:{self.app_id}")
            error.headers.update(headers)
            raise error
        self.daily_used += 1
        headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, self.daily - self.daily_used))
        return headers

    def headers(self, remaining: int) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.burst.seconds * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.burst.max_requests),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Daily": str(self.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily - self.daily_used)),
        }

    def reset(self) -> None:
        self.burst.reset()
        self.search.reset()
        self.daily_used = 0


def failure_error(rule: Failure) -> errors.HubSpotApiError:
    """The response an injected failure produces (not used for `timeout`)."""
    if rule.mode == "429":
        seconds = 1.0 if rule.retry_after is None else rule.retry_after
        error = errors.rate_limited("TEN_SECONDLY_ROLLING", seconds, "injected")
        # Exact value (may be fractional) so tests of Retry-After handling stay fast.
        error.headers["Retry-After"] = str(int(seconds)) if float(seconds).is_integer() else str(seconds)
        return error
    if rule.mode == "401":
        return errors.unauthorized()
    if rule.mode == "503":
        return errors.unavailable()
    return errors.internal_error()
