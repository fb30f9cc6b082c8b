"""The people of a connection's CRM, mirrored so reports can name who owns a deal and who moved it: read with
every sync (and every pipeline refresh); a user the CRM no longer lists is kept, marked inactive, since old
deals and moves still name them."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import CRMAdapter, OwnerInfo
from adapters.errors import CRMError
from service.models import CrmUser
from service.runtime import Runtime

log = logging.getLogger("qualify.people")


def apply_people(session: Session, connection_id: int, owners: Iterable[OwnerInfo]) -> int:
    """Upsert the CRM's users of a connection in the session's transaction; those not listed become
    inactive. Returns how many users the CRM listed."""
    stored = {u.external_id: u for u in session.scalars(select(CrmUser).where(CrmUser.connection_id == connection_id))}
    listed = 0
    for owner in owners:
        listed += 1
        row = stored.pop(owner.id, None) or CrmUser(connection_id=connection_id, external_id=owner.id)
        row.user_id, row.name, row.email, row.active = owner.user_id or owner.id, owner.name[:200], owner.email, \
            owner.active
        session.add(row)
    for gone in stored.values():
        gone.active = False
    return listed


def refresh_people(runtime: Runtime, connection_id: int, adapter: CRMAdapter) -> int:
    """Read the CRM's users with `adapter` (no transaction open meanwhile) and mirror them; a CRM error is
    logged and leaves the stored users as they were (the reports still name them). Returns how many."""
    try:
        owners = adapter.list_owners()
    except CRMError as exc:
        log.warning("connection %s: users not read: %s", connection_id, exc)
        return 0
    with runtime.uow() as uow:
        listed = apply_people(uow.session, connection_id, owners)
        uow.commit()
    return listed


def people_of(runtime: Runtime, connection_id: int) -> list[dict[str, Any]]:
    """The stored users of a connection, by name."""
    with runtime.read_uow() as uow:
        return [{"id": u.external_id, "user_id": u.user_id, "name": u.name, "email": u.email, "active": u.active}
                for u in uow.session.scalars(select(CrmUser).where(CrmUser.connection_id == connection_id)
                                             .order_by(CrmUser.name, CrmUser.external_id))]
