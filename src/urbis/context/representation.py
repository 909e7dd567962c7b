"""Rendering internal entities for clients: normalized, concise, keyValues, GeoJSON.

Pure functions: the caller supplies ``compact`` (IRI -> term of the request's
@context) and the options parsed from the request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

from urbis.context.model import (
    GEO_PROPERTY,
    JSON_PROPERTY,
    LANGUAGE_PROPERTY,
    LIST_PROPERTY,
    LIST_RELATIONSHIP,
    PROPERTY,
    VALUE_MEMBER,
    VOCAB_PROPERTY,
    Entity,
    Instance,
    is_geojson_geometry,
)

Compact = Callable[[str], str]
Format = Literal["normalized", "concise", "keyValues"]
#: ``pick``/``omit`` as a tree (clause 4.21): member name -> the projection of the entities its
#: Relationship links to (``locatedAt{id,name}``), or None for a plain name.
Projection = dict[str, "Projection | None"]

_PROJECTION_NAME = re.compile(r"[^,{}\s;()\[\]\"'<>=|!&]+")


#: Deeper projections than any joinLevel could use are refused (and never exhaust the stack).
MAX_PROJECTION_DEPTH = 16


def parse_projection(raw: str) -> Projection:
    """Parse ``pick``/``omit`` (``id,locatedAt{id,name}``); ValueError when malformed."""
    raw = re.sub(r"\s+", "", raw)
    position = 0

    def level(depth: int) -> Projection:
        nonlocal position
        if depth > MAX_PROJECTION_DEPTH:
            raise ValueError(f"projections nest at most {MAX_PROJECTION_DEPTH} levels deep")
        out: Projection = {}
        while True:
            match = _PROJECTION_NAME.match(raw, position)
            if match is None:
                raise ValueError(f"an attribute name is expected at position {position}")
            name = match.group()
            position = match.end()
            sub: Projection | None = None
            if raw.startswith("{", position):
                position += 1
                sub = level(depth + 1)
                if not raw.startswith("}", position):
                    raise ValueError("a '{' is not closed")
                position += 1
            out[name] = sub
            if raw.startswith(",", position):
                position += 1
                continue
            if position == len(raw) or (depth > 0 and raw.startswith("}", position)):
                return out
            raise ValueError(f"unexpected character {raw[position]!r} at position {position}")

    return level(0)


_METADATA = ("observedAt", "unitCode", "datasetId", "lang")
_SYSTEM = ("createdAt", "modifiedAt")
#: In keyValues these keep their value member as a wrapper ({"languageMap": ...}), so that the
#: simplified form can be read back without turning them into plain Properties (clause 4.5.4).
_WRAPPED_IN_KEY_VALUES = frozenset({LANGUAGE_PROPERTY, JSON_PROPERTY, VOCAB_PROPERTY, LIST_PROPERTY, LIST_RELATIONSHIP})


@dataclass(frozen=True)
class RenderOptions:
    """How an entity is to be shown."""

    format: Format = "normalized"
    sys_attrs: bool = False
    attrs: frozenset[str] | None = None  # expanded attribute IRIs to keep
    pick: frozenset[str] | None = None  # compacted member names to keep (id, type, attributes)
    omit: frozenset[str] | None = None  # compacted member names to drop
    lang: tuple[str, ...] | None = None  # language preference for LanguageProperties
    dataset_ids: frozenset[str] | None = None  # keep only these instances ("@none" = default)
    #: ``pick``/``omit`` with what applies to linked entities (join); derived pick/omit sets above
    projection: Projection | None = None
    projection_kind: Literal["pick", "omit"] | None = None


def projection_options(
    options: RenderOptions, projection: Projection | None, kind: Literal["pick", "omit"]
) -> RenderOptions:
    """``options`` with ``pick`` or ``omit`` set from a projection tree (None: no projection)."""
    if projection is None:
        return replace(options, pick=None, omit=None, projection=None, projection_kind=None)
    if kind == "pick":
        return replace(options, pick=frozenset(projection), omit=None, projection=projection, projection_kind=kind)
    # In omit, ``rel{...}`` keeps the Relationship and only projects what it links to.
    dropped = frozenset(name for name, sub in projection.items() if sub is None)
    return replace(options, pick=None, omit=dropped, projection=projection, projection_kind=kind)


def _language_ranges(preferences: tuple[str, ...]) -> list[str]:
    """Language ranges from ``lang`` (``fr,en;q=0.5``), most wanted first, lower-cased."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(preferences):
        tag, _, params = item.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag.strip() and quality > 0:
            weighted.append((-quality, position, tag.strip().lower()))
    return [tag for _, _, tag in sorted(weighted)]


def _pick_language(language_map: dict[str, Any], preferences: tuple[str, ...]) -> tuple[str, Any]:
    tags = {tag.lower(): tag for tag in language_map}
    for wanted in _language_ranges(preferences):
        if wanted == "*":
            break
        if wanted in tags:
            return tags[wanted], language_map[tags[wanted]]
        for lowered, tag in tags.items():  # "en" also accepts "en-GB"
            if lowered.startswith(wanted + "-"):
                return tag, language_map[tag]
    if "@none" in language_map:
        return "@none", language_map["@none"]
    tag = next(iter(language_map))
    return tag, language_map[tag]


def _compact_vocab(value: Any, compact: Compact) -> Any:
    if isinstance(value, list):
        return [compact(item) for item in value]
    return compact(value)


