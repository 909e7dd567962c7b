"""Smart parking: entity types, attribute names, measurements and default parameters, as data.

Names follow the FIWARE Smart Data Models (``ParkingSpot``, ``OnStreetParking``,
``OffStreetParking``, ``ParkingGroup``) for the entities the devices feed, and the
Alliance for Parking Data Standards (APDS 4.0: Place, Right, Rate, Occupancy, Session,
Observation) for the concepts the solution adds.  The defaults are the SFpark rule set
(domain reference §3.2) and the forecasting practice of §3.3; every one is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta
from decimal import Decimal
from enum import StrEnum

from urbis.solutions.parking.timebands import WEEKDAYS, WEEKEND, TimeBand

# -- entity types (Smart Data Models, dataModel.Parking) ---------------------------------

PARKING_SPOT = "ParkingSpot"  # one bay, with an in-ground sensor
ON_STREET_PARKING = "OnStreetParking"  # a zone / block face of bays
OFF_STREET_PARKING = "OffStreetParking"  # a garage or car park with entry/exit counters
PARKING_GROUP = "ParkingGroup"  # a group of spots inside a site (a level, a row)
PARKING_ENTITY_TYPES: tuple[str, ...] = (PARKING_SPOT, ON_STREET_PARKING, OFF_STREET_PARKING, PARKING_GROUP)

# -- attribute names ---------------------------------------------------------------------

STATUS = "status"  # ParkingSpot: free / occupied / closed / unknown
AVAILABLE_SPOT_NUMBER = "availableSpotNumber"
TOTAL_SPOT_NUMBER = "totalSpotNumber"
OCCUPIED_SPOT_NUMBER = "occupiedSpotNumber"
OCCUPANCY = "occupancy"  # fraction 0..1 of the known spaces that are taken
VEHICLE_ENTRANCE_COUNT = "vehicleEntranceCount"
VEHICLE_EXIT_COUNT = "vehicleExitCount"
REF_PARKING_SITE = "refParkingSite"  # ParkingSpot → its OnStreetParking / OffStreetParking
REF_PARKING_SPOT = "refParkingSpot"  # site → its spots
REF_PARKING_GROUP = "refParkingGroup"
MAXIMUM_PARKING_DURATION = "maximumParkingDuration"  # ISO 8601 duration, e.g. PT2H
CATEGORY = "category"
LOCATION = "location"
AREA_SERVED = "areaServed"  # the district name

# -- APDS concepts the solution models ---------------------------------------------------

APDS_PLACE = "Place"  # place → identified area (zone) → space (bay)
APDS_RIGHT = "Right"  # what entitles a vehicle to park: permits, badges
APDS_RATE = "Rate"  # a price per hour for a zone and time band
APDS_OCCUPANCY = "Occupancy"
APDS_SESSION = "Session"  # a parking session bound to a space or zone (and a plate)
APDS_OBSERVATION = "Observation"  # an enforcement sighting: overstay, unpaid occupancy


class SpotStatus(StrEnum):
    """A bay's state, with the Smart Data Models ``ParkingSpot.status`` values."""

    FREE = "free"
    OCCUPIED = "occupied"
    CLOSED = "closed"  # out of service: not part of the supply
    UNKNOWN = "unknown"  # no trustworthy reading: neither free nor occupied


@dataclass(frozen=True, slots=True)
class ParkingMeasure:
    """A number the parking entities carry: attribute, UN/CEFACT unit and valid range."""

    key: str
    attribute: str
    unit_code: str
    minimum: float | None = 0.0
    maximum: float | None = None


MEASURES: tuple[ParkingMeasure, ...] = (
    ParkingMeasure("available", AVAILABLE_SPOT_NUMBER, "C62"),
    ParkingMeasure("total", TOTAL_SPOT_NUMBER, "C62"),
    ParkingMeasure("occupied", OCCUPIED_SPOT_NUMBER, "C62"),
    ParkingMeasure("occupancy", OCCUPANCY, "C62", 0.0, 1.0),  # a fraction: unit "one"
)

