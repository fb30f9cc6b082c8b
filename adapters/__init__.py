"""CRM adapters: one module per CRM behind the small Protocol in adapters.base.

Adapters never import service/; the service depends on them, not the other way round.
"""
