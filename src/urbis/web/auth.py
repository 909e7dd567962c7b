"""The OAuth2 token endpoint (RFC 6749) and ``/auth/me``.

``POST /auth/token`` takes form-encoded ``grant_type=password`` (username,
password, optional ``scope`` and ``tenant``) or ``grant_type=client_credentials``
(client id and secret in the form or by HTTP Basic).  Errors use the RFC 6749
§5.2 shape ``{"error", "error_description"}`` — never a 5xx for bad input.

The router finds the :class:`~urbis.core.auth.service.AccountService` at
``request.app.state.accounts`` and the settings at ``request.app.state.settings``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from urbis.core.auth.service import AccountService
from urbis.core.auth.tokens import Actor, actor_from_authorization, narrow_scope
from urbis.core.errors import BadRequestData, InvalidRequest, PolicyDenied, Unauthenticated, UrbisError
from urbis.core.settings import Settings

router = APIRouter(tags=["auth"])

#: RFC 6749 §5.1: token responses must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
#: A token request is a handful of short fields; anything bigger is not one.
MAX_TOKEN_REQUEST_BYTES = 16 * 1024
MAX_FIELDS = 16
REALM = "urbis"


class OAuthError(Exception):
    """An RFC 6749 §5.2 error response."""

    def __init__(self, error: str, description: str, status: int = 400, headers: dict[str, str] | None = None):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        """The error as a JSON response that no cache keeps."""
        return JSONResponse(
            {"error": self.error, "error_description": self.description},
            status_code=self.status,
            headers={**NO_STORE, **self.headers},
        )


def _invalid_client(description: str) -> OAuthError:
    # RFC 6749 §5.2: a failed client authentication is a 401 with a challenge.
    return OAuthError("invalid_client", description, 401, {"WWW-Authenticate": f'Basic realm="{REALM}"'})


async def _read_form(request: Request) -> dict[str, str]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_TOKEN_REQUEST_BYTES:
            raise OAuthError("invalid_request", "the request body is too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the body is not valid form data") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise OAuthError("invalid_request", f"parameter {name!r} is given more than once")
        # RFC 6749 §3.1: parameters sent without a value are treated as omitted.
        if value != "":
            form[name] = value
    return form


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if value is None:
        raise OAuthError("invalid_request", f"missing parameter {name!r}")
    return value


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise _invalid_client("client authentication must use HTTP Basic")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid_client("malformed HTTP Basic credentials") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise _invalid_client("malformed HTTP Basic credentials")
    # RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


async def _password_grant(accounts: AccountService, form: dict[str, str]) -> Actor:
    username, password = _required(form, "username"), _required(form, "password")
    try:
        # Argon2 is deliberately slow; keep it off the event loop.
        return await run_in_threadpool(accounts.authenticate_password, username, password, form.get("tenant"))
    except Unauthenticated as exc:
        raise OAuthError("invalid_grant", exc.detail) from None


async def _client_credentials_grant(accounts: AccountService, request: Request, form: dict[str, str]) -> Actor:
    basic = _basic_credentials(request)
    if basic is not None:
        if "client_secret" in form:
            raise OAuthError("invalid_request", "use either HTTP Basic or form parameters to authenticate the client")
        if "client_id" in form and form["client_id"] != basic[0]:
            raise OAuthError("invalid_request", "client_id in the form differs from the HTTP Basic one")
        client_id, secret = basic
    else:
        if "client_id" not in form or "client_secret" not in form:
            raise _invalid_client("client authentication is required (HTTP Basic or client_id and client_secret)")
        client_id, secret = form["client_id"], form["client_secret"]
    try:
        return await run_in_threadpool(accounts.authenticate_client, client_id, secret, form.get("tenant"))
    except Unauthenticated as exc:
        raise _invalid_client(exc.detail) from None


#: The form fields, for the OpenAPI document (the handler parses the body itself to control every error).
_TOKEN_REQUEST_SCHEMA = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["password", "client_credentials"]},
        "username": {"type": "string"},
        "password": {"type": "string", "format": "password"},
        "client_id": {"type": "string"},
        "client_secret": {"type": "string", "format": "password"},
        "scope": {"type": "string", "description": "Space-separated roles to narrow the token to."},
        "tenant": {"type": "string", "description": "Tenant the token is for."},
    },
}


@router.post(
    "/auth/token",
    summary="Issue an access token (OAuth2 password or client credentials grant)",
    responses={400: {"description": "RFC 6749 error"}, 401: {"description": "Client authentication failed"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": _TOKEN_REQUEST_SCHEMA}},
        }
    },
)
async def token(request: Request) -> JSONResponse:
    """Exchange a username and password, or client credentials, for a Bearer access token."""
    accounts: AccountService = request.app.state.accounts
    try:
        form = await _read_form(request)
        grant_type = _required(form, "grant_type")
        if grant_type == "password":
            actor = await _password_grant(accounts, form)
        elif grant_type == "client_credentials":
            actor = await _client_credentials_grant(accounts, request, form)
        else:
            raise OAuthError("unsupported_grant_type", f"grant type {grant_type!r} is not supported")
        try:
            actor = narrow_scope(actor, form.get("scope"))
        except BadRequestData as exc:
            raise OAuthError("invalid_scope", exc.detail) from None
    except OAuthError as exc:
        return exc.response()
    except PolicyDenied as exc:
        # Credentials were right, but they give no access to the requested tenant.
        return OAuthError("invalid_scope", exc.detail).response()
    except (BadRequestData, InvalidRequest) as exc:
        return OAuthError("invalid_request", exc.detail).response()
    access_token, expires_in = accounts.issue_token(actor)
    body: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": " ".join(sorted(actor.roles)),
        "tenant": actor.tenant,
    }
    return JSONResponse(body, headers=NO_STORE)


def _problem(error: UrbisError, challenge: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": f"https://uri.etsi.org/ngsi-ld/errors/{error.code}",
            "title": error.title,
            "status": error.status,
            "detail": error.detail,
        },
        status_code=error.status,
        headers={"WWW-Authenticate": challenge},
    )


@router.get("/auth/me", summary="Who the access token belongs to")
def me(request: Request) -> JSONResponse:
    """The caller as named by its Bearer token: subject, tenant, roles and kind."""
    settings: Settings = request.app.state.settings
    try:
        actor = actor_from_authorization(request.headers.get("authorization"), settings)
    except Unauthenticated as exc:
        # RFC 6750 §3: tell the client its token is the problem.
        return _problem(exc, f'Bearer realm="{REALM}", error="invalid_token"')
    if not actor.is_authenticated:
        return _problem(Unauthenticated("a Bearer access token is required"), f'Bearer realm="{REALM}"')
    return JSONResponse(actor.to_json())
