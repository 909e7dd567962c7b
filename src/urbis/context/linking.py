"""Linked entity retrieval (``join=flat|inline``, ``joinLevel``): following Relationships.

Pure functions: the caller fetches the linked entities (one query per level)
and renders them; these functions decide what to fetch and where it goes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from urbis.context.model import RELATIONSHIP, Entity

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


def inline_links(
    rendered: dict[str, Any],
    entity: Entity,
    linked: dict[str, Entity],
    render: Callable[[Entity], dict[str, Any]],
    compact: Callable[[str], str],
    levels: int,
) -> dict[str, Any]:
    """Put each linked entity inside the Relationship that names it, as an ``entity`` member."""
    if levels <= 0:
        return rendered
    for iri, instances in entity["attrs"].items():
        name = compact(iri)
        shown = rendered.get(name)
        if shown is None:
            continue
        shown_list = shown if isinstance(shown, list) else [shown]
        for instance, out in zip(instances, shown_list, strict=False):
            if instance.get("type") != RELATIONSHIP or not isinstance(out, dict):
                continue
            target = instance.get("object")
            targets = target if isinstance(target, list) else [target]
            embedded = [
                inline_links(render(linked[t]), linked[t], linked, render, compact, levels - 1)
                for t in targets
                if isinstance(t, str) and t in linked
            ]
            if embedded:
                out["entity"] = embedded[0] if not isinstance(target, list) else embedded
    return rendered
