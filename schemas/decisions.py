"""The shape of a gate decision and its issues, as the API answers and transitions store them.

The functions build exactly what IssueSchema and DecisionSchema describe, by hand: the synchronous gate
check is a hot path, and a second marshmallow pass per answer costs more than the decision itself. They read
the domain objects by attribute (schemas never import the service); enum members are turned into their
values with str().
"""

from __future__ import annotations

from typing import Any


def issue_view(issue: Any) -> dict[str, Any]:
    """One missing or invalid field (a domain FieldIssue) as IssueSchema describes it."""
    return {
        "field": issue.field, "label": issue.label, "reason": str(issue.reason), "constraint": issue.constraint,
        "stage": issue.stage_id, "mode": str(issue.mode), "message": issue.message,
    }


def decision_view(decision: Any) -> dict[str, Any]:
    """A domain Decision as DecisionSchema describes it."""
    return {
        "outcome": str(decision.outcome), "direction": str(decision.direction),
        "gated_stages": list(decision.gated_stages), "issues": [issue_view(i) for i in decision.issues],
        "message": decision.message,
    }
