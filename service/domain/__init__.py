"""Pure domain layer of Qualify: field values, conditions, stage gating and messages.

Nothing here performs I/O or imports web/database/HTTP libraries; every function works on
plain values and frozen dataclasses so it can be unit-tested and reused by any caller.
"""
