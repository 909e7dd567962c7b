"""Access control of the NGSI-LD API when tokens are required (``ngsild_open`` off).

Users are created through the app's account service and get their tokens from ``POST /auth/token``,
exactly as a client would.  Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from argon2 import PasswordHasher, profiles
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import make_settings
from problem_details import assert_problem
from urbis.app import create_app
from urbis.core.auth.passwords import Passwords
from urbis.core.auth.tokens import Actor, issue_token

BASE = "/ngsi-ld/v1"
ENTITIES = f"{BASE}/entities"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
PASSWORD = "correct horse battery"


def cheap(app: FastAPI) -> FastAPI:
    """The app with the cheapest password hashing (tests only)."""
    app.state.accounts.passwords = Passwords(PasswordHasher.from_parameters(profiles.CHEAPEST))
    return app


@pytest.fixture
def secured(secured_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(cheap(secured_app)) as client:
        yield client


Login = Callable[..., dict[str, str]]


@pytest.fixture
def login(secured: TestClient) -> Login:
    """``login(tenant, *roles)``: a new user with ``roles`` in ``tenant``; its Authorization header."""

    def make(tenant: str, *roles: str) -> dict[str, str]:
        username = f"u{uuid.uuid4().hex[:10]}"
        secured.app.state.accounts.create_user(username, PASSWORD, tenant=tenant, roles=list(roles))  # type: ignore[attr-defined]
        response = secured.post(
            "/auth/token", data={"grant_type": "password", "username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return make


def entity(n: int = 1) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Lamp:{n}", "type": "Lamp", "power": {"type": "Property", "value": n}}


# -- writes -------------------------------------------------------------------------------------


def test_anonymous_write_is_401(secured: TestClient) -> None:
    response = secured.post(ENTITIES, json=entity())
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_viewer_write_is_403(secured: TestClient, login: Login, tenant: str) -> None:
    viewer = login(tenant, "viewer")
    assert_problem(secured.post(ENTITIES, json=entity(), headers=viewer), 403)
    # ...but the viewer may read.
    assert secured.get(ENTITIES, params={"type": "Lamp"}, headers=viewer).json() == []


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_operator_and_admin_write(secured: TestClient, login: Login, tenant: str, role: str) -> None:
    headers = login(tenant, role)
    assert secured.post(ENTITIES, json=entity(), headers=headers).status_code == 201
    assert secured.get(f"{ENTITIES}/urn:ngsi-ld:Lamp:1", headers=headers).json()["power"]["value"] == 1
    patch = {"power": {"type": "Property", "value": 5}}
    assert secured.patch(f"{ENTITIES}/urn:ngsi-ld:Lamp:1", json=patch, headers=headers).status_code == 204
    assert secured.delete(f"{ENTITIES}/urn:ngsi-ld:Lamp:1", headers=headers).status_code == 204


def write_requests() -> list[tuple[str, str, dict[str, Any]]]:
    """Every NGSI-LD write: (method, path, request keyword arguments)."""
    lamp = "urn:ngsi-ld:Lamp:1"
    attrs = {"power": {"type": "Property", "value": 9}}
    return [
        ("POST", ENTITIES, {"json": entity(2)}),
        ("DELETE", ENTITIES, {"params": {"type": "Lamp"}}),
        ("PUT", f"{ENTITIES}/{lamp}", {"json": {"type": "Lamp", **attrs}}),
        ("PATCH", f"{ENTITIES}/{lamp}", {"json": attrs}),
        ("DELETE", f"{ENTITIES}/{lamp}", {}),
        ("POST", f"{ENTITIES}/{lamp}/attrs", {"json": attrs}),
        ("PATCH", f"{ENTITIES}/{lamp}/attrs", {"json": attrs}),
        ("PATCH", f"{ENTITIES}/{lamp}/attrs/power", {"json": {"value": 3}}),
        ("PUT", f"{ENTITIES}/{lamp}/attrs/power", {"json": {"type": "Property", "value": 3}}),
        ("DELETE", f"{ENTITIES}/{lamp}/attrs/power", {}),
        ("POST", f"{BASE}/entityOperations/create", {"json": [entity(3)]}),
        ("POST", f"{BASE}/entityOperations/upsert", {"json": [entity(1)]}),
        ("POST", f"{BASE}/entityOperations/update", {"json": [entity(1)]}),
        ("POST", f"{BASE}/entityOperations/merge", {"json": [entity(1)]}),
        ("POST", f"{BASE}/entityOperations/delete", {"json": [lamp]}),
        ("POST", f"{BASE}/jsonldContexts", {"json": {"@context": {"a": "https://example.org/a"}}}),
    ]


def test_every_write_needs_a_writer(secured: TestClient, login: Login, tenant: str) -> None:
    operator = login(tenant, "operator")
    viewer = login(tenant, "viewer")
    assert secured.post(ENTITIES, json=entity(), headers=operator).status_code == 201
    failures = []
    for method, path, kwargs in write_requests():
        for headers, expected in (({}, 401), (viewer, 403)):
            response = secured.request(method, path, headers=headers, **kwargs)
            if response.status_code != expected:
                failures.append((method, path, expected, response.status_code, response.text))
            else:
                assert_problem(response, expected)
    assert not failures, failures
    # Nothing changed.
    found = secured.get(ENTITIES, params={"type": "Lamp"}, headers=viewer).json()
    assert found == [entity()]


# -- reads --------------------------------------------------------------------------------------


def read_requests() -> list[tuple[str, str, dict[str, Any]]]:
    """Every NGSI-LD read of a tenant's context."""
    return [
        ("GET", ENTITIES, {"params": {"type": "Lamp"}}),
        ("GET", f"{ENTITIES}/urn:ngsi-ld:Lamp:1", {}),
        ("POST", f"{BASE}/entityOperations/query", {"json": {"type": "Query", "entities": [{"type": "Lamp"}]}}),
        ("GET", f"{BASE}/types", {}),
        ("GET", f"{BASE}/types/Lamp", {}),
        ("GET", f"{BASE}/attributes", {}),
        ("GET", f"{BASE}/attributes/power", {}),
        ("GET", f"{BASE}/jsonldContexts", {}),
    ]


