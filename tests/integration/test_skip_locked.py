"""On PostgreSQL two workers never claim the same event (SELECT ... FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from service.models import InboundEvent
from service.runtime import Runtime
from service.services.events import claim_events
from tests.integration.test_storage import add_connection


def test_concurrent_claims_never_hand_out_an_event_twice(runtime: Runtime) -> None:
    cid = add_connection(runtime)
    with runtime.uow() as uow:
        for i in range(200):
            uow.session.add(InboundEvent(connection_id=cid, delivery_key=f"k{i}", object_id=str(i), kind="x",
                                         occurred_at=datetime.now(UTC), payload={}))
        uow.commit()
    claimed: list[int] = []
    lock = threading.Lock()

    def claim_all() -> None:
        while True:
            ids = claim_events(runtime, 7)
            if not ids:
                return
            with lock:
                claimed.extend(ids)

    threads = [threading.Thread(target=claim_all) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(claimed) == 200
    assert len(set(claimed)) == 200
