"""NGSI-LD subscriptions: storage, matching of entity changes, and notification delivery."""