# -- default parameters ------------------------------------------------------------------

#: The SFpark rate periods: mornings, middays and afternoons, weekdays apart from weekends.
DEFAULT_TIME_BANDS: tuple[TimeBand, ...] = (
    TimeBand("weekday-morning", WEEKDAYS, time(9), time(12)),
    TimeBand("weekday-midday", WEEKDAYS, time(12), time(15)),
    TimeBand("weekday-afternoon", WEEKDAYS, time(15), time(18)),
    TimeBand("weekend-morning", WEEKEND, time(9), time(12)),
    TimeBand("weekend-midday", WEEKEND, time(12), time(15)),
    TimeBand("weekend-afternoon", WEEKEND, time(15), time(18)),
)


@dataclass(frozen=True, slots=True)
class PricingRules:
    """The SFpark step rule: a dead band around the target and fixed steps outside it.

    Occupancy ``≥ raise_at`` → +``step_up``; ``lower_at ≤ occupancy < raise_at`` → no change;
    ``lower_more_below ≤ occupancy < lower_at`` → −``step_down``; below ``lower_more_below`` →
    −``big_step_down``.  Prices stay within ``[minimum_price, maximum_price]`` and change at most
    once per ``adjustment_period`` (SFpark: every 6–8 weeks).
    """

    raise_at: float = 0.80
    lower_at: float = 0.60
    lower_more_below: float = 0.30
    step_up: Decimal = Decimal("0.25")
    step_down: Decimal = Decimal("0.25")
    big_step_down: Decimal = Decimal("0.50")
    minimum_price: Decimal = Decimal("0.25")
    maximum_price: Decimal = Decimal("6.00")
    currency: str = "USD"  # ISO 4217; the SFpark figures are dollars per hour
    adjustment_period: timedelta = timedelta(weeks=6)

    def __post_init__(self) -> None:
        if not 0.0 <= self.lower_more_below <= self.lower_at <= self.raise_at <= 1.0:
            raise ValueError("pricing thresholds must satisfy 0 ≤ lower_more_below ≤ lower_at ≤ raise_at ≤ 1")
        for name in ("step_up", "step_down", "big_step_down", "minimum_price", "maximum_price"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or value < 0:
                raise ValueError(f"{name} must be a non-negative Decimal, got {value!r}")
        if self.minimum_price > self.maximum_price:
            raise ValueError("minimum_price must not exceed maximum_price")
        if self.adjustment_period < timedelta(0):
            raise ValueError("adjustment_period must not be negative")


@dataclass(frozen=True, slots=True)
class GuidanceParams:
    """How guidance weighs walking against the risk of finding no space.

    ``occupancy_sd`` is the standard deviation of the occupancy forecast at arrival (a
    fraction); set it from the forecast's held-out error: for normal errors sd = MAE·√(π/2)
    ≈ 1.25 × MAE, so the default 0.05 fits a held-out MAE of 0.04.
    """

    max_walk_m: float = 600.0
    detour_factor: float = 1.0  # walking route / straight line; >1 accounts for the street grid
    miss_penalty_m: float = 600.0  # a miss costs about one more maximal walk: drive on, park further away
    occupancy_sd: float = 0.05
    limit: int = 5
    # An arrival this soon is judged by the live state: within a few minutes a street changes
    # little, and a forecast (of 15-minute means) knows less than the sensors do now.
    live_window: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if self.max_walk_m <= 0 or self.miss_penalty_m < 0 or self.limit < 1:
            raise ValueError("max_walk_m must be positive, miss_penalty_m non-negative and limit at least 1")
        if self.live_window < timedelta(0):
            raise ValueError("live_window must not be negative")
        if self.detour_factor < 1.0:
            raise ValueError("detour_factor must be at least 1 (no walk is shorter than the straight line)")
        if not 0.0 <= self.occupancy_sd <= 0.5:
            raise ValueError("occupancy_sd must lie in [0, 0.5] (0.5 is the largest sd of a fraction)")


@dataclass(frozen=True, slots=True)
class ForecastParams:
    """Occupancy forecasting: the slot grid, the horizons and the bar the model must clear."""

    slot_minutes: int = 15
    horizons_minutes: tuple[int, ...] = (15, 30, 60)
    # The model is served only if it cuts the baseline's MAE by at least this share: smaller
    # wins are within the noise of a held-out period and do not justify a more complex model.
    min_skill: float = 0.01
    min_evaluation_pairs: int = 96  # a day of 15-minute slots

    def __post_init__(self) -> None:
        if self.slot_minutes <= 0 or 24 * 60 % self.slot_minutes:
            raise ValueError("slot_minutes must divide a day")
        if not self.horizons_minutes or any(h <= 0 or h % self.slot_minutes for h in self.horizons_minutes):
            raise ValueError("horizons must be positive multiples of slot_minutes")
        if not 0.0 <= self.min_skill < 1.0 or self.min_evaluation_pairs < 1:
            raise ValueError("min_skill must lie in [0, 1) and min_evaluation_pairs be at least 1")


@dataclass(frozen=True, slots=True)
class Exemption:
    """A right that extends a zone's time limit, e.g. a disabled badge.

    ``extra_time`` None exempts the holder from the time limit altogether.
    """

    key: str
    extra_time: timedelta | None


DISABLED_BADGE = "disabled-badge"


@dataclass(frozen=True, slots=True)
class ZoneRestriction:
    """The rules of a zone for sessions and enforcement (Melbourne-style restriction fields).

    ``time_limit`` None means no limit (e.g. residents' zones).  ``in_force`` lists the local
    time bands when the limit and payment apply; empty means always.  A stay is counted from
    arrival or from the opening of the band in force, whichever is later.
    """

    zone_id: str
    time_limit: timedelta | None = timedelta(hours=2)
    grace: timedelta = timedelta(minutes=10)  # tolerated beyond the limit before it is an overstay
    payment_required: bool = True
    payment_grace: timedelta = timedelta(minutes=5)  # time to walk to the meter or open the app
    exemptions: tuple[Exemption, ...] = field(default=(Exemption(DISABLED_BADGE, timedelta(hours=2)),))
    in_force: tuple[TimeBand, ...] = ()

    def __post_init__(self) -> None:
        if self.time_limit is not None and self.time_limit <= timedelta(0):
            raise ValueError(f"zone {self.zone_id}: time_limit must be positive or None")
        if self.grace < timedelta(0) or self.payment_grace < timedelta(0):
            raise ValueError(f"zone {self.zone_id}: grace periods must not be negative")


@dataclass(frozen=True, slots=True)
class HistoryPeriod:
    """A period of the occupancy history API: its length, the grid it is built from, the longest window.

    Values are time-weighted means over ``base`` slots (each slot the mean of the values recorded
    in it, or the last one carried over), so a finer ``base`` follows changes more closely; the
    window is capped so that one answer reads at most about 9,000 slots per place.
    """

    name: str  # the ISO 8601 duration clients send
    length: timedelta
    base: timedelta
    max_window: timedelta


HISTORY_PERIODS: dict[str, HistoryPeriod] = {
    period.name: period
    for period in (
        HistoryPeriod("PT15M", timedelta(minutes=15), timedelta(minutes=15), timedelta(days=31)),
        HistoryPeriod("PT1H", timedelta(hours=1), timedelta(minutes=15), timedelta(days=92)),
        HistoryPeriod("P1D", timedelta(days=1), timedelta(hours=1), timedelta(days=366)),
    )
}


DEFAULT_PRICING = PricingRules()
DEFAULT_GUIDANCE = GuidanceParams()
DEFAULT_FORECAST = ForecastParams()
