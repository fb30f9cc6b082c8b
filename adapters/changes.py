"""Who made a change in a CRM, and through what: the normalized vocabulary every adapter speaks.

`WebhookEvent.source` and `StageChange.source` say through what a change was made, whatever the CRM calls it
(HubSpot's changeSource/sourceType, Pipedrive's meta.change_source; docs/crms.md maps each CRM's values):

- ``ui``: a person in the CRM's web or mobile app;
- ``api``: a call to the CRM's API that the CRM does not attribute to an installed app;
- ``integration``: an installed app or connector (HubSpot tells these from plain API calls);
- ``automation``: a workflow, robot or sequence of the CRM;
- ``import``: a data import or migration;
- ``unknown``: the CRM does not say (amoCRM, Bitrix24) or says something not listed here.

Who made it is an actor string as the CRM gives it (HubSpot's "userId:45678", the others' user ids); each
registry entry's `actor_user_id` turns it into the CRM user id that `OwnerInfo.user_id` names.
"""

from __future__ import annotations

import re

SOURCES = ("ui", "api", "integration", "automation", "import", "unknown")
_USER_ID = re.compile(r"[0-9]{1,20}")  # [0-9], not \d: \d takes every script's digits


def numeric_user_id(actor: str | None) -> str | None:
    """The actor as given when it is a CRM user id: 1..20 ASCII digits, not all zeros (none of the four CRMs
    numbers a user 0, so a 0 names no one); None otherwise."""
    if actor is None or not _USER_ID.fullmatch(actor) or not actor.strip("0"):
        return None
    return actor
