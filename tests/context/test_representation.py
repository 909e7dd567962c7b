"""Rendering internal entities: normalized, concise, keyValues, GeoJSON, and the projection options."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from urbis.context.representation import Renderer, RenderOptions

NS = "https://example.org/"
T0 = "2026-01-01T00:00:00.000000Z"
T1 = "2026-01-02T00:00:00.000000Z"
GPS = "urn:ngsi-ld:Dataset:gps"


def compact(iri: str) -> str:
    """The inverse of the tiny test context: IRIs under NS become bare terms."""
    return iri.removeprefix(NS)


def render(entity: dict[str, Any], **options: Any) -> Any:
    return Renderer(compact, RenderOptions(**options)).entity(entity)


def stamped(instance: dict[str, Any]) -> dict[str, Any]:
    return {**instance, "createdAt": T0, "modifiedAt": T1}


def internal() -> dict[str, Any]:
    """An entity in the stored internal form, with one attribute of every kind."""
    return {
        "id": "urn:ngsi-ld:Building:1",
        "type": [NS + "Building"],
        "createdAt": T0,
        "modifiedAt": T1,
        "attrs": {
            NS + "temperature": [
                stamped(
                    {
                        "type": "Property",
                        "value": 21.5,
                        "unitCode": "CEL",
                        "observedAt": T0,
                        "attrs": {NS + "accuracy": stamped({"type": "Property", "value": 0.5})},
                    }
                )
            ],
            NS + "owner": [
                stamped(
                    {
                        "type": "Relationship",
                        "object": "urn:ngsi-ld:Person:alice",
                        "objectType": [NS + "Person", NS + "Agent"],
                    }
                )
            ],
            NS + "location": [stamped({"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}})],
            NS + "name": [
                stamped(
                    {"type": "LanguageProperty", "languageMap": {"en": "Hall", "fr": "Salle", "en-GB": "Hall (GB)"}}
                )
            ],
            NS + "config": [stamped({"type": "JsonProperty", "json": {"type": "opaque", "value": 1}})],
            NS + "category": [stamped({"type": "VocabProperty", "vocab": [NS + "commercial", "https://other.org/x"]})],
            NS + "readings": [stamped({"type": "ListProperty", "valueList": [3, 1]})],
            NS + "route": [
                stamped({"type": "ListRelationship", "objectList": ["urn:ngsi-ld:City:a", "urn:ngsi-ld:City:b"]})
            ],
            NS + "address": [stamped({"type": "Property", "value": {"street": "Main"}})],
            NS + "speed": [
                stamped({"type": "Property", "value": 50}),
                stamped({"type": "Property", "value": 52, "datasetId": GPS}),
            ],
        },
    }


NORMALIZED = {
    "id": "urn:ngsi-ld:Building:1",
    "type": "Building",
    "temperature": {
        "type": "Property",
        "value": 21.5,
        "unitCode": "CEL",
        "observedAt": T0,
        "accuracy": {"type": "Property", "value": 0.5},
    },
    "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:alice", "objectType": ["Person", "Agent"]},
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}},
    "name": {"type": "LanguageProperty", "languageMap": {"en": "Hall", "fr": "Salle", "en-GB": "Hall (GB)"}},
    "config": {"type": "JsonProperty", "json": {"type": "opaque", "value": 1}},
    "category": {"type": "VocabProperty", "vocab": ["commercial", "https://other.org/x"]},
    "readings": {"type": "ListProperty", "valueList": [3, 1]},
    "route": {
        "type": "ListRelationship",
        "objectList": [{"object": "urn:ngsi-ld:City:a"}, {"object": "urn:ngsi-ld:City:b"}],
    },
    "address": {"type": "Property", "value": {"street": "Main"}},
    "speed": [{"type": "Property", "value": 50}, {"type": "Property", "value": 52, "datasetId": GPS}],
}


def test_normalized() -> None:
    assert render(internal()) == NORMALIZED


def test_concise() -> None:
    assert render(internal(), format="concise") == {
        "id": "urn:ngsi-ld:Building:1",
        "type": "Building",
        "temperature": {"value": 21.5, "unitCode": "CEL", "observedAt": T0, "accuracy": 0.5},
        "owner": {"object": "urn:ngsi-ld:Person:alice", "objectType": ["Person", "Agent"]},
        "location": {"type": "Point", "coordinates": [1, 2]},
        "name": {"languageMap": {"en": "Hall", "fr": "Salle", "en-GB": "Hall (GB)"}},
        "config": {"json": {"type": "opaque", "value": 1}},
        "category": {"vocab": ["commercial", "https://other.org/x"]},
        "readings": {"valueList": [3, 1]},
        "route": {"objectList": [{"object": "urn:ngsi-ld:City:a"}, {"object": "urn:ngsi-ld:City:b"}]},
        # A bare object would be read back as an attribute: the value keeps its wrapper.
        "address": {"value": {"street": "Main"}},
        # In an array every instance stays an object, never a bare value.
        "speed": [{"value": 50}, {"value": 52, "datasetId": GPS}],
    }


def test_concise_multi_instance_geo_values_keep_their_wrapper() -> None:
    entity = {
        "id": "urn:ngsi-ld:T:1",
        "type": [NS + "T"],
        "attrs": {
            NS + "where": [
                {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [0, 0]}},
                {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 1]}, "datasetId": GPS},
            ]
        },
    }
    assert render(entity, format="concise")["where"] == [
        {"value": {"type": "Point", "coordinates": [0, 0]}},
        {"value": {"type": "Point", "coordinates": [1, 1]}, "datasetId": GPS},
    ]


def test_key_values() -> None:
    assert render(internal(), format="keyValues") == {
        "id": "urn:ngsi-ld:Building:1",
        "type": "Building",
        "temperature": 21.5,
        "owner": "urn:ngsi-ld:Person:alice",
        "location": {"type": "Point", "coordinates": [1, 2]},
        "name": {"languageMap": {"en": "Hall", "fr": "Salle", "en-GB": "Hall (GB)"}},
        "config": {"json": {"type": "opaque", "value": 1}},
        "category": {"vocab": ["commercial", "https://other.org/x"]},
        "readings": {"valueList": [3, 1]},
        "route": {"objectList": [{"object": "urn:ngsi-ld:City:a"}, {"object": "urn:ngsi-ld:City:b"}]},
        "address": {"street": "Main"},
        "speed": {"dataset": {"@none": 50, GPS: 52}},
    }


def test_several_types_and_scopes() -> None:
    entity = {"id": "urn:ngsi-ld:T:1", "type": [NS + "A", "https://other.org/B"], "scope": ["/x", "/y/z"], "attrs": {}}
    assert render(entity) == {"id": "urn:ngsi-ld:T:1", "type": ["A", "https://other.org/B"], "scope": ["/x", "/y/z"]}
    entity["scope"] = ["/x"]
    assert render(entity)["scope"] == "/x"


def test_sys_attrs_at_every_level() -> None:
    out = render(internal(), sys_attrs=True)
    assert (out["createdAt"], out["modifiedAt"]) == (T0, T1)
    assert (out["temperature"]["createdAt"], out["temperature"]["modifiedAt"]) == (T0, T1)
    assert out["temperature"]["accuracy"]["createdAt"] == T0
    assert all("createdAt" in instance for instance in out["speed"])
    concise = render(internal(), sys_attrs=True, format="concise")
    assert concise["temperature"]["createdAt"] == T0
    assert "createdAt" not in render(internal(), format="keyValues")


def test_attrs_and_dataset_filters() -> None:
    assert render(internal(), attrs=frozenset({NS + "owner", NS + "nothing"})) == {
        "id": "urn:ngsi-ld:Building:1",
        "type": "Building",
        "owner": NORMALIZED["owner"],
    }
    out = render(internal(), dataset_ids=frozenset({GPS}))
    assert out["speed"] == {"type": "Property", "value": 52, "datasetId": GPS}
    assert "temperature" not in out  # only instances with that datasetId are kept
    assert render(internal(), dataset_ids=frozenset({"@none"}))["speed"] == {"type": "Property", "value": 50}


def test_pick_and_omit() -> None:
    assert render(internal(), pick=frozenset({"id", "owner"})) == {
        "id": "urn:ngsi-ld:Building:1",
        "owner": NORMALIZED["owner"],
    }
    omitted = render(internal(), omit=frozenset({"id", "type", "speed"}))
    assert set(omitted) == set(NORMALIZED) - {"id", "type", "speed"}


@pytest.mark.parametrize(
    ("lang", "tag"),
    [
        (("fr",), "fr"),
        (("FR",), "fr"),
        (("de", "fr"), "fr"),
        (("en;q=0.3", "fr;q=0.8"), "fr"),
        (("en-GB",), "en-GB"),
        (("en",), "en"),
        (("de",), "en"),  # nothing wanted is there, and no @none: the first one
        (("*",), "en"),
        (("fr;q=0", "de"), "en"),
    ],
)
def test_lang_picks_one_text(lang: tuple[str, ...], tag: str) -> None:
    texts = {"en": "Hall", "fr": "Salle", "en-GB": "Hall (GB)"}
    out = render(internal(), lang=lang)
    assert out["name"] == {"type": "Property", "value": texts[tag], "lang": tag}
    assert render(internal(), lang=lang, format="keyValues")["name"] == texts[tag]
    assert render(internal(), lang=lang, format="concise")["name"] == {"value": texts[tag], "lang": tag}
    assert out["temperature"] == NORMALIZED["temperature"]


def test_lang_prefers_a_regional_tag_over_nothing_and_none_over_a_guess() -> None:
    entity = {
        "id": "urn:ngsi-ld:T:1",
        "type": [NS + "T"],
        "attrs": {NS + "name": [{"type": "LanguageProperty", "languageMap": {"en-US": "Hi", "@none": "Hello"}}]},
    }
    assert render(entity, lang=("en",))["name"] == {"type": "Property", "value": "Hi", "lang": "en-US"}
    assert render(entity, lang=("de",))["name"] == {"type": "Property", "value": "Hello", "lang": "@none"}


def test_rendering_does_not_change_the_entity() -> None:
    entity = internal()
    before = copy.deepcopy(entity)
    for options in ({}, {"format": "concise"}, {"format": "keyValues", "lang": ("fr",)}, {"sys_attrs": True}):
        render(entity, **options)
    Renderer(compact, RenderOptions()).geojson_feature(entity, NS + "location")
    assert entity == before


def test_geojson_feature_and_collection() -> None:
    renderer = Renderer(compact, RenderOptions())
    feature = renderer.geojson_feature(internal(), NS + "location")
    assert feature == {
        "id": "urn:ngsi-ld:Building:1",
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [1, 2]},
        "properties": {k: v for k, v in NORMALIZED.items() if k != "id"},
    }
    assert renderer.geojson_feature(internal(), NS + "elsewhere")["geometry"] is None
    assert renderer.geojson_feature(internal(), NS + "temperature")["geometry"] is None  # not a GeoProperty
    simplified = Renderer(compact, RenderOptions(format="keyValues")).geojson_feature(internal(), NS + "location")
    assert simplified["properties"]["temperature"] == 21.5
    collection = renderer.geojson_collection(
        [internal(), {**internal(), "id": "urn:ngsi-ld:Building:2"}], NS + "location"
    )
    assert collection["type"] == "FeatureCollection"
    assert [f["id"] for f in collection["features"]] == ["urn:ngsi-ld:Building:1", "urn:ngsi-ld:Building:2"]
    assert renderer.geojson_collection([], NS + "location") == {"type": "FeatureCollection", "features": []}
