"""The pure rules of smart parking, gathered in one place.

The rules live in small modules of this package — :mod:`.occupancy` (counts and rates),
:mod:`.guidance` (where to park), :mod:`.forecast` (occupancy ahead and the baseline it must
beat), :mod:`.pricing` (the SFpark step rule) and :mod:`.sessions` (time limits and
enforcement) — and are re-exported here, so that services import ``parking.model`` as every
solution does.  Nothing here reads the clock or touches storage: time is a parameter.
"""

from __future__ import annotations

from urbis.solutions.parking.forecast import (
    DeviationForecaster,
    ForecastSelection,
    HistoricalBaseline,
    HorizonScore,
    OccupancyObservation,
    beats_baseline,
    evaluate_forecaster,
    fit_baseline,
    fit_deviation_weights,
    fit_forecaster,
    select_forecaster,
    split_chronologically,
)
from urbis.solutions.parking.guidance import (
    Destination,
    GuidanceOption,
    ParkingCandidate,
    haversine_m,
    probability_of_free_space,
    rank_options,
)
from urbis.solutions.parking.occupancy import (
    Occupancy,
    StatusChange,
    TimeWeightedOccupancy,
    aggregate_occupancy,
    bay_occupancy,
    garage_occupancy,
    parse_status,
    time_weighted_occupancy,
    zone_occupancy,
    zone_time_weighted_occupancy,
)
from urbis.solutions.parking.pricing import (
    OccupancyBand,
    PriceCell,
    PriceChange,
    PriceOutcome,
    money,
    occupancy_band,
    price_step,
    recommend_price,
    recommend_prices,
)
from urbis.solutions.parking.sessions import (
    BayEvent,
    BayState,
    ComplianceReport,
    Overstay,
    ParkingSession,
    UnpaidOccupancy,
    ZoneShortfall,
    allowed_stay,
    bay_states_at,
    check_compliance,
    start_session,
)
from urbis.solutions.parking.timebands import TimeBand, band_at

__all__ = [
    "BayEvent",
    "BayState",
    "ComplianceReport",
    "Destination",
    "DeviationForecaster",
    "ForecastSelection",
    "GuidanceOption",
    "HistoricalBaseline",
    "HorizonScore",
    "Occupancy",
    "OccupancyBand",
    "OccupancyObservation",
    "Overstay",
    "ParkingCandidate",
    "ParkingSession",
    "PriceCell",
    "PriceChange",
    "PriceOutcome",
    "StatusChange",
    "TimeBand",
    "TimeWeightedOccupancy",
    "UnpaidOccupancy",
    "ZoneShortfall",
    "aggregate_occupancy",
    "allowed_stay",
    "band_at",
    "bay_occupancy",
    "bay_states_at",
    "beats_baseline",
    "check_compliance",
    "evaluate_forecaster",
    "fit_baseline",
    "fit_deviation_weights",
    "fit_forecaster",
    "garage_occupancy",
    "haversine_m",
    "money",
    "occupancy_band",
    "parse_status",
    "price_step",
    "probability_of_free_space",
    "rank_options",
    "recommend_price",
    "recommend_prices",
    "select_forecaster",
    "split_chronologically",
    "start_session",
    "time_weighted_occupancy",
    "zone_occupancy",
    "zone_time_weighted_occupancy",
]
