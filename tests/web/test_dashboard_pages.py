"""The web pages' session: login, logout, CSRF, roles, language, security headers and served assets."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import make_settings
from urbis.app import create_app


@pytest.fixture
def pages_app(db_url: str, tenant: str) -> FastAPI:
    app = create_app(make_settings(db_url, tenant, ngsild_open=False))
    for role in ("operator", "viewer", "citizen"):
        app.state.accounts.create_user(f"{role}-{tenant}", f"{role}-password-1", tenant=tenant, roles=[role])
    return app


@pytest.fixture
def client(pages_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(pages_app) as test_client:
        yield test_client


def login(client: TestClient, tenant: str, role: str, next_path: str = "/dashboard") -> None:
    response = client.post(
        "/login",
        data={"username": f"{role}-{tenant}", "password": f"{role}-password-1", "next": next_path},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def test_pages_send_anonymous_visitors_to_the_login_and_back(client: TestClient, tenant: str) -> None:
    response = client.get("/dashboard/console/alarms?state=closed", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/dashboard/console/alarms?state=closed"
    assert client.get("/", follow_redirects=False).headers["location"] == "/dashboard"
    # htmx asks for fragments: it is told where to go instead of receiving the login page.
    fragment = client.get("/dashboard/fragments/air", headers={"HX-Request": "true"}, follow_redirects=False)
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/login")
    # JSON twins answer ProblemDetails.
    twin = client.get("/dashboard.json")
    assert twin.status_code == 401 and twin.json()["status"] == 401


def test_a_wrong_password_shows_the_form_again_without_a_cookie(client: TestClient, tenant: str) -> None:
    response = client.post("/login", data={"username": f"viewer-{tenant}", "password": "nope", "next": "/dashboard"})
    assert response.status_code == 401
    assert "The username or password is not right." in response.text
    assert "urbis_session" not in response.headers.get("set-cookie", "")


def test_the_login_cookie_is_http_only_and_same_site(client: TestClient, tenant: str) -> None:
    response = client.post(
        "/login", data={"username": f"viewer-{tenant}", "password": "viewer-password-1"}, follow_redirects=False
    )
    cookie = response.headers["set-cookie"].lower()
    assert "urbis_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_next_never_leads_to_another_site(client: TestClient, tenant: str) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil"):
        response = client.post(
            "/login",
            data={"username": f"viewer-{tenant}", "password": "viewer-password-1", "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/dashboard"


def test_citizens_may_not_see_the_dashboard(client: TestClient, tenant: str) -> None:
    login(client, tenant, "citizen")
    response = client.get("/dashboard")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html") and "<h1>" in response.text


def test_pages_carry_a_strict_content_security_policy(client: TestClient, tenant: str) -> None:
    login(client, tenant, "viewer")
    response = client.get("/dashboard")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    # No inline script and no style attribute anywhere (the policy would block them).
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text)
    assert "style=" not in response.text
    # Every script and stylesheet comes from this server.
    for url in re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', response.text):
        assert url.startswith("/static/"), url
        assert client.get(url).status_code == 200, url


def test_the_front_end_libraries_are_served_from_the_installed_packages(client: TestClient) -> None:
    for path in (
        "/static/vendor/htmx.org/htmx.min.js",
        "/static/vendor/chart.js/chart.umd.min.js",
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/leaflet/leaflet.css",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert len(response.content) > 10_000
    assert client.get("/static/vendor/leaflet/../../package.json").status_code == 404


def test_logout_needs_the_csrf_token_and_forgets_the_cookie(client: TestClient, tenant: str) -> None:
    login(client, tenant, "viewer")
    token = csrf_token(client.get("/dashboard").text)
    refused = client.post("/logout", data={"csrf_token": "0" * 64}, follow_redirects=False)
    assert refused.status_code == 403
    done = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_the_language_switch_translates_every_page(client: TestClient, tenant: str) -> None:
    login(client, tenant, "viewer")
    english = client.get("/dashboard").text
    assert 'lang="en"' in english and "Air quality" in english
    switched = client.get("/lang/de?next=/dashboard", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/dashboard"
    german = client.get("/dashboard").text
    assert 'lang="de"' in german and "Luftqualität" in german and "Air quality" not in german
    assert client.get("/lang/xx").status_code == 404


def test_the_browser_language_is_used_until_one_is_chosen(client: TestClient, tenant: str) -> None:
    login(client, tenant, "viewer")
    page = client.get("/dashboard", headers={"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"}).text
    assert 'lang="de"' in page
    page = client.get("/dashboard", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).text
    assert 'lang="en"' in page


def test_the_cookie_reads_the_apis_and_changes_them_only_with_the_csrf_header(client: TestClient, tenant: str) -> None:
    login(client, tenant, "operator")
    token = csrf_token(client.get("/dashboard").text)
    assert client.get("/api/v1/alarms").status_code == 200  # read with the cookie
    body = {"title": "Check the pole", "source": "urn:ngsi-ld:Streetlight:x1"}
    assert client.post("/api/v1/work-orders", json=body).status_code == 401  # no CSRF header: anonymous
    created = client.post("/api/v1/work-orders", json=body, headers={"X-CSRF-Token": token})
    assert created.status_code == 201, created.text


def test_a_configured_tile_background_is_the_only_other_host_pages_may_load(db_url: str, tenant: str) -> None:
    from urbis.web.ui.common import security_headers

    tiles = make_settings(
        db_url,
        tenant,
        dashboard_tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png",
        dashboard_tile_attribution="© Example",
    )
    policy = security_headers(tiles)["Content-Security-Policy"]
    assert "img-src 'self' data: https://*.tiles.example.org;" in policy
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy  # tiles are images, nothing more
    plain = security_headers(make_settings(db_url, tenant))["Content-Security-Policy"]
    assert "img-src 'self' data:;" in plain
    app = create_app(tiles)
    app.state.accounts.create_user(f"viewer-{tenant}", "viewer-password-1", tenant=tenant, roles=["viewer"])
    with TestClient(app) as client:
        login(client, tenant, "viewer")
        page = client.get("/dashboard/map").text
        assert 'data-tile-url="https://{s}.tiles.example.org/{z}/{x}/{y}.png"' in page
        assert 'data-tile-attribution="© Example"' in page
