"""Rendering the temporal evolution of entities: normalized, concise, temporalValues, aggregatedValues.

Pure functions over :class:`~urbis.context.temporal.TemporalEntity`; the caller
supplies ``compact`` (IRI -> term of the request's @context).

- *normalized* / *concise* (clause 4.5.7): each attribute is an array of its
  instances, oldest first, each with an ``instanceId``;
- *temporalValues* (the simplified temporal representation, clause 4.5.9):
  ``{"type": "Property", "values": [[value, time], ...]}`` with the member named
  after the attribute type (``objects``, ``languageMaps``, ``jsons``, ...);
- *aggregatedValues* (clause 4.5.19): ``{"type": "Property", "avg": [[value, start, end], ...]}``.

An attribute with several datasetIds is an array of such objects, each with its ``datasetId``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from urbis.context.model import (
    GEO_PROPERTY,
    JSON_PROPERTY,
    LANGUAGE_PROPERTY,
    LIST_PROPERTY,
    LIST_RELATIONSHIP,
    PROPERTY,
    RELATIONSHIP,
    VOCAB_PROPERTY,
    is_geojson_geometry,
)
from urbis.context.representation import Renderer, RenderOptions
from urbis.context.temporal import SeriesResult, TemporalEntity, instance_id, iso

Compact = Callable[[str], str]
TemporalFormat = Literal["normalized", "concise", "temporalValues", "aggregatedValues"]

#: The member of the simplified temporal representation, by attribute type (clause 4.5.9).
SIMPLIFIED_MEMBER: dict[str, str] = {
    PROPERTY: "values",
    GEO_PROPERTY: "values",
    RELATIONSHIP: "objects",
    LANGUAGE_PROPERTY: "languageMaps",
    JSON_PROPERTY: "jsons",
    VOCAB_PROPERTY: "vocabs",
    LIST_PROPERTY: "valueLists",
    LIST_RELATIONSHIP: "objectLists",
}
_SYSTEM = ("createdAt", "modifiedAt")


@dataclass(frozen=True)
class TemporalRenderOptions:
    """How the temporal evolution is to be shown."""

    format: TemporalFormat = "normalized"
    sys_attrs: bool = False
    lang: tuple[str, ...] | None = None
    pick: frozenset[str] | None = None  # compacted member names to keep (id, type, attributes)
    omit: frozenset[str] | None = None  # compacted member names to drop


class TemporalRenderer:
    """Renders temporal entities in one representation with one @context."""

    def __init__(self, compact: Compact, options: TemporalRenderOptions):
        self.compact = compact
        self.options = options
        instance_format: Literal["normalized", "concise", "keyValues"]
        if options.format == "concise":
            instance_format = "concise"
        elif options.format == "temporalValues":
            instance_format = "keyValues"
        else:
            instance_format = "normalized"
        # Instances render exactly as in the entity API (same value members, lang, sub-attributes).
        self._instances = Renderer(
            compact, RenderOptions(format=instance_format, sys_attrs=options.sys_attrs, lang=options.lang)
        )

    def entity(self, item: TemporalEntity) -> dict[str, Any]:
        """One entity's temporal representation as a JSON-ready dict (without @context)."""
        entity = item.entity
        types = [self.compact(t) for t in entity.get("type", [])]
        out: dict[str, Any] = {"id": entity["id"], "type": types[0] if len(types) == 1 else types}
        if self.options.sys_attrs:
            for key in _SYSTEM:
                if key in entity:
                    out[key] = entity[key]
        by_attr: dict[str, list[SeriesResult]] = {}
        for series in item.series:
            by_attr.setdefault(series.attr_iri, []).append(series)
        for attr_iri, group in by_attr.items():
            name = self.compact(attr_iri)
            if self.options.format in ("normalized", "concise"):
                out[name] = self._instances_of(group)
                continue
            rendered = [
                self._simplified(series) if self.options.format == "temporalValues" else self._aggregated(series)
                for series in group
            ]
            out[name] = rendered[0] if len(rendered) == 1 else rendered
        if self.options.pick is not None:
            out = {k: v for k, v in out.items() if k in self.options.pick}
        if self.options.omit is not None:
            out = {k: v for k, v in out.items() if k not in self.options.omit}
        return out

    def _instances_of(self, group: list[SeriesResult]) -> list[Any]:
        rows = [
            (time, series.dataset_id, series, observed, inst)
            for series in group
            for time, observed, inst in series.instances
        ]
        rows.sort(key=lambda row: (row[0], row[1]))
        out = []
        for _, _, series, observed, instance in rows:
            rendered = self._instances.instance(instance)
            if not isinstance(rendered, dict) or is_geojson_geometry(rendered):
                rendered = {"value": rendered}  # a bare concise value or geometry: wrap it to add the id
            rendered["instanceId"] = instance_id(series.series_id, observed)
            out.append(rendered)
        return out

    def _header(self, series: SeriesResult, kind: str) -> dict[str, Any]:
        out: dict[str, Any] = {"type": kind}
        if series.dataset_id:
            out["datasetId"] = series.dataset_id
        return out

    def _simplified(self, series: SeriesResult) -> dict[str, Any]:
        kind = series.attr_type
        if kind == LANGUAGE_PROPERTY and self.options.lang:
            kind = PROPERTY  # one language picked: plain strings (clause 4.15)
        out = self._header(series, kind)
        out[SIMPLIFIED_MEMBER.get(kind, "values")] = [
            [self._instances.instance(instance), iso(time)] for time, _, instance in series.instances
        ]
        return out

    def _aggregated(self, series: SeriesResult) -> dict[str, Any]:
        out = self._header(series, series.attr_type)
        times: dict[int, str] = {}  # every method repeats the same period bounds

        def text(moment: int) -> str:
            found = times.get(moment)
            if found is None:
                found = times[moment] = iso(moment)
            return found

        for method, periods in series.aggregates.items():
            out[method] = [[value, text(start), text(end)] for value, start, end in periods]
        return out
