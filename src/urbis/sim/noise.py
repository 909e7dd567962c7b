"""Deterministic randomness: every draw of the simulator is a function of the seed and a key.

The behaviour models must give the same city whatever the order in which they are asked
(one second at a time in real time, fifteen minutes at a time in a backfill), so they do
not share one random stream.  Instead each draw hashes ``(seed, key...)``: noise at an
instant is a pure function of the instant, and sequential processes (a parking bay, a
fault timeline) get their own :class:`random.Random` seeded from their key.
"""

from __future__ import annotations

import hashlib
import math
import random
from statistics import NormalDist

_NORMAL = NormalDist()
_TWO_64 = float(2**64)
_SQRT6 = math.sqrt(6.0)


def stable_seed(*parts: object) -> int:
    """A 64-bit integer derived from ``parts`` (stable across runs and Python versions)."""
    text = "\x1f".join(str(part) for part in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def rng_for(*parts: object) -> random.Random:
    """A private random stream for one sequential process, named by ``parts``."""
    return random.Random(stable_seed(*parts))


def unit(*parts: object) -> float:
    """A uniform number in the open interval (0, 1), fixed by ``parts``."""
    text = "\x1f".join(str(part) for part in parts).encode()
    value = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")
    # Shift by half a step so neither 0 nor 1 can come out (inv_cdf needs the open interval).
    return (value + 0.5) / _TWO_64


def gauss(*parts: object) -> float:
    """A standard normal number fixed by ``parts``."""
    return _NORMAL.inv_cdf(unit(*parts))


def spread(*parts: object) -> float:
    """A cheap zero-mean, unit-variance number fixed by ``parts`` (triangular, within ±2.45).

    For measurement noise, where the exact shape does not matter and speed does: one hash
    gives two uniforms whose centred sum, scaled by √6, has unit variance.
    """
    text = "\x1f".join(str(part) for part in parts).encode()
    digest = hashlib.blake2b(text, digest_size=8).digest()
    first, second = int.from_bytes(digest[:4], "big"), int.from_bytes(digest[4:], "big")
    return ((first + second) / 4_294_967_296.0 - 1.0) * _SQRT6


def smooth(seed: int, key: str, t: float, period: float) -> float:
    """Smooth noise in time: about N(0, 1) at the knots every ``period`` seconds, eased between.

    Knot values are hashed from ``(seed, key, knot)``, so the curve is the same whoever asks
    and in whatever order.  Between knots a smoothstep eases from one value to the next.
    """
    position = t / period
    knot = math.floor(position)
    frac = position - knot
    ease = frac * frac * (3.0 - 2.0 * frac)
    first = gauss(seed, key, knot)
    second = gauss(seed, key, knot + 1)
    # The eased mix of two independent normals has a variance below 1 mid-way; rescale so the
    # curve keeps about unit variance everywhere (no visible "breathing" at half the period).
    scale = 1.0 / math.sqrt((1.0 - ease) ** 2 + ease**2)
    return (first * (1.0 - ease) + second * ease) * scale


def octaves(seed: int, key: str, t: float, periods: tuple[tuple[float, float], ...]) -> float:
    """A sum of :func:`smooth` curves, one per ``(period seconds, weight)``."""
    return sum(weight * smooth(seed, f"{key}@{period:g}", t, period) for period, weight in periods)