def _value_of(instance: Instance, compact: Compact) -> Any:
    kind = instance["type"]
    value = instance.get(VALUE_MEMBER.get(kind, "value"))
    if kind == VOCAB_PROPERTY:
        return _compact_vocab(value, compact)
    if kind == LIST_RELATIONSHIP and isinstance(value, list):
        return [{"object": item} for item in value]  # stored as bare URIs
    return value


class Renderer:
    """Renders entities in the requested representation with one @context."""

    def __init__(self, compact: Compact, options: RenderOptions):
        self.compact = compact
        self.options = options

    def entity(self, entity: Entity) -> dict[str, Any]:
        """One entity as a JSON-ready dict (without @context)."""
        options = self.options
        types = [self.compact(t) for t in entity.get("type", [])]
        out: dict[str, Any] = {"id": entity["id"], "type": types[0] if len(types) == 1 else types}
        if "scope" in entity:
            scope = entity["scope"]
            out["scope"] = scope[0] if len(scope) == 1 else scope
        if options.sys_attrs:
            for key in _SYSTEM:
                if key in entity:
                    out[key] = entity[key]
        for iri, instances in entity["attrs"].items():
            if options.attrs is not None and iri not in options.attrs:
                continue
            if options.dataset_ids is not None:
                instances = [i for i in instances if i.get("datasetId", "@none") in options.dataset_ids]
            if not instances:
                continue
            rendered = [self.instance(instance) for instance in instances]
            if len(rendered) == 1:
                out[self.compact(iri)] = rendered[0]
            elif options.format == "concise":
                # In an array every instance must read back as an attribute: no bare values.
                out[self.compact(iri)] = [
                    r if isinstance(r, dict) and not is_geojson_geometry(r) else {"value": r} for r in rendered
                ]
            elif options.format == "keyValues":
                # Several instances: keyed by datasetId, "@none" for the default one (clause 4.5.4).
                out[self.compact(iri)] = {
                    "dataset": {i.get("datasetId", "@none"): r for i, r in zip(instances, rendered, strict=True)}
                }
            else:
                out[self.compact(iri)] = rendered
        if options.pick is not None:
            out = {k: v for k, v in out.items() if k in options.pick or (k in _SYSTEM and options.sys_attrs)}
        if options.omit is not None:
            out = {k: v for k, v in out.items() if k not in options.omit}
        return out

    def follows(self, name: str) -> bool:
        """Whether linked entity retrieval follows the Relationship ``name`` (not projected away)."""
        if self.options.projection_kind == "pick":
            return self.options.projection is not None and name in self.options.projection
        if self.options.projection_kind == "omit":
            return self.options.omit is None or name not in self.options.omit
        return True

    def for_link(self, name: str) -> Renderer:
        """The renderer of entities linked through ``name``: its nested projection, else none."""
        options = self.options
        if options.projection is None or options.projection_kind is None:
            return self
        return Renderer(
            self.compact, projection_options(options, options.projection.get(name), options.projection_kind)
        )

    def instance(self, instance: Instance) -> Any:
        """One attribute instance in the requested representation."""
        kind = instance["type"]
        if self.options.format == "keyValues":
            if kind == LANGUAGE_PROPERTY and self.options.lang:
                return _pick_language(instance["languageMap"], self.options.lang)[1]
            if kind in _WRAPPED_IN_KEY_VALUES:
                return {VALUE_MEMBER[kind]: _value_of(instance, self.compact)}
            return _value_of(instance, self.compact)
        out: dict[str, Any] = {}
        if kind == LANGUAGE_PROPERTY and self.options.lang:
            tag, text = _pick_language(instance["languageMap"], self.options.lang)
            out = {"type": PROPERTY, "value": text, "lang": tag}
        else:
            out["type"] = kind
            member = VALUE_MEMBER[kind]
            if member in instance:
                out[member] = _value_of(instance, self.compact)
        if "objectType" in instance:
            out["objectType"] = _compact_vocab(instance["objectType"], self.compact)
        for key in _METADATA:
            if key in instance and key not in out:
                out[key] = instance[key]
        if self.options.sys_attrs:
            for key in _SYSTEM:
                if key in instance:
                    out[key] = instance[key]
        for iri, sub in instance.get("attrs", {}).items():
            out[self.compact(iri)] = self.instance(sub)
        if self.options.format == "concise":
            return self._concise(out)
        return out

    @staticmethod
    def _concise(out: dict[str, Any]) -> Any:
        kind = out.pop("type")
        # A bare JSON object would be read back as an attribute (or fail on its "type"),
        # so only a GeoProperty's geometry and non-object Property values go bare.
        bare = kind == GEO_PROPERTY or (kind == PROPERTY and not isinstance(out.get("value"), dict))
        if bare and len(out) == 1 and "value" in out:
            return out["value"]
        return out

    def geojson_feature(self, entity: Entity, geoproperty: str) -> dict[str, Any]:
        """One entity as a GeoJSON Feature whose geometry is ``geoproperty`` (an IRI)."""
        properties = self.entity(entity)
        entity_id = properties.pop("id")
        geometry = None
        instances = entity["attrs"].get(geoproperty)
        if instances and instances[0].get("type") == GEO_PROPERTY:
            geometry = instances[0].get("value")
        return {"id": entity_id, "type": "Feature", "geometry": geometry, "properties": properties}

    def geojson_collection(self, entities: Iterable[Entity], geoproperty: str) -> dict[str, Any]:
        """Entities as a GeoJSON FeatureCollection."""
        return {"type": "FeatureCollection", "features": [self.geojson_feature(e, geoproperty) for e in entities]}
