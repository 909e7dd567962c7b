"""The internal shape of an NGSI-LD entity, and the rules that build it.

Every entity is stored and handled in one *expanded, normalized* form (a plain
dict, cheap to serialise with orjson):

.. code-block:: python

    {
        "id": "urn:ngsi-ld:Streetlight:1",
        "type": ["https://smartdatamodels.org/dataModel.Streetlighting/Streetlight"],
        "scope": ["/Madrid/Centro"],                 # optional
        "createdAt": "2026-11-24T07:00:00.000000Z",
        "modifiedAt": "2026-11-24T07:00:00.000000Z",
        "attrs": {
            "<expanded attribute IRI>": [instance, ...],   # one per datasetId
        },
    }

An attribute *instance* is a dict with:

- ``type``: one of :data:`ATTRIBUTE_TYPES` (``Property``, ``Relationship``, ...);
- its value member by type: ``value`` (Property, GeoProperty), ``object``
  (Relationship; a URI or list of URIs), ``languageMap`` (LanguageProperty),
  ``json`` (JsonProperty), ``vocab`` (VocabProperty; expanded IRIs),
  ``valueList`` (ListProperty), ``objectList`` (ListRelationship);
- optional members: ``datasetId``, ``observedAt``, ``unitCode``, ``objectType``
  (expanded), ``createdAt``, ``modifiedAt``;
- ``attrs``: sub-attributes, a dict of expanded IRI -> one instance (no lists).

Property values are kept as the client sent them (no expansion inside
compound values).  Timestamps are ISO 8601 strings in UTC with a ``Z``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from urbis.core.errors import BadRequestData

Entity = dict[str, Any]
Instance = dict[str, Any]

PROPERTY = "Property"
RELATIONSHIP = "Relationship"
GEO_PROPERTY = "GeoProperty"
LANGUAGE_PROPERTY = "LanguageProperty"
JSON_PROPERTY = "JsonProperty"
VOCAB_PROPERTY = "VocabProperty"
LIST_PROPERTY = "ListProperty"
LIST_RELATIONSHIP = "ListRelationship"

#: attribute type -> the member that holds its value
VALUE_MEMBER: dict[str, str] = {
    PROPERTY: "value",
    RELATIONSHIP: "object",
    GEO_PROPERTY: "value",
    LANGUAGE_PROPERTY: "languageMap",
    JSON_PROPERTY: "json",
    VOCAB_PROPERTY: "vocab",
    LIST_PROPERTY: "valueList",
    LIST_RELATIONSHIP: "objectList",
}
ATTRIBUTE_TYPES = frozenset(VALUE_MEMBER)

#: Members of an attribute that are not sub-attributes.
INSTANCE_MEMBERS = frozenset(
    {
        "type",
        "value",
        "object",
        "languageMap",
        "json",
        "vocab",
        "valueList",
        "objectList",
        "datasetId",
        "observedAt",
        "unitCode",
        "objectType",
        "createdAt",
        "modifiedAt",
        "deletedAt",
        "instanceId",
        "lang",
    }
)

#: Members of an entity that are not attributes.
ENTITY_MEMBERS = frozenset({"id", "type", "scope", "createdAt", "modifiedAt", "deletedAt", "@context"})

#: The expanded IRI of the ``scope`` member (core context).
SCOPE_IRI = "https://uri.etsi.org/ngsi-ld/scope"

#: GeoProperties with a meaning of their own in the specification.
GEO_ATTRIBUTES = ("location", "observationSpace", "operationSpace")

#: The NGSI-LD Null: deletes an attribute or instance in merge and update.
NGSILD_NULL = "urn:ngsi-ld:null"
#: Members only the broker writes (showChanges notifications, proofs): never accepted on input (4.5.2.2).
OUTPUT_ONLY_MEMBERS = frozenset(
    {
        "previousValue",
        "previousObject",
        "previousLanguageMap",
        "previousJson",
        "previousVocab",
        "previousValueList",
        "previousObjectList",
        "entityIdSealed",
        "entityTypeSealed",
    }
)
#: Core-context terms of non-reified properties: never attribute names (clause 4.5.1).
RESERVED_ATTRIBUTE_NAMES = frozenset({"datasetId", "instanceId", "observedAt", "unitCode", "lang", "objectType"})


# ---------------------------------------------------------------------------
# Building the internal form from NGSI-LD input (normalized or concise)
# ---------------------------------------------------------------------------


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s\x00-\x1f\x7f<>\"{}|\\^`]+$")
# Names that may not appear in an attribute or type name (clause 4.6.2: the characters
# that break the query language or URLs).
_BAD_NAME = re.compile(r"[\s\x00-\x1f\x7f<>\"'=;()\[\]\\]")
_GEOJSON_TYPES = frozenset({"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"})

Expand = Callable[[str], str]


def utc_now_iso(now: datetime | None = None) -> str:
    """An ISO 8601 UTC timestamp with microseconds and a ``Z``, as stored everywhere."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    # The year by hand: strftime's %Y does not pad years before 1000 to four digits here.
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S.%f}Z"


