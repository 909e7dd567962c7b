"""Bonn as the simulated city: districts as polygons and streets as lines, made from the seed.

The district names, their boroughs (Stadtbezirke) and rough centres are Bonn's real ones, and
the Rhine runs where it runs (roughly), so Beuel lies on the east bank.  Everything else is
synthetic but plausible: district boundaries are a Voronoi tessellation of jittered centres,
cut by the river and clipped to a wobbly city outline; the main roads join district centres
under real names; local streets are a rotated, thinned grid inside each district.  The same
seed always gives the same map.

Coordinates are computed in metres on a local plane around the city centre and turned into
WGS 84 longitude/latitude at the edge (the error of the flat projection over 20 km is far
below anything the simulator cares about).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import shapely
import shapely.ops
from shapely.geometry import LineString, MultiLineString, MultiPoint, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from urbis.sim.noise import gauss, rng_for

#: Bonn's centre (Marktplatz area), longitude and latitude.
CENTRE_LON = 7.0982
CENTRE_LAT = 50.7374
METRES_PER_DEGREE_LAT = 111_195.0
_METRES_PER_DEGREE_LON = METRES_PER_DEGREE_LAT * math.cos(math.radians(CENTRE_LAT))

DistrictKind = Literal["centre", "urban", "residential", "suburban"]
RoadClass = Literal["primary", "secondary", "residential"]


def to_lonlat(x: float, y: float) -> tuple[float, float]:
    """Longitude and latitude of a point ``x`` metres east and ``y`` metres north of the centre."""
    return round(CENTRE_LON + x / _METRES_PER_DEGREE_LON, 7), round(CENTRE_LAT + y / METRES_PER_DEGREE_LAT, 7)


def to_xy(lon: float, lat: float) -> tuple[float, float]:
    """Metres east and north of the centre for a longitude and latitude."""
    return (lon - CENTRE_LON) * _METRES_PER_DEGREE_LON, (lat - CENTRE_LAT) * METRES_PER_DEGREE_LAT


@dataclass(frozen=True)
class DistrictSeed:
    """A real district (Ortsteil) of Bonn: its name, borough, rough centre and character."""

    name: str
    borough: str
    lon: float
    lat: float
    kind: DistrictKind
    east_bank: bool = False


BOROUGHS = ("Bonn", "Bad Godesberg", "Beuel", "Hardtberg")

#: Bonn's districts (Ortsteile) by borough, with approximate centres.
DISTRICTS: tuple[DistrictSeed, ...] = (
    DistrictSeed("Zentrum", "Bonn", 7.1000, 50.7360, "centre"),
    DistrictSeed("Nordstadt", "Bonn", 7.0930, 50.7430, "urban"),
    DistrictSeed("Castell", "Bonn", 7.0960, 50.7500, "urban"),
    DistrictSeed("Auerberg", "Bonn", 7.0850, 50.7570, "residential"),
    DistrictSeed("Graurheindorf", "Bonn", 7.0800, 50.7680, "suburban"),
    DistrictSeed("Buschdorf", "Bonn", 7.0680, 50.7600, "residential"),
    DistrictSeed("Tannenbusch", "Bonn", 7.0600, 50.7500, "residential"),
    DistrictSeed("Dransdorf", "Bonn", 7.0550, 50.7400, "residential"),
    DistrictSeed("Lessenich/Meßdorf", "Bonn", 7.0450, 50.7310, "suburban"),
    DistrictSeed("Weststadt", "Bonn", 7.0830, 50.7350, "urban"),
    DistrictSeed("Endenich", "Bonn", 7.0700, 50.7290, "urban"),
    DistrictSeed("Poppelsdorf", "Bonn", 7.0900, 50.7240, "urban"),
    DistrictSeed("Südstadt", "Bonn", 7.1070, 50.7280, "urban"),
    DistrictSeed("Kessenich", "Bonn", 7.1080, 50.7160, "urban"),
    DistrictSeed("Gronau", "Bonn", 7.1250, 50.7170, "urban"),
    DistrictSeed("Dottendorf", "Bonn", 7.1150, 50.7060, "residential"),
    DistrictSeed("Venusberg", "Bonn", 7.0950, 50.7080, "suburban"),
    DistrictSeed("Ippendorf", "Bonn", 7.0650, 50.7130, "suburban"),
    DistrictSeed("Röttgen", "Bonn", 7.0600, 50.6900, "suburban"),
    DistrictSeed("Ückesdorf", "Bonn", 7.0400, 50.6930, "suburban"),
    DistrictSeed("Duisdorf", "Hardtberg", 7.0400, 50.7200, "urban"),
    DistrictSeed("Lengsdorf", "Hardtberg", 7.0550, 50.7180, "residential"),
    DistrictSeed("Medinghoven", "Hardtberg", 7.0250, 50.7280, "residential"),
    DistrictSeed("Hardthöhe", "Hardtberg", 7.0300, 50.7070, "suburban"),
    DistrictSeed("Brüser Berg", "Hardtberg", 7.0480, 50.7040, "residential"),
    DistrictSeed("Friesdorf", "Bad Godesberg", 7.1300, 50.7000, "residential"),
    DistrictSeed("Hochkreuz", "Bad Godesberg", 7.1450, 50.7050, "residential"),
    DistrictSeed("Plittersdorf", "Bad Godesberg", 7.1600, 50.6970, "residential"),
    DistrictSeed("Godesberg-Nord", "Bad Godesberg", 7.1480, 50.6920, "urban"),
    DistrictSeed("Alt-Godesberg", "Bad Godesberg", 7.1550, 50.6840, "centre"),
    DistrictSeed("Godesberg-Villenviertel", "Bad Godesberg", 7.1650, 50.6880, "residential"),
    DistrictSeed("Rüngsdorf", "Bad Godesberg", 7.1720, 50.6780, "residential"),
    DistrictSeed("Muffendorf", "Bad Godesberg", 7.1600, 50.6740, "residential"),
    DistrictSeed("Pennenfeld", "Bad Godesberg", 7.1450, 50.6760, "residential"),
    DistrictSeed("Schweinheim", "Bad Godesberg", 7.1300, 50.6830, "suburban"),
    DistrictSeed("Heiderhof", "Bad Godesberg", 7.1350, 50.6640, "suburban"),
    DistrictSeed("Lannesdorf", "Bad Godesberg", 7.1650, 50.6630, "residential"),
    DistrictSeed("Mehlem", "Bad Godesberg", 7.1850, 50.6620, "residential"),
    DistrictSeed("Schwarzrheindorf/Vilich-Rheindorf", "Beuel", 7.1150, 50.7570, "residential", True),
    DistrictSeed("Beuel-Mitte", "Beuel", 7.1270, 50.7380, "urban", True),
    DistrictSeed("Beuel-Ost", "Beuel", 7.1380, 50.7330, "urban", True),
    DistrictSeed("Geislar", "Beuel", 7.1300, 50.7520, "residential", True),
    DistrictSeed("Vilich", "Beuel", 7.1420, 50.7500, "residential", True),
    DistrictSeed("Vilich-Müldorf", "Beuel", 7.1580, 50.7550, "suburban", True),
    DistrictSeed("Pützchen/Bechlinghoven", "Beuel", 7.1550, 50.7400, "residential", True),
    DistrictSeed("Holzlar", "Beuel", 7.1720, 50.7470, "suburban", True),
    DistrictSeed("Hoholz", "Beuel", 7.1900, 50.7380, "suburban", True),
    DistrictSeed("Holtorf", "Beuel", 7.1800, 50.7270, "suburban", True),
    DistrictSeed("Küdinghoven", "Beuel", 7.1550, 50.7260, "residential", True),
    DistrictSeed("Limperich", "Beuel", 7.1450, 50.7230, "residential", True),
    DistrictSeed("Ramersdorf", "Beuel", 7.1580, 50.7160, "residential", True),
    DistrictSeed("Oberkassel", "Beuel", 7.1700, 50.7080, "residential", True),
)

#: The Rhine through Bonn, upstream (south) to downstream (north), as longitude/latitude.
RHINE: tuple[tuple[float, float], ...] = (
    (7.2000, 50.6500),
    (7.1920, 50.6650),
    (7.1820, 50.6800),
    (7.1750, 50.6920),
    (7.1650, 50.7030),
    (7.1500, 50.7120),
    (7.1340, 50.7240),
    (7.1180, 50.7350),
    (7.1100, 50.7450),
    (7.1020, 50.7570),
    (7.0920, 50.7680),
    (7.0800, 50.7800),
)

#: Main roads: a real name and the districts it runs through, in order.
MAIN_ROADS: tuple[tuple[str, RoadClass, tuple[str, ...]], ...] = (
    ("Kölnstraße", "primary", ("Zentrum", "Nordstadt", "Auerberg", "Graurheindorf")),
    ("Adenauerallee", "primary", ("Zentrum", "Südstadt", "Gronau")),
    ("Godesberger Allee", "primary", ("Gronau", "Hochkreuz", "Godesberg-Nord", "Alt-Godesberg")),
    ("Mainzer Straße", "primary", ("Alt-Godesberg", "Rüngsdorf", "Mehlem")),
    ("Endenicher Straße", "primary", ("Zentrum", "Weststadt", "Endenich")),
    ("Rochusstraße", "primary", ("Endenich", "Lengsdorf", "Duisdorf", "Medinghoven")),
    ("Reuterstraße", "primary", ("Gronau", "Kessenich", "Poppelsdorf", "Endenich")),
    ("Kennedybrücke", "primary", ("Zentrum", "Beuel-Mitte")),
    ("Königswinterer Straße", "primary", ("Beuel-Mitte", "Beuel-Ost", "Küdinghoven", "Ramersdorf", "Oberkassel")),
    ("Konrad-Adenauer-Brücke", "primary", ("Gronau", "Limperich", "Ramersdorf")),
    ("Friedrich-Ebert-Brücke", "primary", ("Auerberg", "Schwarzrheindorf/Vilich-Rheindorf", "Vilich")),
    ("Siegburger Straße", "secondary", ("Beuel-Ost", "Pützchen/Bechlinghoven", "Holzlar", "Hoholz")),
    ("Bornheimer Straße", "secondary", ("Nordstadt", "Tannenbusch", "Buschdorf")),
    ("Hausdorffstraße", "secondary", ("Kessenich", "Dottendorf", "Friesdorf")),
    ("Sigmund-Freud-Straße", "secondary", ("Venusberg", "Ippendorf", "Röttgen", "Ückesdorf")),
    ("Provinzialstraße", "secondary", ("Lengsdorf", "Brüser Berg", "Hardthöhe")),
    ("Lievelingsweg", "secondary", ("Dransdorf", "Lessenich/Meßdorf", "Medinghoven")),
    ("Kurfürstenallee", "secondary", ("Godesberg-Nord", "Pennenfeld", "Heiderhof")),
    ("Konstantinstraße", "secondary", ("Alt-Godesberg", "Muffendorf", "Lannesdorf")),
    ("Friesdorfer Straße", "secondary", ("Friesdorf", "Schweinheim", "Pennenfeld")),
    ("Pützchens Chaussee", "secondary", ("Beuel-Mitte", "Geislar", "Vilich", "Vilich-Müldorf")),
)

#: Street spacing of the local grid (metres) and the share of grid lines kept, by district kind.
_GRID = {"centre": (140.0, 0.85), "urban": (220.0, 0.7), "residential": (300.0, 0.6), "suburban": (420.0, 0.5)}

_PEOPLE = (
    "Beethoven", "Schiller", "Goethe", "Mozart", "Kant", "Humboldt", "Arndt", "Schumann", "Brahms", "Haydn",
    "Händel", "Lessing", "Heine", "Uhland", "Kleist", "Herder", "Wieland", "Dürer", "Gutenberg", "Kepler",
    "Röntgen", "Liebig", "Bunsen", "Siemens", "Diesel", "Fontane", "Eichendorff", "Mörike", "Hölderlin", "Novalis",
    "Stifter", "Storm", "Raabe", "Hebbel", "Klopstock", "Gellert", "Schubert", "Weber", "Bach", "Telemann",
)  # fmt: skip
_THINGS = (
    "Kirch", "Schul", "Bahnhof", "Garten", "Wiesen", "Berg", "Bach", "Mühlen", "Feld", "Burg", "Markt", "Brunnen",
    "Sonnen", "Rosen", "Blumen", "Hof", "Kloster", "Wald", "Linden", "Ahorn", "Birken", "Buchen", "Eichen", "Erlen",
    "Eschen", "Kastanien", "Ulmen", "Weiden", "Tannen", "Pappel", "Holunder", "Flieder", "Acker", "Hecken", "Weinberg",
    "Rhein", "Sieg", "Ahr", "Eifel", "Vorgebirgs", "Siebengebirgs", "Drachenfels", "Kreuzberg", "Lerchen", "Finken",
)  # fmt: skip
_SUFFIXES = ("straße", "weg", "gasse", "allee", "ring", "pfad")


@dataclass(frozen=True)
class District:
    """A district (Ortsteil) with its generated boundary (metres, local plane)."""

    key: str
    name: str
    borough: str
    kind: DistrictKind
    east_bank: bool
    site: Point
    shape: Polygon

    @property
    def entity_id(self) -> str:
        """The NGSI-LD id of the district."""
        return f"urn:ngsi-ld:AdministrativeArea:bonn-{self.key}"


@dataclass(frozen=True)
class Street:
    """A street (metres, local plane)."""

    number: int
    name: str
    road_class: RoadClass
    district: str  # key of the district holding the street's midpoint
    line: LineString

    @property
    def entity_id(self) -> str:
        """The NGSI-LD id of the street."""
        return f"urn:ngsi-ld:Road:bonn-street-{self.number:04d}"


@dataclass
class Geography:
    """The generated map: outline, boroughs, districts, streets and the river."""

    seed: int
    outline: Polygon
    districts: list[District]
    streets: list[Street]
    river: LineString
    _by_key: dict[str, District] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_key = {district.key: district for district in self.districts}
        self._tree = shapely.STRtree([district.shape for district in self.districts])
        self._main = unary_union([street.line for street in self.streets if street.road_class != "residential"])

    def district(self, key: str) -> District:
        """The district with ``key``."""
        return self._by_key[key]

    def district_at(self, x: float, y: float) -> District | None:
        """The district covering a point, or None outside the city."""
        point = Point(x, y)
        for index in self._tree.query(point):
            candidate = self.districts[int(index)]
            if candidate.shape.covers(point):
                return candidate
        return None

    def borough_shape(self, borough: str) -> BaseGeometry:
        """The union of a borough's districts."""
        return unary_union([district.shape for district in self.districts if district.borough == borough])

    def distance_to_main_road(self, x: float, y: float) -> float:
        """Metres from a point to the nearest primary or secondary road."""
        return float(self._main.distance(Point(x, y)))

    # -- output -------------------------------------------------------------------------

    def entities(self) -> list[dict[str, Any]]:
        """Boroughs, districts and streets as NGSI-LD entities (normalized, Urbis @context terms)."""
        out: list[dict[str, Any]] = []
        for borough in BOROUGHS:
            shape = self.borough_shape(borough)
            out.append(
                {
                    "id": borough_entity_id(borough),
                    "type": "AdministrativeArea",
                    "name": {"type": "Property", "value": borough},
                    "description": {"type": "Property", "value": f"Stadtbezirk {borough} (simulated boundary)"},
                    "location": {"type": "GeoProperty", "value": geojson_geometry(shape)},
                }
            )
        for district in self.districts:
            out.append(
                {
                    "id": district.entity_id,
                    "type": "AdministrativeArea",
                    "name": {"type": "Property", "value": district.name},
                    "description": {"type": "Property", "value": f"Ortsteil of Stadtbezirk {district.borough}"},
                    "containedInPlace": {"type": "Relationship", "object": borough_entity_id(district.borough)},
                    "location": {"type": "GeoProperty", "value": geojson_geometry(district.shape)},
                }
            )
        for street in self.streets:
            out.append(
                {
                    "id": street.entity_id,
                    "type": "Road",
                    "name": {"type": "Property", "value": street.name},
                    "roadClass": {"type": "Property", "value": street.road_class},
                    "length": {"type": "Property", "value": round(street.line.length, 1), "unitCode": "MTR"},
                    "areaServed": {"type": "Property", "value": self.district(street.district).name},
                    "location": {"type": "GeoProperty", "value": geojson_geometry(street.line)},
                }
            )
        return out

    def feature_collection(self) -> dict[str, Any]:
        """Boroughs, districts, streets and the Rhine as a GeoJSON FeatureCollection (RFC 7946)."""
        features: list[dict[str, Any]] = []
        for borough in BOROUGHS:
            features.append(
                _feature(
                    borough_entity_id(borough),
                    self.borough_shape(borough),
                    {"kind": "borough", "name": borough},
                )
            )
        for district in self.districts:
            features.append(
                _feature(
                    district.entity_id,
                    district.shape,
                    {
                        "kind": "district",
                        "name": district.name,
                        "borough": district.borough,
                        "character": district.kind,
                    },
                )
            )
        for street in self.streets:
            features.append(
                _feature(
                    street.entity_id,
                    street.line,
                    {
                        "kind": "street",
                        "name": street.name,
                        "roadClass": street.road_class,
                        "district": self.district(street.district).name,
                    },
                )
            )
        features.append(_feature("rhine", self.river, {"kind": "river", "name": "Rhein"}))
        return {"type": "FeatureCollection", "features": features}


