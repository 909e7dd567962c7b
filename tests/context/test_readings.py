"""Device readings applied to entities: forward-only current values, every measure in history."""

from __future__ import annotations

from datetime import UTC

from urbis.context.history import iso_to_us, us_to_iso
from urbis.context.readings import apply_measures, change_history, instance_stamps, new_entity
from urbis.ingestion.messages import DeviceReadings, Measure

PM25 = "https://smartdatamodels.org/dataModel.Environment/pm25"
NOW = "2026-11-24T10:00:00.000000Z"


def measure(value: float, at: str, **extra: str) -> Measure:
    return Measure("pm25", value, at, iso_to_us(at), unit_code=extra.get("unit", "GQ"), dataset_id=extra.get("dataset"))


def entity() -> dict:
    return {"id": "urn:ngsi-ld:AirQualityObserved:1", "type": ["T"], "createdAt": NOW, "modifiedAt": NOW, "attrs": {}}


def test_timestamps_round_trip_through_microseconds() -> None:
    assert iso_to_us("1970-01-01T00:00:01.000002Z") == 1_000_002
    assert us_to_iso(1_000_002) == "1970-01-01T00:00:01.000002Z"
    for stamp in ("2026-03-29T01:59:59.999999Z", "0999-01-01T00:00:00.000001Z", "9999-12-31T23:59:59.999999Z"):
        assert us_to_iso(iso_to_us(stamp)) == stamp  # the last: a float timestamp rounds it up a second


def test_measures_set_the_current_value_and_all_go_to_history() -> None:
    e = entity()
    pairs = [
        (PM25, measure(12.0, "2026-11-24T09:00:00.000000Z")),
        (PM25, measure(14.5, "2026-11-24T09:01:00.000000Z")),
    ]
    changed, history = apply_measures("t", e, pairs, NOW)
    assert changed == [PM25]
    [current] = e["attrs"][PM25]
    assert current["value"] == 14.5
    assert current["observedAt"] == "2026-11-24T09:01:00.000000Z"
    assert current["unitCode"] == "GQ"
    assert [h.instance["value"] for h in history] == [12.0, 14.5]
    assert history[0].key == ("t", e["id"], PM25, "")
    assert history[1].observed_us == iso_to_us("2026-11-24T09:01:00.000000Z")


def test_a_late_measure_goes_to_history_but_does_not_overwrite_a_newer_value() -> None:
    e = entity()
    apply_measures("t", e, [(PM25, measure(20.0, "2026-11-24T09:05:00.000000Z"))], NOW)
    changed, history = apply_measures("t", e, [(PM25, measure(3.0, "2026-11-24T09:00:00.000000Z"))], NOW)
    assert changed == []
    assert e["attrs"][PM25][0]["value"] == 20.0
    assert [h.instance["value"] for h in history] == [3.0]


def test_datasets_are_separate_instances_and_series() -> None:
    e = entity()
    _, history = apply_measures(
        "t",
        e,
        [
            (PM25, measure(1.0, "2026-11-24T09:00:00.000000Z")),
            (PM25, measure(2.0, "2026-11-24T09:00:00.000000Z", dataset="urn:ngsi-ld:Dataset:raw")),
        ],
        NOW,
    )
    assert sorted(i.get("datasetId", "") for i in e["attrs"][PM25]) == ["", "urn:ngsi-ld:Dataset:raw"]
    assert {h.key[3] for h in history} == {"", "urn:ngsi-ld:Dataset:raw"}


def test_new_entity_carries_the_seed_attributes() -> None:
    readings = DeviceReadings(
        "t",
        "aq-1",
        "urn:ngsi-ld:AirQualityObserved:1",
        "AirQualityObserved",
        [],
        seed={"location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.1, 50.7]}}},
    )
    created = new_entity(readings, lambda name: f"https://example.org/{name}", NOW)
    assert created["type"] == ["https://example.org/AirQualityObserved"]
    assert created["attrs"]["https://example.org/location"][0]["value"]["coordinates"] == [7.1, 50.7]


def test_change_history_keeps_only_instances_whose_modification_moved() -> None:
    e = entity()
    e["attrs"] = {
        "a": [{"type": "Property", "value": 1, "modifiedAt": NOW}],
        "b": [{"type": "Property", "value": 2, "modifiedAt": NOW}],
    }
    before = instance_stamps(e)
    later = "2026-11-24T10:00:01.000000Z"
    e["attrs"]["b"][0] = {"type": "Property", "value": 3, "modifiedAt": later}
    entries = change_history("t", e, before)
    assert [(x.key[2], x.instance["value"], x.observed_us) for x in entries] == [("b", 3, iso_to_us(later))]
    assert len(change_history("t", e, None)) == 2


def test_only_values_safe_to_aggregate_get_a_numeric_column() -> None:
    from urbis.context.history import numeric_value

    assert numeric_value({"type": "Property", "value": 12}) == 12.0
    assert numeric_value({"type": "Property", "value": True}) == 1.0
    assert numeric_value({"type": "Property", "value": 0}) == 0.0
    assert numeric_value({"type": "Property", "value": "12"}) is None
    assert numeric_value({"type": "Relationship", "object": "urn:x"}) is None
    # Squares of these would underflow or overflow PostgreSQL's double precision (an error there).
    assert numeric_value({"type": "Property", "value": 1e-300}) is None
    assert numeric_value({"type": "Property", "value": -1e200}) is None
    assert numeric_value({"type": "Property", "value": 10**400}) is None
    assert numeric_value({"type": "Property", "value": float("nan")}) is None


def test_early_years_keep_four_digits_through_history() -> None:
    from datetime import datetime

    from urbis.context.model import utc_now_iso

    stamp = utc_now_iso(datetime(999, 1, 1, tzinfo=UTC))
    assert stamp == "0999-01-01T00:00:00.000000Z"
    assert us_to_iso(iso_to_us(stamp)) == stamp
    assert iso_to_us("999-01-01T00:00:00.000000Z") == iso_to_us(stamp)  # stored before the fix