def is_uri(value: Any) -> bool:
    """Whether ``value`` is an absolute URI (has a scheme, no spaces)."""
    return isinstance(value, str) and len(value) <= 2048 and _URI.match(value) is not None


def check_entity_id(value: Any) -> str:
    """Return ``value`` if it is a valid entity id, else raise BadRequestData."""
    if not is_uri(value) or value == NGSILD_NULL:  # the NGSI-LD Null names nothing (suite 554_01_01)
        raise BadRequestData(f"entity id must be a URI (e.g. urn:ngsi-ld:Type:local-id), got {value!r:.200}")
    return str(value)


_VALID_NAMES: set[str] = set()  # names already checked: a city uses a few hundred at most


def check_name(name: Any, what: str = "attribute name") -> str:
    """Validate an attribute or type name (a term or an IRI)."""
    if type(name) is str and name in _VALID_NAMES:  # a list or object from a client is never hashed
        return name
    if not isinstance(name, str) or not name or len(name) > 512 or _BAD_NAME.search(name):
        raise BadRequestData(f"invalid {what}: {name!r:.200}")
    if len(_VALID_NAMES) < 100_000:
        _VALID_NAMES.add(name)
    return name


def parse_datetime(value: Any, member: str) -> datetime:
    """Parse an ISO 8601 date-time carrying a time zone; BadRequestData otherwise."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
    raise BadRequestData(f"'{member}' must be an ISO 8601 date-time, got {value!r:.100}")


def normalise_datetime(value: Any, member: str) -> str:
    """The stored (UTC, ``Z``) form of a client-given date-time."""
    if isinstance(value, str):
        return _normalised_cached(value, member)
    return utc_now_iso(parse_datetime(value, member))


@functools.lru_cache(maxsize=8192)
def _normalised_cached(value: str, member: str) -> str:
    # Devices in one batch share few timestamps; parsing each once saves most of the cost.
    return utc_now_iso(parse_datetime(value, member))


def _is_one_of(value: Any, names: frozenset[str]) -> bool:
    # Clients may send a list or object where a name belongs: never hash it.
    return type(value) is str and value in names


def is_geojson_geometry(value: Any) -> bool:
    """Whether ``value`` looks like a GeoJSON geometry object."""
    return type(value) is dict and "coordinates" in value and _is_one_of(value.get("type"), _GEOJSON_TYPES)


def _check_geometry(value: Any, name: str) -> None:
    from urbis.context.query.geo import geometry_from_geojson

    if not isinstance(value, dict):
        raise BadRequestData(f"GeoProperty '{name}' must hold a GeoJSON geometry object")
    geometry_from_geojson(value)


def _contains_null(value: Any) -> bool:
    # A loop over a stack, not recursion: this runs on every value of every write.
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if item == NGSILD_NULL:
                return True
        elif kind is list:
            stack.extend(item)
        elif kind is dict:
            stack.extend(item.values())
    return False


def _is_null_value(kind: str, value: Any) -> bool:
    """Whether ``value`` is the NGSI-LD Null as the value member of a ``kind`` attribute.

    Besides the plain ``"urn:ngsi-ld:null"``, a LanguageProperty writes it as
    ``{"@none": "urn:ngsi-ld:null"}`` and the list types as a one-item list.
    """
    if value == NGSILD_NULL:
        return True
    if kind == LANGUAGE_PROPERTY:
        return bool(value == {"@none": NGSILD_NULL})
    if kind in (LIST_PROPERTY, LIST_RELATIONSHIP):
        items = value.get("@list") if isinstance(value, dict) else value
        return items == [NGSILD_NULL] or items == [{"object": NGSILD_NULL}]
    return False


class InstanceBuilder:
    """Turns the client's attribute representations into internal instances.

    ``allow_null`` is set for merge and update operations, where the NGSI-LD
    Null (``"urn:ngsi-ld:null"``) marks something to delete; everywhere else it
    is rejected (clause 5.2.1).  ``partial`` skips the "value is required" rule
    for partial attribute updates.
    """

    def __init__(self, expand: Expand, now: str, *, allow_null: bool = False, partial: bool = False):
        self.expand = expand
        self.now = now
        self.allow_null = allow_null
        self.partial = partial

    def attribute(self, name: str, raw: Any) -> list[Instance]:
        """All instances of attribute ``name`` (a term) given as ``raw``."""
        check_name(name)
        if isinstance(raw, list) and raw and all(isinstance(item, dict) and self._is_explicit(item) for item in raw):
            instances = [self.instance(name, item) for item in raw]
        else:
            instances = [self.instance(name, raw)]
        seen: set[str | None] = set()
        for instance in instances:
            dataset = instance.get("datasetId")
            if dataset in seen:
                raise BadRequestData(f"attribute '{name}' has two instances with datasetId {dataset!r}")
            seen.add(dataset)
        return instances

    @staticmethod
    def _is_explicit(item: dict[str, Any]) -> bool:
        return _is_one_of(item.get("type"), ATTRIBUTE_TYPES) or any(
            member in item for member in ("value", "object", "languageMap", "json", "vocab", "valueList", "objectList")
        )

    def instance(self, name: str, raw: Any, *, depth: int = 0) -> Instance:
        """One internal instance from a normalized or concise representation."""
        if depth > 8:
            raise BadRequestData(f"attribute '{name}' nests sub-attributes too deeply")
        if raw is None:
            raise BadRequestData(f"attribute '{name}' must not be null")
        if raw == NGSILD_NULL:
            if not self.allow_null:
                raise BadRequestData(f"the NGSI-LD Null is only allowed in merge and update operations ('{name}')")
            return {"type": PROPERTY, "value": NGSILD_NULL}
        if not isinstance(raw, dict) or is_geojson_geometry(raw):
            return self._concise_value(name, raw)
        # The body of a partial attribute update is always an attribute fragment, even one that
        # only patches metadata ({"observedAt": ...}): never a bare JSON object value.
        looks_like_attribute = self._looks_like_attribute(raw)
        fragment_only = self.partial and depth == 0 and not looks_like_attribute
        if not looks_like_attribute and not fragment_only:
            return self._concise_value(name, raw)
        kind = raw.get("type")
        if kind is None:
            kind = self._infer_type(raw) or PROPERTY
        if not _is_one_of(kind, ATTRIBUTE_TYPES):
            raise BadRequestData(f"attribute '{name}' has an unknown type {kind!r:.100}")
        instance: Instance = {"type": kind}
        member = VALUE_MEMBER[kind]
        if member in raw:
            instance[member] = self._value(name, kind, raw[member])
        elif not self.partial:
            raise BadRequestData(f"{kind} '{name}' needs a '{member}' member")
        for key, item in raw.items():
            if key in ("type", member):
                continue
            if key in ("createdAt", "modifiedAt", "deletedAt", "instanceId"):
                continue  # system-generated: ignored on input
            if key == "observedAt":
                instance["observedAt"] = self._null_or(item, lambda v: normalise_datetime(v, "observedAt"))
            elif key == "datasetId":
                if not is_uri(item) or item == NGSILD_NULL:
                    raise BadRequestData(f"datasetId of '{name}' must be a URI, got {item!r:.100}")
                instance["datasetId"] = item
            elif key in OUTPUT_ONLY_MEMBERS:
                raise BadRequestData(f"'{key}' of '{name}' is set by the broker, never by a client (4.5.2.2)")
            elif key == "unitCode":
                if kind in (RELATIONSHIP, LIST_RELATIONSHIP):
                    raise BadRequestData(f"Relationship '{name}' is unitless: no unitCode (4.5.3.2)")
                if not isinstance(item, str) or not item:
                    raise BadRequestData(f"unitCode of '{name}' must be a non-empty string")
                instance["unitCode"] = self._null_or(item, self._not_null(name, key))
            elif key == "objectType":
                instance["objectType"] = self._null_or(item, lambda v: self._object_type(name, v))
            elif key == "lang":
                if not isinstance(item, str):
                    raise BadRequestData(f"lang of '{name}' must be a string")
                instance["lang"] = self._null_or(item, self._not_null(name, key))
            elif key in VALUE_MEMBER.values():
                raise BadRequestData(f"{kind} '{name}' must not carry a '{key}' member")
            elif key == "@context":
                raise BadRequestData(f"'@context' is not allowed inside attribute '{name}'")
            else:
                check_name(key, "sub-attribute name")
                instance.setdefault("attrs", {})[self.expand(key)] = self.instance(key, item, depth=depth + 1)
        if name in GEO_ATTRIBUTES and kind != GEO_PROPERTY and not fragment_only:
            raise BadRequestData(f"attribute '{name}' must be a GeoProperty")
        return instance

    def _looks_like_attribute(self, raw: dict[str, Any]) -> bool:
        return _is_one_of(raw.get("type"), ATTRIBUTE_TYPES) or self._infer_type(raw) is not None

    @staticmethod
    def _infer_type(raw: dict[str, Any]) -> str | None:
        # Concise representation: the member present tells the attribute type.
        if "value" in raw:
            return GEO_PROPERTY if is_geojson_geometry(raw["value"]) else PROPERTY
        for kind, member in VALUE_MEMBER.items():
            if member != "value" and member in raw:
                return kind
        return None

    def _concise_value(self, name: str, raw: Any) -> Instance:
        if is_geojson_geometry(raw):
            _check_geometry(raw, name)
            return {"type": GEO_PROPERTY, "value": raw}
        if name in GEO_ATTRIBUTES:
            raise BadRequestData(f"attribute '{name}' must be a GeoProperty holding a GeoJSON geometry")
        if isinstance(raw, dict) and "type" in raw and isinstance(raw["type"], str) and "value" not in raw:
            raise BadRequestData(f"attribute '{name}' has an unknown type {raw['type']!r:.100}")
        return {"type": PROPERTY, "value": self._value(name, PROPERTY, raw)}

    def _null_or(self, value: Any, convert: Callable[[Any], Any]) -> Any:
        if value == NGSILD_NULL and self.allow_null:
            return NGSILD_NULL
        return convert(value)

    @staticmethod
    def _not_null(name: str, member: str) -> Callable[[Any], Any]:
        def check(value: Any) -> Any:
            if value == NGSILD_NULL:
                raise BadRequestData(f"the NGSI-LD Null is not allowed as the {member} of '{name}' here")
            return value

        return check

    def _object_type(self, name: str, value: Any) -> Any:
        if _contains_null(value):
            raise BadRequestData(f"the NGSI-LD Null is not allowed as the objectType of '{name}' here")
        if isinstance(value, str):
            return self.expand(check_name(value, "objectType"))
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return [self.expand(check_name(v, "objectType")) for v in value]
        raise BadRequestData(f"objectType of '{name}' must be a type name or a list of them")

    def _value(self, name: str, kind: str, value: Any) -> Any:
        if value is None:
            raise BadRequestData(f"the value of '{name}' must not be null")
        if _is_null_value(kind, value):
            if self.allow_null:
                return NGSILD_NULL  # one internal spelling, whatever the attribute type
            raise BadRequestData(f"the NGSI-LD Null is only allowed in merge and update operations ('{name}')")
        if kind != JSON_PROPERTY and _contains_null(value):  # a JsonProperty's content is opaque
            raise BadRequestData(f"the NGSI-LD Null is not allowed inside the value of '{name}'")
        if kind == GEO_PROPERTY:
            _check_geometry(value, name)
        elif kind == RELATIONSHIP:
            if isinstance(value, list):
                if not value or not all(is_uri(v) for v in value):
                    raise BadRequestData(f"the object of Relationship '{name}' must be a URI or a list of URIs")
            elif not is_uri(value):
                raise BadRequestData(f"the object of Relationship '{name}' must be a URI, got {value!r:.100}")
        elif kind == LIST_RELATIONSHIP:
            items = value.get("@list") if isinstance(value, dict) else value
            if not isinstance(items, list) or not all(
                is_uri(v) or (isinstance(v, dict) and is_uri(v.get("object"))) for v in items
            ):
                raise BadRequestData(f"objectList of '{name}' must be a list of URIs")
            return [v["object"] if isinstance(v, dict) else v for v in items]
        elif kind == LIST_PROPERTY:
            items = value.get("@list") if isinstance(value, dict) else value
            if not isinstance(items, list):
                raise BadRequestData(f"valueList of '{name}' must be a list")
            return items
        elif kind == LANGUAGE_PROPERTY:
            if not isinstance(value, dict) or not value:
                raise BadRequestData(f"languageMap of '{name}' must be a non-empty object of language tags")
            for tag, text in value.items():
                if (
                    not isinstance(tag, str)
                    or not tag
                    or not (isinstance(text, str) or (isinstance(text, list) and all(isinstance(t, str) for t in text)))
                ):
                    raise BadRequestData(f"languageMap of '{name}' must map language tags to strings")
        elif kind == VOCAB_PROPERTY:
            if isinstance(value, str):
                return self.expand(check_name(value, "vocab value"))
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                return [self.expand(check_name(v, "vocab value")) for v in value]
            raise BadRequestData(f"vocab of '{name}' must be a term or a list of terms")
        elif kind == PROPERTY and isinstance(value, dict) and "@value" not in value and "@type" in value:
            pass
        return value


def build_entity(
    payload: Any,
    expand: Expand,
    now: str,
    *,
    require_id: bool = True,
    require_type: bool = True,
    allow_null: bool = False,
    entity_id: str | None = None,
) -> Entity:
    """The internal entity for an NGSI-LD entity payload (``@context`` already removed).

    ``entity_id`` forces the id (for operations whose id is in the path; a
    different id in the body is an error).
    """
    if not isinstance(payload, dict):
        raise BadRequestData("an entity must be a JSON object")
    entity: Entity = {"attrs": {}}
    raw_id = payload.get("id", payload.get("@id"))
    if raw_id is not None:
        check_entity_id(raw_id)
        if entity_id is not None and raw_id != entity_id:
            raise BadRequestData(f"the id in the body ({raw_id}) differs from the id in the path ({entity_id})")
        entity["id"] = raw_id
    elif entity_id is not None:
        entity["id"] = entity_id
    elif require_id:
        raise BadRequestData("the entity has no 'id'")
    raw_type = payload.get("type", payload.get("@type"))
    if raw_type is not None:
        entity["type"] = expand_types(raw_type, expand)
    elif require_type:
        raise BadRequestData("the entity has no 'type'")
    if "scope" in payload:
        entity["scope"] = check_scope(payload["scope"])
    builder = InstanceBuilder(expand, now, allow_null=allow_null)
    for name, raw in payload.items():
        if name in ENTITY_MEMBERS or name in ("@id", "@type"):
            continue
        if name in RESERVED_ATTRIBUTE_NAMES:
            # Core terms of non-reified properties name no attribute (clause 4.5.1; suite 451_01).
            raise BadRequestData(f"'{name}' is a member of attributes, not an attribute name")
        entity["attrs"][expand(check_name(name))] = builder.attribute(name, raw)
    return entity


def expand_types(raw: Any, expand: Expand) -> list[str]:
    """Expanded entity types from a type name or a non-empty list of them."""
    names = raw if isinstance(raw, list) else [raw]
    if not names or not all(isinstance(name, str) for name in names):
        raise BadRequestData("an entity type must be a name or a non-empty list of names")
    types: list[str] = []
    for name in names:
        if name == NGSILD_NULL:
            raise BadRequestData("the NGSI-LD Null cannot be an entity type")
        iri = expand(check_name(name, "entity type"))
        if iri not in types:
            types.append(iri)
    return types


_SCOPE = re.compile(r"^/[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$")


def check_scope(raw: Any) -> list[str]:
    """Validate a scope (a path like ``/Madrid/Centro``) or a list of scopes."""
    scopes = raw if isinstance(raw, list) else [raw]
    if not scopes or not all(isinstance(s, str) and _SCOPE.match(s) for s in scopes):
        raise BadRequestData(f"scope must be a path such as /City/District or a list of them, got {raw!r:.100}")
    return list(dict.fromkeys(scopes))


# ---------------------------------------------------------------------------
# Changing entities: pure functions over the internal form
# ---------------------------------------------------------------------------


def _stamp_instance(instance: Instance, now: str, created: str | None = None) -> Instance:
    instance["createdAt"] = created or now
    instance["modifiedAt"] = now
    for sub in instance.get("attrs", {}).values():
        _stamp_instance(sub, now, sub.get("createdAt"))
    return instance


def stamp_new_entity(entity: Entity, now: str) -> Entity:
    """Give a freshly built entity and all its attributes their system timestamps."""
    entity["createdAt"] = now
    entity["modifiedAt"] = now
    for instances in entity["attrs"].values():
        for instance in instances:
            _stamp_instance(instance, now)
    return entity


def _dataset_index(instances: list[Instance], dataset_id: str | None) -> int | None:
    for index, instance in enumerate(instances):
        if instance.get("datasetId") == dataset_id:
            return index
    return None


def append_attributes(
    existing: Entity, fragment: Entity, now: str, *, no_overwrite: bool = False
) -> tuple[list[str], list[tuple[str, str]]]:
    """Append the fragment's attributes; overwrite same-dataset instances unless ``no_overwrite``.

    An instance holding the NGSI-LD Null (only batch update builds such fragments) deletes the
    instance with its datasetId.  Returns (updated attribute IRIs, [(not updated IRI, reason)]).
    """
    updated: list[str] = []
    not_updated: list[tuple[str, str]] = []
    _merge_types(existing, fragment)
    for name, instances in fragment["attrs"].items():
        current = existing["attrs"].setdefault(name, [])
        changed = False
        for instance in instances:
            index = _dataset_index(current, instance.get("datasetId"))
            if index is not None and no_overwrite:
                not_updated.append((name, "attribute exists and noOverwrite was requested"))
            elif _is_null(instance):  # only update-style callers let the NGSI-LD Null through
                if index is None:
                    not_updated.append((name, "nothing to delete"))
                else:
                    del current[index]
                    changed = True
            elif index is None:
                current.append(_stamp_instance(instance, now))
                changed = True
            else:
                current[index] = _stamp_instance(instance, now, current[index].get("createdAt"))
                changed = True
        if not current:
            del existing["attrs"][name]
        if changed:
            updated.append(name)
    if updated:
        existing["modifiedAt"] = now
    return updated, not_updated


def append_scope(existing: Entity, scopes: list[str], now: str, *, no_overwrite: bool = False) -> None:
    """Append Attributes with a scope (4.18): replace it, or with noOverwrite add to the existing scopes."""
    if no_overwrite and existing.get("scope"):
        existing["scope"] = list(dict.fromkeys([*existing["scope"], *scopes]))
    else:
        existing["scope"] = list(scopes)
    existing["modifiedAt"] = now


def update_scope(existing: Entity, scopes: list[str], now: str) -> bool:
    """Update Attributes with a scope (4.18): replace an existing scope; False when the entity has none."""
    if not existing.get("scope"):
        return False
    existing["scope"] = list(scopes)
    existing["modifiedAt"] = now
    return True


def update_attributes(existing: Entity, fragment: Entity, now: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Update attributes that exist; others are reported as not updated (clause 5.6.2).

    Entity types in the fragment are added to the entity's types (4.16; suite 011_06).
    """
    updated: list[str] = []
    not_updated: list[tuple[str, str]] = []
    type_count = len(existing["type"])
    _merge_types(existing, fragment)
    if len(existing["type"]) != type_count:
        existing["modifiedAt"] = now
    for name, instances in fragment["attrs"].items():
        current = existing["attrs"].get(name)
        if current is None:
            not_updated.append((name, "attribute does not exist"))
            continue
        changed = False
        for instance in instances:
            index = _dataset_index(current, instance.get("datasetId"))
            if index is None:
                not_updated.append((name, f"no instance with datasetId {instance.get('datasetId')!r}"))
            elif _is_null(instance):
                del current[index]
                changed = True
            else:
                current[index] = _stamp_instance(instance, now, current[index].get("createdAt"))
                changed = True
        if not current:
            del existing["attrs"][name]
        if changed:
            updated.append(name)
    if updated:
        existing["modifiedAt"] = now
    return updated, not_updated


