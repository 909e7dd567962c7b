"""The parking service: live occupancy per zone, garage and district, written back to the city, and guidance.

It reads ``ParkingSpot``, ``OnStreetParking`` and ``OffStreetParking`` entities through the
context service.  Each evaluation writes every zone's counts (``occupiedSpotNumber``,
``availableSpotNumber``, ``occupancy``) back onto its ``OnStreetParking`` entity when they
changed, so the broker, its subscribers and the history (hence historical occupancy per
zone through the temporal API) all carry them.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from urbis.context.service import ContextService
from urbis.core.clock import Clock, SystemClock
from urbis.solutions.parking import const
from urbis.solutions.parking.const import DEFAULT_GUIDANCE, GuidanceParams
from urbis.solutions.parking.guidance import Destination, GuidanceOption, rank_options
from urbis.solutions.parking.views import Expand, ParkingOverview, PlaceView, Terms, build_overview, value_of

log = logging.getLogger(__name__)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class ParkingService:
    """Occupancy and guidance for every tenant."""

    def __init__(self, context: ContextService, expand: Expand, *, clock: Clock | None = None) -> None:
        """``expand`` turns the Smart Data Models names the solution uses into the broker's IRIs."""
        self.context = context
        self.terms = Terms(expand)
        self.clock = clock or SystemClock()

    @property
    def watched_types(self) -> frozenset[str]:
        """The entity types whose changes call for a new evaluation."""
        return frozenset({self.terms.spot, self.terms.off_street})

    def overview(self, tenant: str, at: datetime | None = None) -> ParkingOverview:
        """The city's parking occupancy now, from the entities the broker holds."""
        return build_overview(
            at or self.clock.now(),
            self.context.entities_of_type(tenant, self.terms.spot),
            self.context.entities_of_type(tenant, self.terms.on_street),
            self.context.entities_of_type(tenant, self.terms.off_street),
            self.terms,
        )

    def guidance(
        self, tenant: str, lon: float, lat: float, params: GuidanceParams = DEFAULT_GUIDANCE
    ) -> list[GuidanceOption]:
        """The best zones and garages to park near ``(lon, lat)``, best first."""
        return rank_options(Destination(lon, lat), self.overview(tenant).candidates(), params)

    # -- the periodic evaluation -----------------------------------------------------------

    def evaluate(self, now: datetime) -> int:
        """Write changed zone occupancies back to their entities, in every tenant; how many were written."""
        written = 0
        for tenant in self.context.tenants():
            written += self.evaluate_tenant(tenant, now)
        return written

    def evaluate_tenant(self, tenant: str, now: datetime) -> int:
        """One tenant's evaluation."""
        zones = self.context.entities_of_type(tenant, self.terms.on_street)
        if not zones:
            return 0
        overview = build_overview(
            now,
            self.context.entities_of_type(tenant, self.terms.spot),
            zones,
            [],
            self.terms,
        )
        by_id = {zone["id"]: zone for zone in zones}
        documents = [
            self._zone_document(place, now) for place in overview.zones if self._changed(by_id[place.id], place)
        ]
        if not documents:
            return 0
        result = self.context.update_documents(tenant, documents)
        for entity_id, error in result.errors:
            log.warning("parking: occupancy of %s not written: %s", entity_id, error.detail)
        return len(result.success)

    def _changed(self, zone: dict[str, Any], place: PlaceView) -> bool:
        rate = place.occupancy.rate
        return bool(
            value_of(zone, self.terms.occupied) != place.occupancy.occupied
            or value_of(zone, self.terms.available) != place.occupancy.free
            or value_of(zone, self.terms.occupancy) != (None if rate is None else round(rate, 4))
        )

    @staticmethod
    def _zone_document(place: PlaceView, now: datetime) -> dict[str, Any]:
        observed = _iso(now)
        rate = place.occupancy.rate
        document: dict[str, Any] = {
            "id": place.id,
            "type": const.ON_STREET_PARKING,
            const.OCCUPIED_SPOT_NUMBER: {"type": "Property", "value": place.occupancy.occupied, "observedAt": observed},
            const.AVAILABLE_SPOT_NUMBER: {"type": "Property", "value": place.occupancy.free, "observedAt": observed},
        }
        if rate is not None:
            document[const.OCCUPANCY] = {
                "type": "Property",
                "value": round(rate, 4),
                "unitCode": "C62",
                "observedAt": observed,
            }
        return document