def borough_entity_id(borough: str) -> str:
    """The NGSI-LD id of a borough (Stadtbezirk)."""
    return f"urn:ngsi-ld:AdministrativeArea:bonn-{slug(borough)}"


def slug(name: str) -> str:
    """An ASCII, URN-safe key for a German name."""
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})
    text = name.translate(table).lower()
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-").replace("--", "-")


def geojson_geometry(geometry: BaseGeometry) -> dict[str, Any]:
    """A shapely geometry on the local plane as a GeoJSON geometry in longitude/latitude."""
    if isinstance(geometry, Point):
        return {"type": "Point", "coordinates": list(to_lonlat(geometry.x, geometry.y))}
    if isinstance(geometry, LineString):
        return {"type": "LineString", "coordinates": _ring(geometry.coords)}
    if isinstance(geometry, Polygon):
        return {"type": "Polygon", "coordinates": _polygon(geometry)}
    if geometry.geom_type == "MultiPolygon":
        return {"type": "MultiPolygon", "coordinates": [_polygon(part) for part in geometry.geoms]}  # type: ignore[attr-defined]
    if geometry.geom_type == "MultiLineString":
        return {"type": "MultiLineString", "coordinates": [_ring(part.coords) for part in geometry.geoms]}  # type: ignore[attr-defined]
    raise ValueError(f"no GeoJSON mapping for {geometry.geom_type}")


