"""POST /open311/v2/requests with raw form posts, on SQLite and PostgreSQL: keys, fields, answers, id or token, limits."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_open311_support import (
    API,
    LAMP_FORM,
    api_key,
    assert_errors,
    created_id,
    open311_app,
    parse_xml,
    post_report,
)

from urbis.citizens.mail import outbox
from urbis.citizens.model import Channel, Stage


@pytest.fixture
def instant_app(db_url: str, tenant: str) -> FastAPI:
    """Reports go public at once (no e-mail confirmation)."""
    return open311_app(db_url, tenant, citizen_confirm_anonymous=False)


@pytest.fixture
def instant(instant_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(instant_app) as client:
        yield client


@pytest.fixture
def confirming_app(db_url: str, tenant: str) -> FastAPI:
    """The default rules: anonymous reports wait for their e-mail confirmation."""
    return open311_app(db_url, tenant)


@pytest.fixture
def confirming(confirming_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(confirming_app) as client:
        yield client


def confirmation_code(app: FastAPI, tenant: str) -> str:
    with app.state.db.read() as conn:
        bodies = conn.execute(select(outbox.c.body).where(outbox.c.tenant == tenant)).scalars().all()
    assert len(bodies) == 1, bodies
    found = re.search(r"code=(\S+)", bodies[0])
    assert found is not None, bodies[0]
    return found.group(1)


def test_a_report_that_is_public_at_once_gets_its_id(instant_app: FastAPI, instant: TestClient, tenant: str) -> None:
    key = api_key(instant_app, tenant)
    response = post_report(instant, key)
    assert response.status_code == 200  # not 201: the spec's status
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    [item] = response.json()
    assert set(item) == {"service_request_id", "service_notice", "account_id"}
    assert item["account_id"] is None
    assert "Street lighting" in item["service_notice"]
    report = instant_app.state.citizen_reports.get(tenant, item["service_request_id"])
    assert report.public and report.channel is Channel.OPEN311 and report.stage is Stage.SUBMITTED
    assert (report.lat, report.long, report.answers) == (50.7355, 7.1010, {"fault": "dark"})

    root = parse_xml(post_report(instant, key, "xml"))
    assert root.tag == "service_requests"
    [request] = root.findall("request")
    assert [child.tag for child in request] == ["service_request_id", "service_notice", "account_id"]
    assert re.fullmatch(r"[0-9a-f]{12}", request.findtext("service_request_id") or "")
    assert request.find("token") is None


def test_an_anonymous_report_waits_for_confirmation_behind_a_token(
    confirming_app: FastAPI, confirming: TestClient, tenant: str
) -> None:
    response = post_report(confirming, api_key(confirming_app, tenant))
    assert response.status_code == 200, response.text
    [item] = response.json()
    assert set(item) == {"token", "service_notice", "account_id"}  # never the id together with the token
    token = item["token"]
    assert "confirm" in item["service_notice"]

    pending = confirming.get(f"{API}/tokens/{token}.json")
    assert pending.status_code == 200
    assert pending.json() == [{"service_request_id": None, "token": token}]
    report = confirming_app.state.citizen_reports.by_token(token)
    assert_errors(confirming.get(f"{API}/requests/{report.id}.json"), 404)
    assert confirming.get(f"{API}/requests.json").json() == []

    confirming_app.state.citizen_reports.confirm(tenant, report.id, confirmation_code(confirming_app, tenant))
    assert confirming.get(f"{API}/tokens/{token}.json").json() == [{"service_request_id": report.id, "token": token}]
    root = parse_xml(confirming.get(f"{API}/tokens/{token}.xml"))
    assert root.findtext("request/service_request_id") == report.id
    assert root.findtext("request/token") == token
    assert confirming.get(f"{API}/requests/{report.id}.json").json()[0]["service_request_id"] == report.id
    assert_errors(confirming.get(f"{API}/tokens/no-such-token.json"), 404)
    assert_errors(confirming.get(f"{API}/tokens/no-such-token.xml"), 404, "xml")


def test_without_an_email_address_an_anonymous_report_is_refused_when_the_city_confirms(
    confirming_app: FastAPI, confirming: TestClient, tenant: str
) -> None:
    response = post_report(confirming, api_key(confirming_app, tenant), email=None)
    assert "e-mail" in assert_errors(response, 400)


def test_keys_missing_wrong_revoked_or_foreign_are_403(instant_app: FastAPI, instant: TestClient, tenant: str) -> None:
    reports = instant_app.state.citizen_reports
    fields = {k: v for k, v in LAMP_FORM.items()}
    description = assert_errors(instant.post(f"{API}/requests.json", data=fields), 403)
    assert "api_key" in description
    assert_errors(instant.post(f"{API}/requests.xml", data={**fields, "api_key": "guessed"}), 403, "xml")
    key, secret = reports.create_api_key(tenant, "old client", by="tester")
    reports.revoke_api_key(tenant, key.id, by="tester")
    assert_errors(post_report(instant, secret), 403)
    _, foreign = reports.create_api_key(f"{tenant}-other", "their client", by="tester")
    assert_errors(post_report(instant, foreign), 403)
    # A good key also works as a Bearer token (Boston), and in the query string.
    _, good = reports.create_api_key(tenant, "new client", by="tester")
    assert created_id(instant.post(f"{API}/requests.json", data=fields, headers={"Authorization": f"Bearer {good}"}))
    assert created_id(instant.post(f"{API}/requests.json?api_key={good}", data=fields))


def test_required_fields_are_named_in_400s(instant_app: FastAPI, instant: TestClient, tenant: str) -> None:
    key = api_key(instant_app, tenant)
    no_place = assert_errors(post_report(instant, key, lat=None, long=None), 400)
    assert "location" in no_place and "address_string" in no_place
    assert "lat" in assert_errors(post_report(instant, key, long=None), 400)
    assert "attribute[fault]" in assert_errors(post_report(instant, key, **{"attribute[fault]": None}), 400)
    # An empty value counts as a missing one (gotcha 6).
    assert "attribute[fault]" in assert_errors(post_report(instant, key, **{"attribute[fault]": ""}), 400)
    assert "service_code" in assert_errors(post_report(instant, key, service_code=None), 400)
    assert "lat" in assert_errors(post_report(instant, key, lat="north"), 400)
    assert "no-such" in assert_errors(post_report(instant, key, service_code="no-such"), 404)
    assert "attribute[fault]" in assert_errors(
        post_report(instant, key, "xml", **{"attribute[fault]": "x"}), 400, "xml"
    )
    # An address instead of a position is enough.
    assert created_id(post_report(instant, key, lat=None, long=None, address_string="Hauptstraße 12"))


def test_a_multivalue_list_takes_repeated_keys_and_a_datetime_is_kept_in_iso_8601(
    instant_app: FastAPI, instant: TestClient, tenant: str
) -> None:
    key = api_key(instant_app, tenant)
    reports = instant_app.state.citizen_reports
    form = {
        "api_key": key,
        "service_code": "air-quality",
        "lat": "50.73",
        "long": "7.10",
        "attribute[kind][]": ["smoke", "dust"],
        "attribute[details]": "From the chimney\nsince Monday",
    }
    smoke = created_id(instant.post(f"{API}/requests.json", data=form))
    assert reports.get(tenant, smoke).answers == {
        "kind": ["smoke", "dust"],
        "details": "From the chimney\nsince Monday",
    }
    one = created_id(instant.post(f"{API}/requests.json", data={**form, "attribute[kind][]": "smell"}))
    assert reports.get(tenant, one).answers["kind"] == ["smell"]
    wrong = instant.post(f"{API}/requests.json", data={**form, "attribute[kind][]": ["smoke", "rain"]})
    assert "'rain'" in assert_errors(wrong, 400)

    noticed = created_id(post_report(instant, key, **{"attribute[noticed_at]": "2026-03-01T20:15:00+01:00"}))
    assert reports.get(tenant, noticed).answers["noticed_at"] == "2026-03-01T20:15:00+01:00"
    assert "attribute[noticed_at]" in assert_errors(post_report(instant, key, **{"attribute[noticed_at]": "soon"}), 400)
    unknown = assert_errors(post_report(instant, key, **{"attribute[colour]": "red"}), 400)
    assert "attribute[colour]" in unknown


def test_the_description_is_plain_text_of_at_most_4000_characters(
    instant_app: FastAPI, instant: TestClient, tenant: str
) -> None:
    key = api_key(instant_app, tenant)
    assert created_id(post_report(instant, key, description="x" * 4000))
    assert "4000" in assert_errors(post_report(instant, key, description="x" * 4001), 400)
    assert "HTML" in assert_errors(post_report(instant, key, description="It is <b>dark</b>"), 400)
    assert "control" in assert_errors(post_report(instant, key, description="dark\x00night"), 400)


def test_a_media_url_is_not_fetched_and_the_notice_says_so(
    instant_app: FastAPI, instant: TestClient, tenant: str
) -> None:
    response = post_report(instant, api_key(instant_app, tenant), media_url="http://198.51.100.7/lamp.jpg")
    report_id = created_id(response)
    assert "media_url was not fetched" in response.json()[0]["service_notice"]
    assert instant_app.state.citizen_reports.get(tenant, report_id).photos == ()


def test_a_body_that_is_not_a_form_is_refused(instant_app: FastAPI, instant: TestClient, tenant: str) -> None:
    key = api_key(instant_app, tenant)
    as_json = instant.post(f"{API}/requests.json", json={**LAMP_FORM, "api_key": key})
    assert "form" in assert_errors(as_json, 400)
    latin1 = f"api_key={key}&service_code=streetlight&description=gr%FCn".encode()
    not_utf8 = instant.post(
        f"{API}/requests.json", content=latin1, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert "UTF-8" in assert_errors(not_utf8, 400)


def test_a_jurisdiction_must_exist(instant_app: FastAPI, instant: TestClient, tenant: str) -> None:
    key = api_key(instant_app, tenant)
    assert "nowhere" in assert_errors(post_report(instant, key, jurisdiction_id=f"nowhere-{tenant}"), 404)
    assert created_id(post_report(instant, key, jurisdiction_id=tenant))
    assert created_id(post_report(instant, key, jurisdiction_id=""))  # empty: the default tenant


def test_the_third_post_in_a_minute_is_429_with_retry_after(db_url: str, tenant: str) -> None:
    app = open311_app(db_url, tenant, citizen_confirm_anonymous=False, citizen_rate_limit_ip="2/minute")
    with TestClient(app) as client:
        key = api_key(app, tenant)
        assert created_id(post_report(client, key))
        assert_errors(post_report(client, key, service_code=None), 400)  # refused posts count as well
        limited = post_report(client, key, "xml")
        assert "Too many" in assert_errors(limited, 429, "xml")
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        json_limited = post_report(client, key)
        assert_errors(json_limited, 429)
        assert json_limited.headers["Retry-After"].isdigit()