def test_anonymous_read_of_a_private_tenant_is_401(secured: TestClient, login: Login, tenant: str) -> None:
    assert secured.post(ENTITIES, json=entity(), headers=login(tenant, "operator")).status_code == 201
    failures = []
    for method, path, kwargs in read_requests():
        response = secured.request(method, path, **kwargs)
        if response.status_code != 401:
            failures.append((method, path, response.status_code, response.text))
        else:
            assert_problem(response, 401)
    assert not failures, failures


def test_readers_read(secured: TestClient, login: Login, tenant: str) -> None:
    assert secured.post(ENTITIES, json=entity(), headers=login(tenant, "operator")).status_code == 201
    for role in ("viewer", "citizen", "data-consumer"):
        headers = login(tenant, role)
        for method, path, kwargs in read_requests():
            response = secured.request(method, path, headers=headers, **kwargs)
            assert response.status_code == 200, (role, path, response.text)


@pytest.fixture
def public(db_url: str, tenant: str) -> Iterator[TestClient]:
    """An app whose default tenant is readable by anyone (``public_read_tenants``)."""
    app = create_app(make_settings(db_url, tenant, ngsild_open=False, public_read_tenants=[tenant]))
    with TestClient(cheap(app)) as client:
        yield client


def test_anonymous_read_of_a_public_tenant(public: TestClient, tenant: str) -> None:
    username = f"u{uuid.uuid4().hex[:10]}"
    public.app.state.accounts.create_user(username, PASSWORD, tenant=tenant, roles=["operator"])  # type: ignore[attr-defined]
    token = public.post("/auth/token", data={"grant_type": "password", "username": username, "password": PASSWORD})
    operator = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert public.post(ENTITIES, json=entity(), headers=operator).status_code == 201
    for method, path, kwargs in read_requests():
        response = public.request(method, path, **kwargs)
        assert response.status_code == 200, (path, response.text)
    assert public.get(ENTITIES, params={"type": "Lamp"}).json() == [entity()]
    # Public reading does not open writing.
    assert_problem(public.post(ENTITIES, json=entity(2)), 401)
    assert_problem(public.delete(ENTITIES, params={"type": "Lamp"}), 401)
    # Another tenant of the same broker stays private.
    other = {"NGSILD-Tenant": f"{tenant}x"}
    assert_problem(public.get(ENTITIES, params={"type": "Lamp"}, headers=other), 401)


# -- tenants ------------------------------------------------------------------------------------


