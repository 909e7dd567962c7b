"""Device readings applied to entities, and the history an entity change leaves: pure rules, no I/O.

Measures become Property instances with ``observedAt``.  Every measure is kept
in history; the entity's current value moves only forward in observed time, so
a late or retried message never overwrites a newer value.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from urbis.context import model
from urbis.context.history import HistoryEntry, iso_to_us
from urbis.context.model import Entity, Instance
from urbis.ingestion.messages import DeviceReadings, Measure

Expand = Callable[[str], str]


@functools.lru_cache(maxsize=65536)
def observed_us_of(timestamp: str) -> int:
    """µs since the epoch of a stored timestamp (cached: instants repeat across a batch)."""
    return iso_to_us(timestamp)


def measure_instance(measure: Measure, now: str) -> Instance:
    """The Property instance a measure becomes."""
    instance: Instance = {
        "type": model.PROPERTY,
        "value": measure.value,
        "observedAt": measure.observed_at,
        "createdAt": now,
        "modifiedAt": now,
    }
    if measure.unit_code is not None:
        instance["unitCode"] = measure.unit_code
    if measure.dataset_id is not None:
        instance["datasetId"] = measure.dataset_id
    return instance


def new_entity(readings: DeviceReadings, expand: Expand, now: str) -> Entity:
    """The entity a device's first readings create: its id, type and seed attributes."""
    payload: dict[str, Any] = {"id": readings.entity_id, "type": readings.entity_type, **readings.seed}
    entity = model.build_entity(payload, expand, now)
    return model.stamp_new_entity(entity, now)


def apply_measures(
    tenant: str, entity: Entity, measures: Iterable[tuple[str, Measure]], now: str
) -> tuple[list[str], list[HistoryEntry]]:
    """Apply ``(attribute IRI, measure)`` pairs to ``entity`` in place.

    Returns the attributes whose current value changed and the history
    entries of every measure (also those older than the current value).
    """
    history: list[HistoryEntry] = []
    entity_id = entity["id"]
    # Only the newest measure of each attribute instance can become its current value.
    newest: dict[tuple[str, str | None], tuple[Measure, Instance]] = {}
    for attr_iri, measure in measures:
        instance = measure_instance(measure, now)
        dataset_id = measure.dataset_id
        history.append(HistoryEntry((tenant, entity_id, attr_iri, dataset_id or ""), measure.observed_us, instance))
        key = (attr_iri, dataset_id)
        seen = newest.get(key)
        if seen is None or measure.observed_us >= seen[0].observed_us:
            newest[key] = (measure, instance)
    changed: list[str] = []
    attrs = entity["attrs"]
    for (attr_iri, dataset_id), (measure, instance) in newest.items():
        instances: list[Instance] | None = attrs.get(attr_iri)
        if instances is None:
            attrs[attr_iri] = [instance]
        else:
            index = next((i for i, old in enumerate(instances) if old.get("datasetId") == dataset_id), None)
            if index is None:
                instances.append(instance)
            else:
                old = instances[index]
                previous_at = old.get("observedAt")
                if previous_at is not None and observed_us_of(previous_at) > measure.observed_us:
                    continue  # a late message: history only
                instance["createdAt"] = old.get("createdAt", now)
                if "attrs" in old:  # sub-attributes (e.g. provider metadata) survive new values
                    instance["attrs"] = old["attrs"]
                instances[index] = instance
        if attr_iri not in changed:
            changed.append(attr_iri)
    if changed:
        entity["modifiedAt"] = now
    return changed, history


Snapshot = dict[tuple[str, str | None], bytes]


def instance_stamps(entity: Entity) -> Snapshot:
    """Every instance as JSON bytes, to tell afterwards which instances a write changed.

    Comparing content (not ``modifiedAt``) also catches two writes within one clock tick.
    """
    return {
        (attr_iri, instance.get("datasetId")): orjson.dumps(instance)
        for attr_iri, instances in entity["attrs"].items()
        for instance in instances
    }


def change_history(tenant: str, current: Entity, before: Snapshot | None) -> list[HistoryEntry]:
    """History entries for the instances a write created or changed."""
    entries: list[HistoryEntry] = []
    for attr_iri, instances in current["attrs"].items():
        for instance in instances:
            dataset_id = instance.get("datasetId")
            if before is not None:
                old = before.get((attr_iri, dataset_id))
                if old is not None and old == orjson.dumps(instance):
                    continue
            when = instance.get("observedAt") or instance.get("modifiedAt") or current["modifiedAt"]
            entries.append(
                HistoryEntry((tenant, current["id"], attr_iri, dataset_id or ""), observed_us_of(when), instance)
            )
    return entries
