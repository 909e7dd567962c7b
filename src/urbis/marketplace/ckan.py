"""The catalogue in CKAN's shapes: packages, resources, the city as organisation, and ``package_search``.

CKAN's Action API is what open-data tools speak (``ckanapi``, harvesters); Urbis answers its read
subset from the same catalogue.  A dataset is a *package*, each of its formats a *resource*, the
city its one *organization*.  ``package_search`` understands free text ``q`` (``*:*`` for all), the
simple filter queries harvesters send in ``fq`` (``field:value`` terms, quoted values, ``AND``
between them, ``-field:value`` to exclude), paging with ``rows``/``start``, a ``sort`` on name,
title or modification time, and facets over tags, licence, organisation, formats and themes.

Pure: from stored datasets to JSON-ready dictionaries.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from urbis.core.errors import BadRequestData
from urbis.marketplace.catalog import LICENCES, THEMES, Dataset, Format, data_url, dataset_page
from urbis.marketplace.store import StoredDataset

#: The facets ``package_search`` can count.
FACET_FIELDS = ("tags", "license_id", "organization", "res_format", "groups")
#: Most rows in one ``package_search`` answer.
MAX_ROWS = 1000


@dataclass(frozen=True)
class Organisation:
    """The city, as CKAN's one organisation of this catalogue."""

    name: str  # a slug
    title: str
    description: str
    url: str


def organisation_of(city_name: str, url: str) -> Organisation:
    """The city as a CKAN organisation (its name a slug of the city's name)."""
    slug = re.sub(r"[^a-z0-9]+", "-", city_name.lower()).strip("-") or "city"
    return Organisation(slug, city_name, f"The open and shared data of {city_name}.", url)


def _iso(moment: datetime | None) -> str | None:
    # CKAN writes naive ISO timestamps in UTC.
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None).isoformat()


def resource_id(dataset_id: str, fmt: Format) -> str:
    """A resource's id: the dataset and the format (stable, readable)."""
    return f"{dataset_id}.{fmt.value}"


def resource_json(dataset: Dataset, fmt: Format, base_url: str, position: int) -> dict[str, Any]:
    """One format of a dataset as a CKAN resource."""
    return {
        "id": resource_id(dataset.id, fmt),
        "package_id": dataset.id,
        "name": f"{dataset.title} ({fmt.value.upper()})",
        "description": dataset.description,
        "format": fmt.value.upper(),
        "mimetype": fmt.media_type,
        "url": data_url(base_url, dataset.id, fmt),
        "position": position,
        "datastore_active": True,
        "state": "active",
        "created": _iso(dataset.issued or dataset.modified),
        "last_modified": _iso(dataset.modified),
    }


def organisation_json(organisation: Organisation, package_count: int | None = None) -> dict[str, Any]:
    """The city as CKAN's organisation dictionary."""
    body: dict[str, Any] = {
        "id": organisation.name,
        "name": organisation.name,
        "title": organisation.title,
        "display_name": organisation.title,
        "description": organisation.description,
        "type": "organization",
        "is_organization": True,
        "state": "active",
        "approval_status": "approved",
        "image_url": "",
    }
    if package_count is not None:
        body["package_count"] = package_count
    return body


def package_json(stored: StoredDataset, base_url: str, organisation: Organisation) -> dict[str, Any]:
    """A dataset as a CKAN package."""
    dataset = stored.dataset
    licence = LICENCES[dataset.licence]
    return {
        "id": dataset.id,
        "name": dataset.id,
        "title": dataset.title,
        "notes": dataset.description,
        "type": "dataset",
        "state": "active",
        "private": False,
        "license_id": licence.spdx,
        "license_title": licence.title,
        "license_url": licence.url,
        "isopen": licence.open,
        "url": dataset_page(base_url, dataset.id),
        "author": organisation.title,
        "maintainer": organisation.title,
        "maintainer_email": dataset.contact_email,
        "metadata_created": _iso(dataset.issued or dataset.modified),
        "metadata_modified": _iso(dataset.modified),
        "organization": organisation_json(organisation),
        "owner_org": organisation.name,
        "tags": [{"name": keyword, "display_name": keyword} for keyword in dataset.keywords],
        "num_tags": len(dataset.keywords),
        "groups": [
            {"name": theme.lower(), "title": THEMES[theme], "display_name": THEMES[theme]} for theme in dataset.themes
        ],
        "resources": [resource_json(dataset, fmt, base_url, n) for n, fmt in enumerate(dataset.formats)],
        "num_resources": len(dataset.formats),
        "extras": [
            {"key": "frequency", "value": dataset.frequency},
            {"key": "spatial_text", "value": dataset.spatial or ""},
            {"key": "source", "value": dataset.view.source.value},
        ],
    }


