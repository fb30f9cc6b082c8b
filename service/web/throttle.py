"""Failed sign-ins are throttled per client address like failed API keys (service/api/security.py): only
failures count, QUALIFY_AUTH_FAILURES_PER_MINUTE of them, in Redis when QUALIFY_REDIS_URL is set so every
web replica shares the count. The budget is separate from the API's."""

from __future__ import annotations

import time

from flask_limiter.util import get_remote_address
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from service.config import Settings

NAMESPACE = "qualify-web-signin"


class SignInThrottle:
    """Counts failed sign-ins of the current client; `blocked()` once the budget of the minute is spent."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.auth_failures_per_minute > 0
        self._item = RateLimitItemPerMinute(max(settings.auth_failures_per_minute, 1))
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.redis_url or "memory://"))

    def blocked(self) -> bool:
        """Whether the current client has no failed attempt left this minute."""
        return self.enabled and not self._limiter.test(self._item, NAMESPACE, get_remote_address())

    def failed(self) -> None:
        """Count a failed sign-in of the current client."""
        if self.enabled:
            self._limiter.hit(self._item, NAMESPACE, get_remote_address())

    def retry_after(self) -> int:
        """Seconds until the current client may try again."""
        reset, _ = self._limiter.get_window_stats(self._item, NAMESPACE, get_remote_address())
        return max(1, int(reset - time.time()) + 1)
