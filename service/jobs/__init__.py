"""Background work: the event/outbox worker and the scheduled jobs."""
