"""Pure parts of the temporal API: parameter parsing and the temporal representations."""

from __future__ import annotations

from typing import Any

import pytest

from urbis.context.temporal import (
    ContentRange,
    SeriesResult,
    TemporalEntity,
    instance_id,
    iso,
    parse_aggregation,
    parse_duration,
    parse_temporal_query,
)
from urbis.context.temporal_representation import TemporalRenderer, TemporalRenderOptions
from urbis.core.errors import BadRequestData, OperationNotSupported

S = 1_000_000
VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT1H", 3600),
        ("P1D", 86400),
        ("PT15M", 900),
        ("P1W", 7 * 86400),
        ("P1DT2H30M", 86400 + 2 * 3600 + 1800),
        ("PT90S", 90),
        ("PT0S", 0),
        ("P0D", 0),
        ("P0Y0M1D", 86400),
        ("PT0.5S", 0.5),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == int(seconds * S)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "P",
        "PT",
        "P1DT",
        "1H",
        "PT1X",
        "PT-1H",
        "P1.5D",
        "pt1h",
        "PT1H ",
        3600,
        "P99999999999999W",
        "PT99999999999999999999S",
    ],
)
def test_bad_durations(text: Any) -> None:
    with pytest.raises(BadRequestData, match="aggrPeriodDuration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["P1M", "P1Y", "P1Y2M"])
def test_calendar_durations_are_not_supported(text: str) -> None:
    with pytest.raises(OperationNotSupported):
        parse_duration(text)


def test_temporal_query_bounds() -> None:
    at, end = "2020-08-01T12:00:00Z", "2020-08-01T13:00:00+01:00"
    before = parse_temporal_query("before", at)
    assert (before.lower, before.upper) == (None, 1596283200 * S)
    after = parse_temporal_query("after", at)
    assert (after.lower, after.upper) == (1596283200 * S, None)
    # endTimeAt with an offset is the same instant as timeAt: not later.
    with pytest.raises(BadRequestData, match="later"):
        parse_temporal_query("between", at, end)
    between = parse_temporal_query("between", at, "2020-08-01T13:00:00.5Z")
    assert (between.lower, between.upper) == (1596283200 * S, 1596286800 * S + 500_000)
    assert parse_temporal_query(last_n=3).last_n == 3
    assert parse_temporal_query(last_n="3").last_n == 3
    assert parse_temporal_query(timeproperty="modifiedAt").column == "recorded_at"
    assert parse_temporal_query(timeproperty="createdAt").column == "recorded_at"
    assert parse_temporal_query().column == "observed_at"


@pytest.mark.parametrize(
    "members",
    [
        {"timerel": "after"},
        {"time_at": "2020-08-01T12:00:00Z"},
        {"timerel": "around", "time_at": "2020-08-01T12:00:00Z"},
        {"timerel": "after", "time_at": 12},
        {"timerel": "between", "time_at": "2020-08-01T12:00:00Z"},
        {"timerel": "after", "time_at": "2020-08-01T12:00:00Z", "end_time_at": "soon"},
        {"timeproperty": "deletedAt"},
        {"timeproperty": "observedat"},
        {"last_n": 0},
        {"last_n": True},
        {"last_n": 1.0},
        {"last_n": "²"},
    ],
)
def test_bad_temporal_queries(members: dict[str, Any]) -> None:
    with pytest.raises(BadRequestData):
        parse_temporal_query(**members)


def test_aggregation_methods() -> None:
    assert parse_aggregation("avg, max,avg", "PT1H").methods == ("avg", "max")
    assert parse_aggregation(["avg", "min,max"], None).methods == ("avg", "min", "max")
    assert parse_aggregation("sum", None).period_us == 0
    for bad in (None, "", "mean", ["avg", 3], {"avg": True}):
        with pytest.raises(BadRequestData, match="aggrMethods"):
            parse_aggregation(bad, None)


def test_times_and_ids() -> None:
    assert iso(1596283380 * S) == "2020-08-01T12:03:00Z"
    assert iso(1596283380 * S + 250_000) == "2020-08-01T12:03:00.250Z"
    assert iso(1596283380 * S + 7) == "2020-08-01T12:03:00.000007Z"
    assert iso(-1) == "1969-12-31T23:59:59.999999Z"
    assert instance_id(12, 34) == "urn:ngsi-ld:Instance:12-34"
    assert ContentRange(0, 60 * S, 5).header() == "date-time 1970-01-01T00:00:00Z-1970-01-01T00:01:00Z/5"


# -- rendering ---------------------------------------------------------------------------------


def compact(iri: str) -> str:
    return iri.removeprefix(VOCAB)


def series(attr: str, kind: str, values: list[tuple[int, Any]], dataset: str = "", sid: int = 1) -> SeriesResult:
    member = {"Relationship": "object", "LanguageProperty": "languageMap", "VocabProperty": "vocab"}.get(kind, "value")
    instances = []
    for t, value in values:
        instance = {"type": kind, member: value, "observedAt": iso(t), "createdAt": "2020-01-01T00:00:00Z"}
        if dataset:
            instance["datasetId"] = dataset
        instances.append((t, t, instance))
    return SeriesResult(sid, VOCAB + attr, dataset, kind, instances)


def entity(*items: SeriesResult) -> TemporalEntity:
    return TemporalEntity(
        {"id": "urn:ngsi-ld:Vehicle:1", "type": [VOCAB + "Vehicle"], "createdAt": "x", "modifiedAt": "y", "attrs": {}},
        list(items),
    )


def render(item: TemporalEntity, **options: Any) -> dict[str, Any]:
    return TemporalRenderer(compact, TemporalRenderOptions(**options)).entity(item)


def test_normalized_merges_datasets_in_time_order() -> None:
    item = entity(
        series("speed", "Property", [(2 * S, 20), (4 * S, 40)], sid=1),
        series("speed", "Property", [(3 * S, 30)], dataset="urn:ngsi-ld:Dataset:gps", sid=2),
    )
    out = render(item)
    assert [(i["value"], i.get("datasetId"), i["instanceId"]) for i in out["speed"]] == [
        (20, None, f"urn:ngsi-ld:Instance:1-{2 * S}"),
        (30, "urn:ngsi-ld:Dataset:gps", f"urn:ngsi-ld:Instance:2-{3 * S}"),
        (40, None, f"urn:ngsi-ld:Instance:1-{4 * S}"),
    ]
    assert "createdAt" not in out and "createdAt" not in out["speed"][0]
    with_sys = render(item, sys_attrs=True)
    assert with_sys["createdAt"] == "x" and with_sys["speed"][0]["createdAt"] == "2020-01-01T00:00:00Z"


def test_temporal_values_per_attribute_type() -> None:
    item = entity(
        series("speed", "Property", [(0, 1.5)], sid=1),
        series("speed", "Property", [(S, 2)], dataset="urn:ngsi-ld:Dataset:b", sid=2),
        series("owner", "Relationship", [(0, "urn:ngsi-ld:Person:1")], sid=3),
        series("name", "LanguageProperty", [(0, {"en": "bus", "de": "Bus"})], sid=4),
        series("category", "VocabProperty", [(0, VOCAB + "public")], sid=5),
    )
    out = render(item, format="temporalValues")
    assert out["speed"] == [
        {"type": "Property", "values": [[1.5, "1970-01-01T00:00:00Z"]]},
        {"type": "Property", "datasetId": "urn:ngsi-ld:Dataset:b", "values": [[2, "1970-01-01T00:00:01Z"]]},
    ]
    assert out["owner"] == {"type": "Relationship", "objects": [["urn:ngsi-ld:Person:1", "1970-01-01T00:00:00Z"]]}
    assert out["name"] == {
        "type": "LanguageProperty",
        "languageMaps": [[{"languageMap": {"en": "bus", "de": "Bus"}}, "1970-01-01T00:00:00Z"]],
    }
    assert out["category"] == {"type": "VocabProperty", "vocabs": [[{"vocab": "public"}, "1970-01-01T00:00:00Z"]]}
    # One language asked for: plain strings.
    assert render(item, format="temporalValues", lang=("de",))["name"] == {
        "type": "Property",
        "values": [["Bus", "1970-01-01T00:00:00Z"]],
    }


def test_concise_geometry_keeps_its_value_member() -> None:
    point = {"type": "Point", "coordinates": [7.1, 50.7]}
    item = entity(
        SeriesResult(9, VOCAB + "location", "", "GeoProperty", [(0, 0, {"type": "GeoProperty", "value": point})])
    )
    (only,) = render(item, format="concise")["location"]
    assert only == {"value": point, "instanceId": "urn:ngsi-ld:Instance:9-0"}
    assert point == {"type": "Point", "coordinates": [7.1, 50.7]}  # the stored instance is not touched


def test_aggregated_values_and_projection() -> None:
    speed = SeriesResult(1, VOCAB + "speed", "", "Property", aggregates={"avg": [(5.0, 0, 3600 * S)]})
    fuel = SeriesResult(2, VOCAB + "fuel", "urn:ngsi-ld:Dataset:x", "Property", aggregates={"max": [(9, 0, 60 * S)]})
    item = entity(speed, fuel)
    out = render(item, format="aggregatedValues")
    assert out["speed"] == {"type": "Property", "avg": [[5.0, "1970-01-01T00:00:00Z", "1970-01-01T01:00:00Z"]]}
    assert out["fuel"] == {
        "type": "Property",
        "datasetId": "urn:ngsi-ld:Dataset:x",
        "max": [[9, "1970-01-01T00:00:00Z", "1970-01-01T00:01:00Z"]],
    }
    assert render(item, format="aggregatedValues", pick=frozenset({"id", "speed"})).keys() == {"id", "speed"}
    assert render(item, format="aggregatedValues", omit=frozenset({"type", "speed"})).keys() == {"id", "fuel"}