def _ring(coords: Iterable[Sequence[float]]) -> list[list[float]]:
    return [list(to_lonlat(c[0], c[1])) for c in coords]


def _polygon(polygon: Polygon) -> list[list[list[float]]]:
    # RFC 7946: exterior rings counter-clockwise, holes clockwise.
    oriented = shapely.geometry.polygon.orient(polygon, sign=1.0)
    return [_ring(oriented.exterior.coords), *(_ring(hole.coords) for hole in oriented.interiors)]


def _feature(feature_id: str, geometry: BaseGeometry, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "id": feature_id, "geometry": geojson_geometry(geometry), "properties": properties}


# -- generation ---------------------------------------------------------------------------


def generate(seed: int = 7) -> Geography:
    """Bonn's map for ``seed``: the same seed always gives the same districts and streets."""
    river = LineString([to_xy(lon, lat) for lon, lat in RHINE])
    sites = _sites(seed, river)
    outline = _outline(seed, list(sites.values()))
    east_side = _east_side(river)
    banks = {True: outline.intersection(east_side), False: outline.difference(east_side)}
    districts: list[District] = []
    for east in (False, True):
        members = [d for d in DISTRICTS if d.east_bank == east]
        cells = _voronoi(banks[east], [sites[d.name] for d in members])
        for seed_district, cell in zip(members, cells, strict=True):
            districts.append(
                District(
                    key=slug(seed_district.name),
                    name=seed_district.name,
                    borough=seed_district.borough,
                    kind=seed_district.kind,
                    east_bank=east,
                    site=sites[seed_district.name],
                    shape=cell,
                )
            )
    clipped_river = river.intersection(outline.buffer(500.0))
    river_line = clipped_river if isinstance(clipped_river, LineString) else river
    streets = _streets(seed, districts, {d.name: sites[d.name] for d in DISTRICTS})
    return Geography(seed=seed, outline=outline, districts=districts, streets=streets, river=river_line)


