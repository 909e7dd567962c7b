"""The temporal service over real history tables, on SQLite and PostgreSQL.

Expected values are worked out by hand in the comments next to each case; the roll-up cases
compare answers computed from raw rows with answers computed from roll-ups.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import pytest
from history_builders import (
    FUEL,
    HOUR_US,
    MINUTE_US,
    OWNER,
    SPEED,
    STATUS,
    make_entity,
    quiet_context,
    series_id,
    us,
    write_bulk,
    write_history,
)
from sqlalchemy import text

from urbis.context.history import us_to_iso
from urbis.context.rollup import SAFETY_LAG_US, HistoryMaintenance
from urbis.context.service import ContextService, QueryParams
from urbis.context.temporal import (
    Aggregation,
    TemporalAnswer,
    TemporalQuery,
    TemporalRequest,
    TemporalService,
    instance_id,
    parse_aggregation,
    parse_temporal_query,
)
from urbis.core.db import Database
from urbis.core.errors import NotFound

T0 = us("2026-01-05T10:00:00Z")
ALL = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
NUMERIC = ("totalCount", "sum", "avg", "min", "max", "stddev", "sumsq")


@dataclass
class Env:
    db: Database
    tenant: str
    context: ContextService
    service: TemporalService  # roll-ups allowed
    raw: TemporalService  # raw rows only
    jobs: HistoryMaintenance
    last: int = 0

    def tick(self) -> int:
        """A ``recorded_at`` after every earlier one and after the roll-up watermark.

        The watermark is shared by every test on the same database, so rows are stamped with the
        wall clock (as the writer does), never with a made-up instant that could lie below it.
        """
        self.last = max(self.last + 1, int(time.time() * 1_000_000))
        return self.last

    def retrieve(self, entity_id: str, request: TemporalRequest, *, raw: bool = False) -> TemporalAnswer:
        return (self.raw if raw else self.service).retrieve(self.tenant, entity_id, request)

    def rollup_all(self) -> None:
        """Roll up everything recorded so far."""
        self.jobs.rollup(self.tick() + SAFETY_LAG_US + 1)
        self.last += 1  # the watermark is now self.last: later rows must be recorded after it


@pytest.fixture
def env(database: Database, tenant: str) -> Env:
    context = quiet_context(database, tenant)
    return Env(
        database,
        tenant,
        context,
        TemporalService(database, context, instance_limit=1000),
        TemporalService(database, context, instance_limit=1000, use_rollups=False),
        HistoryMaintenance(database, retention_days=0, interval_seconds=60),
    )


def six_readings(env: Env, entity_id: str = "urn:ngsi-ld:Vehicle:A") -> int:
    """10:00 10, 10:20 20, 10:40 30 | 11:00 40, 11:20 40, 11:40 70 (2026-01-05)."""
    make_entity(env.context, env.tenant, entity_id)
    points = [(T0 + m * MINUTE_US, v) for m, v in ((0, 10), (20, 20), (40, 30), (60, 40), (80, 40), (100, 70))]
    return write_history(env.db, env.tenant, entity_id, SPEED, points, recorded_us=env.tick())


def aggregates(answer: TemporalAnswer, attr: str = SPEED) -> dict[str, list[tuple[Any, int, int]]]:
    (entity,) = answer.entities
    found = [s for s in entity.series if s.attr_iri == attr]
    assert len(found) == 1, entity.series
    return found[0].aggregates


def aggregated(methods: tuple[str, ...], period: str | None, **temporal: Any) -> TemporalRequest:
    return TemporalRequest(
        temporal=parse_temporal_query(**temporal), aggregation=parse_aggregation(",".join(methods), period)
    )


# -- aggregation, worked out by hand ---------------------------------------------------------


def test_hourly_aggregation_of_six_readings(env: Env) -> None:
    six_readings(env)
    request = aggregated(
        ALL, "PT1H", timerel="between", time_at="2026-01-05T10:00:00Z", end_time_at="2026-01-05T12:00:00Z"
    )
    got = aggregates(env.retrieve("urn:ngsi-ld:Vehicle:A", request))
    h10, h11, h12 = T0, T0 + HOUR_US, T0 + 2 * HOUR_US
    # 10:00-11:00: 10, 20, 30 -> sum 60, mean 20, squares 100+400+900 = 1400,
    #              population variance 1400/3 - 20^2 = 200/3.
    # 11:00-12:00: 40, 40, 70 -> sum 150, mean 50, squares 1600+1600+4900 = 8100, variance 2700 - 2500 = 200.
    assert got["totalCount"] == [(3, h10, h11), (3, h11, h12)]
    assert got["distinctCount"] == [(3, h10, h11), (2, h11, h12)]
    assert got["sum"] == [(60.0, h10, h11), (150.0, h11, h12)]
    assert got["avg"] == [(20.0, h10, h11), (50.0, h11, h12)]
    assert got["min"] == [(10.0, h10, h11), (40.0, h11, h12)]
    assert got["max"] == [(30.0, h10, h11), (70.0, h11, h12)]
    assert got["sumsq"] == [(1400.0, h10, h11), (8100.0, h11, h12)]
    assert [v for v, _, _ in got["stddev"]] == pytest.approx([math.sqrt(200 / 3), math.sqrt(200)], rel=1e-12)


def test_whole_range_and_thirty_minute_periods(env: Env) -> None:
    six_readings(env)
    whole = aggregates(
        env.retrieve(
            "urn:ngsi-ld:Vehicle:A",
            aggregated(ALL, None, timerel="after", time_at="2026-01-05T09:30:00Z"),
        )
    )
    # One period from timeAt to the last instant: 6 values, 5 distinct, sum 210, mean 35,
    # squares 9500, variance 9500/6 - 35^2 = 1075/3.
    last = T0 + 100 * MINUTE_US
    start = T0 - 30 * MINUTE_US
    assert whole["totalCount"] == [(6, start, last)]
    assert whole["distinctCount"] == [(5, start, last)]
    assert whole["avg"] == [(35.0, start, last)]
    assert whole["sumsq"] == [(9500.0, start, last)]
    assert whole["stddev"][0][0] == pytest.approx(math.sqrt(1075 / 3), rel=1e-12)
    half = aggregates(env.retrieve("urn:ngsi-ld:Vehicle:A", aggregated(("avg",), "PT30M")))
    # No lower bound: periods start at the first instant (10:00). Empty periods are left out.
    m = MINUTE_US
    assert half["avg"] == [
        (15.0, T0, T0 + 30 * m),  # 10, 20
        (30.0, T0 + 30 * m, T0 + 60 * m),  # 30
        (40.0, T0 + 60 * m, T0 + 90 * m),  # 40, 40
        (70.0, T0 + 90 * m, T0 + 120 * m),  # 70
    ]


def test_periods_start_at_time_at_not_at_the_hour(env: Env) -> None:
    six_readings(env)
    got = aggregates(
        env.retrieve(
            "urn:ngsi-ld:Vehicle:A", aggregated(("avg", "max"), "PT1H", timerel="after", time_at="2026-01-05T09:50:00Z")
        )
    )
    # 09:50-10:50: 10, 20, 30 (mean 20, max 30); 10:50-11:50: 40, 40, 70 (mean 50, max 70).
    start = T0 - 10 * MINUTE_US
    assert got["avg"] == [(20.0, start, start + HOUR_US), (50.0, start + HOUR_US, start + 2 * HOUR_US)]
    assert got["max"] == [(30.0, start, start + HOUR_US), (70.0, start + HOUR_US, start + 2 * HOUR_US)]


def test_strings_and_relationships(env: Env) -> None:
    entity_id = "urn:ngsi-ld:Vehicle:S"
    make_entity(env.context, env.tenant, entity_id)
    write_history(
        env.db,
        env.tenant,
        entity_id,
        STATUS,
        [(T0, "parked"), (T0 + MINUTE_US, "moving"), (T0 + 2 * MINUTE_US, "parked"), (T0 + 3 * MINUTE_US, "broken")],
        recorded_us=env.tick(),
    )
    write_history(
        env.db,
        env.tenant,
        entity_id,
        OWNER,
        [
            (T0, "urn:ngsi-ld:Person:1"),
            (T0 + MINUTE_US, "urn:ngsi-ld:Person:2"),
            (T0 + 2 * MINUTE_US, "urn:ngsi-ld:Person:1"),
        ],
        recorded_us=env.tick(),
        kind="Relationship",
    )
    answer = env.retrieve(entity_id, aggregated(ALL, None))
    status = aggregates(answer, STATUS)
    end = T0 + 3 * MINUTE_US
    # Strings: 4 updates, 3 distinct, min/max in lexicographic order; no sum/avg/stddev/sumsq.
    assert status == {
        "totalCount": [(4, T0, end)],
        "distinctCount": [(3, T0, end)],
        "min": [("broken", T0, end)],
        "max": [("parked", T0, end)],
    }
    owner = aggregates(answer, OWNER)
    assert owner["totalCount"] == [(3, T0, end)]
    assert owner["distinctCount"] == [(2, T0, end)]
    (entity,) = answer.entities
    assert {s.attr_iri: s.attr_type for s in entity.series} == {STATUS: "Property", OWNER: "Relationship"}


# -- roll-ups give what raw rows give ----------------------------------------------------------


def three_days(env: Env, entity_id: str = "urn:ngsi-ld:Vehicle:R") -> list[tuple[int, int]]:
    """Three days of 1-minute integer readings from 2026-01-05T00:00Z (integers: sums are exact)."""
    make_entity(env.context, env.tenant, entity_id)
    start = us("2026-01-05T00:00:00Z")
    points = [(start + i * MINUTE_US, (i * 7919) % 101) for i in range(3 * 1440)]
    write_bulk(env.db, env.tenant, entity_id, SPEED, points, recorded_us=env.tick())
    write_bulk(env.db, env.tenant, entity_id, FUEL, points[::7], recorded_us=env.tick())
    return points


CASES = [
    # (methods, period, temporal query, roll-up source expected in the plan or None)
    (
        NUMERIC,
        "PT1H",
        {"timerel": "between", "time_at": "2026-01-05T00:00:00Z", "end_time_at": "2026-01-08T00:00:00Z"},
        "hourly",
    ),
    (NUMERIC, "P1D", {"timerel": "after", "time_at": "2026-01-05T00:00:00Z"}, "daily"),
    (
        NUMERIC,
        "PT2H",
        {"timerel": "between", "time_at": "2026-01-05T06:00:00Z", "end_time_at": "2026-01-06T18:30:00Z"},
        "hourly",
    ),
    (
        NUMERIC,
        None,
        {"timerel": "between", "time_at": "2026-01-05T03:17:00Z", "end_time_at": "2026-01-07T21:05:00Z"},
        "daily",
    ),
    (NUMERIC, "PT1H", {"timerel": "before", "time_at": "2026-01-06T12:00:00Z"}, "hourly"),
    (NUMERIC, "PT1H", {"timerel": "after", "time_at": "2026-01-05T00:30:00Z"}, None),  # origin not on the hour
    (NUMERIC, "PT15M", {}, None),  # periods shorter than an hour
    (ALL, "PT1H", {"timerel": "after", "time_at": "2026-01-05T00:00:00Z"}, None),  # distinctCount: raw only
]


@pytest.mark.parametrize(("methods", "period", "temporal", "source"), CASES)
def test_rollups_and_raw_rows_agree(
    env: Env, methods: tuple[str, ...], period: str | None, temporal: dict[str, str], source: str | None
) -> None:
    three_days(env)
    env.rollup_all()
    request = aggregated(methods, period, **temporal)
    from_rollups = env.retrieve("urn:ngsi-ld:Vehicle:R", request)
    from_raw = env.retrieve("urn:ngsi-ld:Vehicle:R", request, raw=True)
    used = {segment.source for segment in from_rollups.plan}
    if source is None:
        assert used == {"raw"}, from_rollups.plan
    else:
        assert source in used, from_rollups.plan
    assert {segment.source for segment in from_raw.plan} == {"raw"}
    for attr in (SPEED, FUEL):
        rolled, raw = aggregates(from_rollups, attr), aggregates(from_raw, attr)
        assert rolled.keys() == raw.keys() == set(methods)
        for method in methods:
            # Integer readings: sums are exact, so both ways agree to the last bit (stddev too,
            # as both compute it from the same count, sum and sum of squares).
            assert rolled[method] == raw[method], method


def test_rows_recorded_after_the_watermark_are_read_raw(env: Env) -> None:
    points = three_days(env)
    env.rollup_all()
    # A late message for the first day and a new reading arrive after the roll-up run.
    late = us("2026-01-05T10:30:30Z")
    write_history(env.db, env.tenant, "urn:ngsi-ld:Vehicle:R", SPEED, [(late, 1000)], recorded_us=env.tick())
    request = aggregated(("totalCount", "sum", "max"), "P1D", timerel="after", time_at="2026-01-05T00:00:00Z")
    rolled = aggregates(env.retrieve("urn:ngsi-ld:Vehicle:R", request))
    raw = aggregates(env.retrieve("urn:ngsi-ld:Vehicle:R", request, raw=True))
    assert rolled == raw
    day1 = [v for t, v in points if t < us("2026-01-06T00:00:00Z")]
    assert rolled["totalCount"][0][0] == 1441
    assert rolled["sum"][0][0] == sum(day1) + 1000
    assert rolled["max"][0][0] == 1000
    # The next run rolls the late row up; then the roll-ups alone give the same answer.
    env.rollup_all()
    again = env.retrieve("urn:ngsi-ld:Vehicle:R", request)
    assert [s.source for s in again.plan] == ["daily"]
    assert aggregates(again) == raw


def test_non_numeric_hours_are_read_raw_for_counts_and_extremes(env: Env) -> None:
    six_readings(env)
    # One non-numeric instance in the 11:00 hour (a sensor error string).
    write_history(
        env.db, env.tenant, "urn:ngsi-ld:Vehicle:A", SPEED, [(T0 + 90 * MINUTE_US, "error")], recorded_us=env.tick()
    )
    env.rollup_all()
    counts = aggregated(("totalCount", "max"), "PT1H", timerel="after", time_at="2026-01-05T10:00:00Z")
    answer = env.retrieve("urn:ngsi-ld:Vehicle:A", counts)
    assert {s.source for s in answer.plan} == {"raw"}
    # 11:00-12:00 holds 40, 40, "error", 70: four updates, numeric max 70.
    assert aggregates(answer)["totalCount"] == [(3, T0, T0 + HOUR_US), (4, T0 + HOUR_US, T0 + 2 * HOUR_US)]
    assert aggregates(answer)["max"][1][0] == 70.0
    means = aggregated(("avg",), "PT1H", timerel="after", time_at="2026-01-05T10:00:00Z")
    answer = env.retrieve("urn:ngsi-ld:Vehicle:A", means)
    assert "hourly" in {s.source for s in answer.plan}
    assert aggregates(answer)["avg"] == [(20.0, T0, T0 + HOUR_US), (50.0, T0 + HOUR_US, T0 + 2 * HOUR_US)]


def test_rollups_answer_after_raw_rows_are_gone(env: Env) -> None:
    three_days(env)
    env.rollup_all()
    request = aggregated(
        ("avg", "max", "totalCount"),
        "P1D",
        timerel="between",
        time_at="2026-01-05T00:00:00Z",
        end_time_at="2026-01-08T00:00:00Z",
    )
    before = aggregates(env.retrieve("urn:ngsi-ld:Vehicle:R", request))
    with env.db.write() as conn:  # what retention does to old months
        conn.execute(
            text("DELETE FROM history WHERE series_id IN (:a, :b)"),
            {
                "a": series_id(env.db, env.tenant, "urn:ngsi-ld:Vehicle:R", SPEED),
                "b": series_id(env.db, env.tenant, "urn:ngsi-ld:Vehicle:R", FUEL),
            },
        )
    after = env.retrieve("urn:ngsi-ld:Vehicle:R", request)
    assert [s.source for s in after.plan] == ["daily"]
    assert aggregates(after) == before
    # Without timeAt the first period starts at the first rolled-up hour.
    whole = aggregates(env.retrieve("urn:ngsi-ld:Vehicle:R", aggregated(("totalCount",), None)))
    assert whole["totalCount"][0][:2] == (3 * 1440, us("2026-01-05T00:00:00Z"))


# -- instances -------------------------------------------------------------------------------


def instants(answer: TemporalAnswer, attr: str = SPEED) -> list[int]:
    (entity,) = answer.entities
    return [time for s in entity.series if s.attr_iri == attr for time, _, _ in s.instances]


def instances(**temporal: Any) -> TemporalRequest:
    return TemporalRequest(temporal=parse_temporal_query(**temporal))


def test_time_relations_and_their_boundaries(env: Env) -> None:
    sid = six_readings(env)
    m = MINUTE_US
    cases = [
        ({}, [0, 20, 40, 60, 80, 100]),
        ({"timerel": "before", "time_at": "2026-01-05T10:40:00Z"}, [0, 20]),  # before: exclusive
        ({"timerel": "after", "time_at": "2026-01-05T10:40:00Z"}, [40, 60, 80, 100]),  # after: inclusive
        (
            {"timerel": "between", "time_at": "2026-01-05T10:20:00Z", "end_time_at": "2026-01-05T11:20:00Z"},
            [20, 40, 60],
        ),
        ({"last_n": "2"}, [80, 100]),
        ({"timerel": "before", "time_at": "2026-01-05T11:00:00Z", "last_n": "2"}, [20, 40]),
        ({"timerel": "after", "time_at": "2026-01-05T12:00:00Z"}, []),
    ]
    for temporal, minutes in cases:
        answer = env.retrieve("urn:ngsi-ld:Vehicle:A", instances(**temporal))
        assert instants(answer) == [T0 + k * m for k in minutes], temporal
        assert answer.content_range is None
    answer = env.retrieve("urn:ngsi-ld:Vehicle:A", instances(last_n="1"))
    (entity,) = answer.entities
    (series,) = entity.series
    _, observed, instance = series.instances[0]
    assert instance["value"] == 70
    assert instance_id(sid, observed) == f"urn:ngsi-ld:Instance:{sid}-{T0 + 100 * m}"


def test_truncation_cuts_every_attribute_at_one_instant(env: Env) -> None:
    entity_id = "urn:ngsi-ld:Vehicle:T"
    make_entity(env.context, env.tenant, entity_id)
    m = MINUTE_US
    write_history(env.db, env.tenant, entity_id, SPEED, [(T0 + i * m, i) for i in range(8)], recorded_us=env.tick())
    write_history(
        env.db, env.tenant, entity_id, FUEL, [(T0 + (i + 2) * m, i) for i in range(8)], recorded_us=env.tick()
    )
    small = TemporalService(env.db, env.context, instance_limit=5)
    answer = small.retrieve(env.tenant, entity_id, instances())
    # speed 10:00..10:07, fuel 10:02..10:09; 5 each at most: speed ends at 10:04, fuel at 10:06;
    # the answer ends at the earlier, 10:04, for both.
    assert instants(answer, SPEED) == [T0 + i * m for i in range(5)]
    assert instants(answer, FUEL) == [T0 + i * m for i in (2, 3, 4)]
    assert answer.content_range is not None
    assert answer.content_range.header() == "date-time 2026-01-05T10:00:00Z-2026-01-05T10:04:00Z/*"
    # After 10:01: the range starts at timeAt.
    answer = small.retrieve(env.tenant, entity_id, instances(timerel="after", time_at="2026-01-05T10:01:00Z"))
    assert answer.content_range is not None
    assert answer.content_range.header() == "date-time 2026-01-05T10:01:00Z-2026-01-05T10:05:00Z/*"
    # lastN=7 counts from the newest: speed 10:07..10:03, fuel 10:09..10:05 -> 5 each; the answer goes
    # back to the later of the two, 10:05, for both.
    answer = small.retrieve(env.tenant, entity_id, instances(last_n="7"))
    assert instants(answer, SPEED) == [T0 + i * m for i in (5, 6, 7)]
    assert instants(answer, FUEL) == [T0 + i * m for i in range(5, 10)]
    assert answer.content_range is not None
    assert answer.content_range.header() == "date-time 2026-01-05T10:09:00Z-2026-01-05T10:05:00Z/7"
    # lastN within the limit: nothing is cut.
    answer = small.retrieve(env.tenant, entity_id, instances(last_n="5"))
    assert answer.content_range is None
    assert instants(answer, FUEL) == [T0 + i * m for i in range(5, 10)]


def test_too_many_periods_are_cut(env: Env) -> None:
    six_readings(env)
    small = TemporalService(env.db, env.context, instance_limit=1000, period_limit=3)
    answer = small.retrieve(env.tenant, "urn:ngsi-ld:Vehicle:A", aggregated(("totalCount",), "PT20M"))
    # 10:00 .. 11:40 needs 6 periods of 20 minutes; 3 fit: 10:00-11:00.
    assert aggregates(answer)["totalCount"] == [
        (1, T0, T0 + 20 * MINUTE_US),
        (1, T0 + 20 * MINUTE_US, T0 + 40 * MINUTE_US),
        (1, T0 + 40 * MINUTE_US, T0 + 60 * MINUTE_US),
    ]
    assert answer.content_range is not None
    assert answer.content_range.header() == "date-time 2026-01-05T10:00:00Z-2026-01-05T11:00:00Z/*"


def test_datasets_attrs_and_missing_entities(env: Env) -> None:
    six_readings(env)
    write_history(
        env.db,
        env.tenant,
        "urn:ngsi-ld:Vehicle:A",
        SPEED,
        [(T0, 99)],
        recorded_us=env.tick(),
        dataset_id="urn:ngsi-ld:Dataset:gps",
    )
    write_history(env.db, env.tenant, "urn:ngsi-ld:Vehicle:A", FUEL, [(T0, 50)], recorded_us=env.tick())
    everything = env.retrieve("urn:ngsi-ld:Vehicle:A", instances())
    (entity,) = everything.entities
    assert sorted((s.attr_iri, s.dataset_id, len(s.instances)) for s in entity.series) == [
        (FUEL, "", 1),
        (SPEED, "", 6),
        (SPEED, "urn:ngsi-ld:Dataset:gps", 1),
    ]
    only = env.retrieve(
        "urn:ngsi-ld:Vehicle:A",
        TemporalRequest(attrs=frozenset({SPEED}), dataset_ids=frozenset({"urn:ngsi-ld:Dataset:gps"})),
    )
    (entity,) = only.entities
    assert [(s.attr_iri, s.dataset_id) for s in entity.series] == [(SPEED, "urn:ngsi-ld:Dataset:gps")]
    with pytest.raises(NotFound):
        env.retrieve("urn:ngsi-ld:Vehicle:nobody", instances())


def test_query_selects_entities_through_the_context_service(env: Env) -> None:
    six_readings(env, "urn:ngsi-ld:Vehicle:A")
    six_readings(env, "urn:ngsi-ld:Vehicle:B")
    make_entity(env.context, env.tenant, "urn:ngsi-ld:Bus:C", "https://uri.etsi.org/ngsi-ld/default-context/Bus")
    answer = env.service.query(
        env.tenant,
        QueryParams(type="Vehicle", limit=10, count=True),
        lambda term: "https://uri.etsi.org/ngsi-ld/default-context/" + term,
        TemporalRequest(temporal=TemporalQuery(), aggregation=Aggregation(("totalCount",))),
    )
    assert answer.total == 2
    assert [(e.entity["id"], aggregates(TemporalAnswer([e]))["totalCount"][0][0]) for e in answer.entities] == [
        ("urn:ngsi-ld:Vehicle:A", 6),
        ("urn:ngsi-ld:Vehicle:B", 6),
    ]


def test_tenants_do_not_see_each_other(env: Env, database: Database) -> None:
    six_readings(env)
    other = env.tenant + "x"
    other_context = quiet_context(database, other)
    make_entity(other_context, other, "urn:ngsi-ld:Vehicle:A")
    write_history(database, other, "urn:ngsi-ld:Vehicle:A", SPEED, [(T0, 1)], recorded_us=env.tick())
    mine = env.retrieve("urn:ngsi-ld:Vehicle:A", instances())
    theirs = TemporalService(database, other_context, instance_limit=100).retrieve(
        other, "urn:ngsi-ld:Vehicle:A", instances()
    )
    assert len(instants(mine)) == 6
    assert instants(theirs) == [T0]


# -- lean hourly means ------------------------------------------------------------------------


def test_hourly_means_worked_by_hand_with_an_empty_hour_and_a_series_without_data(env: Env) -> None:
    six_readings(env)  # 10:00-10:40 → (10 + 20 + 30) / 3 = 20; 11:00-11:40 → (40 + 40 + 70) / 3 = 50
    write_history(env.db, env.tenant, "urn:ngsi-ld:Vehicle:A", FUEL, [(T0 - 5 * HOUR_US, 1)], recorded_us=env.tick())
    entity = env.context.get_entity(env.tenant, "urn:ngsi-ld:Vehicle:A")
    found = env.raw.hourly_means(env.tenant, [entity], frozenset({SPEED, FUEL}), T0, 3)
    means = {series.attr_iri: series.means for series in found}
    assert means == {SPEED: [20.0, 50.0, None], FUEL: [None, None, None]}
    # A start off the hour: hours counted from it (10:30-11:30 holds 30, 40, 40).
    (speed,) = env.raw.hourly_means(env.tenant, [entity], frozenset({SPEED}), T0 + 30 * MINUTE_US, 2)
    assert speed.means == [pytest.approx(110 / 3), 70.0]


@pytest.mark.parametrize("start", ["2026-01-05T00:00:00Z", "2026-01-05T05:30:00Z"])
def test_hourly_means_match_the_aggregated_history_from_rollups_and_raw_rows(env: Env, start: str) -> None:
    three_days(env)
    env.rollup_all()
    late = us("2026-01-06T10:30:30Z")  # recorded after the roll-up run: read raw for its hour on
    write_history(env.db, env.tenant, "urn:ngsi-ld:Vehicle:R", SPEED, [(late, 1000)], recorded_us=env.tick())
    entity = env.context.get_entity(env.tenant, "urn:ngsi-ld:Vehicle:R")
    hours = 60
    begin = us(start)
    request = aggregated(
        ("avg",), "PT1H", timerel="between", time_at=start, end_time_at=us_to_iso(begin + hours * HOUR_US)
    )
    for service in (env.service, env.raw):
        expected = aggregates(service.retrieve(env.tenant, "urn:ngsi-ld:Vehicle:R", request))["avg"]
        (speed,) = [s for s in service.hourly_means(env.tenant, [entity], frozenset({SPEED}), begin, hours)]
        slots: list[float | None] = [None] * hours
        for value, period_start, _ in expected:
            slots[(period_start - begin) // HOUR_US] = value
        assert speed.means == pytest.approx(slots)
        assert sum(value is not None for value in speed.means) > 40
