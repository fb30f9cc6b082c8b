"""How to act as a person in a CRM's sandbox: the `Scenario` each sandbox module's `demo_scenario()` returns.

`qualify demo` and the end-to-end tests play the same story on every CRM through it: create a deal,
move it, fill in a field, and read back its stage and the tasks Qualify left on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Scenario:
    """A started sandbox and the moves of a person in it, in the CRM's own ids."""

    kind: str  # the registry name of the CRM
    sandbox: Any  # the started sandbox (its base_url, its /_sandbox/ controls)
    connection: dict[str, Any]  # the connection body's CRM-specific part (base_url, secrets, account_id)
    create: Callable[[str, str], str]  # (pipeline, stage) -> new deal id
    move: Callable[[str, str, str], None]  # (deal, pipeline, stage)
    update: Callable[[str, dict[str, Any]], None]  # (deal, {CRM property: value})
    stage: Callable[[str], str]  # deal -> its stage id now
    tasks: Callable[[str], list[Any]]  # deal -> the tasks (to-dos, activities) on it

    def stop(self) -> None:
        """Stop the sandbox."""
        self.sandbox.stop()
