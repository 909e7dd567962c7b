"""What residents tell the city and decide with it: problem reports (Open311), participation, privacy.

Reports arrive from the citizen app and from Open311 clients, are routed to a department,
joined to the faults the city's own assets reported, and mirrored into the context as
``ServiceRequest`` entities with their public fields only; who sent them stays in a store of its own.
"""
