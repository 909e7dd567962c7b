"""The catalogue: datasets city officers define over the context and the solutions' outputs, and their DCAT-AP 3 form.

A dataset is a *view*: over the context (entity types, attributes, an area, a time range) or over a
solution's ready-made aggregate (hourly AQI per district, daily lighting energy per group, parking
occupancy per zone and hour).  It carries what DCAT-AP asks: title, description, keywords, themes
(the EU data themes), licence, publisher, update frequency, spatial and temporal coverage.

:func:`catalog_graph` turns a city's datasets into a DCAT-AP 3 catalogue (an ``rdflib`` graph, written
as Turtle or JSON-LD); each dataset has one distribution per download format, whose access URL is the
dataset's page and whose download URL is the enforced data endpoint.

Pure: no I/O; the publishing time is a parameter.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS, XSD

from urbis.core.errors import BadRequestData

#: The EU Publications Office's authority tables DCAT-AP draws its codes from.
EU_AUTHORITY = "http://publications.europa.eu/resource/authority/"
THEME = Namespace(EU_AUTHORITY + "data-theme/")
FREQUENCY = Namespace(EU_AUTHORITY + "frequency/")
FILE_TYPE = Namespace(EU_AUTHORITY + "file-type/")
IANA = "https://www.iana.org/assignments/media-types/"
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")

#: EU data themes a city's datasets fall under (code → label).
THEMES = {
    "ENVI": "Environment",
    "TRAN": "Transport",
    "ENER": "Energy",
    "GOVE": "Government and public sector",
    "REGI": "Regions and cities",
    "SOCI": "Population and society",
    "HEAL": "Health",
}

#: Update frequencies (our word → the EU frequency code).
FREQUENCIES = {
    "continuous": "CONT",
    "hourly": "HOURLY",
    "daily": "DAILY",
    "weekly": "WEEKLY",
    "monthly": "MONTHLY",
    "annual": "ANNUAL",
    "irregular": "IRREG",
}


@dataclass(frozen=True)
class Licence:
    """A licence a city publishes under: its SPDX id, its document and whether it is open."""

    spdx: str
    title: str
    url: str
    open: bool


LICENCES = {
    licence.spdx: licence
    for licence in (
        Licence("CC-BY-4.0", "Creative Commons Attribution 4.0", "http://creativecommons.org/licenses/by/4.0/", True),
        Licence("CC0-1.0", "Creative Commons Zero 1.0", "http://creativecommons.org/publicdomain/zero/1.0/", True),
        Licence(
            "ODbL-1.0",
            "Open Data Commons Open Database License 1.0",
            "http://opendatacommons.org/licenses/odbl/1-0/",
            True,
        ),
        Licence(
            "restricted",
            "Restricted: use under an agreement with the city",
            "https://urbis.city/licences/restricted",
            False,
        ),
    )
}


class Format(enum.StrEnum):
    """The formats a dataset's data is served in."""

    JSON = "json"
    CSV = "csv"
    GEOJSON = "geojson"
    PARQUET = "parquet"

    @property
    def media_type(self) -> str:
        """The IANA media type."""
        return {
            Format.JSON: "application/json",
            Format.CSV: "text/csv",
            Format.GEOJSON: "application/geo+json",
            Format.PARQUET: "application/vnd.apache.parquet",
        }[self]

    @property
    def eu_code(self) -> str:
        """The EU file-type code."""
        return {Format.JSON: "JSON", Format.CSV: "CSV", Format.GEOJSON: "GEOJSON", Format.PARQUET: "PARQUET"}[self]


class Source(enum.StrEnum):
    """What a dataset is a view of."""

    CONTEXT = "context"  # entities of given types (their attributes, in an area and a time range)
    AIR_QUALITY_HOURLY = "air-quality-hourly-by-district"
    LIGHTING_ENERGY_DAILY = "lighting-energy-daily-by-group"
    PARKING_OCCUPANCY_HOURLY = "parking-occupancy-hourly-by-zone"
    CITIZEN_REPORTS = "citizen-reports"  # the reports' public projection


@dataclass(frozen=True)
class View:
    """Which data a dataset holds: its source and, over the context, which entities and attributes."""

    source: Source
    entity_types: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()  # empty: every attribute
    area: str | None = None  # a district's name; None: the whole city
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Dataset:
    """A dataset of the catalogue, as an officer defined it."""

    id: str
    title: str
    description: str
    view: View
    licence: str = "restricted"  # an SPDX id of :data:`LICENCES`
    keywords: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()  # codes of :data:`THEMES`
    frequency: str = "hourly"  # a key of :data:`FREQUENCIES`
    spatial: str | None = None  # the area covered, in words ("Bonn", "Beuel")
    contact_email: str | None = None
    issued: datetime | None = None
    modified: datetime | None = None
    formats: tuple[Format, ...] = field(default=(Format.JSON, Format.CSV))

    @property
    def open(self) -> bool:
        """Whether anyone may download it without an agreement (an open licence)."""
        return LICENCES[self.licence].open


