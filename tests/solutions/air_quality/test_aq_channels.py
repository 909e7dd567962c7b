"""A/B laser channels and the humidity correction of low-cost PM, before screening (values worked by hand)."""

from __future__ import annotations

import pytest

from urbis.solutions.air_quality.const import Pollutant, pollutant_spec
from urbis.solutions.air_quality.model import (
    BARKJOHN_2021_US,
    CheckedValue,
    PreparedHour,
    QcFlag,
    prepare_pm_hours,
    screen_series,
)

A = [10.0, 10.0, None, 30.0, None]
B = [12.0, 30.0, 8.0, 31.0, None]


def test_channels_are_averaged_and_their_disagreement_flagged() -> None:
    hours = prepare_pm_hours(channel_a=A, channel_b=B, single=[99.0] * 5)  # the channels decide
    assert hours == [
        # |10 − 12| = 2 ≤ 5 µg/m³: they agree.
        PreparedHour(11.0, (), 11.0, 10.0, 12.0),
        # |10 − 30| = 20 > 5 and 20 / 20 = 100 % > 70 %: they disagree (the mean is kept, flagged).
        PreparedHour(20.0, (QcFlag.CHANNEL_DISAGREEMENT,), 20.0, 10.0, 30.0),
        PreparedHour(8.0, (QcFlag.CHANNEL_MISSING,), 8.0, None, 8.0),
        PreparedHour(30.5, (), 30.5, 30.0, 31.0),
        PreparedHour(None, (), None, None, None),  # neither reported: missing, not flagged
    ]


def test_low_cost_pm25_is_corrected_with_the_humidity_of_its_hour() -> None:
    hours = prepare_pm_hours(channel_a=A, channel_b=B, humidity_percent=[50.0, 50.0, 50.0, None, 50.0])
    # Barkjohn 2021: 0.524 · PA − 0.0862 · RH + 5.75; at RH 50 that is 0.524 · PA + 1.44.
    assert hours[0].value == pytest.approx(0.524 * 11.0 + 1.44)  # 7.204
    assert hours[0].value == pytest.approx(7.204)
    assert (hours[0].raw, hours[0].relative_humidity, hours[0].method, hours[0].flags) == (
        11.0,
        50.0,
        BARKJOHN_2021_US,
        (),
    )
    # The channels' flags stay with the corrected value.
    assert hours[1].value == pytest.approx(11.92) and hours[1].flags == (QcFlag.CHANNEL_DISAGREEMENT,)
    assert hours[2].value == pytest.approx(5.632) and hours[2].flags == (QcFlag.CHANNEL_MISSING,)
    # No humidity that hour: the raw value is kept, flagged, and not corrected.
    assert (hours[3].value, hours[3].method, hours[3].flags) == (30.5, None, (QcFlag.HUMIDITY_MISSING,))
    assert hours[4].value is None and hours[4].flags == ()


def test_a_single_value_is_corrected_and_an_impossible_humidity_flagged() -> None:
    # 0.524 · 20 − 0.0862 · 50 + 5.75 = 11.92; at RH 105 %: 0.524 · 20 − 9.051 + 5.75 = 7.179, flagged.
    good, humid = prepare_pm_hours(single=[20.0, 20.0], humidity_percent=[50.0, 105.0])
    assert good.value == pytest.approx(11.92) and good.flags == ()
    assert humid.value == pytest.approx(7.179) and humid.flags == (QcFlag.HUMIDITY_OUT_OF_RANGE,)
    # Clean, humid air drives the correction below zero: 0.524 · 2 − 0.0862 · 95 + 5.75 = −1.391.
    (negative,) = prepare_pm_hours(single=[2.0], humidity_percent=[95.0])
    assert negative.value == pytest.approx(-1.391) and negative.flags == (QcFlag.NEGATIVE_AFTER_CORRECTION,)
    # Without a humidity series the value passes as reported.
    assert prepare_pm_hours(single=[20.0]) == [PreparedHour(20.0, (), 20.0)]


def test_series_must_have_one_value_per_hour() -> None:
    with pytest.raises(ValueError, match="one value per hour"):
        prepare_pm_hours(channel_a=[1.0], channel_b=[1.0, 2.0])


def test_screening_keeps_earlier_flags_and_leaves_those_readings_out_of_the_spike_test() -> None:
    values: list[float | None] = [10.0, 10.5, 9.5, 300.0, 10.0, 10.5, 9.5]
    spec = pollutant_spec(Pollutant.PM25)
    # Alone, 300 is a spike.
    assert screen_series(values, spec)[3].flags == (QcFlag.SPIKE,)
    prior: list[tuple[QcFlag, ...]] = [(), (), (), (QcFlag.CHANNEL_DISAGREEMENT,), (), (), ()]
    checked = screen_series(values, spec, prior_flags=prior)
    assert checked[3] == CheckedValue(300.0, (QcFlag.CHANNEL_DISAGREEMENT,))
    assert all(item.usable for n, item in enumerate(checked) if n != 3)
    # A negative corrected value is also out of range.
    assert screen_series([-1.0], spec, prior_flags=[(QcFlag.NEGATIVE_AFTER_CORRECTION,)])[0].flags == (
        QcFlag.NEGATIVE_AFTER_CORRECTION,
        QcFlag.OUT_OF_RANGE,
    )
    with pytest.raises(ValueError, match="one entry per reading"):
        screen_series(values, spec, prior_flags=[()])
