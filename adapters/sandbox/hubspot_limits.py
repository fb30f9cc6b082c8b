"""Rate limits and failure injection for the HubSpot sandbox.

Limits per https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines:
a rolling ten-second burst window per app (100 for privately distributed apps), a daily count,
and a separate search bucket (5 requests/s) whose responses carry no rate-limit headers.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from adapters.sandbox import hubspot_errors as errors

FAILURE_MODES = frozenset({"500", "503", "429", "401", "timeout"})


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


@dataclass
class Failure:
    mode: str
    count: int
    path_prefix: str
    method: str | None
    retry_after: float
    delay: float


class FailureInjector:
    """Queue of one-shot failures; the first rule matching a request fires and counts down."""

    def __init__(self) -> None:
        self._rules: list[Failure] = []

    def add(self, rule: Failure) -> None:
        if rule.mode not in FAILURE_MODES:
            raise ValueError(f"unknown failure mode {rule.mode!r}; use one of {sorted(FAILURE_MODES)}")
        if rule.count < 1:
            raise ValueError("count must be at least 1")
        self._rules.append(rule)

    def take(self, method: str, path: str) -> Failure | None:
        for rule in self._rules:
            if path.startswith(rule.path_prefix) and (rule.method is None or rule.method.upper() == method):
                rule.count -= 1
                if rule.count <= 0:
                    self._rules.remove(rule)
                return rule
        return None

    def clear(self) -> None:
        self._rules.clear()


def failure_error(rule: Failure) -> errors.HubSpotApiError:
    """The response an injected failure produces (not used for `timeout`)."""
    if rule.mode == "429":
        error = errors.rate_limited("TEN_SECONDLY_ROLLING", rule.retry_after, "injected")
        # Exact value (may be fractional) so tests of Retry-After handling stay fast.
        seconds = rule.retry_after
        error.headers["Retry-After"] = str(int(seconds)) if float(seconds).is_integer() else str(seconds)
        return error
    if rule.mode == "401":
        return errors.unauthorized()
    if rule.mode == "503":
        return errors.unavailable()
    return errors.internal_error()
