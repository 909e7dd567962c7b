"""Payloads to measures: JSON shapes, timestamps, scaling, enumerations, ranges, and every rejection reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from urbis.ingestion.decoders import (
    BAD_TIMESTAMP,
    FUTURE_TIMESTAMP,
    MALFORMED,
    OUT_OF_RANGE,
    UNKNOWN_MEASURE,
    WRONG_TYPE,
    PayloadError,
    Rejection,
    decode_json,
    device_entries,
    format_us,
    gateway_entries,
    map_entries,
    member_entries,
    timestamp_us,
)
from urbis.ingestion.devices import compile_device, parse_device, with_state
from urbis.ingestion.messages import Measure

# 2026-11-24T07:00:00Z in µs since the epoch, worked out as days * 86400 + 7 h.
# Days from 1970-01-01 to 2026-11-24: 56 years with 14 leap days = 20454, plus 327 days into 2026 = 20781.
T0 = (20781 * 86400 + 7 * 3600) * 1_000_000
RECEIVED = T0 + 30_000_000  # 07:00:30
LATEST = RECEIVED + 300_000_000  # five minutes of tolerance


def device(device_type: str = "streetlight-controller", **body: Any) -> Any:
    spec = parse_device({"id": "dev-1", "deviceType": device_type, **body})
    return compile_device(with_state(spec, "t1"), "digest")


def run(entries: list[Any], dev: Any = None) -> tuple[list[Measure], list[Rejection], int]:
    measures: list[Measure] = []
    rejections: list[Rejection] = []
    refused = map_entries(
        dev or device(), entries, default_us=RECEIVED, latest_us=LATEST, measures=measures, rejections=rejections
    )
    return measures, rejections, refused


def test_the_worked_out_instant() -> None:
    assert int(datetime(2026, 11, 24, 7, tzinfo=UTC).timestamp()) * 1_000_000 == T0


# -- timestamps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-24T07:00:00Z", T0),
        ("2026-11-24T08:00:00+01:00", T0),
        ("2026-11-24T07:00:00.250Z", T0 + 250_000),
        (1795503600000, T0),  # epoch milliseconds
        (1795503600000.5, T0 + 500),
    ],
)
def test_timestamps(raw: Any, expected: int) -> None:
    assert timestamp_us(raw) == expected


@pytest.mark.parametrize("raw", ["2026-11-24T07:00:00", "yesterday", "", "9" * 80, -5, True, [1], {"t": 1}, 1e20])
def test_bad_timestamps(raw: Any) -> None:
    with pytest.raises(ValueError):
        timestamp_us(raw)


def test_format_us() -> None:
    assert format_us(T0) == "2026-11-24T07:00:00.000000Z"
    assert format_us(T0 + 1) == "2026-11-24T07:00:00.000001Z"


# -- shapes -----------------------------------------------------------------------------------


def test_payload_shapes() -> None:
    assert device_entries(decode_json(b'{"dim": 1}')) == [{"dim": 1}]
    assert device_entries(decode_json(b'[{"dim": 1}, {"dim": 2}]')) == [{"dim": 1}, {"dim": 2}]
    assert gateway_entries(decode_json(b'{"a": [{"dim": 1}]}')) == {"a": [{"dim": 1}]}
    assert member_entries({"dim": 1}) == [{"dim": 1}]
    assert member_entries(3) is None
    for bad in (b"", b"{", b"\xff\xfe", b"nul"):
        with pytest.raises(PayloadError):
            decode_json(bad)
    for document in (3, "x", None, True):
        with pytest.raises(PayloadError):
            device_entries(document)
    with pytest.raises(PayloadError):
        gateway_entries([{"dim": 1}])


# -- mapping ----------------------------------------------------------------------------------


def test_streetlight_measures_are_mapped() -> None:
    measures, rejections, refused = run(
        [{"ts": "2026-11-24T07:00:00Z", "on": True, "dim": 57, "power": 31.5, "energy": 1200, "status": "ok"}]
    )
    assert rejections == [] and refused == 0
    iso = "2026-11-24T07:00:00.000000Z"
    assert measures == [
        Measure("powerState", "on", iso, T0, None),
        Measure("illuminanceLevel", 0.57, iso, T0, "P1"),
        Measure("powerConsumption", 31.5, iso, T0, "WTT"),
        Measure("energyConsumed", 1200, iso, T0, "KWH"),
        Measure("status", "ok", iso, T0, None),
    ]


def test_entries_without_ts_take_the_receive_time() -> None:
    measures, _, _ = run([{"dim": 40}, {"ts": 1795503600000, "dim": 50}])
    assert [(m.value, m.observed_us, m.observed_at) for m in measures] == [
        (0.4, RECEIVED, "2026-11-24T07:00:30.000000Z"),
        (0.5, T0, "2026-11-24T07:00:00.000000Z"),
    ]


def test_enumerations_and_offsets() -> None:
    dev = device(
        mapping=[
            {"measure": "state", "attribute": "status", "values": {"0": "ok", "1": "fault"}},
            {"measure": "tempF", "attribute": "temperature", "scale": 0.5, "offset": -10, "min": -50, "max": 60},
            {"measure": "mode", "attribute": "workingMode", "kind": "text", "values": {"A": "automatic"}},
        ]
    )
    measures, rejections, refused = run(
        [{"state": 1, "tempF": 100}, {"state": 1.0, "mode": "A"}, {"state": 7, "mode": "B", "tempF": 200}], dev
    )
    assert [(m.attribute, m.value) for m in measures] == [
        ("status", "fault"),
        ("temperature", 40.0),  # 100 * 0.5 - 10
        ("status", "fault"),
        ("workingMode", "automatic"),
    ]
    assert [(r.index, r.measure, r.reason) for r in rejections] == [
        (2, "state", OUT_OF_RANGE),
        (2, "mode", OUT_OF_RANGE),
        (2, "tempF", OUT_OF_RANGE),  # 200 * 0.5 - 10 = 90 > 60
    ]
    assert refused == 3


def test_every_measure_rejection_keeps_the_valid_measures() -> None:
    measures, rejections, refused = run(
        [
            {"dim": 140, "power": 10},  # 1.4 > 1: out of range (range checked after scaling)
            {"dim": "40", "on": 1, "status": 5, "power": None},  # wrong types
            {"volume": 3, "power": 20},  # unknown measure
            {"ts": "2026-11-24T09:00:00Z", "power": 30},  # two hours ahead: future
            {"ts": "24.11.2026", "power": 40},  # bad timestamp
            "not an object",
            {"power": -1, "energy": -0.5},  # below the physical minimum
            {"status": "x" * 2000},
        ]
    )
    assert [m.value for m in measures] == [10, 20]
    assert [(r.index, r.measure, r.reason) for r in rejections] == [
        (0, "dim", OUT_OF_RANGE),
        (1, "dim", WRONG_TYPE),
        (1, "on", WRONG_TYPE),
        (1, "status", WRONG_TYPE),
        (1, "power", WRONG_TYPE),
        (2, "volume", UNKNOWN_MEASURE),
        (3, "ts", FUTURE_TIMESTAMP),
        (4, "ts", BAD_TIMESTAMP),
        (5, None, MALFORMED),
        (6, "power", OUT_OF_RANGE),
        (6, "energy", OUT_OF_RANGE),
        (7, "status", OUT_OF_RANGE),
    ]
    assert refused == 12
    assert all(r.detail for r in rejections)


def test_a_timestamp_within_the_tolerance_is_kept() -> None:
    measures, rejections, _ = run([{"ts": "2026-11-24T07:05:29Z", "power": 1}])
    assert rejections == [] and measures[0].observed_us == T0 + 329_000_000


def test_booleans_are_not_numbers() -> None:
    dev = device("garage-counter")
    measures, rejections, _ = run([{"occupied": True, "free": 12}], dev)
    assert [(m.attribute, m.value, m.unit_code) for m in measures] == [("availableSpotNumber", 12, "C62")]
    assert rejections[0].reason == WRONG_TYPE


def test_parking_bay_status() -> None:
    measures, _, _ = run([{"occupied": True}, {"occupied": False}], device("parking-bay-sensor"))
    assert [m.value for m in measures] == ["occupied", "free"]


def test_gateway_rejections_name_the_member() -> None:
    measures: list[Measure] = []
    rejections: list[Rejection] = []
    map_entries(
        device(),
        [{"bogus": 1}],
        default_us=RECEIVED,
        latest_us=LATEST,
        measures=measures,
        rejections=rejections,
        label="lamp-7",
    )
    assert rejections[0].device == "lamp-7"
    assert rejections[0].to_json() == {
        "index": 0,
        "measure": "bogus",
        "reason": UNKNOWN_MEASURE,
        "detail": rejections[0].detail,
        "device": "lamp-7",
    }


def test_timestamps_are_stored_in_one_form_whatever_form_they_came_in() -> None:
    entries = [
        {"ts": "2026-11-24T07:00:00.250000Z", "power": 1},  # already the stored form
        {"ts": "2026-11-24T08:00:00.25+01:00", "power": 2},
        {"ts": "2026-11-24 07:00:00.250000Z", "power": 3},  # same length, a space for the T
        {"ts": "2026-W48-2T07:00:00.250000Z", "power": 4},  # same length, an ISO week date
    ]
    measures, rejections, _ = run(entries)
    assert rejections == []
    assert [m.observed_at for m in measures] == ["2026-11-24T07:00:00.250000Z"] * 4
    assert {m.observed_us for m in measures} == {T0 + 250_000}
