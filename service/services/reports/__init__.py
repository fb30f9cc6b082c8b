"""The qualification report: one definition (filters.py), its sections, each computed by SQL aggregates and
finished by the pure arithmetic of service/domain/report_math.py, and the drill-down to the deals behind
every number."""
