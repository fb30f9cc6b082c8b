"""One-shot failure injection shared by the path-routed sandboxes (HubSpot, Pipedrive, amoCRM)."""

from __future__ import annotations

from dataclasses import dataclass

BASE_FAILURE_MODES = frozenset({"500", "503", "429", "401", "timeout"})


@dataclass
class Failure:
    """A queued failure for the next `count` requests whose path starts with `path_prefix`."""

    mode: str
    count: int = 1
    path_prefix: str = "/"
    method: str | None = None
    retry_after: float | None = None
    delay: float = 10.0


class FailureInjector:
    """Queue of one-shot failures; the first rule matching a request fires and counts down."""

    def __init__(self, modes: frozenset[str] = BASE_FAILURE_MODES) -> None:
        self.modes = modes
        self.rules: list[Failure] = []

    def add(self, rule: Failure) -> None:
        """Queue `rule`; raises ValueError for an unknown mode or a count below 1."""
        if rule.mode not in self.modes:
            raise ValueError(f"unknown failure mode {rule.mode!r}; use one of {sorted(self.modes)}")
        if rule.count < 1:
            raise ValueError("count must be at least 1")
        self.rules.append(rule)

    def take(self, method: str, path: str) -> Failure | None:
        """The first rule matching this request (counted down, dropped when spent), or None."""
        for rule in self.rules:
            if path.startswith(rule.path_prefix) and (rule.method is None or rule.method.upper() == method):
                rule.count -= 1
                if rule.count <= 0:
                    self.rules.remove(rule)
                return rule
        return None

    def clear(self) -> None:
        """Drop every queued rule."""
        self.rules.clear()
