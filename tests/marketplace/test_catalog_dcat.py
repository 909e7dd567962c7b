"""The catalogue's rules, and its DCAT-AP 3 form validated against the official SHACL shapes with pyshacl."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF

from urbis.core.errors import BadRequestData
from urbis.marketplace.catalog import (
    Dataset,
    Format,
    Publisher,
    Source,
    View,
    catalog_graph,
    check_dataset,
    data_url,
    dataset_uri,
    to_jsonld,
    to_turtle,
)

SHAPES = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "dcat-ap-3.0.1"
BASE = "https://data.bonn.example"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
CITY = Publisher("City of Bonn", "https://www.bonn.example", "open-data@bonn.example")

DATASETS = [
    Dataset(
        id="air-quality-hourly",
        title="Air quality per district, hourly",
        description="The US AQI of each district, hour by hour, from the city's stations.",
        view=View(Source.AIR_QUALITY_HOURLY, since=T0),
        licence="CC-BY-4.0",
        keywords=("air quality", "PM2.5", "AQI"),
        themes=("ENVI", "HEAL"),
        frequency="hourly",
        spatial="Bonn",
        issued=T0,
        modified=T0,
        formats=(Format.JSON, Format.CSV, Format.GEOJSON),
    ),
    Dataset(
        id="parking-bays",
        title="Parking bays, live",
        description="Every on-street bay and whether it is free.",
        view=View(Source.CONTEXT, entity_types=("ParkingSpot",), attributes=("status",), area="Beuel"),
        keywords=("parking",),
        themes=("TRAN",),
        frequency="continuous",
        spatial="Beuel",
        formats=(Format.JSON, Format.PARQUET),
    ),
    Dataset(
        id="street-lighting-energy",
        title="Street-lighting energy per group, daily",
        description="The energy each lighting group used each day, and its baseline.",
        view=View(Source.LIGHTING_ENERGY_DAILY),
        licence="ODbL-1.0",
        themes=("ENER",),
        frequency="daily",
    ),
]


def catalogue() -> Graph:
    return catalog_graph(
        BASE, CITY, DATASETS, title="Bonn's city data", description="What the city shares, and how.", modified=T0
    )


def shapes() -> Graph:
    if not SHAPES.is_dir():
        pytest.skip(f"the DCAT-AP shapes are not here ({SHAPES}): ../shared is absent")
    graph = Graph()
    # The full shapes, with their class (range) constraints; the separate ranges file is a subset.
    graph.parse(SHAPES / "shacl-dcat-ap-SHACL.ttl")
    return graph


def validate(data: Graph) -> tuple[bool, str]:
    from pyshacl import validate as shacl

    conforms, _, text = shacl(data, shacl_graph=shapes(), inference="none", advanced=True)
    return bool(conforms), str(text)


def test_the_catalogue_conforms_to_dcat_ap_3() -> None:
    conforms, report = validate(catalogue())
    assert conforms, report


@pytest.mark.parametrize("writer", [to_turtle, to_jsonld])
def test_turtle_and_json_ld_carry_the_same_catalogue_and_still_conform(writer: object) -> None:
    text = writer(catalogue())  # type: ignore[operator]
    again = Graph().parse(data=text, format="turtle" if writer is to_turtle else "json-ld")
    assert len(again) == len(catalogue())
    conforms, report = validate(again)
    assert conforms, report


def test_each_dataset_has_a_distribution_per_format_pointing_at_the_enforced_endpoint() -> None:
    graph = catalogue()
    node = URIRef(dataset_uri(BASE, "air-quality-hourly"))
    distributions = set(graph.objects(node, DCAT.distribution))
    assert len(distributions) == 3
    downloads = {str(graph.value(d, DCAT.downloadURL)) for d in distributions}
    assert downloads == {data_url(BASE, "air-quality-hourly", f) for f in (Format.JSON, Format.CSV, Format.GEOJSON)}
    assert {str(graph.value(d, DCTERMS.license)) for d in distributions} == {
        "http://creativecommons.org/licenses/by/4.0/"
    }
    assert len(set(graph.subjects(RDF.type, DCAT.Dataset))) == 3


def test_a_catalogue_missing_what_dcat_ap_requires_is_refused_by_the_shapes() -> None:
    graph = catalogue()
    node = URIRef(dataset_uri(BASE, "parking-bays"))
    graph.remove((node, DCTERMS.title, None))
    conforms, report = validate(graph)
    assert not conforms
    assert "title" in report


def test_a_dataset_the_catalogue_could_not_publish_is_refused_with_every_problem() -> None:
    broken = Dataset(
        id="Bad Id",
        title="",
        description="x",
        view=View(Source.CONTEXT),
        licence="GPL",
        themes=("NOPE",),
        frequency="sometimes",
        formats=(),
    )
    with pytest.raises(BadRequestData) as caught:
        check_dataset(broken)
    for part in ("dataset id", "title", "licence", "unknown theme 'NOPE'", "frequency", "entity type", "one format"):
        assert part in caught.value.detail
    assert check_dataset(DATASETS[0]) is DATASETS[0]
    assert DATASETS[0].open and not DATASETS[1].open
