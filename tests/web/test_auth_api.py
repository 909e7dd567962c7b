"""The OAuth2 token endpoint and /auth/me, through HTTP."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher, profiles
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from urbis.core.auth.passwords import Passwords
from urbis.core.auth.service import AccountService
from urbis.core.auth.tokens import Actor, decode_token, issue_token
from urbis.core.db import Database
from urbis.core.settings import Settings
from urbis.web.auth import router

PASSWORD = "correct horse battery"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def settings() -> Settings:
    """Test settings with a proper key and a 15-minute token lifetime."""
    return Settings(secret_key="web-test-secret-0123456789-abcdefghij", token_ttl_seconds=900, environment="test")


@pytest.fixture
def accounts(database: Database, settings: Settings) -> AccountService:
    """The account service on each backend, with cheap hashing."""
    return AccountService(database, settings, passwords=Passwords(PasswordHasher.from_parameters(profiles.CHEAPEST)))


@pytest.fixture
def http(accounts: AccountService, settings: Settings) -> Iterator[TestClient]:
    """A minimal app with only the auth router, wired as the composition root will wire it."""
    app = FastAPI()
    app.include_router(router)
    app.state.accounts = accounts
    app.state.settings = settings
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def name(prefix: str = "u") -> str:
    """A fresh, globally unique name."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def make_user(accounts: AccountService, tenant: str, *roles: str) -> str:
    """A user with ``roles`` (default viewer) in ``tenant``."""
    username = name()
    accounts.create_user(username, PASSWORD, tenant=tenant, roles=roles or ["viewer"])
    return username


