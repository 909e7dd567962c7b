"""SFpark pricing: bands at every boundary, caps, the adjustment period, the transparency record."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from urbis.solutions.parking.const import DEFAULT_TIME_BANDS, PricingRules
from urbis.solutions.parking.pricing import (
    OccupancyBand,
    PriceCell,
    PriceOutcome,
    money,
    occupancy_band,
    recommend_price,
    recommend_prices,
)
from urbis.solutions.parking.timebands import WEEKDAYS, TimeBand, band_at

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def decide(occupancy: float | None, price: str = "2.00", **kwargs: object):
    return recommend_price(
        "urn:ngsi-ld:OnStreetParking:zone-001", "weekday-morning", occupancy, Decimal(price), now=NOW, **kwargs
    )  # type: ignore[arg-type]


# Boundaries of the default rule (≥80 % up 0.25; 60–80 % hold; 30–60 % down 0.25; <30 % down 0.50),
# each from a price of 2.00 so that no cap interferes:
#   79.9 % → on target → 2.00        80 %  → above → 2.00 + 0.25 = 2.25
#   60 %   → on target → 2.00        59.9 % → below → 2.00 − 0.25 = 1.75
#   30 %   → below → 1.75            29.9 % → far below → 2.00 − 0.50 = 1.50
@pytest.mark.parametrize(
    ("occupancy", "band", "new_price", "outcome"),
    [
        (0.80, OccupancyBand.ABOVE_TARGET, "2.25", PriceOutcome.RAISED),
        (0.799, OccupancyBand.ON_TARGET, "2.00", PriceOutcome.UNCHANGED),
        (0.60, OccupancyBand.ON_TARGET, "2.00", PriceOutcome.UNCHANGED),
        (0.599, OccupancyBand.BELOW_TARGET, "1.75", PriceOutcome.LOWERED),
        (0.30, OccupancyBand.BELOW_TARGET, "1.75", PriceOutcome.LOWERED),
        (0.299, OccupancyBand.FAR_BELOW_TARGET, "1.50", PriceOutcome.LOWERED),
        (1.0, OccupancyBand.ABOVE_TARGET, "2.25", PriceOutcome.RAISED),
        (0.0, OccupancyBand.FAR_BELOW_TARGET, "1.50", PriceOutcome.LOWERED),
    ],
)
def test_step_at_every_boundary(occupancy: float, band: OccupancyBand, new_price: str, outcome: PriceOutcome) -> None:
    change = decide(occupancy)
    assert change.occupancy_band is band
    assert change.new_price == Decimal(new_price)
    assert change.old_price == Decimal("2.00")
    assert change.outcome is outcome
    assert change.capped is None


def test_shares_computed_from_counts_and_seconds_land_in_their_rounded_band() -> None:
    # 48 of 60 bays is exactly 80 % → raise.  0.1 + 0.7 is 0.7999999999999999 in binary floating
    # point; rounded to 6 decimals it is 0.8 and must also raise, not sit in the dead band.
    assert occupancy_band(48 / 60) is OccupancyBand.ABOVE_TARGET
    assert 0.1 + 0.7 < 0.8
    assert occupancy_band(0.1 + 0.7) is OccupancyBand.ABOVE_TARGET
    assert occupancy_band(0.7999994) is OccupancyBand.ON_TARGET  # rounds to 0.799999


@pytest.mark.parametrize(
    ("occupancy", "price", "new_price", "capped", "outcome"),
    [
        (0.9, "5.90", "6.00", "maximum", PriceOutcome.RAISED),  # 5.90 + 0.25 = 6.15 > 6.00
        (0.9, "6.00", "6.00", "maximum", PriceOutcome.UNCHANGED),  # already at the ceiling
        (0.9, "5.75", "6.00", None, PriceOutcome.RAISED),  # exactly reaches the cap: not capped
        (0.1, "0.50", "0.25", "minimum", PriceOutcome.LOWERED),  # 0.50 − 0.50 = 0.00 < 0.25
        (0.45, "0.25", "0.25", "minimum", PriceOutcome.UNCHANGED),  # 0.25 − 0.25 = 0.00 < 0.25
        (0.1, "0.75", "0.25", None, PriceOutcome.LOWERED),  # exactly reaches the floor
        (0.7, "7.00", "6.00", "maximum", PriceOutcome.LOWERED),  # above caps after a policy change
    ],
)
def test_caps_at_both_ends(
    occupancy: float, price: str, new_price: str, capped: str | None, outcome: PriceOutcome
) -> None:
    change = decide(occupancy, price)
    assert change.new_price == Decimal(new_price)
    assert change.capped == capped
    assert change.outcome is outcome


def test_adjustment_period_holds_until_it_has_elapsed() -> None:
    last = NOW - timedelta(weeks=6) + timedelta(seconds=1)  # default period: 6 weeks
    held = decide(0.95, last_change_at=last)
    assert held.outcome is PriceOutcome.HELD
    assert held.new_price == held.old_price == Decimal("2.00")
    assert held.next_change_allowed_at == last + timedelta(weeks=6)
    assert "held" in held.reason

    due = decide(0.95, last_change_at=NOW - timedelta(weeks=6))
    assert due.outcome is PriceOutcome.RAISED
    assert due.new_price == Decimal("2.25")
    assert due.next_change_allowed_at == NOW + timedelta(weeks=6)


def test_a_judgement_without_change_does_not_restart_the_period() -> None:
    last = NOW - timedelta(weeks=10)
    kept = decide(0.7, last_change_at=last)
    assert kept.outcome is PriceOutcome.UNCHANGED
    assert kept.next_change_allowed_at == last + timedelta(weeks=6)
    assert decide(0.7).next_change_allowed_at is None


def test_custom_period_steps_and_caps() -> None:
    rules = PricingRules(
        step_up=Decimal("0.50"),
        step_down=Decimal("0.50"),
        big_step_down=Decimal("1.00"),
        minimum_price=Decimal("1.00"),
        maximum_price=Decimal("3.00"),
        currency="EUR",
        adjustment_period=timedelta(days=1),
    )
    assert decide(0.85, rules=rules).new_price == Decimal("2.50")
    assert decide(0.5, rules=rules).new_price == Decimal("1.50")
    assert decide(0.1, rules=rules).new_price == Decimal("1.00")  # 2.00 − 1.00, exactly the floor
    assert decide(0.1, "1.50", rules=rules).capped == "minimum"
    assert decide(0.85, last_change_at=NOW - timedelta(hours=23), rules=rules).outcome is PriceOutcome.HELD
    assert decide(0.85, last_change_at=NOW - timedelta(hours=24), rules=rules).outcome is PriceOutcome.RAISED


def test_no_occupancy_observed_holds_the_price() -> None:
    change = decide(None)
    assert change.outcome is PriceOutcome.HELD
    assert change.occupancy_band is None
    assert change.new_price == Decimal("2.00")


def test_change_record_carries_the_reason() -> None:
    change = decide(0.85, "5.90")
    assert change.reason == (
        "occupancy 85.00 % at or above the 80.00 % ceiling: step +0.25 USD, capped at the maximum of 6.00 USD; "
        "5.90 → 6.00 USD/h"
    )
    assert change.requested_step == Decimal("0.25")
    assert change.changed
    record = change.to_record()
    assert record["oldPrice"] == "5.90"
    assert record["newPrice"] == "6.00"
    assert record["capped"] == "maximum"
    assert record["occupancyBand"] == "above-target"
    assert record["outcome"] == "raised"
    assert record["observedOccupancy"] == 0.85
    assert record["decidedAt"] == "2026-03-02T12:00:00+00:00"
    assert "target band" in decide(0.7).reason
    assert decide(0.2).reason.startswith("occupancy 20.00 % below 30.00 %: step -0.50 USD")


def test_batch_decisions_keep_the_order() -> None:
    cells = [
        PriceCell("zone-a", "weekday-morning", 0.9, Decimal("1.00")),
        PriceCell("zone-b", "weekday-morning", 0.2, Decimal("1.00"), last_change_at=NOW - timedelta(days=1)),
    ]
    changes = recommend_prices(cells, now=NOW)
    assert [(c.zone_id, c.new_price, c.outcome) for c in changes] == [
        ("zone-a", Decimal("1.25"), PriceOutcome.RAISED),
        ("zone-b", Decimal("1.00"), PriceOutcome.HELD),
    ]


def test_money_is_decimal_cents_and_refuses_floats() -> None:
    assert money("1.005") == Decimal("1.01")  # half up
    assert money(2) == Decimal("2.00")
    with pytest.raises(TypeError):
        money(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        money("NaN")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        recommend_price("z", "b", 0.5, Decimal("1.00"), now=datetime(2026, 3, 2, 12, 0))  # noqa: DTZ001


def test_rules_are_validated() -> None:
    with pytest.raises(ValueError):
        PricingRules(lower_at=0.9)  # above raise_at
    with pytest.raises(ValueError):
        PricingRules(minimum_price=Decimal("7.00"))
    with pytest.raises(ValueError):
        PricingRules(step_up=0.25)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        occupancy_band(1.2)


def test_time_bands_in_local_time() -> None:
    # Monday 2 March 2026, Berlin is UTC+1: 08:30 UTC is 09:30 local → the morning band.
    assert band_at(datetime(2026, 3, 2, 8, 30, tzinfo=UTC), DEFAULT_TIME_BANDS, BERLIN).name == "weekday-morning"  # type: ignore[union-attr]
    # 07:59 UTC is 08:59 local: before any band.
    assert band_at(datetime(2026, 3, 2, 7, 59, tzinfo=UTC), DEFAULT_TIME_BANDS, BERLIN) is None
    # Summer (UTC+2): Monday 6 July 2026 10:00 UTC is 12:00 local → midday, the band boundary.
    assert band_at(datetime(2026, 7, 6, 10, 0, tzinfo=UTC), DEFAULT_TIME_BANDS, BERLIN).name == "weekday-midday"  # type: ignore[union-attr]
    # Saturday 7 March 2026 16:00 UTC is 17:00 local → weekend afternoon; 17:00 UTC (18:00) is after it.
    assert band_at(datetime(2026, 3, 7, 16, 0, tzinfo=UTC), DEFAULT_TIME_BANDS, BERLIN).name == "weekend-afternoon"  # type: ignore[union-attr]
    assert band_at(datetime(2026, 3, 7, 17, 0, tzinfo=UTC), DEFAULT_TIME_BANDS, BERLIN) is None
    with pytest.raises(ValueError):
        TimeBand("backwards", WEEKDAYS, time(18), time(9))


prices = st.decimals(min_value=Decimal("0.25"), max_value=Decimal("6.00"), places=2)
shares = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@given(price=prices, occupancy=shares)
def test_price_always_stays_within_caps(price: Decimal, occupancy: float) -> None:
    change = decide(occupancy, str(price))
    assert Decimal("0.25") <= change.new_price <= Decimal("6.00")
    assert abs(change.new_price - change.old_price) <= Decimal("0.50")


@given(price=prices, low=shares, high=shares)
def test_more_occupancy_never_lowers_the_new_price(price: Decimal, low: float, high: float) -> None:
    low, high = min(low, high), max(low, high)
    assert decide(low, str(price)).new_price <= decide(high, str(price)).new_price