_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def check_dataset(dataset: Dataset) -> Dataset:
    """Refuse a dataset the catalogue could not publish: every problem named at once."""
    problems: list[str] = []
    if not _ID.fullmatch(dataset.id):
        problems.append("a dataset id is 1-64 lower-case letters, digits and '-'")
    if not dataset.title.strip() or len(dataset.title) > 200:
        problems.append("a title is 1 to 200 characters")
    if not dataset.description.strip() or len(dataset.description) > 4000:
        problems.append("a description is 1 to 4000 characters")
    if dataset.licence not in LICENCES:
        problems.append(f"licence must be one of {', '.join(LICENCES)}")
    unknown = [theme for theme in dataset.themes if theme not in THEMES]
    if unknown:
        problems.append(f"unknown theme {unknown[0]!r}; known: {', '.join(THEMES)}")
    if dataset.frequency not in FREQUENCIES:
        problems.append(f"frequency must be one of {', '.join(FREQUENCIES)}")
    if dataset.view.source is Source.CONTEXT and not dataset.view.entity_types:
        problems.append("a view over the context names at least one entity type")
    if dataset.view.source is not Source.CONTEXT and (dataset.view.entity_types or dataset.view.attributes):
        problems.append(f"a view of {dataset.view.source.value} takes no entity types or attributes")
    if dataset.view.since and dataset.view.until and dataset.view.since >= dataset.view.until:
        problems.append("the time range must start before it ends")
    if not dataset.formats:
        problems.append("a dataset is served in at least one format")
    if len(dataset.keywords) > 30 or any(not k.strip() or len(k) > 60 for k in dataset.keywords):
        problems.append("keywords: at most 30, each 1 to 60 characters")
    if problems:
        raise BadRequestData("; ".join(problems))
    return dataset


# -- DCAT-AP 3 -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Publisher:
    """The city publishing its catalogue."""

    name: str
    url: str
    email: str | None = None


def dataset_page(base_url: str, dataset_id: str) -> str:
    """The web page of a dataset (its landing page, and the access URL of its distributions)."""
    return f"{base_url}/marketplace/datasets/{dataset_id}"


def dataset_uri(base_url: str, dataset_id: str) -> str:
    """The stable URI of a dataset (the thing its page is about)."""
    return dataset_page(base_url, dataset_id) + "#dataset"


def data_url(base_url: str, dataset_id: str, fmt: Format) -> str:
    """Where a dataset's data is served (under the enforcement of its policy)."""
    return f"{base_url}/api/v1/marketplace/datasets/{dataset_id}/data.{fmt.value}"


def _literal(text: str, language: str) -> Literal:
    return Literal(text, lang=language)


def _concept(graph: Graph, uri: URIRef, label: str) -> URIRef:
    graph.add((uri, RDF.type, SKOS.Concept))
    graph.add((uri, SKOS.prefLabel, Literal(label, lang="en")))
    return uri


def _agent(graph: Graph, publisher: Publisher) -> URIRef:
    agent = URIRef(publisher.url)
    graph.add((agent, RDF.type, FOAF.Agent))
    graph.add((agent, FOAF.name, Literal(publisher.name)))
    return agent


def _contact(graph: Graph, email: str) -> BNode:
    node = BNode()
    graph.add((node, RDF.type, VCARD.Kind))
    graph.add((node, VCARD.hasEmail, URIRef(f"mailto:{email}")))
    return node


