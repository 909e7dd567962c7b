"""The NGSI-LD context broker: entities, attributes, queries, JSON-LD contexts.

Everyone else reads and writes the city through :mod:`urbis.context.service`.
"""