def test_token_for_one_tenant_cannot_touch_another(secured: TestClient, login: Login, tenant: str) -> None:
    other = f"{tenant}b"
    mine = login(tenant, "operator", "viewer")
    theirs = login(other, "operator")
    assert secured.post(ENTITIES, json=entity(), headers={**theirs, "NGSILD-Tenant": other}).status_code == 201
    assert secured.post(ENTITIES, json=entity(), headers=mine).status_code == 201
    to_other = {**mine, "NGSILD-Tenant": other}
    assert_problem(secured.get(ENTITIES, params={"type": "Lamp"}, headers=to_other), 403)
    assert_problem(secured.get(f"{ENTITIES}/urn:ngsi-ld:Lamp:1", headers=to_other), 403)
    assert_problem(secured.post(ENTITIES, json=entity(2), headers=to_other), 403)
    assert_problem(secured.delete(f"{ENTITIES}/urn:ngsi-ld:Lamp:1", headers=to_other), 403)
    assert_problem(secured.get(f"{BASE}/types", headers=to_other), 403)
    # The other tenant's data is untouched, and each token still works at home.
    at_home = secured.get(ENTITIES, params={"type": "Lamp"}, headers={**theirs, "NGSILD-Tenant": other})
    assert at_home.json() == [entity()]
    assert secured.get(ENTITIES, params={"type": "Lamp"}, headers=mine).json() == [entity()]
    assert_problem(secured.get(ENTITIES, params={"type": "Lamp"}, headers=theirs), 403)


def test_platform_admin_reaches_every_tenant(secured: TestClient, login: Login, tenant: str) -> None:
    admin = login("*", "admin")
    for name in (tenant, f"{tenant}c"):
        headers = {**admin, "NGSILD-Tenant": name}
        assert secured.post(ENTITIES, json=entity(), headers=headers).status_code == 201
        assert secured.get(ENTITIES, params={"type": "Lamp"}, headers=headers).json() == [entity()]


# -- bad tokens ---------------------------------------------------------------------------------


def test_forged_expired_and_malformed_tokens_are_401(secured: TestClient, login: Login, tenant: str) -> None:
    settings = secured.app.state.settings  # type: ignore[attr-defined]
    actor = Actor(subject="intruder", tenant=tenant, roles=frozenset({"admin"}), kind="user")
    forged, _ = issue_token(actor, settings.model_copy(update={"secret_key": "another-key-" + "x" * 40}))
    expired, _ = issue_token(
        actor, settings, now=datetime.now(UTC) - timedelta(seconds=settings.token_ttl_seconds + 60)
    )
    genuine = login(tenant, "admin")["Authorization"]
    header, payload, signature = genuine.removeprefix("Bearer ").split(".")
    tampered_payload = jwt.utils.base64url_encode(  # type: ignore[attr-defined]
        jwt.utils.base64url_decode(payload).replace(tenant.encode(), b"*")  # type: ignore[attr-defined]
    ).decode()
    unsigned = jwt.encode(
        {"sub": "x", "tenant": tenant, "roles": ["admin"], "kind": "user"}, key=None, algorithm="none"
    )
    bad_headers = [
        f"Bearer {forged}",
        f"Bearer {expired}",
        f"Bearer {header}.{tampered_payload}.{signature}",
        f"Bearer {unsigned}",
        "Bearer not-a-token",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        genuine.removeprefix("Bearer "),
    ]
    for value in bad_headers:
        for response in (
            secured.post(ENTITIES, json=entity(), headers={"Authorization": value}),
            secured.get(ENTITIES, params={"type": "Lamp"}, headers={"Authorization": value}),
        ):
            assert_problem(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer")
    assert secured.post(ENTITIES, json=entity(), headers={"Authorization": genuine}).status_code == 201


def test_hosted_contexts_are_served_to_anyone(secured: TestClient, login: Login, tenant: str) -> None:
    # JSON-LD processors dereference @context URLs without credentials; hosting one still needs a writer.
    document = {"@context": {"a": "https://example.org/a"}}
    response = secured.post(f"{BASE}/jsonldContexts", json=document, headers=login(tenant, "operator"))
    assert response.status_code == 201
    served = secured.get(urlsplit(response.headers["location"]).path)
    assert served.status_code == 200
    assert served.json() == document


def test_open_mode_needs_no_token(client: TestClient) -> None:
    # The ``client`` fixture's app runs with ngsild_open: the same write succeeds anonymously.
    assert client.post(ENTITIES, json=entity()).status_code == 201