def _field_values(package: Mapping[str, Any], field: str) -> list[str]:
    if field == "tags":
        return [tag["name"] for tag in package["tags"]]
    if field == "res_format":
        return [resource["format"] for resource in package["resources"]]
    if field == "groups":
        return [group["name"] for group in package["groups"]]
    if field == "organization":
        return [package["owner_org"]]
    value = package.get(field)
    return [] if value is None else [str(value)]


def _text_matches(package: Mapping[str, Any], text: str) -> bool:
    haystack = " ".join(
        [package["title"], package["notes"], package["name"], *(_field_values(package, "tags"))]
    ).casefold()
    return all(word in haystack for word in text.casefold().split())


def parse_fq(fq: str) -> list[tuple[str, str, bool]]:
    """``field:value`` terms of a filter query: (field, value, wanted); ``-field:value`` excludes."""
    try:
        parts = shlex.split(fq.replace("+", " "))
    except ValueError:
        raise BadRequestData(f"cannot read the filter query {fq!r:.100}") from None
    terms: list[tuple[str, str, bool]] = []
    for part in parts:
        if part.upper() in ("AND", "&&"):
            continue
        wanted = not part.startswith("-")
        field, sep, value = part.lstrip("-").partition(":")
        if not sep or not field or not value:
            raise BadRequestData(f"a filter query term is field:value, got {part!r:.60}")
        terms.append((field, value.strip('"'), wanted))
    return terms


def _sorter(sort: str | None) -> Callable[[Mapping[str, Any]], Any]:
    field = (sort or "score desc, metadata_modified desc").split(",")[0].split()[0]
    if field in ("title_string", "title"):
        return lambda p: p["title"].casefold()
    if field == "name":
        return lambda p: p["name"]
    return lambda p: p["metadata_modified"] or ""


def package_search(
    packages: Sequence[Mapping[str, Any]],
    *,
    q: str | None = None,
    fq: str | None = None,
    rows: int = 10,
    start: int = 0,
    sort: str | None = None,
    facet_fields: Sequence[str] = (),
    facet_limit: int = 50,
) -> dict[str, Any]:
    """CKAN's ``package_search`` result over ``packages``: count, the page of results, facets."""
    if not 0 <= rows <= MAX_ROWS:
        raise BadRequestData(f"rows is 0 to {MAX_ROWS}")
    if start < 0:
        raise BadRequestData("start is 0 or more")
    unknown = [field for field in facet_fields if field not in FACET_FIELDS]
    if unknown:
        raise BadRequestData(f"cannot count facet {unknown[0]!r:.40}; known: {', '.join(FACET_FIELDS)}")
    matched = [p for p in packages if not q or q.strip() in ("", "*:*") or _text_matches(p, q)]
    for field, value, wanted in parse_fq(fq or ""):
        matched = [p for p in matched if (value in _field_values(p, field)) is wanted]
    descending = sort is None or "desc" in sort.split(",")[0]
    ordered = sorted(matched, key=_sorter(sort), reverse=descending)
    facets: dict[str, dict[str, int]] = {}
    search_facets: dict[str, Any] = {}
    for field in facet_fields:
        counts = Counter(value for p in matched for value in set(_field_values(p, field)))
        top = dict(counts.most_common(facet_limit))
        facets[field] = top
        search_facets[field] = {
            "title": field,
            "items": [{"name": name, "display_name": name, "count": count} for name, count in top.items()],
        }
    return {
        "count": len(matched),
        "results": ordered[start : start + rows],
        "sort": sort or "score desc, metadata_modified desc",
        "facets": facets,
        "search_facets": search_facets,
    }