def _sites(seed: int, river: LineString) -> dict[str, Point]:
    """District centres, jittered by up to ~150 m but never across the river."""
    east_side = _east_side(river)
    sites: dict[str, Point] = {}
    for district in DISTRICTS:
        x, y = to_xy(district.lon, district.lat)
        jittered = Point(
            x + 60.0 * gauss(seed, "site-x", district.name), y + 60.0 * gauss(seed, "site-y", district.name)
        )
        if east_side.contains(jittered) != district.east_bank or river.distance(jittered) < 150.0:
            jittered = Point(x, y)
        sites[district.name] = jittered
    return sites


def _east_side(river: LineString) -> Polygon:
    """Everything east of the river (the river extended far beyond the city at both ends)."""
    coords = list(river.coords)
    (x0, y0), (x1, y1) = coords[0], coords[1]
    (xa, ya), (xb, yb) = coords[-2], coords[-1]
    far = 50_000.0
    start = (x0 - (x1 - x0) / math.hypot(x1 - x0, y1 - y0) * far, y0 - (y1 - y0) / math.hypot(x1 - x0, y1 - y0) * far)
    end = (xb + (xb - xa) / math.hypot(xb - xa, yb - ya) * far, yb + (yb - ya) / math.hypot(xb - xa, yb - ya) * far)
    return Polygon([start, *coords, end, (far * 2, end[1]), (far * 2, start[1])])


