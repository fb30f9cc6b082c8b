"""CRM adapters: one module per CRM behind the small Protocol in adapters.base, each CRM declared once in
adapters.registry (its entry in adapters/<crm>_kind.py).

Adapters never import service/; the service depends on them, not the other way round.
"""
