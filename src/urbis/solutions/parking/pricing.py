"""Demand-responsive prices per zone and time band: the SFpark step rule (domain reference §3.2).

Each zone and rate period (time band) is judged on its observed occupancy over the last
period: at or above the target ceiling the price goes up a step, inside the target band it
stays, below it goes down a step and far below it goes down a bigger step.  Prices stay within
the caps and change at most once per adjustment period.  Every decision — changes and
non-changes alike — comes out as a :class:`PriceChange` carrying its reason, for the public
transparency log.

Money is :class:`~decimal.Decimal`, quantised to cents; floats are refused so that no price
ever carries binary rounding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Literal

from urbis.solutions.parking.const import DEFAULT_PRICING, PricingRules
from urbis.solutions.parking.timebands import require_aware

CENT = Decimal("0.01")
# Occupancy shares are rounded to this many decimals before banding, so that a share summed
# from seconds (0.7999999999…) lands in the band its rounded value says it is in.
_SHARE_DECIMALS = 6


def money(value: Decimal | int | str) -> Decimal:
    """An amount as a Decimal rounded to cents (half up); floats are refused."""
    if isinstance(value, float):
        raise TypeError("money must not be a float; pass a Decimal, an int or a string")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"money must be a finite amount, got {value!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


class OccupancyBand(StrEnum):
    """Where an observed occupancy falls relative to the target band."""

    ABOVE_TARGET = "above-target"  # ≥ raise_at: raise
    ON_TARGET = "on-target"  # lower_at ≤ occupancy < raise_at: no change
    BELOW_TARGET = "below-target"  # lower_more_below ≤ occupancy < lower_at: lower a step
    FAR_BELOW_TARGET = "far-below-target"  # < lower_more_below: lower a bigger step


class PriceOutcome(StrEnum):
    """What a decision did to the price."""

    RAISED = "raised"
    LOWERED = "lowered"
    UNCHANGED = "unchanged"  # judged, and the rule (or a cap) left the price as it was
    HELD = "held"  # not judged: within the adjustment period, or no occupancy observed


def occupancy_band(occupancy: float, rules: PricingRules = DEFAULT_PRICING) -> OccupancyBand:
    """The band of an occupancy share (0..1) under ``rules``."""
    if not 0.0 <= occupancy <= 1.0:
        raise ValueError(f"occupancy must lie in [0, 1], got {occupancy}")
    share = round(occupancy, _SHARE_DECIMALS)
    if share >= rules.raise_at:
        return OccupancyBand.ABOVE_TARGET
    if share >= rules.lower_at:
        return OccupancyBand.ON_TARGET
    if share >= rules.lower_more_below:
        return OccupancyBand.BELOW_TARGET
    return OccupancyBand.FAR_BELOW_TARGET


def price_step(band: OccupancyBand, rules: PricingRules = DEFAULT_PRICING) -> Decimal:
    """The signed change the rule asks for in ``band`` (before the caps)."""
    return {
        OccupancyBand.ABOVE_TARGET: rules.step_up,
        OccupancyBand.ON_TARGET: Decimal("0.00"),
        OccupancyBand.BELOW_TARGET: -rules.step_down,
        OccupancyBand.FAR_BELOW_TARGET: -rules.big_step_down,
    }[band]


@dataclass(frozen=True, slots=True)
class PriceChange:
    """One pricing decision for a zone and time band, as it goes into the transparency log."""

    zone_id: str
    time_band: str
    decided_at: datetime
    observed_occupancy: float | None
    occupancy_band: OccupancyBand | None
    old_price: Decimal
    new_price: Decimal
    currency: str
    requested_step: Decimal  # what the rule asked for; new − old differs when capped
    capped: Literal["minimum", "maximum"] | None
    outcome: PriceOutcome
    reason: str
    next_change_allowed_at: datetime | None

    @property
    def changed(self) -> bool:
        """Whether the price moved."""
        return self.new_price != self.old_price

    def to_record(self) -> dict[str, str | float | None]:
        """A JSON-ready record: money as decimal strings, instants as ISO 8601."""
        return {
            "zoneId": self.zone_id,
            "timeBand": self.time_band,
            "decidedAt": self.decided_at.isoformat(),
            "observedOccupancy": self.observed_occupancy,
            "occupancyBand": None if self.occupancy_band is None else self.occupancy_band.value,
            "oldPrice": str(self.old_price),
            "newPrice": str(self.new_price),
            "currency": self.currency,
            "requestedStep": str(self.requested_step),
            "capped": self.capped,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "nextChangeAllowedAt": None
            if self.next_change_allowed_at is None
            else self.next_change_allowed_at.isoformat(),
        }


def _percent(share: float) -> str:
    return f"{share * 100:.2f} %"


def _band_text(band: OccupancyBand, rules: PricingRules) -> str:
    raise_at, lower_at, far = _percent(rules.raise_at), _percent(rules.lower_at), _percent(rules.lower_more_below)
    return {
        OccupancyBand.ABOVE_TARGET: f"at or above the {raise_at} ceiling",
        OccupancyBand.ON_TARGET: f"within the {lower_at}–{raise_at} target band",
        OccupancyBand.BELOW_TARGET: f"between {far} and the {lower_at} floor",
        OccupancyBand.FAR_BELOW_TARGET: f"below {far}",
    }[band]


def recommend_price(
    zone_id: str,
    time_band: str,
    observed_occupancy: float | None,
    current_price: Decimal,
    *,
    now: datetime,
    last_change_at: datetime | None = None,
    rules: PricingRules = DEFAULT_PRICING,
) -> PriceChange:
    """The SFpark decision for one zone and time band at ``now``.

    Held (no change) when the last change is less than ``rules.adjustment_period`` old or no
    occupancy was observed.  Otherwise the step for the occupancy band, the result clamped to
    ``[minimum_price, maximum_price]`` (``capped`` says which cap bit).  A price that starts
    outside the caps (after the caps were changed) is brought inside by the first judgement.
    """
    require_aware(now, "now")
    old = money(current_price)

    def held(reason: str, next_allowed: datetime | None) -> PriceChange:
        return PriceChange(
            zone_id=zone_id,
            time_band=time_band,
            decided_at=now,
            observed_occupancy=observed_occupancy,
            occupancy_band=None,
            old_price=old,
            new_price=old,
            currency=rules.currency,
            requested_step=Decimal("0.00"),
            capped=None,
            outcome=PriceOutcome.HELD,
            reason=reason,
            next_change_allowed_at=next_allowed,
        )

    allowed_at: datetime | None = None
    if last_change_at is not None:
        require_aware(last_change_at, "last_change_at")
        allowed_at = last_change_at + rules.adjustment_period
        if now < allowed_at:
            last, allowed = last_change_at.isoformat(), allowed_at.isoformat()
            return held(f"held: last change {last}, next change allowed from {allowed}", allowed_at)
    if observed_occupancy is None:
        return held("held: no occupancy observed in this time band", allowed_at)

    band = occupancy_band(observed_occupancy, rules)
    step = money(price_step(band, rules))
    wanted = old + step
    new = min(max(wanted, money(rules.minimum_price)), money(rules.maximum_price))
    capped: Literal["minimum", "maximum"] | None = None
    if new > wanted:
        capped = "minimum"
    elif new < wanted:
        capped = "maximum"
    outcome = PriceOutcome.RAISED if new > old else PriceOutcome.LOWERED if new < old else PriceOutcome.UNCHANGED
    reason = f"occupancy {_percent(observed_occupancy)} {_band_text(band, rules)}: "
    reason += f"step {step:+} {rules.currency}" if step else "no step"
    if capped is not None:
        reason += f", capped at the {capped} of {new} {rules.currency}"
    reason += f"; {old} → {new} {rules.currency}/h"
    return PriceChange(
        zone_id=zone_id,
        time_band=time_band,
        decided_at=now,
        observed_occupancy=observed_occupancy,
        occupancy_band=band,
        old_price=old,
        new_price=new,
        currency=rules.currency,
        requested_step=step,
        capped=capped,
        outcome=outcome,
        reason=reason,
        # A judgement that left the price alone does not restart the period.
        next_change_allowed_at=now + rules.adjustment_period if new != old else allowed_at,
    )


@dataclass(frozen=True, slots=True)
class PriceCell:
    """The inputs for one zone and time band: observed occupancy, current price, last change."""

    zone_id: str
    time_band: str
    observed_occupancy: float | None
    current_price: Decimal
    last_change_at: datetime | None = None


def recommend_prices(
    cells: Iterable[PriceCell], *, now: datetime, rules: PricingRules = DEFAULT_PRICING
) -> list[PriceChange]:
    """One decision per cell, in the order given."""
    return [
        recommend_price(
            cell.zone_id,
            cell.time_band,
            cell.observed_occupancy,
            cell.current_price,
            now=now,
            last_change_at=cell.last_change_at,
            rules=rules,
        )
        for cell in cells
    ]
