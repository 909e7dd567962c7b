"""The Open311 writers on their own: one data shape, two formats, the spec's spelling of values."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

import pytest
import xmltodict

from urbis.web.open311.errors import format_of_path, http_status
from urbis.web.open311.render import render, to_json, to_xml, w3c_datetime

SERVICES = [
    {"service_code": "001", "metadata": True, "group": None},
    {"service_code": "002", "metadata": False, "group": "roads"},
]


def test_a_list_is_a_json_array_and_an_xml_root_of_items() -> None:
    assert json.loads(to_json(SERVICES)) == [
        {"service_code": "001", "metadata": True, "group": None},
        {"service_code": "002", "metadata": False, "group": "roads"},
    ]
    document = to_xml("services", SERVICES)
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(document)
    assert root.tag == "services"
    assert [item.tag for item in root] == ["service", "service"]
    # Codes stay strings with their leading zeros; booleans are the words true/false; null is an empty element.
    assert [item.findtext("service_code") for item in root] == ["001", "002"]
    assert [item.findtext("metadata") for item in root] == ["true", "false"]
    group = root[0].find("group")
    assert group is not None and group.text is None and len(group) == 0
    assert xmltodict.parse(document)["services"]["service"][1]["group"] == "roads"


def test_nested_lists_get_singular_item_elements() -> None:
    definition = {
        "service_code": "streetlight",
        "attributes": [{"code": "fault", "values": [{"key": "dark", "name": "It is dark"}]}],
    }
    root = ET.fromstring(to_xml("service_definition", definition))
    assert root.findtext("attributes/attribute/values/value/key") == "dark"
    assert root.findtext("attributes/attribute/values/value/name") == "It is dark"
    discovery = {"endpoints": [{"formats": ["text/xml", "application/json"]}]}
    root = ET.fromstring(to_xml("discovery", discovery))
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]


def test_a_list_without_a_known_item_name_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="sightings"):
        to_xml("report", {"sightings": [1, 2]})


def test_datetimes_are_utc_with_a_zone_in_both_formats() -> None:
    berlin = timezone(timedelta(hours=2))
    moment = datetime(2026, 6, 1, 10, 15, 30, 999_000, tzinfo=berlin)
    assert w3c_datetime(moment) == "2026-06-01T08:15:30Z"
    assert json.loads(to_json([{"requested_datetime": moment}])) == [{"requested_datetime": "2026-06-01T08:15:30Z"}]
    root = ET.fromstring(to_xml("service_requests", [{"requested_datetime": moment}]))
    assert root.findtext("request/requested_datetime") == "2026-06-01T08:15:30Z"
    with pytest.raises(ValueError, match="timezone"):
        w3c_datetime(datetime(2026, 6, 1, 10, 15, 30))  # noqa: DTZ001 - the naive value under test


def test_text_keeps_markup_characters_escaped_and_drops_what_xml_cannot_hold() -> None:
    text = 'Lamp <b>"12"</b> & co\x01 – grün'
    document = to_xml("service_requests", [{"description": text}])
    assert b"<b>" not in document
    # U+0001 cannot appear in XML 1.0 even as a reference: it becomes U+FFFD so the document still parses.
    assert ET.fromstring(document).findtext("request/description") == 'Lamp <b>"12"</b> & co\ufffd – grün'
    assert json.loads(to_json([{"description": text}]))[0]["description"] == text


def test_numbers_stay_numbers_in_json_and_decimal_text_in_xml() -> None:
    item = {"lat": 50.7355, "order": 2}
    assert json.loads(to_json([item])) == [item]
    root = ET.fromstring(to_xml("service_requests", [item]))
    assert (root.findtext("request/lat"), root.findtext("request/order")) == ("50.7355", "2")


def test_render_sets_the_content_types() -> None:
    assert render([], "json", "services").headers["content-type"] == "application/json; charset=utf-8"
    assert render([], "xml", "services").headers["content-type"] == "text/xml; charset=utf-8"
    exact = render({}, "xml", "discovery", content_type="text/xml")
    assert exact.headers["content-type"] == "text/xml"
    assert render([], "xml", "errors", status=404).status_code == 404


def test_error_statuses_follow_the_spec() -> None:
    assert [http_status(code) for code in (400, 401, 403, 404, 405, 409, 413, 422, 429, 500)] == [
        400,
        403,
        403,
        404,
        400,
        400,
        400,
        400,
        429,
        500,
    ]
    assert format_of_path("/open311/v2/requests.xml") == "xml"
    assert format_of_path("/open311/v2/requests.json") == "json"
    assert format_of_path("/open311/v2/requests.html") == "json"
    assert w3c_datetime(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00Z"