def basic(client_id: str, secret: str) -> dict[str, str]:
    """An HTTP Basic header for client credentials."""
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def assert_oauth_error(response: Response, status: int, error: str) -> dict[str, Any]:
    """Check an RFC 6749 §5.2 error and return its body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert body["error_description"]
    assert set(body) == {"error", "error_description"}
    assert response.headers["cache-control"] == "no-store"
    return body


# -- password grant -------------------------------------------------------------------------------


def test_password_grant(http: TestClient, accounts: AccountService, settings: Settings, tenant: str) -> None:
    username = make_user(accounts, tenant, "operator", "viewer")
    response = http.post("/auth/token", data={"grant_type": "password", "username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "operator viewer"
    assert body["tenant"] == tenant
    actor = decode_token(body["access_token"], settings)
    assert actor == Actor(subject=username, tenant=tenant, roles=frozenset({"operator", "viewer"}), kind="user")


def test_password_grant_with_tenant_and_scope(
    http: TestClient, accounts: AccountService, settings: Settings, tenant: str
) -> None:
    username = make_user(accounts, tenant, "viewer")
    accounts.grant_role(username, f"{tenant}b", "operator")
    accounts.grant_role(username, f"{tenant}b", "citizen")
    response = http.post(
        "/auth/token",
        data={
            "grant_type": "password",
            "username": username,
            "password": PASSWORD,
            "tenant": f"{tenant}b",
            "scope": "citizen",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "citizen"
    actor = decode_token(response.json()["access_token"], settings)
    assert (actor.tenant, actor.roles) == (f"{tenant}b", frozenset({"citizen"}))


def test_wrong_password_and_unknown_user(http: TestClient, accounts: AccountService, tenant: str) -> None:
    username = make_user(accounts, tenant)
    wrong = http.post("/auth/token", data={"grant_type": "password", "username": username, "password": "nope-nope"})
    unknown = http.post("/auth/token", data={"grant_type": "password", "username": name(), "password": PASSWORD})
    assert assert_oauth_error(wrong, 400, "invalid_grant") == assert_oauth_error(unknown, 400, "invalid_grant")


def test_several_tenants_need_a_choice(http: TestClient, accounts: AccountService, tenant: str) -> None:
    username = make_user(accounts, tenant)
    accounts.grant_role(username, f"{tenant}b", "viewer")
    response = http.post("/auth/token", data={"grant_type": "password", "username": username, "password": PASSWORD})
    assert_oauth_error(response, 400, "invalid_request")


def test_tenant_without_roles(http: TestClient, accounts: AccountService, tenant: str) -> None:
    username = make_user(accounts, tenant)
    response = http.post(
        "/auth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD, "tenant": f"{tenant}x"},
    )
    assert_oauth_error(response, 400, "invalid_scope")


def test_scope_not_held(http: TestClient, accounts: AccountService, tenant: str) -> None:
    username = make_user(accounts, tenant, "viewer")
    response = http.post(
        "/auth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD, "scope": "admin"},
    )
    assert_oauth_error(response, 400, "invalid_scope")


@pytest.mark.parametrize("missing", ["username", "password"])
def test_password_grant_needs_both_fields(http: TestClient, missing: str) -> None:
    data = {"grant_type": "password", "username": "someone", "password": PASSWORD}
    data[missing] = ""  # an empty parameter counts as absent (RFC 6749 §3.1)
    assert_oauth_error(http.post("/auth/token", data=data), 400, "invalid_request")


# -- client credentials grant ---------------------------------------------------------------------


def test_client_credentials_in_the_form(
    http: TestClient, accounts: AccountService, settings: Settings, tenant: str
) -> None:
    client_id = name("c")
    secret = accounts.create_client(client_id, tenant=tenant, roles=["device"])
    response = http.post(
        "/auth/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    actor = decode_token(response.json()["access_token"], settings)
    assert actor == Actor(subject=client_id, tenant=tenant, roles=frozenset({"device"}), kind="client")


def test_client_credentials_by_http_basic(
    http: TestClient, accounts: AccountService, settings: Settings, tenant: str
) -> None:
    client_id = f"{name('c')}@gateway"
    secret = accounts.create_client(client_id, tenant=tenant, roles=["device", "viewer"])
    # RFC 6749 §2.3.1: the id is form-encoded before it goes into the Basic header.
    encoded_id = client_id.replace("@", "%40")
    response = http.post(
        "/auth/token", data={"grant_type": "client_credentials", "scope": "viewer"}, headers=basic(encoded_id, secret)
    )
    assert response.status_code == 200, response.text
    actor = decode_token(response.json()["access_token"], settings)
    assert (actor.subject, actor.roles) == (client_id, frozenset({"viewer"}))


def test_wrong_client_secret(http: TestClient, accounts: AccountService, tenant: str) -> None:
    client_id = name("c")
    secret = accounts.create_client(client_id, tenant=tenant, roles=["device"])
    for response in (
        http.post("/auth/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret + "x")),
        http.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x" + secret},
        ),
        http.post("/auth/token", data={"grant_type": "client_credentials"}, headers=basic(name("c"), secret)),
    ):
        assert_oauth_error(response, 401, "invalid_client")
        assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
    ],
    ids=["none", "bad-base64", "no-colon"],
)
def test_missing_or_malformed_client_authentication(http: TestClient, headers: dict[str, str]) -> None:
    response = http.post("/auth/token", data={"grant_type": "client_credentials"}, headers=headers)
    assert_oauth_error(response, 401, "invalid_client")


def test_two_client_authentication_methods(http: TestClient, accounts: AccountService, tenant: str) -> None:
    client_id = name("c")
    secret = accounts.create_client(client_id, tenant=tenant, roles=["device"])
    response = http.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "client_secret": secret},
        headers=basic(client_id, secret),
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_client_of_another_tenant(http: TestClient, accounts: AccountService, tenant: str) -> None:
    client_id = name("c")
    secret = accounts.create_client(client_id, tenant=tenant, roles=["device"])
    response = http.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "tenant": f"{tenant}x"},
        headers=basic(client_id, secret),
    )
    assert_oauth_error(response, 400, "invalid_scope")


# -- malformed requests: always a 4xx in RFC 6749 shape, never a 5xx ------------------------------


def test_unsupported_grant_type(http: TestClient) -> None:
    response = http.post("/auth/token", data={"grant_type": "authorization_code", "code": "x"})
    assert_oauth_error(response, 400, "unsupported_grant_type")


def test_missing_grant_type(http: TestClient) -> None:
    assert_oauth_error(http.post("/auth/token", data={"username": "a"}), 400, "invalid_request")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (json.dumps({"grant_type": "password", "username": "a", "password": "b"}), "application/json"),
        ("grant_type=password&username=a&password=b", None),
        ("grant_type=password&username=a&password=b", "text/plain"),
        (b"\xff\xfe\x00garbage", FORM),
        (b"\x00\x01\x02", "application/octet-stream"),
        ("grant_type=password&grant_type=client_credentials", FORM),
        ("&".join(f"f{i}=v" for i in range(100)), FORM),
        ("grant_type=password&username=" + "a" * 20_000, FORM),
        ("%%%===&&&", FORM),
        ("", FORM),
        ("--boundary\r\ngarbage", "multipart/form-data; boundary=boundary"),
    ],
    ids=[
        "json",
        "no-content-type",
        "text",
        "not-utf8",
        "binary",
        "duplicate",
        "too-many-fields",
        "too-large",
        "percent-garbage",
        "empty",
        "multipart",
    ],
)
def test_garbage_is_an_invalid_request(http: TestClient, content: str | bytes, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = http.post("/auth/token", content=content, headers=headers)
    assert_oauth_error(response, 400, "invalid_request")


# -- /auth/me -------------------------------------------------------------------------------------


def test_me(http: TestClient, accounts: AccountService, tenant: str) -> None:
    username = make_user(accounts, tenant, "viewer", "citizen")
    token = http.post(
        "/auth/token", data={"grant_type": "password", "username": username, "password": PASSWORD}
    ).json()["access_token"]
    response = http.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"subject": username, "tenant": tenant, "roles": ["citizen", "viewer"], "kind": "user"}


def assert_problem(response: Response) -> None:
    """Check a 401 in ProblemDetails shape with a Bearer challenge."""
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail"}
    assert body["status"] == 401
    assert body["type"].endswith("Unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_me_without_token(http: TestClient) -> None:
    response = http.get("/auth/me")
    assert_problem(response)
    assert "invalid_token" not in response.headers["www-authenticate"]


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Basic YTpi", "Bearer"])
def test_me_with_bad_token(http: TestClient, header: str) -> None:
    response = http.get("/auth/me", headers={"Authorization": header})
    assert_problem(response)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_me_with_expired_or_foreign_token(http: TestClient, settings: Settings) -> None:
    actor = Actor(subject="alice", tenant="city", roles=frozenset({"viewer"}), kind="user")
    expired, _ = issue_token(actor, settings, now=datetime.now(UTC) - timedelta(hours=2))
    foreign, _ = issue_token(actor, Settings(secret_key="some-other-secret-0123456789-abcdefgh", environment="test"))
    for token in (expired, foreign):
        assert_problem(http.get("/auth/me", headers={"Authorization": f"Bearer {token}"}))
    valid, _ = issue_token(actor, settings)
    assert http.get("/auth/me", headers={"Authorization": f"Bearer {valid}"}).status_code == 200


def test_openapi_documents_the_form(http: TestClient) -> None:
    operation = http.get("/openapi.json").json()["paths"]["/auth/token"]["post"]
    schema = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert schema["properties"]["grant_type"]["enum"] == ["password", "client_credentials"]