def _outline(seed: int, sites: list[Point]) -> Polygon:
    """The city boundary: the hull of the district centres, widened and made irregular."""
    hull = MultiPoint(sites).convex_hull.buffer(1300.0, quad_segs=8)
    centre = hull.centroid
    points = []
    count = 96
    for step in range(count):
        along = hull.exterior.interpolate(step / count, normalized=True)
        angle = 2 * math.pi * step / count
        # Smooth wobble: a few low harmonics with seeded phases and amplitudes.
        wobble = sum(
            0.05 / harmonic * math.sin(harmonic * angle + 2 * math.pi * rng_for(seed, "outline", harmonic).random())
            for harmonic in (2, 3, 5, 7)
        )
        factor = 1.0 + wobble
        points.append((centre.x + (along.x - centre.x) * factor, centre.y + (along.y - centre.y) * factor))
    outline = Polygon(points)
    return outline if outline.is_valid else hull


def _voronoi(region: BaseGeometry, sites: list[Point]) -> list[Polygon]:
    """One polygon per site tiling ``region``: Voronoi cells clipped to it, each in one piece."""
    diagram = shapely.voronoi_polygons(MultiPoint(sites), extend_to=region.envelope.buffer(5000.0))
    cells: list[BaseGeometry] = []
    for site in sites:
        cell = next(poly for poly in diagram.geoms if poly.covers(site))  # type: ignore[attr-defined]
        cells.append(cell.intersection(region))
    # A convex cell cut by a concave bank can fall into pieces: keep the piece holding the site
    # and give every stray piece to the neighbour it shares the longest border with.
    pieces: list[Polygon] = []
    strays: list[Polygon] = []
    for site, cell in zip(sites, cells, strict=True):
        parts = [p for p in getattr(cell, "geoms", [cell]) if isinstance(p, Polygon) and p.area > 0]
        main = next((p for p in parts if p.covers(site)), max(parts, key=lambda p: p.area))
        pieces.append(main)
        strays.extend(p for p in parts if p is not main)
    for stray in strays:
        best = max(range(len(pieces)), key=lambda i: pieces[i].boundary.intersection(stray.boundary).length)
        merged = unary_union([pieces[best], stray])
        if isinstance(merged, Polygon):
            pieces[best] = merged
    return [shapely.make_valid(piece) if not piece.is_valid else piece for piece in pieces]  # type: ignore[misc]