def default_value(entity: Entity, iri: str) -> Any:
    """The value (a Relationship's object) of an attribute's default instance, else its first; None if absent.

    How the solutions read one figure of an entity in the stored (expanded) form.
    """
    instances = entity["attrs"].get(iri)
    if not instances:
        return None
    instance = next((i for i in instances if "datasetId" not in i), instances[0])
    return instance.get("object", instance.get("value"))


def is_null_instance(instance: Instance) -> bool:
    """Whether a built instance is the NGSI-LD Null (a deletion marker in merge and update).

    Every spelling of the Null (``"urn:ngsi-ld:null"``, ``{"languageMap": {"@none": ...}}``, ...)
    is stored as ``"urn:ngsi-ld:null"`` in the attribute type's value member.
    """
    member = VALUE_MEMBER.get(instance.get("type", ""), "value")
    return instance.get(member) == NGSILD_NULL or instance.get("value") == NGSILD_NULL


_is_null = is_null_instance


def merge_instance(current: Instance, patch: Instance, now: str) -> Instance:
    """Merge ``patch`` into ``current``: members replace, sub-attributes merge, Null deletes."""
    merged = dict(current)
    if "type" in patch and patch["type"] != current.get("type"):
        # A new attribute type replaces the value member of the old one.
        merged.pop(VALUE_MEMBER.get(current.get("type", ""), "value"), None)
        merged["type"] = patch["type"]
    for key, value in patch.items():
        if key in ("type", "attrs", "createdAt", "modifiedAt"):
            continue
        if value == NGSILD_NULL:
            merged.pop(key, None)
        else:
            merged[key] = value
    if "attrs" in patch:
        subs = dict(current.get("attrs", {}))
        for name, sub in patch["attrs"].items():
            if _is_null(sub):
                subs.pop(name, None)
            elif name in subs:
                subs[name] = merge_instance(subs[name], sub, now)
            else:
                subs[name] = _stamp_instance(sub, now)
        if subs:
            merged["attrs"] = subs
        else:
            merged.pop("attrs", None)
    merged["modifiedAt"] = now
    merged.setdefault("createdAt", now)
    return merged


