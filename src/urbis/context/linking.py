"""Linked entity retrieval (``join=flat|inline``, ``joinLevel``): following Relationships.

Pure functions: the caller fetches the linked entities (one query per level)
and renders them; these functions decide what to fetch and where it goes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from urbis.context.model import RELATIONSHIP, Entity

if TYPE_CHECKING:
    from urbis.context.representation import Renderer

MAX_JOIN_LEVEL = 5


def relationship_targets(entities: Iterable[Entity]) -> list[str]:
    """Ids that the entities' Relationships point to, in first-seen order."""
    seen: dict[str, None] = {}
    for entity in entities:
        for instances in entity["attrs"].values():
            for instance in instances:
                if instance.get("type") != RELATIONSHIP:
                    continue
                target = instance.get("object")
                for entity_id in target if isinstance(target, list) else [target]:
                    if isinstance(entity_id, str):
                        seen.setdefault(entity_id)
    return list(seen)


def collect_linked(
    roots: list[Entity], fetch: Callable[[list[str]], dict[str, Entity]], levels: int
) -> dict[str, Entity]:
    """Every entity reachable from ``roots`` within ``levels`` Relationship hops (roots excluded)."""
    known = {entity["id"] for entity in roots}
    linked: dict[str, Entity] = {}
    frontier = roots
    for _ in range(max(0, min(levels, MAX_JOIN_LEVEL))):
        wanted = [i for i in relationship_targets(frontier) if i not in known]
        if not wanted:
            break
        found = fetch(wanted)
        known.update(wanted)
        linked.update(found)
        frontier = list(found.values())
    return linked


def _targets(instance: dict[str, Any]) -> list[str]:
    target = instance.get("object")
    return [t for t in (target if isinstance(target, list) else [target]) if isinstance(t, str)]


def flat_links(
    roots: list[Entity], linked: dict[str, Entity], renderer: Renderer, compact: Callable[[str], str], levels: int
) -> list[tuple[Entity, Renderer]]:
    """The linked entities of a flat join, each with its renderer, in the order they are reached.

    Only Relationships kept by ``pick``/``omit`` are followed, and an entity reached through
    ``rel`` is projected by ``rel{...}`` (clause 4.21; suite 019_20-019_23).
    """
    seen = {entity["id"] for entity in roots}
    frontier = [(entity, renderer) for entity in roots]
    reached: list[tuple[Entity, Renderer]] = []
    for _ in range(max(0, min(levels, MAX_JOIN_LEVEL))):
        found: list[tuple[Entity, Renderer]] = []
        for entity, shown_by in frontier:
            for iri, instances in entity["attrs"].items():
                name = compact(iri)
                if not shown_by.follows(name):
                    continue
                for instance in instances:
                    if instance.get("type") != RELATIONSHIP:
                        continue
                    for target in _targets(instance):
                        if target in linked and target not in seen:
                            seen.add(target)
                            found.append((linked[target], shown_by.for_link(name)))
        reached.extend(found)
        frontier = found
    return reached


def inline_links(
    rendered: dict[str, Any],
    entity: Entity,
    linked: dict[str, Entity],
    renderer: Renderer,
    compact: Callable[[str], str],
    levels: int,
) -> dict[str, Any]:
    """Put each linked entity inside the Relationship that names it, as an ``entity`` member.

    An entity linked through ``rel`` is rendered with the projection ``rel{...}`` of pick/omit.
    """
    if levels <= 0:
        return rendered
    for iri, instances in entity["attrs"].items():
        name = compact(iri)
        shown = rendered.get(name)
        if shown is None:
            continue
        inner = renderer.for_link(name)
        shown_list = shown if isinstance(shown, list) else [shown]
        for instance, out in zip(instances, shown_list, strict=False):
            if instance.get("type") != RELATIONSHIP or not isinstance(out, dict):
                continue
            target = instance.get("object")
            embedded = [
                inline_links(inner.entity(linked[t]), linked[t], linked, inner, compact, levels - 1)
                for t in _targets(instance)
                if t in linked
            ]
            if embedded:
                out["entity"] = embedded[0] if not isinstance(target, list) else embedded
    return rendered
