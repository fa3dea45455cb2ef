"""The model inventory's pure parts: which versions serve, and the model card.

Governance keeps the inventory from the events it consumes, never from another service's
tables; how it is stored and read is ``store/projection.py`` and
``store/inventory_queries.py``.
"""
