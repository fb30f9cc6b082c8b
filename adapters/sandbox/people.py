"""The people of a sandbox CRM and the channels its UI helpers can act through.

Every sandbox seeds at least four active users and one deactivated one, lists them with `users()`, adds more
with `add_user(...)` and deactivates or reactivates them with `set_user_active(user_id, active)`, so a test can
build a team (owners, movers) and know every id. Its UI helpers (`ui_create_deal`, `ui_move_deal`, ...) take
`user_id` (who acts) and `source` (through what); each sandbox reports the change as its CRM does:

- ``ui``: a person in the web app;
- ``api``: a call with the API token (as the sandbox's own API answers it: HubSpot reports its private app's
  writes as INTEGRATION with the app id and no user; Pipedrive as change_source "api" with the acting user;
  amoCRM and Bitrix24 say nothing of the channel, only the user);
- ``import``, ``automation``: where the CRM reports them (HubSpot only); elsewhere a ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass

UI, API, IMPORT, AUTOMATION = "ui", "api", "import", "automation"


@dataclass(frozen=True)
class SandboxUser:
    """A person of a sandbox CRM: deals name `owner_id` as their owner, UI helpers act as `user_id` (the same
    number except in HubSpot, whose owners and users have different ids)."""

    owner_id: str
    user_id: int
    name: str
    email: str
    active: bool = True


def check_source(source: str, allowed: tuple[str, ...], crm: str) -> str:
    """`source` when this CRM's sandbox can act through it; ValueError naming the ones it can otherwise."""
    if source not in allowed:
        raise ValueError(f"{crm} reports no {source!r} changes; its sandbox acts through {', '.join(allowed)}")
    return source
