"""The HTTP face of Urbis: protocol bindings and pages, no business logic."""
