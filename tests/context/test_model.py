"""The pure entity rules of :mod:`urbis.context.model`: building, append, update, merge, replace, delete."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from urbis.context import model
from urbis.context.model import NGSILD_NULL as NULL
from urbis.context.model import InstanceBuilder, build_entity
from urbis.core.errors import BadRequestData

NS = "https://example.org/"
T0 = "2026-01-01T00:00:00.000000Z"
T1 = "2026-01-02T00:00:00.000000Z"
T2 = "2026-01-03T00:00:00.000000Z"
GPS = "urn:ngsi-ld:Dataset:gps"


def expand(term: str) -> str:
    """A tiny @context: names with a colon are IRIs, the rest go under NS."""
    return term if ":" in term else NS + term


def build(payload: dict[str, Any], **options: Any) -> model.Entity:
    return build_entity(payload, expand, T0, **options)


def stored(payload: dict[str, Any], now: str = T0) -> model.Entity:
    """An entity as the service stores it after a create at ``now``."""
    return model.stamp_new_entity(build_entity(payload, expand, now), now)


def fragment(payload: dict[str, Any], *, allow_null: bool = True) -> model.Entity:
    return build_entity(payload, expand, T1, require_id=False, require_type=False, allow_null=allow_null)


def plain(instance: dict[str, Any]) -> dict[str, Any]:
    """An instance without system timestamps (recursively), for comparisons."""
    out = {k: v for k, v in instance.items() if k not in ("createdAt", "modifiedAt")}
    if "attrs" in out:
        out["attrs"] = {name: plain(sub) for name, sub in out["attrs"].items()}
    return out


# ---------------------------------------------------------------------------------------------------------
# Building the internal form
# ---------------------------------------------------------------------------------------------------------


def test_build_expands_names_and_keeps_values() -> None:
    entity = build(
        {
            "id": "urn:ngsi-ld:Thing:1",
            "type": ["Thing", "Device", "Thing"],
            "scope": ["/Madrid/Centro", "/Madrid/Centro"],
            "temperature": {"type": "Property", "value": 21, "unitCode": "CEL", "accuracy": {"value": 0.5}},
            "https://other.org/raw": {"type": "Property", "value": {"nested": "urn:x:y"}},
        }
    )
    assert entity == {
        "id": "urn:ngsi-ld:Thing:1",
        "type": [NS + "Thing", NS + "Device"],
        "scope": ["/Madrid/Centro"],
        "attrs": {
            NS + "temperature": [
                {
                    "type": "Property",
                    "value": 21,
                    "unitCode": "CEL",
                    "attrs": {NS + "accuracy": {"type": "Property", "value": 0.5}},
                }
            ],
            "https://other.org/raw": [{"type": "Property", "value": {"nested": "urn:x:y"}}],
        },
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(5, {"type": "Property", "value": 5}, id="number"),
        pytest.param("on", {"type": "Property", "value": "on"}, id="string"),
        pytest.param([1, 2], {"type": "Property", "value": [1, 2]}, id="list"),
        pytest.param({"a": 1}, {"type": "Property", "value": {"a": 1}}, id="object-value"),
        pytest.param({"value": 5, "unitCode": "MTR"}, {"type": "Property", "value": 5, "unitCode": "MTR"}, id="value"),
        pytest.param(
            {"type": "Point", "coordinates": [1, 2]},
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}},
            id="bare-geojson",
        ),
        pytest.param(
            {"value": {"type": "Point", "coordinates": [1, 2]}},
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}},
            id="geojson-value",
        ),
        pytest.param({"object": "urn:ngsi-ld:X:1"}, {"type": "Relationship", "object": "urn:ngsi-ld:X:1"}, id="object"),
        pytest.param(
            {"languageMap": {"en": "a"}}, {"type": "LanguageProperty", "languageMap": {"en": "a"}}, id="language"
        ),
        pytest.param({"json": {"k": None}}, {"type": "JsonProperty", "json": {"k": None}}, id="json"),
        pytest.param({"vocab": "good"}, {"type": "VocabProperty", "vocab": NS + "good"}, id="vocab"),
        pytest.param({"vocab": ["a", "b"]}, {"type": "VocabProperty", "vocab": [NS + "a", NS + "b"]}, id="vocab-list"),
        pytest.param({"valueList": [3, 1]}, {"type": "ListProperty", "valueList": [3, 1]}, id="value-list"),
        pytest.param({"valueList": {"@list": [3]}}, {"type": "ListProperty", "valueList": [3]}, id="value-list-@list"),
        pytest.param(
            {"objectList": [{"object": "urn:a:1"}, "urn:a:2"]},
            {"type": "ListRelationship", "objectList": ["urn:a:1", "urn:a:2"]},
            id="object-list",
        ),
    ],
)
def test_concise_attributes_are_normalized(raw: Any, expected: dict[str, Any]) -> None:
    assert build({"id": "urn:ngsi-ld:T:1", "type": "T", "a": raw})["attrs"][NS + "a"] == [expected]


def test_relationship_object_type_and_observed_at() -> None:
    entity = build(
        {
            "id": "urn:ngsi-ld:T:1",
            "type": "T",
            "owner": {
                "type": "Relationship",
                "object": ["urn:ngsi-ld:P:1", "urn:ngsi-ld:P:2"],
                "objectType": "Person",
                "observedAt": "2026-01-01T02:00:00+02:00",
                "createdAt": "1999-01-01T00:00:00Z",  # system members are ignored on input
                "instanceId": "urn:x:1",
            },
        }
    )
    assert entity["attrs"][NS + "owner"] == [
        {
            "type": "Relationship",
            "object": ["urn:ngsi-ld:P:1", "urn:ngsi-ld:P:2"],
            "objectType": NS + "Person",
            "observedAt": T0,
        }
    ]


def test_multi_instance_attributes() -> None:
    entity = build(
        {"id": "urn:ngsi-ld:T:1", "type": "T", "speed": [{"value": 1}, {"value": 2, "datasetId": GPS}]},
    )
    assert entity["attrs"][NS + "speed"] == [
        {"type": "Property", "value": 1},
        {"type": "Property", "value": 2, "datasetId": GPS},
    ]
    with pytest.raises(BadRequestData, match="datasetId"):
        build({"id": "urn:ngsi-ld:T:1", "type": "T", "speed": [{"value": 1}, {"value": 2}]})


def test_entity_id_from_the_path() -> None:
    assert build({"a": 1}, entity_id="urn:ngsi-ld:T:9", require_type=False)["id"] == "urn:ngsi-ld:T:9"
    assert (
        build({"id": "urn:ngsi-ld:T:9", "a": 1}, entity_id="urn:ngsi-ld:T:9", require_type=False)["id"]
        == "urn:ngsi-ld:T:9"
    )
    with pytest.raises(BadRequestData, match="differs"):
        build({"id": "urn:ngsi-ld:T:8", "a": 1}, entity_id="urn:ngsi-ld:T:9", require_type=False)
    assert "id" not in build({"a": 1}, require_id=False, require_type=False)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("not an object", id="not-an-object"),
        pytest.param({"type": "T"}, id="no-id"),
        pytest.param({"id": "urn:ngsi-ld:T:1"}, id="no-type"),
        pytest.param({"id": "no scheme", "type": "T"}, id="bad-id"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": []}, id="empty-types"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "a b"}, id="bad-type-name"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "scope": "Madrid"}, id="bad-scope"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a(b)": 1}, id="bad-attribute-name"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a": None}, id="json-null"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"type": "Property"}}, id="no-value"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"type": "Nope", "value": 1}}, id="bad-kind"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"type": "Nope"}}, id="bad-concise-kind"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"value": 1, "object": "urn:x:y"}}, id="two-values"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"object": "alice"}}, id="object-not-uri"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"object": []}}, id="empty-objects"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"languageMap": {}}}, id="empty-language-map"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"languageMap": {"en": 5}}}, id="language-not-text"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"vocab": 5}}, id="vocab-not-a-term"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"valueList": 5}}, id="value-list-not-list"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"objectList": ["x y"]}}, id="object-list-not-uris"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "location": 5}, id="location-not-geo"),
        pytest.param(
            {"id": "urn:ngsi-ld:T:1", "type": "T", "location": {"type": "Property", "value": 5}}, id="location-property"
        ),
        pytest.param(
            {"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"type": "GeoProperty", "value": "x"}}, id="geo-not-geojson"
        ),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"value": 1, "observedAt": "soon"}}, id="observed-at"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"value": 1, "unitCode": ""}}, id="unit-code"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"value": 1, "datasetId": "x y"}}, id="dataset-id"),
        pytest.param({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"value": 1, "@context": {}}}, id="context-inside"),
    ],
)
def test_invalid_payloads_are_bad_request_data(payload: Any) -> None:
    with pytest.raises(BadRequestData):
        build(payload)


def test_sub_attributes_nest_but_not_forever() -> None:
    deep: dict[str, Any] = {"value": 0}
    for _ in range(12):
        deep = {"value": 0, "sub": deep}
    with pytest.raises(BadRequestData, match="deeply"):
        build({"id": "urn:ngsi-ld:T:1", "type": "T", "a": deep})


# ---------------------------------------------------------------------------------------------------------
# The NGSI-LD Null
# ---------------------------------------------------------------------------------------------------------

NULL_SPELLINGS: dict[str, Any] = {
    "concise": NULL,
    "property": {"type": "Property", "value": NULL},
    "geoproperty": {"type": "GeoProperty", "value": NULL},
    "relationship": {"type": "Relationship", "object": NULL},
    "languageproperty": {"type": "LanguageProperty", "languageMap": {"@none": NULL}},
    "jsonproperty": {"type": "JsonProperty", "json": NULL},
    "vocabproperty": {"type": "VocabProperty", "vocab": NULL},
    "listproperty": {"type": "ListProperty", "valueList": [NULL]},
    "listrelationship": {"type": "ListRelationship", "objectList": [{"object": NULL}]},
}


@pytest.mark.parametrize("raw", list(NULL_SPELLINGS.values()), ids=list(NULL_SPELLINGS))
def test_null_is_refused_outside_merge_and_update(raw: Any) -> None:
    with pytest.raises(BadRequestData, match="Null"):
        build({"id": "urn:ngsi-ld:T:1", "type": "T", "a": raw})


@pytest.mark.parametrize("raw", list(NULL_SPELLINGS.values()), ids=list(NULL_SPELLINGS))
def test_null_has_one_internal_spelling_in_merge_and_update(raw: Any) -> None:
    [instance] = fragment({"a": raw})["attrs"][NS + "a"]
    member = model.VALUE_MEMBER[instance["type"]]
    assert instance[member] == NULL
    assert model.is_null_instance(instance)
    assert not model.is_null_instance(build({"id": "urn:ngsi-ld:T:1", "type": "T", "a": 1})["attrs"][NS + "a"][0])


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"value": [1, NULL]}, id="in-a-list"),
        pytest.param({"value": {"k": NULL}}, id="in-an-object"),
        pytest.param({"value": 1, "sub": NULL}, id="sub-attribute"),
        pytest.param({"value": 1, "unitCode": NULL}, id="unit-code"),
        pytest.param({"value": 1, "observedAt": NULL}, id="observed-at"),
        pytest.param({"value": 1, "datasetId": NULL}, id="dataset-id"),
        pytest.param({"value": 1, "lang": NULL}, id="lang"),
        pytest.param({"object": "urn:a:b", "objectType": NULL}, id="object-type"),
        pytest.param({"languageMap": {"en": NULL}}, id="one-language"),
    ],
)
def test_null_anywhere_is_refused_in_a_create(raw: Any) -> None:
    with pytest.raises(BadRequestData):
        build({"id": "urn:ngsi-ld:T:1", "type": "T", "a": raw})


def test_null_as_an_entity_type_is_refused_everywhere() -> None:
    with pytest.raises(BadRequestData):
        build({"id": "urn:ngsi-ld:T:1", "type": NULL})
    with pytest.raises(BadRequestData):
        fragment({"type": NULL})


def test_null_inside_json_content_is_just_data() -> None:
    [instance] = build({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"json": {"k": NULL}}})["attrs"][NS + "a"]
    assert instance == {"type": "JsonProperty", "json": {"k": NULL}}


def test_null_members_are_kept_for_merge() -> None:
    [instance] = fragment({"a": {"value": 1, "unitCode": NULL, "observedAt": NULL, "sub": NULL}})["attrs"][NS + "a"]
    assert instance == {
        "type": "Property",
        "value": 1,
        "unitCode": NULL,
        "observedAt": NULL,
        "attrs": {NS + "sub": {"type": "Property", "value": NULL}},
    }
    # A Null deep inside a value is never a deletion marker: refused even in merge.
    with pytest.raises(BadRequestData):
        fragment({"a": {"value": [1, NULL]}})


# ---------------------------------------------------------------------------------------------------------
# Partial attribute fragments
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        pytest.param("speed", {"observedAt": T1}, {"type": "Property", "observedAt": T1}, id="observed-at-only"),
        pytest.param("speed", {"unitCode": "KMH"}, {"type": "Property", "unitCode": "KMH"}, id="unit-only"),
        pytest.param(
            "speed",
            {"accuracy": {"value": 1}},
            {"type": "Property", "attrs": {NS + "accuracy": {"type": "Property", "value": 1}}},
            id="sub-attribute-only",
        ),
        pytest.param("location", {"observedAt": T1}, {"type": "Property", "observedAt": T1}, id="geo-metadata-only"),
        pytest.param("speed", {"value": 3}, {"type": "Property", "value": 3}, id="value"),
        pytest.param("owner", {"object": "urn:a:b"}, {"type": "Relationship", "object": "urn:a:b"}, id="object"),
        pytest.param("owner", {"type": "Relationship"}, {"type": "Relationship"}, id="type-only"),
    ],
)
def test_partial_fragments(name: str, raw: dict[str, Any], expected: dict[str, Any]) -> None:
    builder = InstanceBuilder(expand, T1, allow_null=True, partial=True)
    assert builder.instance(name, raw) == expected


def test_outside_partial_updates_a_metadata_only_object_is_a_value() -> None:
    builder = InstanceBuilder(expand, T1)
    assert builder.instance("speed", {"observedAt": T1}) == {"type": "Property", "value": {"observedAt": T1}}
    with pytest.raises(BadRequestData):
        builder.instance("speed", {"type": "Property"})


# ---------------------------------------------------------------------------------------------------------
# Timestamps, append, update
# ---------------------------------------------------------------------------------------------------------


def test_stamp_new_entity_stamps_every_level() -> None:
    entity = stored({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"value": 1, "s": {"value": 2, "t": 3}}})
    assert entity["createdAt"] == entity["modifiedAt"] == T0
    [a] = entity["attrs"][NS + "a"]
    assert a["createdAt"] == a["modifiedAt"] == T0
    s = a["attrs"][NS + "s"]
    assert s["createdAt"] == s["modifiedAt"] == T0
    assert s["attrs"][NS + "t"]["createdAt"] == T0


def test_append_adds_overwrites_and_keeps_creation_times() -> None:
    entity = stored({"id": "urn:ngsi-ld:T:1", "type": "T", "a": 1, "b": 2})
    updated, not_updated = model.append_attributes(entity, fragment({"type": "U", "b": 3, "c": 4}), T1)
    assert sorted(updated) == [NS + "b", NS + "c"]
    assert not_updated == []
    assert entity["type"] == [NS + "T", NS + "U"]
    assert entity["modifiedAt"] == T1 and entity["createdAt"] == T0
    [b] = entity["attrs"][NS + "b"]
    assert (b["value"], b["createdAt"], b["modifiedAt"]) == (3, T0, T1)
    [c] = entity["attrs"][NS + "c"]
    assert (c["value"], c["createdAt"], c["modifiedAt"]) == (4, T1, T1)
    assert entity["attrs"][NS + "a"][0]["modifiedAt"] == T0


def test_append_with_no_overwrite_reports_what_it_kept() -> None:
    entity = stored({"id": "urn:ngsi-ld:T:1", "type": "T", "a": 1})
    before = copy.deepcopy(entity)
    updated, not_updated = model.append_attributes(entity, fragment({"a": 2}), T1, no_overwrite=True)
    assert updated == []
    assert [name for name, _ in not_updated] == [NS + "a"]
    assert all(reason for _, reason in not_updated)
    assert entity == before  # nothing changed, not even modifiedAt
    updated, not_updated = model.append_attributes(
        entity, fragment({"a": {"value": 5, "datasetId": GPS}}), T1, no_overwrite=True
    )
    assert updated == [NS + "a"] and not_updated == []
    assert [i["value"] for i in entity["attrs"][NS + "a"]] == [1, 5]


def test_append_with_null_deletes_an_instance() -> None:
    entity = stored({"id": "urn:ngsi-ld:T:1", "type": "T", "a": 1, "b": [{"value": 1}, {"value": 2, "datasetId": GPS}]})
    updated, not_updated = model.append_attributes(
        entity, fragment({"a": NULL, "b": {"value": NULL, "datasetId": GPS}, "c": NULL}), T1
    )
    assert sorted(updated) == [NS + "a", NS + "b"]
    assert [name for name, _ in not_updated] == [NS + "c"]
    assert NS + "a" not in entity["attrs"]
    assert NS + "c" not in entity["attrs"]
    assert [plain(i) for i in entity["attrs"][NS + "b"]] == [{"type": "Property", "value": 1}]


def test_update_changes_existing_attributes_only() -> None:
    entity = stored({"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"value": 1, "unitCode": "MTR"}})
    updated, not_updated = model.update_attributes(entity, fragment({"a": {"value": 2}, "b": 3}), T1)
    assert updated == [NS + "a"]
    assert [name for name, _ in not_updated] == [NS + "b"]
    [a] = entity["attrs"][NS + "a"]
    assert plain(a) == {"type": "Property", "value": 2}  # replaced as a whole
    assert (a["createdAt"], a["modifiedAt"]) == (T0, T1)
    assert NS + "b" not in entity["attrs"]
    assert entity["modifiedAt"] == T1


def test_update_of_nothing_leaves_the_entity_alone() -> None:
    entity = stored({"id": "urn:ngsi-ld:T:1", "type": "T", "a": 1})
    before = copy.deepcopy(entity)
    updated, not_updated = model.update_attributes(entity, fragment({"a": {"value": 2, "datasetId": GPS}}), T1)
    assert updated == []
    assert [name for name, _ in not_updated] == [NS + "a"]
    assert entity == before


def test_update_with_null_deletes() -> None:
    entity = stored({"id": "urn:ngsi-ld:T:1", "type": "T", "a": 1, "b": [{"value": 1}, {"value": 2, "datasetId": GPS}]})
    updated, _ = model.update_attributes(entity, fragment({"a": NULL, "b": {"value": NULL}}), T1)
    assert sorted(updated) == [NS + "a", NS + "b"]
    assert NS + "a" not in entity["attrs"]
    assert [plain(i) for i in entity["attrs"][NS + "b"]] == [{"type": "Property", "value": 2, "datasetId": GPS}]


# ---------------------------------------------------------------------------------------------------------
# Merge, replace, delete
# ---------------------------------------------------------------------------------------------------------


def test_merge_instance_rules() -> None:
    current = model.stamp_new_entity(
        build(
            {
                "id": "urn:ngsi-ld:T:1",
                "type": "T",
                "a": {"value": 1, "unitCode": "MTR", "observedAt": T0, "s1": 1, "s2": {"value": 2, "deep": 3}},
            }
        ),
        T0,
    )["attrs"][NS + "a"][0]
    [patch] = fragment({"a": {"value": 5, "observedAt": NULL, "s1": NULL, "s2": {"value": 20}, "s3": 30}})["attrs"][
        NS + "a"
    ]
    merged = model.merge_instance(current, patch, T1)
    assert plain(merged) == {
        "type": "Property",
        "value": 5,
        "unitCode": "MTR",
        "attrs": {
            NS + "s2": {"type": "Property", "value": 20, "attrs": {NS + "deep": {"type": "Property", "value": 3}}},
            NS + "s3": {"type": "Property", "value": 30},
        },
    }
    assert (merged["createdAt"], merged["modifiedAt"]) == (T0, T1)
    assert merged["attrs"][NS + "s2"]["createdAt"] == T0
    assert merged["attrs"][NS + "s3"]["createdAt"] == T1
    assert plain(current)["value"] == 1  # the current instance is not changed in place


def test_merge_instance_with_a_new_attribute_type_drops_the_old_value() -> None:
    current = {"type": "Property", "value": 1, "createdAt": T0, "modifiedAt": T0}
    merged = model.merge_instance(current, {"type": "Relationship", "object": "urn:a:b"}, T1)
    assert plain(merged) == {"type": "Relationship", "object": "urn:a:b"}


def test_merge_entity() -> None:
    entity = stored(
        {
            "id": "urn:ngsi-ld:T:1",
            "type": "T",
            "scope": "/A",
            "a": {"value": 1, "unitCode": "MTR"},
            "b": 2,
            "c": [{"value": 1}, {"value": 2, "datasetId": GPS}],
        }
    )
    changed = model.merge_entity(
        entity,
        fragment(
            {"type": "U", "scope": "/B", "a": 5, "b": NULL, "c": {"value": NULL, "datasetId": GPS}, "d": 4, "e": NULL}
        ),
        T1,
    )
    assert set(changed) >= {NS + n for n in "abcd"}
    assert entity["type"] == [NS + "T", NS + "U"]
    assert entity["scope"] == ["/B"]
    assert entity["modifiedAt"] == T1 and entity["createdAt"] == T0
    assert {name: [plain(i) for i in instances] for name, instances in entity["attrs"].items()} == {
        NS + "a": [{"type": "Property", "value": 5, "unitCode": "MTR"}],
        NS + "c": [{"type": "Property", "value": 1}],
        NS + "d": [{"type": "Property", "value": 4}],
    }
    assert entity["attrs"][NS + "d"][0]["createdAt"] == T1


def test_replace_entity_keeps_only_the_creation_time() -> None:
    old = stored({"id": "urn:ngsi-ld:T:1", "type": "T", "a": 1})
    replacement = build({"id": "urn:ngsi-ld:T:1", "type": "U", "b": 2})
    new = model.replace_entity(old, replacement, T1)
    assert new["createdAt"] == T0
    assert new["modifiedAt"] == T1
    assert new["type"] == [NS + "U"]
    assert list(new["attrs"]) == [NS + "b"]
    assert new["attrs"][NS + "b"][0]["createdAt"] == T1


def test_delete_attribute() -> None:
    entity = stored({"id": "urn:ngsi-ld:T:1", "type": "T", "a": 1, "b": [{"value": 1}, {"value": 2, "datasetId": GPS}]})
    assert model.delete_attribute(entity, NS + "b", dataset_id=GPS)
    assert [i["value"] for i in entity["attrs"][NS + "b"]] == [1]
    assert not model.delete_attribute(entity, NS + "b", dataset_id=GPS)
    assert model.delete_attribute(entity, NS + "b")
    assert NS + "b" not in entity["attrs"]
    assert not model.delete_attribute(entity, NS + "b")
    assert not model.delete_attribute(entity, NS + "zz", delete_all=True)
    entity = stored({"id": "urn:ngsi-ld:T:1", "type": "T", "b": [{"value": 1, "datasetId": GPS}, {"value": 2}]})
    assert model.delete_attribute(entity, NS + "b", delete_all=True)
    assert entity["attrs"] == {}


# ---------------------------------------------------------------------------------------------------------
# Small validators
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("urn:ngsi-ld:T:1", True),
        ("https://example.org/x?y=1", True),
        ("T:1", True),
        ("no-scheme", False),
        ("urn:with space", False),
        ("urn:<x>", False),
        ("", False),
        (5, False),
        ("urn:" + "x" * 3000, False),
    ],
)
def test_is_uri(value: Any, ok: bool) -> None:
    assert model.is_uri(value) is ok
    if ok:
        assert model.check_entity_id(value) == value
    else:
        with pytest.raises(BadRequestData):
            model.check_entity_id(value)


def test_parse_datetime() -> None:
    assert model.parse_datetime("2026-01-01T01:00:00+01:00", "x") == datetime(2026, 1, 1, tzinfo=UTC)
    assert model.parse_datetime("2026-01-01T00:00:00z", "x") == datetime(2026, 1, 1, tzinfo=UTC)
    assert model.normalise_datetime("2026-01-01T00:00:00Z", "x") == T0
    for bad in ("tomorrow", 5, None, ""):
        with pytest.raises(BadRequestData):
            model.parse_datetime(bad, "x")