def merge_entity(existing: Entity, fragment: Entity, now: str) -> list[str]:
    """Merge a fragment into an entity (clause 5.6.17); returns the changed attribute IRIs."""
    changed: list[str] = []
    _merge_types(existing, fragment)
    if "scope" in fragment:
        existing["scope"] = fragment["scope"]
    for name, instances in fragment["attrs"].items():
        current = existing["attrs"].setdefault(name, [])
        for instance in instances:
            index = _dataset_index(current, instance.get("datasetId"))
            if _is_null(instance):
                if index is not None:
                    del current[index]
            elif index is None:
                current.append(_stamp_instance(instance, now))
            else:
                current[index] = merge_instance(current[index], instance, now)
        if not current:
            del existing["attrs"][name]
        changed.append(name)
    existing["modifiedAt"] = now
    return changed


def _merge_types(existing: Entity, fragment: Entity) -> None:
    for entity_type in fragment.get("type", []):
        if entity_type not in existing["type"]:
            existing["type"].append(entity_type)


def replace_entity(existing: Entity, replacement: Entity, now: str) -> Entity:
    """The replacement entity, keeping the original creation time (clause 5.6.18)."""
    stamp_new_entity(replacement, now)
    replacement["createdAt"] = existing.get("createdAt", now)
    return replacement


def delete_attribute(existing: Entity, name: str, *, dataset_id: str | None = None, delete_all: bool = False) -> bool:
    """Delete an attribute (or one instance of it); False when there was nothing to delete."""
    if name == SCOPE_IRI and dataset_id is None:
        # The scope is no attribute, but the Delete Attribute operation removes it (4.18; suite 013_04).
        return existing.pop("scope", None) is not None
    current = existing["attrs"].get(name)
    if current is None:
        return False
    if delete_all:
        del existing["attrs"][name]
        return True
    index = _dataset_index(current, dataset_id)
    if index is None:
        return False
    del current[index]
    if not current:
        del existing["attrs"][name]
    return True


def entity_shapes_source(entity: Entity, name: str) -> list[Any]:
    """The GeoJSON values of every instance of GeoProperty ``name``."""
    return [
        instance["value"]
        for instance in entity["attrs"].get(name, [])
        if instance.get("type") == GEO_PROPERTY and isinstance(instance.get("value"), dict)
    ]
