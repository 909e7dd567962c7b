"""Names and default parameters of the parking solution."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

import pytest

from urbis.ingestion.profiles import GARAGE, PARKING_BAY
from urbis.solutions.parking import const, model


def test_names_match_smart_data_models_and_the_device_profiles() -> None:
    assert [s.value for s in const.SpotStatus] == ["free", "occupied", "closed", "unknown"]
    assert const.PARKING_ENTITY_TYPES == ("ParkingSpot", "OnStreetParking", "OffStreetParking", "ParkingGroup")
    # The devices feed exactly the types and attributes the solution reads.
    assert PARKING_BAY.entity_type == const.PARKING_SPOT
    assert {m.attribute for m in PARKING_BAY.mapping} == {const.STATUS}
    assert {value for _, value in PARKING_BAY.mapping[0].values or ()} <= {s.value for s in const.SpotStatus}
    assert GARAGE.entity_type == const.OFF_STREET_PARKING
    garage_attributes = {m.attribute for m in GARAGE.mapping}
    assert {const.OCCUPIED_SPOT_NUMBER, const.AVAILABLE_SPOT_NUMBER} <= garage_attributes
    assert {const.VEHICLE_ENTRANCE_COUNT, const.VEHICLE_EXIT_COUNT} <= garage_attributes
    assert {m.attribute for m in const.MEASURES} == {
        "availableSpotNumber",
        "totalSpotNumber",
        "occupiedSpotNumber",
        "occupancy",
    }


def test_sfpark_defaults() -> None:
    rules = const.DEFAULT_PRICING
    assert (rules.raise_at, rules.lower_at, rules.lower_more_below) == (0.80, 0.60, 0.30)
    assert (rules.step_up, rules.step_down, rules.big_step_down) == (Decimal("0.25"), Decimal("0.25"), Decimal("0.50"))
    assert (rules.minimum_price, rules.maximum_price) == (Decimal("0.25"), Decimal("6.00"))
    assert timedelta(weeks=6) <= rules.adjustment_period <= timedelta(weeks=8)
    bands = {(b.start, b.end) for b in const.DEFAULT_TIME_BANDS}
    assert bands == {(time(9), time(12)), (time(12), time(15)), (time(15), time(18))}
    assert len(const.DEFAULT_TIME_BANDS) == 6  # weekday and weekend apart
    assert const.DEFAULT_FORECAST.horizons_minutes == (15, 30, 60)


def test_zone_restrictions_are_validated() -> None:
    with pytest.raises(ValueError):
        const.ZoneRestriction("z", time_limit=timedelta(0))
    with pytest.raises(ValueError):
        const.ZoneRestriction("z", grace=timedelta(minutes=-1))
    assert const.ZoneRestriction("z", time_limit=None).time_limit is None


def test_model_re_exports_the_public_api() -> None:
    for name in model.__all__:
        assert getattr(model, name) is not None
    assert model.recommend_price.__module__ == "urbis.solutions.parking.pricing"
