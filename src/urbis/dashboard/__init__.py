"""The mayor's dashboard and the operator console: read models that combine every solution's data.

Nothing here computes a solution's figures itself: it asks the solutions' services and puts the
answers side by side (the overview's headline figures, the map's layers, the charts' series, the
monthly report).  The pages and their JSON twins in ``urbis.web.ui`` render these read models.
"""
