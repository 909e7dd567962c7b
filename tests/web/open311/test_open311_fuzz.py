"""Bad input to Open311 never gets a 5xx: random parameters and forms always answer 200 or a spec-shaped 4xx.

Property-based, on SQLite and PostgreSQL (PostgreSQL refuses NUL characters and out-of-range dates that
SQLite would store, so both matter).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_open311_support import API, LAMP_FORM, api_key, assert_errors, open311_app

FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NAMES = [
    "jurisdiction_id",
    "service_request_id",
    "service_code",
    "start_date",
    "end_date",
    "status",
    "page",
    "page_size",
    "lat",
    "long",
    "radius",
    "bbox",
    "updated_after",
    "updated_before",
    "search",
    "q",
    "agency_responsible",
    "service_object_type",
    "service_object_id",
    "extensions",
    "address_string",
    "address_id",
    "description",
    "email",
    "first_name",
    "phone",
    "device_id",
    "media_url",
    "attribute[fault]",
    "attribute[noticed_at]",
    "attribute[kind][]",
    "attribute[]",
    "api_key",
]

VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "open",
            "closed,open",
            "streetlight",
            "dark",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00+05:00",
            "2026-02-30",
            "1e308",
            "nan",
            "-inf",
            "0",
            "-1",
            "99999999999999999999",
            "7.1,50.7,7.2,50.8",
            "inf,0,1,1",
            "urn:ngsi-ld:Streetlight:x",
            "\x00",
            "<b>x</b>",
            "%",
            "x" * 5000,
        ]
    ),
)
PARAMS = st.lists(st.tuples(st.one_of(st.sampled_from(NAMES), st.text(max_size=12)), VALUES), max_size=6)
GET_PATHS = st.sampled_from(
    [
        "requests",
        "requests/abc123",
        "requests/%00",
        "services",
        "services/streetlight",
        "services/..",
        "tokens/abc",
        "servicerequestupdates",
        "discovery",
        "nothing",
    ]
)
FORMATS = st.sampled_from(["json", "xml", "html", ""])


@pytest.fixture
def fuzz_app(db_url: str, tenant: str) -> FastAPI:
    # Reads and submissions are limited per address: lift the limits, they are tested elsewhere.
    return open311_app(db_url, tenant, citizen_rate_limit_ip="100000/minute", citizen_rate_limit_reads="100000/minute")


@pytest.fixture
def fuzz_client(fuzz_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(fuzz_app) as client:
        yield client


def _assert_spec_error(response: Response, fmt: str) -> None:
    """A 200, or an error with a status the spec allows, in the spec's shape and the path's format."""
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        return
    assert response.status_code in (400, 403, 404, 429), response.text
    if fmt == "xml":
        code = int(ET.fromstring(response.content).findtext("error/code") or 0)
    else:
        code = response.json()[0]["code"]
    assert code == response.status_code or (response.status_code == 400 and 400 <= code < 500), response.text
    assert_errors(response, response.status_code, fmt, code=code)


@FUZZ
@given(path=GET_PATHS, fmt=FORMATS, params=PARAMS)
def test_random_reads_never_fail_on_the_server(
    fuzz_client: TestClient, path: str, fmt: str, params: list[tuple[str, str]]
) -> None:
    url = f"{API}/{path}.{fmt}" if fmt else f"{API}/{path}"
    _assert_spec_error(fuzz_client.get(url, params=params), "xml" if fmt == "xml" else "json")


@FUZZ
@given(fmt=st.sampled_from(["json", "xml"]), params=PARAMS, with_key=st.booleans(), base=st.booleans())
def test_random_posts_never_fail_on_the_server(
    fuzz_app: FastAPI,
    fuzz_client: TestClient,
    tenant: str,
    fmt: str,
    params: list[tuple[str, str]],
    with_key: bool,
    base: bool,
) -> None:
    form = list(LAMP_FORM.items()) if base else []
    if with_key:
        form.append(("api_key", _key(fuzz_app, tenant)))
    form += params
    url = f"{API}/requests.{fmt}"
    response = fuzz_client.post(
        url,
        content="&".join(f"{_quote(k)}={_quote(v)}" for k, v in form).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    _assert_spec_error(response, fmt)


_KEYS: dict[str, str] = {}


def _key(app: FastAPI, tenant: str) -> str:
    if tenant not in _KEYS:
        _KEYS[tenant] = api_key(app, tenant)
    return _KEYS[tenant]


def _quote(text: str) -> str:
    return quote(text, safe="")
