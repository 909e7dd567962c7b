"""The web pages of Urbis: the mayor's dashboard and the operator console (server-rendered, htmx)."""