def _streets(seed: int, districts: list[District], sites: dict[str, Point]) -> list[Street]:
    lines: list[tuple[str, RoadClass, LineString]] = []
    for name, road_class, path in MAIN_ROADS:
        lines.append((name, road_class, _main_road(seed, name, [sites[district] for district in path])))
    names = _street_names(seed)
    for district in districts:
        spacing, keep = _GRID[district.kind]
        for line in _grid(seed, district, spacing, keep):
            lines.append((next(names), "residential", line))
    streets: list[Street] = []
    keyed = {d.key: d for d in districts}
    tree = shapely.STRtree([d.shape for d in districts])
    for number, (name, road_class, line) in enumerate(lines, start=1):
        middle = line.interpolate(0.5, normalized=True)
        hits = [districts[int(i)] for i in tree.query(middle) if districts[int(i)].shape.covers(middle)]
        holder = hits[0] if hits else min(districts, key=lambda d: d.shape.distance(middle))
        streets.append(Street(number, name, road_class, keyed[holder.key].key, line))
    return streets


def _main_road(seed: int, name: str, waypoints: list[Point]) -> LineString:
    """A road through ``waypoints`` with two gently displaced points between each pair."""
    coords: list[tuple[float, float]] = []
    for index, (start, end) in enumerate(itertools.pairwise(waypoints)):
        dx, dy = end.x - start.x, end.y - start.y
        length = math.hypot(dx, dy) or 1.0
        nx, ny = -dy / length, dx / length
        if index == 0:
            coords.append((start.x, start.y))
        for share in (1 / 3, 2 / 3):
            offset = min(120.0, length / 8) * gauss(seed, "road", name, index, share)
            coords.append((start.x + dx * share + nx * offset, start.y + dy * share + ny * offset))
        coords.append((end.x, end.y))
    return LineString(coords)