def catalog_graph(
    base_url: str,
    publisher: Publisher,
    datasets: Sequence[Dataset],
    *,
    title: str,
    description: str,
    language: str = "en",
    modified: datetime | None = None,
) -> Graph:
    """The city's catalogue as DCAT-AP 3: catalogue, datasets, distributions, licences, themes, publisher."""
    graph = Graph()
    graph.bind("dcat", DCAT)
    graph.bind("dct", DCTERMS)
    graph.bind("foaf", FOAF)
    graph.bind("skos", SKOS)
    graph.bind("vcard", VCARD)
    catalog = URIRef(f"{base_url}/marketplace/catalog")
    agent = _agent(graph, publisher)
    graph.add((catalog, RDF.type, DCAT.Catalog))
    graph.add((catalog, DCTERMS.title, _literal(title, language)))
    graph.add((catalog, DCTERMS.description, _literal(description, language)))
    graph.add((catalog, DCTERMS.publisher, agent))
    homepage = URIRef(f"{base_url}/marketplace")
    graph.add((homepage, RDF.type, FOAF.Document))
    graph.add((catalog, FOAF.homepage, homepage))
    if modified is not None:
        graph.add((catalog, DCTERMS.modified, Literal(modified, datatype=XSD.dateTime)))
    licences: dict[str, URIRef] = {}
    for dataset in datasets:
        node = URIRef(dataset_uri(base_url, dataset.id))
        graph.add((catalog, DCAT.dataset, node))
        graph.add((node, RDF.type, DCAT.Dataset))
        graph.add((node, DCTERMS.identifier, Literal(dataset.id)))
        graph.add((node, DCTERMS.title, _literal(dataset.title, language)))
        graph.add((node, DCTERMS.description, _literal(dataset.description, language)))
        graph.add((node, DCTERMS.publisher, agent))
        page = URIRef(dataset_page(base_url, dataset.id))
        graph.add((page, RDF.type, FOAF.Document))
        graph.add((node, DCAT.landingPage, page))
        for keyword in dataset.keywords:
            graph.add((node, DCAT.keyword, _literal(keyword, language)))
        for theme in dataset.themes:
            graph.add((node, DCAT.theme, _concept(graph, THEME[theme], THEMES[theme])))
        frequency = FREQUENCY[FREQUENCIES[dataset.frequency]]
        graph.add((frequency, RDF.type, DCTERMS.Frequency))
        graph.add((node, DCTERMS.accrualPeriodicity, frequency))
        if dataset.spatial:
            location = URIRef(f"{base_url}/marketplace/places/{_slug(dataset.spatial)}")
            graph.add((location, RDF.type, DCTERMS.Location))
            graph.add((location, SKOS.prefLabel, Literal(dataset.spatial)))
            graph.add((node, DCTERMS.spatial, location))
        if dataset.view.since is not None or dataset.view.until is not None:
            period = BNode()
            graph.add((period, RDF.type, DCTERMS.PeriodOfTime))
            if dataset.view.since is not None:
                graph.add((period, DCAT.startDate, Literal(dataset.view.since, datatype=XSD.dateTime)))
            if dataset.view.until is not None:
                graph.add((period, DCAT.endDate, Literal(dataset.view.until, datatype=XSD.dateTime)))
            graph.add((node, DCTERMS.temporal, period))
        if dataset.contact_email or publisher.email:
            graph.add((node, DCAT.contactPoint, _contact(graph, dataset.contact_email or publisher.email or "")))
        if dataset.issued is not None:
            graph.add((node, DCTERMS.issued, Literal(dataset.issued, datatype=XSD.dateTime)))
        if dataset.modified is not None:
            graph.add((node, DCTERMS.modified, Literal(dataset.modified, datatype=XSD.dateTime)))
        licence = LICENCES[dataset.licence]
        if licence.spdx not in licences:
            document = URIRef(licence.url)
            graph.add((document, RDF.type, DCTERMS.LicenseDocument))
            graph.add((document, DCTERMS.title, Literal(licence.title)))
            licences[licence.spdx] = document
        for fmt in dataset.formats:
            distribution = URIRef(f"{dataset_page(base_url, dataset.id)}/distributions/{fmt.value}")
            graph.add((node, DCAT.distribution, distribution))
            graph.add((distribution, RDF.type, DCAT.Distribution))
            graph.add((distribution, DCTERMS.title, _literal(f"{dataset.title} ({fmt.value.upper()})", language)))
            graph.add((distribution, DCAT.accessURL, page))
            graph.add((distribution, DCAT.downloadURL, URIRef(data_url(base_url, dataset.id, fmt))))
            file_type = FILE_TYPE[fmt.eu_code]
            graph.add((file_type, RDF.type, DCTERMS.MediaTypeOrExtent))
            graph.add((distribution, DCTERMS.format, file_type))
            media = URIRef(IANA + fmt.media_type)
            graph.add((media, RDF.type, DCTERMS.MediaType))
            graph.add((distribution, DCAT.mediaType, media))
            graph.add((distribution, DCTERMS.license, licences[licence.spdx]))
    return graph


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "area"


def to_turtle(graph: Graph) -> str:
    """The catalogue as Turtle."""
    return graph.serialize(format="turtle")


def to_jsonld(graph: Graph) -> str:
    """The catalogue as JSON-LD, compacted with the DCAT, Dublin Core, FOAF and SKOS prefixes."""
    context = {
        "dcat": str(DCAT),
        "dct": str(DCTERMS),
        "foaf": str(FOAF),
        "skos": str(SKOS),
        "vcard": str(VCARD),
        "xsd": str(XSD),
    }
    return graph.serialize(format="json-ld", context=context, indent=2)
