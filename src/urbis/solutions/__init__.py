"""City solutions: street lighting, air quality and parking.

Each solution reads the city through the context broker and its subscriptions, writes
derived entities, alarms and commands back through it, and serves its own API under
``/api/v1/<solution>``. Every folder has the same files (const, model, service, store,
views, api); ``model`` holds the pure rules. Solutions never import one another.
"""