def _grid(seed: int, district: District, spacing: float, keep: float) -> list[LineString]:
    """Local streets: a rotated grid over the district, thinned, cut into blocks of 2-4 crossings."""
    rng = rng_for(seed, "grid", district.key)
    inner = district.shape.buffer(-25.0)
    if inner.is_empty:
        return []
    angle = rng.uniform(0, math.pi / 2)
    cx, cy = district.site.x, district.site.y
    minx, miny, maxx, maxy = district.shape.bounds
    reach = math.hypot(maxx - minx, maxy - miny)
    ux, uy = math.cos(angle), math.sin(angle)
    vx, vy = -uy, ux
    out: list[LineString] = []
    for direction in ((ux, uy, vx, vy), (vx, vy, ux, uy)):
        ax, ay, bx, by = direction
        offset = -reach + rng.uniform(0, spacing)
        while offset <= reach:
            if rng.random() < keep:
                px, py = cx + bx * offset, cy + by * offset
                line = LineString([(px - ax * reach, py - ay * reach), (px + ax * reach, py + ay * reach)])
                clipped = line.intersection(inner)
                for part in _parts(clipped):
                    out.extend(_blocks(rng, part, spacing))
            offset += spacing * rng.uniform(0.85, 1.15)
    return out


def _parts(geometry: BaseGeometry) -> list[LineString]:
    if isinstance(geometry, LineString):
        return [geometry] if not geometry.is_empty else []
    if isinstance(geometry, MultiLineString):
        return [part for part in geometry.geoms if not part.is_empty]
    return [part for part in getattr(geometry, "geoms", []) if isinstance(part, LineString)]


def _blocks(rng: Any, line: LineString, spacing: float) -> list[LineString]:
    """Cut a long grid line into streets two to four blocks long; drop stubs under 80 m."""
    out = []
    start = 0.0
    while start < line.length - 80.0:
        end = min(line.length, start + spacing * rng.randint(2, 4))
        if line.length - end < 80.0:
            end = line.length
        piece = shapely.ops.substring(line, start, end)
        if isinstance(piece, LineString) and piece.length >= 80.0:
            out.append(LineString([(round(x, 2), round(y, 2)) for x, y in piece.coords]))
        start = end
    return out


def _street_names(seed: int) -> Any:
    """An endless supply of German street names, each used once before any repeats with a number."""
    rng = rng_for(seed, "street-names")
    pool = [f"{p}{s}" for p in _PEOPLE for s in ("straße", "weg", "allee")]
    pool += [f"{t}{s}" for t in _THINGS for s in _SUFFIXES]
    pool += [f"Am {t}{end}" for t in _THINGS for end in ("hang", "graben", "acker")]
    pool = list(dict.fromkeys(pool))  # "Bach" is a composer and a brook
    rng.shuffle(pool)
    round_number = 1
    while True:
        for name in pool:
            yield name if round_number == 1 else f"{name} {round_number}"
        round_number += 1
