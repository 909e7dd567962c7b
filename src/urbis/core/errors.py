"""The one error hierarchy of Urbis.

Services raise these; each web surface renders them in its own shape (NGSI-LD
ProblemDetails, Open311, CKAN, HTML).  ``code`` is the NGSI-LD error type name,
which doubles as the stable machine-readable code on the other surfaces.
"""

from __future__ import annotations

from typing import Any


class UrbisError(Exception):
    """Base of every error a service may raise on purpose."""

    code = "InternalError"
    status = 500
    title = "Internal error"

    def __init__(self, detail: str, *, title: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(detail)
        self.detail = detail
        if title is not None:
            self.title = title
        self.extra = extra or {}


class InvalidRequest(UrbisError):
    """The request itself is malformed (syntax, unknown parameter, bad JSON)."""

    code = "InvalidRequest"
    status = 400
    title = "Invalid request"


class BadRequestData(UrbisError):
    """The request is well formed but its content breaks the data model."""

    code = "BadRequestData"
    status = 400
    title = "Bad request data"


class NotFound(UrbisError):
    """The addressed resource does not exist (in this tenant)."""

    code = "ResourceNotFound"
    status = 404
    title = "Resource not found"


class NonexistentTenant(UrbisError):
    """The tenant named in the request is unknown."""

    code = "NonexistentTenant"
    status = 404
    title = "Tenant does not exist"


class AlreadyExists(UrbisError):
    """A resource with this identifier already exists."""

    code = "AlreadyExists"
    status = 409
    title = "Already exists"


class Conflict(UrbisError):
    """The request conflicts with the current state."""

    code = "Conflict"
    status = 409
    title = "Conflict"


class OperationNotSupported(UrbisError):
    """The operation is understood but not supported here."""

    code = "OperationNotSupported"
    status = 422
    title = "Operation not supported"


class TooManyResults(UrbisError):
    """The requested page is larger than the configured maximum."""

    code = "TooManyResults"
    status = 403
    title = "Too many results"


class TooComplexQuery(UrbisError):
    """The query is too complex to be answered."""

    code = "TooComplexQuery"
    status = 403
    title = "Query too complex"


class LdContextNotAvailable(UrbisError):
    """A remote JSON-LD @context could not be retrieved."""

    code = "LdContextNotAvailable"
    status = 503
    title = "JSON-LD context not available"


class UnsupportedMediaType(UrbisError):
    """The request body's media type is not accepted here."""

    code = "UnsupportedMediaType"
    status = 415
    title = "Unsupported media type"


class NotAcceptable(UrbisError):
    """None of the media types the client accepts can be produced."""

    code = "NotAcceptable"
    status = 406
    title = "Not acceptable"


class PayloadTooLarge(UrbisError):
    """The request body exceeds the configured size limit."""

    code = "PayloadTooLarge"
    status = 413
    title = "Payload too large"


class Unauthenticated(UrbisError):
    """No valid credentials were presented."""

    code = "Unauthenticated"
    status = 401
    title = "Authentication required"


class PolicyDenied(UrbisError):
    """The caller is known but not allowed to do this."""

    code = "Forbidden"
    status = 403
    title = "Forbidden"
