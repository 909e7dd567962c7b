"""Guidance: haversine distances, the beta-binomial chance of a free space, and the ranking."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from urbis.solutions.parking.const import GuidanceParams
from urbis.solutions.parking.guidance import (
    Destination,
    ParkingCandidate,
    haversine_m,
    probability_of_free_space,
    rank_options,
)

# A hand-made map around a destination in Berlin-Mitte.
DEST = Destination(lon=13.4000, lat=52.5200)
R = 6371008.8  # IUGG mean Earth radius, metres

# Along a meridian the haversine distance is R·Δφ:  0.001° → 6371008.8 × 0.001 × π/180 = 111.19508 m.
NORTH_111 = 111.19508
# Along a parallel at φ = 52.52°:  d = 2R·asin(cos φ · sin(Δλ/2));  cos 52.52° = 0.6084845,
# sin(0.0025°) = 4.3633231e-5  →  d = 2 × 6371008.8 × asin(2.6550154e-5) = 338.30239 m
# (≈ R·cos φ·Δλ = 338.30239 m: the small-angle form agrees to the millimetre).
EAST_338 = 338.30239


def test_haversine_against_hand_computed_values() -> None:
    assert haversine_m(13.4, 52.52, 13.4, 52.521) == pytest.approx(NORTH_111, abs=1e-4)
    assert haversine_m(13.4, 52.52, 13.405, 52.52) == pytest.approx(EAST_338, abs=1e-4)
    assert haversine_m(13.4, 52.52, 13.4, 52.52) == 0.0
    # Symmetric, and a quarter meridian is R·π/2 = 10 007 557 m.
    assert haversine_m(13.405, 52.52, 13.4, 52.52) == pytest.approx(EAST_338, abs=1e-4)
    assert haversine_m(0.0, 0.0, 0.0, 90.0) == pytest.approx(R * math.pi / 2)


def test_probability_for_one_bay_is_the_chance_it_is_free() -> None:
    # n = 1: E[P] = p, so P(free) = 1 − p whatever the spread.
    for sd in (0.0, 0.05, 0.2, 0.5):
        assert probability_of_free_space(1, 0.9, sd) == pytest.approx(0.1)


def test_probability_without_spread_is_the_independent_binomial() -> None:
    # sd = 0: every bay independent with p = 0.9:  1 − 0.9²⁰ = 1 − 0.1215767 = 0.8784233.
    assert probability_of_free_space(20, 0.9, 0.0) == pytest.approx(0.8784233, abs=1e-6)


def test_probability_beta_binomial_by_hand() -> None:
    # n = 2, p = 0.5, sd² = 0.125:  κ = 0.25 / 0.125 − 1 = 1,  a = b = 0.5.
    # P(full) = (a / (a+b)) · ((a+1) / (a+b+1)) = 0.5 × 0.75 = 0.375  →  P(free) = 0.625
    # (the independent model would say 1 − 0.25 = 0.75).
    assert probability_of_free_space(2, 0.5, math.sqrt(0.125)) == pytest.approx(0.625)
    # Same spread, n = 400: P(full) = ∏ (i + ½)/(i + 1) = C(800, 400) / 4⁴⁰⁰ (central binomial
    # coefficient) ≈ 1/√(400π) = 0.0282.
    expected_full = math.comb(800, 400) / 4**400
    assert probability_of_free_space(400, 0.5, math.sqrt(0.125)) == pytest.approx(1 - expected_full)
    # At the largest possible spread (sd² = p(1 − p)) the car park is all-or-nothing: P(full) = p.
    assert probability_of_free_space(50, 0.3, math.sqrt(0.21)) == pytest.approx(0.7, abs=1e-6)


def test_probability_edges() -> None:
    assert probability_of_free_space(0, 0.2, 0.05) == 0.0
    assert probability_of_free_space(10, 0.0, 0.05) == 1.0
    assert probability_of_free_space(10, 1.0, 0.05) == 0.0
    with pytest.raises(ValueError):
        probability_of_free_space(10, 1.2, 0.05)


@given(
    spaces=st.integers(min_value=1, max_value=300),
    occupancy=st.floats(min_value=0.01, max_value=0.99),
    sd=st.floats(min_value=0.0, max_value=0.4),
)
def test_probability_is_a_probability_and_spread_only_lowers_it(spaces: int, occupancy: float, sd: float) -> None:
    p = probability_of_free_space(spaces, occupancy, sd)
    assert 0.0 <= p <= 1.0
    # Correlation between spaces can only make "all taken" likelier than independence says.
    assert p <= probability_of_free_space(spaces, occupancy, 0.0) + 1e-9
    # One more space never hurts.
    assert probability_of_free_space(spaces + 1, occupancy, sd) >= p - 1e-9


def candidates() -> list[ParkingCandidate]:
    return [
        # 111 m north, a single bay occupied now, no forecast: persistence says p = 1 → P = 0.
        ParkingCandidate("bay-1", "bay", 13.4000, 52.5210, capacity=1, free=0),
        # 222 m south, two bays forecast half full.
        ParkingCandidate("zone-s", "zone", 13.4000, 52.5180, capacity=2, forecast_occupancy=0.5),
        # 338 m east, a 400-space garage with 200 free now.
        ParkingCandidate("garage-e", "garage", 13.4050, 52.5200, capacity=400, free=200),
        # 1112 m north: beyond the walk.
        ParkingCandidate("garage-far", "garage", 13.4000, 52.5300, capacity=500, free=500),
        # No count and no forecast: no honest estimate.
        ParkingCandidate("zone-dark", "zone", 13.4001, 52.5201, capacity=10),
    ]


def test_ranking_by_expected_walking_cost() -> None:
    params = GuidanceParams(max_walk_m=600.0, miss_penalty_m=600.0, occupancy_sd=math.sqrt(0.125))
    options = rank_options(DEST, candidates(), params)
    # Expected cost = walk + (1 − P) × 600:
    #   garage-e  338.30 + 0.0282 × 600 =  355.22   (P(full) = C(800,400)/4⁴⁰⁰, as above)
    #   zone-s    222.39 + 0.375  × 600 =  447.39
    #   bay-1     111.20 + 1      × 600 =  711.20
    assert [o.candidate.place_id for o in options] == ["garage-e", "zone-s", "bay-1"]
    by_id = {o.candidate.place_id: o for o in options}
    assert by_id["zone-s"].walking_m == pytest.approx(2 * NORTH_111, abs=1e-3)
    assert by_id["zone-s"].probability_free == pytest.approx(0.625)
    assert by_id["zone-s"].expected_cost_m == pytest.approx(2 * NORTH_111 + 0.375 * 600, abs=1e-3)
    assert by_id["garage-e"].walking_m == pytest.approx(EAST_338, abs=1e-3)
    assert by_id["garage-e"].occupancy_on_arrival == 0.5
    assert by_id["garage-e"].expected_cost_m == pytest.approx(EAST_338 + 600 * math.comb(800, 400) / 4**400, abs=1e-3)
    assert by_id["bay-1"].probability_free == 0.0
    assert by_id["bay-1"].expected_cost_m == pytest.approx(NORTH_111 + 600, abs=1e-3)


def test_max_walk_detour_and_limit() -> None:
    # A detour factor of 2 doubles every walk: the garage (677 m) drops out of a 600 m radius.
    params = GuidanceParams(max_walk_m=600.0, detour_factor=2.0, occupancy_sd=0.0)
    assert [o.candidate.place_id for o in rank_options(DEST, candidates(), params)] == ["zone-s", "bay-1"]
    # Everything within 2 km, sd 0: garage-e costs 338.30 (1 − 0.5⁴⁰⁰ ≈ 1), zone-s
    # 222.39 + 0.5² × 600 = 372.39, bay-1 711.20, the far garage (empty) 1111.95; the top two stay.
    wide = GuidanceParams(max_walk_m=2000.0, occupancy_sd=0.0, limit=2)
    assert [o.candidate.place_id for o in rank_options(DEST, candidates(), wide)] == ["garage-e", "zone-s"]


def test_forecast_wins_over_the_current_count() -> None:
    # Free now, but forecast full on arrival: the forecast decides.
    place = ParkingCandidate("bay-2", "bay", 13.4, 52.5201, capacity=1, free=1, forecast_occupancy=1.0)
    assert place.occupancy_on_arrival() == 1.0
    [option] = rank_options(DEST, [place])
    assert option.probability_free == 0.0


def test_equal_options_come_in_a_stable_order() -> None:
    twins = [
        ParkingCandidate("b", "bay", 13.4, 52.521, capacity=1, free=1),
        ParkingCandidate("a", "bay", 13.4, 52.521, capacity=1, free=1),
    ]
    assert [o.candidate.place_id for o in rank_options(DEST, twins)] == ["a", "b"]


def test_params_are_validated() -> None:
    with pytest.raises(ValueError):
        GuidanceParams(detour_factor=0.8)
    with pytest.raises(ValueError):
        GuidanceParams(occupancy_sd=0.6)
    with pytest.raises(ValueError):
        GuidanceParams(max_walk_m=0.0)
