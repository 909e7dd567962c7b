"""Parking guidance: the best places to park near a destination.

**Distance.**  Walking distance is the great-circle (haversine) distance on a sphere of the
IUGG mean radius, times a detour factor for the street grid (1 by default: straight line).
Within a city the spherical model is off the ellipsoid by well under 0.5 %.

**Probability of a free space on arrival.**  A place with ``n`` spaces whose occupancy at
arrival is forecast as ``p`` would, if every space were taken independently with probability
``p``, be full with probability ``pⁿ``.  Spaces are not independent: the same lunchtime rush
fills all of them, and the forecast itself is uncertain.  So the occupancy share at arrival
is modelled as a random ``P ~ Beta(a, b)`` with mean ``p`` and standard deviation ``sd``
(the forecast's error), and the spaces as taken independently *given* ``P`` — the
beta-binomial model.  Then

    P(full) = E[Pⁿ] = ∏_{i=0}^{n-1} (a + i) / (a + b + i),   a = p·κ, b = (1 − p)·κ,
    κ = p(1 − p) / sd² − 1,

and the probability of finding a space is ``1 − P(full)``.  Each place brings its own ``p``
and ``sd`` for the arrival time (:func:`~.forecast.estimate_on_arrival`: the live share, the
forecast, or the historical mean, with the held-out error of what is served); a place without
one gets ``GuidanceParams.occupancy_sd``.  For one bay it is ``1 − p``
whatever ``sd``; with ``sd → 0`` it tends to the independent ``1 − pⁿ``; a larger ``sd``
makes a big, nearly full car park less of a sure thing.  It ignores other drivers heading
for the same spaces, so it is an upper bound when guidance sends many cars to one place.

**Score.**  Options are ranked by expected cost in metres of walking:
``walk + (1 − P(free)) × miss_penalty``, the walk plus what a miss costs (driving on and
parking further away, by default one more maximal walk).  Lower is better.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from urbis.context.query.geo import EARTH_RADIUS_M
from urbis.solutions.parking.const import DEFAULT_GUIDANCE, GuidanceParams

PlaceKind = Literal["bay", "zone", "garage"]

# Below this spread the beta-binomial is numerically the binomial; κ is capped to keep it finite.
_MAX_CONCENTRATION = 1e12


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two WGS 84 positions (degrees)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    # min() guards asin against rounding just above 1 for antipodal points.
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def probability_of_free_space(spaces: int, occupancy: float, sd: float) -> float:
    """Probability that at least one of ``spaces`` is free, for forecast occupancy ``occupancy`` ± ``sd``.

    The beta-binomial estimate described in the module docstring.
    """
    if spaces < 0:
        raise ValueError("spaces must not be negative")
    if not 0.0 <= occupancy <= 1.0:
        raise ValueError(f"occupancy must lie in [0, 1], got {occupancy}")
    if spaces == 0:
        return 0.0
    if occupancy <= 0.0:
        return 1.0
    if occupancy >= 1.0:
        return 0.0
    variance = sd * sd
    spread = occupancy * (1.0 - occupancy)
    # The variance of a share cannot exceed p(1 − p); at that bound the Beta degenerates to
    # "all free or all taken", κ → 0, and P(full) → p.
    kappa = _MAX_CONCENTRATION if variance <= spread / _MAX_CONCENTRATION else max(spread / variance - 1.0, 1e-9)
    a, b = occupancy * kappa, (1.0 - occupancy) * kappa
    log_full = sum(math.log((a + i) / (a + b + i)) for i in range(spaces))
    return 1.0 - math.exp(log_full)


@dataclass(frozen=True, slots=True)
class Destination:
    """Where the driver wants to go (WGS 84 degrees)."""

    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class ParkingCandidate:
    """A place to park: a bay, a zone or a garage, with what is known of its state.

    ``capacity`` counts the usable spaces (closed bays left out).  ``free`` is the current
    count, ``forecast_occupancy`` the share expected to be taken on arrival; at least one is
    needed for an estimate, and the forecast wins when both are given.  ``occupancy_sd`` is
    the spread of that share (None: the guidance default) and ``basis`` what it rests on
    (``live``, ``forecast`` or ``historical mean``).  ``site_id`` is a bay's zone.
    """

    place_id: str
    kind: PlaceKind
    lon: float
    lat: float
    capacity: int
    free: int | None = None
    forecast_occupancy: float | None = None
    name: str = ""
    occupancy_sd: float | None = None
    basis: str = "live"
    site_id: str | None = None

    def occupancy_on_arrival(self) -> float | None:
        """The forecast share, else the current share (persistence), else None."""
        if self.forecast_occupancy is not None:
            return min(1.0, max(0.0, self.forecast_occupancy))
        if self.free is not None and self.capacity > 0:
            free = min(self.capacity, max(0, self.free))
            return 1.0 - free / self.capacity
        return None


@dataclass(frozen=True, slots=True)
class GuidanceOption:
    """One ranked option: how far, how likely to find a space, and the expected cost."""

    candidate: ParkingCandidate
    walking_m: float
    occupancy_on_arrival: float
    probability_free: float
    expected_cost_m: float
    occupancy_sd: float = DEFAULT_GUIDANCE.occupancy_sd


def rank_options(
    destination: Destination,
    candidates: Iterable[ParkingCandidate],
    params: GuidanceParams = DEFAULT_GUIDANCE,
) -> list[GuidanceOption]:
    """The best places to park within ``params.max_walk_m`` of ``destination``, best first.

    Places with no estimate (neither a count nor a forecast) or no usable space are left
    out.  Ranking is by expected cost (see the module docstring), then by probability, then
    by distance, then by id, so equal options always come in the same order.
    """
    options: list[GuidanceOption] = []
    for candidate in candidates:
        occupancy = candidate.occupancy_on_arrival()
        if occupancy is None or candidate.capacity <= 0:
            continue
        walking = haversine_m(destination.lon, destination.lat, candidate.lon, candidate.lat) * params.detour_factor
        if walking > params.max_walk_m:
            continue
        sd = params.occupancy_sd if candidate.occupancy_sd is None else candidate.occupancy_sd
        probability = probability_of_free_space(candidate.capacity, occupancy, sd)
        cost = walking + (1.0 - probability) * params.miss_penalty_m
        options.append(GuidanceOption(candidate, walking, occupancy, probability, cost, sd))
    options.sort(key=lambda o: (o.expected_cost_m, -o.probability_free, o.walking_m, o.candidate.place_id))
    return options[: params.limit]
