"""Occupancy of bays, zones, garages and districts; time-weighted occupancy from status changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from urbis.solutions.parking.const import SpotStatus
from urbis.solutions.parking.occupancy import (
    Occupancy,
    StatusChange,
    aggregate_occupancy,
    bay_occupancy,
    garage_occupancy,
    parse_status,
    time_weighted_occupancy,
    zone_occupancy,
    zone_time_weighted_occupancy,
)

OCC, FREE, CLOSED, UNKNOWN = SpotStatus.OCCUPIED, SpotStatus.FREE, SpotStatus.CLOSED, SpotStatus.UNKNOWN


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 2, hour, minute, tzinfo=UTC)


def test_bay_occupancy() -> None:
    assert bay_occupancy(OCC).rate == 1.0
    assert bay_occupancy(FREE).rate == 0.0
    assert bay_occupancy(UNKNOWN).rate is None
    assert bay_occupancy(UNKNOWN).unknown == 1
    assert bay_occupancy(CLOSED).closed == 1


def test_zone_excludes_unknown_and_closed_bays_from_the_rate_but_reports_them() -> None:
    # 3 occupied, 1 free, 2 unknown, 1 closed: the rate is 3 / (3 + 1) = 0.75, not 3 / 7.
    zone = zone_occupancy([OCC, OCC, OCC, FREE, UNKNOWN, UNKNOWN, CLOSED])
    assert zone == Occupancy(capacity=7, occupied=3, free=1, closed=1, unknown=2)
    assert zone.known == 4
    assert zone.rate == 0.75
    assert zone_occupancy([UNKNOWN, CLOSED]).rate is None
    assert zone_occupancy([]).rate is None


def test_raw_status_values_from_the_broker() -> None:
    assert [parse_status(v) for v in ("occupied", "FREE ", "closed", "unknown")] == [OCC, FREE, CLOSED, UNKNOWN]
    assert parse_status("broken") is UNKNOWN
    assert parse_status(None) is UNKNOWN
    assert parse_status(True) is UNKNOWN


def test_garage_counts_over_capacity_are_clamped_and_flagged() -> None:
    # 104 cars counted in 100 spaces (cars in unofficial spaces): 100 occupied, 0 free, 4 excess.
    over = garage_occupancy(100, occupied=104)
    assert over == Occupancy(capacity=100, occupied=100, free=0, clamped=1, excess=4)
    assert over.rate == 1.0
    assert over.is_clamped
    # From the free count alone: 200 − 50 = 150 occupied.
    assert garage_occupancy(200, available=50) == Occupancy(capacity=200, occupied=150, free=50)
    # 230 free of 200 spaces means −30 occupied: clamped to 0, no excess vehicles.
    assert garage_occupancy(200, available=230) == Occupancy(capacity=200, occupied=0, free=200, clamped=1)
    # The car count wins over a free count that disagrees with it.
    assert garage_occupancy(200, occupied=120, available=10).occupied == 120
    assert garage_occupancy(80) == Occupancy(capacity=80, occupied=0, free=0, unknown=80)
    with pytest.raises(ValueError):
        garage_occupancy(0, occupied=3)


def test_district_weights_every_known_space_equally() -> None:
    zone = zone_occupancy([OCC, OCC, OCC, FREE, UNKNOWN, UNKNOWN, CLOSED])  # 3 of 4 known
    district = aggregate_occupancy(
        [zone, garage_occupancy(100, occupied=104), garage_occupancy(200, available=50), garage_occupancy(80)]
    )
    # capacity 7 + 100 + 200 + 80 = 387; occupied 3 + 100 + 150 = 253; free 1 + 0 + 50 = 51;
    # unknown 2 + 80 = 82; rate 253 / (253 + 51) = 253 / 304 = 0.832236…
    assert district == Occupancy(capacity=387, occupied=253, free=51, closed=1, unknown=82, clamped=1, excess=4)
    assert district.rate == pytest.approx(0.8322368421)
    # Not the mean of the rates (0.75, 1.0, 0.75) = 0.8333…
    assert district.rate != pytest.approx((0.75 + 1.0 + 0.75) / 3)


def test_inconsistent_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        Occupancy(capacity=5, occupied=3, free=1)
    with pytest.raises(ValueError):
        Occupancy(capacity=0, occupied=-1, free=1)


def test_time_weighted_occupancy_from_status_changes() -> None:
    # Window 10:00–12:00 (7200 s).  Occupied since 09:30 (before the window), free at 10:30,
    # unknown at 11:00, occupied at 11:15, free at 12:30 (after the window, ignored).
    #   occupied 10:00–10:30 (1800 s) + 11:15–12:00 (2700 s) = 4500 s
    #   free     10:30–11:00 = 1800 s;   unknown 11:00–11:15 = 900 s
    #   rate = 4500 / (4500 + 1800) = 0.714285…;  coverage = 6300 / 7200 = 0.875
    changes = [
        StatusChange(at(11, 15), OCC),
        StatusChange(at(9, 30), OCC),
        StatusChange(at(10, 30), FREE),
        StatusChange(at(12, 30), FREE),
        StatusChange(at(11, 0), UNKNOWN),
    ]  # deliberately unsorted
    result = time_weighted_occupancy(changes, at(10), at(12))
    assert (result.occupied_seconds, result.free_seconds, result.unknown_seconds) == (4500.0, 1800.0, 900.0)
    assert result.total_seconds == 7200.0
    assert result.rate == pytest.approx(5 / 7)
    assert result.coverage == pytest.approx(0.875)


def test_time_weighted_state_before_the_first_change() -> None:
    # No change before the window: 10:00–10:45 counts as status_at_start.
    changes = [StatusChange(at(10, 45), OCC)]
    unknown_start = time_weighted_occupancy(changes, at(10), at(11))
    assert (unknown_start.unknown_seconds, unknown_start.occupied_seconds) == (2700.0, 900.0)
    assert unknown_start.rate == 1.0
    free_start = time_weighted_occupancy(changes, at(10), at(11), status_at_start=FREE)
    assert free_start.rate == pytest.approx(0.25)  # 900 / 3600


def test_a_silent_sensor_becomes_unknown() -> None:
    # Occupied reported at 09:00, nothing since; with max_silence 2 h the state is trusted until
    # 11:00: occupied 10:00–11:00 (3600 s), unknown 11:00–12:00 (3600 s).
    changes = [StatusChange(at(9), OCC)]
    result = time_weighted_occupancy(changes, at(10), at(12), max_silence=timedelta(hours=2))
    assert (result.occupied_seconds, result.unknown_seconds) == (3600.0, 3600.0)
    assert time_weighted_occupancy(changes, at(10), at(12)).occupied_seconds == 7200.0
    # A fresh report at 11:30 renews the trust: occupied again 11:30–12:00.
    renewed = time_weighted_occupancy(
        [*changes, StatusChange(at(11, 30), OCC)], at(10), at(12), max_silence=timedelta(hours=2)
    )
    assert (renewed.occupied_seconds, renewed.unknown_seconds) == (5400.0, 1800.0)


def test_zone_time_weighted_occupancy_sums_bays() -> None:
    # Bay A occupied the whole hour (3600 s), bay B free the whole hour, bay C occupied for the
    # last 15 min after being closed: occupied 3600 + 900 = 4500, free 3600, closed 2700.
    bays = [
        [StatusChange(at(9), OCC)],
        [StatusChange(at(9), FREE)],
        [StatusChange(at(9), CLOSED), StatusChange(at(10, 45), OCC)],
    ]
    result = zone_time_weighted_occupancy(bays, at(10), at(11))
    assert (result.occupied_seconds, result.free_seconds, result.closed_seconds) == (4500.0, 3600.0, 2700.0)
    assert result.rate == pytest.approx(4500 / 8100)


def test_time_weighted_refuses_naive_or_reversed_windows() -> None:
    with pytest.raises(ValueError):
        time_weighted_occupancy([], datetime(2026, 3, 2, 10), at(11))  # noqa: DTZ001
    with pytest.raises(ValueError):
        time_weighted_occupancy([], at(11), at(10))
