"""The registry's pure rules: device validation, mappings, patches, CSV import, profiles, credentials."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest

from urbis.core.errors import BadRequestData
from urbis.ingestion.credentials import (
    digest_matches,
    mosquitto_hash,
    mosquitto_hash_matches,
    new_token,
    token_digest,
)
from urbis.ingestion.devices import (
    MeasureRule,
    apply_patch,
    check_device_id,
    parse_csv,
    parse_device,
    parse_json_import,
    parse_mapping,
    seed_of,
)
from urbis.ingestion.profiles import DEVICE_TYPES, PROFILES, MeasureMapping


def lamp(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "lamp-0001", "deviceType": "streetlight-controller"}
    body.update(overrides)
    return body


# -- profiles ---------------------------------------------------------------------------------


def test_the_six_device_types_of_the_contract() -> None:
    assert set(DEVICE_TYPES) == {
        "streetlight-controller",
        "cabinet-meter",
        "air-quality-station",
        "parking-bay-sensor",
        "garage-counter",
        "gateway",
    }
    assert PROFILES["gateway"].is_gateway and PROFILES["gateway"].mapping == ()
    assert PROFILES["air-quality-station"].entity_type == "AirQualityObserved"


def test_profile_mappings_round_trip_through_json() -> None:
    for profile in PROFILES.values():
        as_json = [m.to_json() for m in profile.mapping]
        assert parse_mapping(as_json) == profile.mapping


def test_streetlight_profile_matches_the_contract() -> None:
    by_key = {m.measure: m for m in PROFILES["streetlight-controller"].mapping}
    assert by_key["dim"] == MeasureMapping("dim", "illuminanceLevel", "number", "P1", 0.01, 0.0, 0.0, 1.0)
    assert dict(by_key["on"].values or ()) == {"true": "on", "false": "off"}
    assert by_key["power"].unit_code == "WTT" and by_key["power"].maximum == 2000.0
    assert by_key["energy"].minimum == 0.0 and by_key["energy"].maximum is None
    assert by_key["status"].kind == "text"


# -- devices ----------------------------------------------------------------------------------


def test_a_device_gets_its_profile_defaults() -> None:
    spec = parse_device(lamp())
    assert spec.entity_type == "Streetlight"
    assert spec.entity_id == "urn:ngsi-ld:Streetlight:lamp-0001"
    assert spec.mapping == PROFILES["streetlight-controller"].mapping
    assert spec.attributes == {} and spec.location is None


def test_a_full_device_body() -> None:
    spec = parse_device(
        lamp(
            entityId="urn:ngsi-ld:Streetlight:bonn-1",
            entityType="Streetlight",
            gatewayId="gw-north",
            location={"type": "Point", "coordinates": [7.1, 50.73]},
            attributes={
                "name": {"type": "Property", "value": "Lamp 1"},
                "refStreetlightGroup": {"type": "Relationship", "object": "urn:ngsi-ld:StreetlightGroup:g1"},
            },
            mapping=[{"measure": "lux", "attribute": "illuminanceLevel", "scale": 0.001, "min": 0, "max": 1}],
        )
    )
    assert spec.gateway_id == "gw-north"
    assert spec.mapping == (MeasureMapping("lux", "illuminanceLevel", "number", None, 0.001, 0.0, 0.0, 1.0),)
    seed = seed_of(spec)
    assert seed["location"] == {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.1, 50.73]}}
    assert seed["name"] == {"type": "Property", "value": "Lamp 1"}
    assert set(seed) == {"location", "name", "refStreetlightGroup"}


@pytest.mark.parametrize("device_id", ["lamp-1", "a", "x.y:z_9", "A" * 128])
def test_valid_device_ids(device_id: str) -> None:
    assert check_device_id(device_id) == device_id


@pytest.mark.parametrize("device_id", ["", "a/b", "a+b", "a#", "with space", "A" * 129, 42, None, "ümlaut"])
def test_invalid_device_ids(device_id: Any) -> None:
    with pytest.raises(BadRequestData):
        check_device_id(device_id)


@pytest.mark.parametrize(
    "body",
    [
        [],
        lamp(deviceType="toaster"),
        lamp(extra=1),
        lamp(entityId="not-a-urn"),
        lamp(entityType="has space"),
        lamp(location={"type": "Point", "coordinates": [200, 50]}),
        lamp(location={"type": "Point", "coordinates": ["7", 50]}),
        lamp(location={"type": "Circle", "coordinates": [7, 50]}),
        lamp(attributes={"name": "Lamp 1"}),
        lamp(attributes={"name": {"type": "Property"}}),
        lamp(attributes={"id": {"type": "Property", "value": 1}}),
        lamp(attributes={"location": {"type": "GeoProperty", "value": {}}}),
        lamp(attributes={"ref": {"type": "Relationship"}}),
        lamp(gatewayId="lamp-0001"),
        lamp(gatewayId="bad/gw"),
        {"id": "gw", "deviceType": "gateway", "entityId": "urn:ngsi-ld:X:1"},
        {"id": "gw", "deviceType": "gateway", "gatewayId": "other"},
        {"id": "gw", "deviceType": "gateway", "mapping": [{"measure": "a", "attribute": "b"}]},
    ],
)
def test_invalid_devices_are_refused(body: Any) -> None:
    with pytest.raises(BadRequestData):
        parse_device(body)


@pytest.mark.parametrize(
    "mapping",
    [
        {"measure": "a"},
        [{"measure": "ts", "attribute": "x"}],
        [{"measure": "a", "attribute": "type"}],
        [{"measure": "a", "attribute": "x", "kind": "date"}],
        [{"measure": "a", "attribute": "x", "scale": 0}],
        [{"measure": "a", "attribute": "x", "min": 5, "max": 1}],
        [{"measure": "a", "attribute": "x", "unitCode": "celsius"}],
        [{"measure": "a", "attribute": "x", "values": {}}],
        [{"measure": "a", "attribute": "x", "values": {"1": {"nested": True}}}],
        [{"measure": "a", "attribute": "x", "surprise": 1}],
        [{"measure": "a", "attribute": "x"}, {"measure": "a", "attribute": "y"}],
        [{"measure": "a", "attribute": "x", "scale": "2"}],
        [{"measure": "a", "attribute": "x", "min": True}],
    ],
)
def test_invalid_mappings_are_refused(mapping: Any) -> None:
    with pytest.raises(BadRequestData):
        parse_device(lamp(mapping=mapping))


def test_a_gateway_has_no_entity() -> None:
    spec = parse_device({"id": "gw-north", "deviceType": "gateway"})
    assert spec.is_gateway and spec.entity_id is None and spec.entity_type is None and spec.mapping == ()


def test_patch_replaces_members_and_clears_with_null() -> None:
    current = parse_device(lamp(gatewayId="gw-1", location={"type": "Point", "coordinates": [7, 50]}))
    patched = apply_patch(current, {"gatewayId": None, "entityId": "urn:ngsi-ld:Streetlight:renamed"})
    assert patched.gateway_id is None
    assert patched.entity_id == "urn:ngsi-ld:Streetlight:renamed"
    assert patched.location == current.location and patched.mapping == current.mapping


def test_patching_the_type_brings_the_new_profile() -> None:
    current = parse_device(lamp())
    patched = apply_patch(current, {"deviceType": "cabinet-meter"})
    assert patched.entity_type == "StreetlightControlCabinet"
    assert patched.mapping == PROFILES["cabinet-meter"].mapping
    assert patched.entity_id == current.entity_id  # the entity it feeds stays unless patched


@pytest.mark.parametrize("patch", [{}, [], {"id": "other"}, {"enabled": False}, {"deviceType": "toaster"}])
def test_invalid_patches(patch: Any) -> None:
    with pytest.raises(BadRequestData):
        apply_patch(parse_device(lamp()), patch)


# -- scaling ----------------------------------------------------------------------------------


def test_scaling_by_a_hundredth_divides_exactly() -> None:
    rule = MeasureRule(MeasureMapping("dim", "illuminanceLevel", scale=0.01))
    assert rule.divisor == 100.0
    assert [v / rule.divisor for v in (35, 57, 7)] == [0.35, 0.57, 0.07]
    assert 57 * 0.01 != 0.57  # why the divisor exists: 0.5700000000000001
    assert MeasureRule(MeasureMapping("x", "y", scale=2.5)).divisor is None


# -- CSV --------------------------------------------------------------------------------------


def test_csv_rows_become_device_bodies() -> None:
    text = (
        "id,deviceType,entityId,entityType,gatewayId,longitude,latitude,name,district,serial\n"
        "lamp-1,streetlight-controller,,,gw-1,7.1,50.7,Lamp one,Nord,007\n"
        "\n"
        "aq-1,air-quality-station,urn:ngsi-ld:AirQualityObserved:aq-1,,,,,,,42\n"
        "broken,streetlight-controller\n"
    )
    rows = parse_csv(text)
    assert [(r.row, r.line) for r in rows] == [(1, 2), (2, 4), (3, 5)]
    first = rows[0].body
    assert first == {
        "id": "lamp-1",
        "deviceType": "streetlight-controller",
        "gatewayId": "gw-1",
        "location": {"type": "Point", "coordinates": [7.1, 50.7]},
        "attributes": {
            "name": {"type": "Property", "value": "Lamp one"},
            "district": {"type": "Property", "value": "Nord"},
            "serial": {"type": "Property", "value": "007"},  # not a JSON number: stays text
        },
    }
    assert rows[1].body == {
        "id": "aq-1",
        "deviceType": "air-quality-station",
        "entityId": "urn:ngsi-ld:AirQualityObserved:aq-1",
        "attributes": {"serial": {"type": "Property", "value": 42}},
    }
    assert rows[2].body is None and rows[2].error is not None and "cells" in rows[2].error


@pytest.mark.parametrize(
    "text", ["", "name,longitude\nx,1\n", "id,deviceType,id\n", "id,deviceType,bad column\n", "id,deviceType,type\n"]
)
def test_unusable_csv_headers(text: str) -> None:
    with pytest.raises(BadRequestData):
        parse_csv(text)


def test_json_import_rows() -> None:
    rows = parse_json_import([lamp(), "nope"])
    assert rows[0].body == lamp() and rows[1].error is not None
    with pytest.raises(BadRequestData):
        parse_json_import({"id": "x"})


# -- credentials ------------------------------------------------------------------------------


def test_tokens_are_long_random_and_stored_as_sha256() -> None:
    token = new_token()
    assert len(token) >= 43 and token != new_token()
    assert token_digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert digest_matches(token, token_digest(token))
    assert not digest_matches(token + "x", token_digest(token))


def test_mosquitto_hash_matches_a_value_worked_out_with_mosquitto_passwd() -> None:
    # `mosquitto_passwd -b pw user secret` wrote this line (salt and hash from the file).
    stored = "$7$101$Ha2/llCVWliANIJv$yx7YsXU9r/TnL1n8+kw/ByAA7KujwEIx3fqPnXZ0wiaN54iEd6sWyHY1lmgGmD6rBHbyN9mNdDW4WzZv1V0oLg=="
    salt = base64.b64decode("Ha2/llCVWliANIJv")
    assert mosquitto_hash("secret", salt=salt) == stored
    assert mosquitto_hash_matches("secret", stored)
    assert not mosquitto_hash_matches("Secret", stored)
    assert not mosquitto_hash_matches("secret", "$6$nonsense")


def test_our_hashes_have_the_mosquitto_passwd_format(tmp_path: Path) -> None:
    """Same layout as the lines ``mosquitto_passwd`` writes; the broker test proves they log in."""
    token = new_token()
    line = f"t/dev-1:{mosquitto_hash(token)}"
    assert line.split(":", 1)[1].startswith("$7$101$")
    parts = line.split(":", 1)[1].split("$")
    assert len(base64.b64decode(parts[3])) == 12 and len(base64.b64decode(parts[4])) == 64
    tool = Path("/usr/bin/mosquitto_passwd")
    if not tool.exists():
        pytest.skip("mosquitto_passwd is not installed")
    file = tmp_path / "pw"
    subprocess.run([str(tool), "-b", "-c", str(file), "other", "pw"], check=True)
    assert file.read_text().startswith("other:$7$101$")  # the format we write
