"""Domain errors: every one is a ``ValueError`` carrying per-field messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(ValueError):
    """A domain rule was violated.

    ``errors`` maps a field path (for example ``"required_if.all[1].op"``) to its messages,
    so the API layer can report every failing field at once; ``message`` is a summary.
    """

    def __init__(self, message: str, errors: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in (errors or {}).items()}

    def __str__(self) -> str:
        if not self.errors:
            return self.message
        details = "; ".join(f"{path}: {', '.join(msgs)}" for path, msgs in self.errors.items())
        return f"{self.message} ({details})"


class ConditionError(DomainError):
    """A ``required_if`` condition is malformed (shape, operator, value, depth or field)."""


class FieldSpecError(DomainError):
    """A field definition is invalid (key, type, constraints or options)."""


class PipelineError(DomainError):
    """A pipeline or stage is unknown, or a pipeline definition is inconsistent."""
