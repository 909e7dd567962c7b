"""The temporal API's service: the history of entities over time, as instances or aggregated.

Entities are selected through :class:`~urbis.context.service.ContextService`
(its query API: type, id, idPattern, q, geo-queries, paging), then the history
of their attributes is read from the ``history`` tables (see
:mod:`urbis.context.history`).

Two ways of answering:

- **instances** (normalized, concise, temporalValues): the instances of each
  attribute in the time range, at most ``instance_limit`` per attribute.  When
  an attribute has more, the answer is cut at one instant for every attribute
  alike and :class:`ContentRange` says which part was returned (HTTP 206).
- **aggregated** (aggregatedValues): ``GROUP BY`` buckets in SQL.  Buckets are
  ``[origin + k*period, origin + (k+1)*period)``; the origin is ``timeAt`` when
  the range has a lower bound, else the first instant any selected attribute
  has (so the answer does not depend on whether roll-ups exist).  Whole UTC
  hours and days inside the range are read from ``history_rollup`` when the
  roll-up job has covered them, raw rows everywhere else; both give the same
  numbers (see :meth:`TemporalService.plan`).

Times inside are µs since the epoch (int), as in the history tables.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, bindparam, select, text

from urbis.context.history import history_series, history_watermark
from urbis.context.model import Entity, Instance, parse_datetime
from urbis.context.service import ContextService, QueryParams
from urbis.core.db import Database
from urbis.core.errors import BadRequestData, OperationNotSupported

Expand = Callable[[str], str]

US = 1_000_000
HOUR_US = 3600 * US
DAY_US = 86400 * US
#: Roll-up periods in seconds, as stored in ``history_rollup.period_s``.
HOURLY = 3600
DAILY = 86400
#: ``period_s`` of the marker rows the roll-up job writes for hours that also hold non-numeric
#: instances (``count`` = how many).  Numeric roll-ups cannot answer totalCount, min or max for
#: such hours, so the planner reads raw rows there.
HOURLY_OTHER = -3600
#: Name of the roll-up job's row in ``history_watermark``.
ROLLUP_WATERMARK = "rollup"

AGGREGATION_METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
TIME_PROPERTIES = ("observedAt", "createdAt", "modifiedAt", "deletedAt")
#: The most instances one response carries in all: with many attributes and entities the
#: per-attribute limit shrinks so that one request never loads millions of rows.
MAX_INSTANCES_PER_RESPONSE = 100_000
#: Aggregation periods per attribute in one answer (at least): a year of hourly values fits.
MAX_PERIODS = 10_000
#: The longest aggregation period accepted (1000 years of 365 days, in µs).
MAX_PERIOD_US = 1000 * 365 * 86400 * US
#: Series per SQL statement (keeps IN lists and bound parameters small on both backends).
CHUNK = 500

_DURATION = re.compile(
    r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,6})?)S)?)?$"
)

Timerel = Literal["before", "after", "between"]


# -- request model -------------------------------------------------------------------------


@dataclass(frozen=True)
class TemporalQuery:
    """The temporal part of a request: which instants, by which time property, how many."""

    timerel: Timerel | None = None
    time_at: int | None = None
    end_time_at: int | None = None
    timeproperty: str = "observedAt"
    last_n: int | None = None

    @property
    def lower(self) -> int | None:
        """Inclusive lower bound (µs), if any: ``after`` and ``between`` include ``timeAt``."""
        return self.time_at if self.timerel in ("after", "between") else None

    @property
    def upper(self) -> int | None:
        """Exclusive upper bound (µs), if any: ``before`` excludes ``timeAt``, ``between`` ``endTimeAt``."""
        if self.timerel == "before":
            return self.time_at
        if self.timerel == "between":
            return self.end_time_at
        return None

    @property
    def column(self) -> str:
        """The ``history`` column the time property is read from.

        ``observedAt`` is ``observed_at`` (observedAt, else modifiedAt of the instance).
        History instances are never changed once recorded, so an instance's ``createdAt`` and
        ``modifiedAt`` in the temporal evolution are both the time Urbis recorded it:
        ``recorded_at``.
        """
        return "observed_at" if self.timeproperty == "observedAt" else "recorded_at"


@dataclass(frozen=True)
class Aggregation:
    """``aggrMethods`` and ``aggrPeriodDuration`` (µs; 0 = the whole time range)."""

    methods: tuple[str, ...]
    period_us: int = 0


@dataclass(frozen=True)
class TemporalRequest:
    """Everything the service needs besides the entity selection."""

    temporal: TemporalQuery = TemporalQuery()
    attrs: frozenset[str] | None = None  # expanded attribute IRIs
    dataset_ids: frozenset[str] | None = None  # "@none" names the default instance
    aggregation: Aggregation | None = None


def _time(value: Any, name: str) -> int:
    if not isinstance(value, str):
        raise BadRequestData(f"'{name}' must be an ISO 8601 date-time string, got {value!r:.80}")
    moment = parse_datetime(value, name)
    return int(moment.timestamp()) * US + moment.microsecond


def parse_temporal_query(
    timerel: Any = None,
    time_at: Any = None,
    end_time_at: Any = None,
    timeproperty: Any = None,
    last_n: Any = None,
) -> TemporalQuery:
    """Check and convert the temporal query members (query parameters or a ``temporalQ`` object).

    Every problem is a BadRequestData: ``timerel`` without ``timeAt`` (or the reverse),
    ``between`` without a later ``endTimeAt``, an unknown ``timeproperty``, a ``lastN`` that is
    not a positive integer.  ``deletedAt`` is refused: history keeps no deletions.
    """
    if timerel is not None and timerel not in ("before", "after", "between"):
        raise BadRequestData(f"timerel must be before, after or between, got {timerel!r:.40}")
    if timerel is None and time_at is not None:
        raise BadRequestData("timeAt needs timerel (before, after or between)")
    if timerel is not None and time_at is None:
        raise BadRequestData(f"timerel={timerel} needs timeAt")
    at = _time(time_at, "timeAt") if time_at is not None else None
    end = None
    if timerel == "between":
        if end_time_at is None:
            raise BadRequestData("timerel=between needs endTimeAt")
        end = _time(end_time_at, "endTimeAt")
        if at is not None and end <= at:
            raise BadRequestData("endTimeAt must be later than timeAt")
    elif end_time_at is not None:
        _time(end_time_at, "endTimeAt")  # still a date-time, even where it is not used
    prop = "observedAt" if timeproperty is None else timeproperty
    if prop not in TIME_PROPERTIES:
        raise BadRequestData(f"timeproperty must be one of {', '.join(TIME_PROPERTIES)}, got {prop!r:.40}")
    if prop == "deletedAt":
        raise BadRequestData("timeproperty=deletedAt is not supported: history keeps no deleted instances")
    n = None
    if last_n is not None:
        if isinstance(last_n, str) and last_n.isascii() and last_n.isdigit():
            n = int(last_n)
        elif isinstance(last_n, int) and not isinstance(last_n, bool):
            n = last_n
        else:
            raise BadRequestData(f"lastN must be a positive integer, got {last_n!r:.40}")
        if n < 1:
            raise BadRequestData(f"lastN must be a positive integer, got {n}")
    return TemporalQuery(timerel, at, end, prop, n)  # type: ignore[arg-type]


def parse_duration(raw: Any) -> int:
    """An ISO 8601 duration (``PT1H``, ``P1D``, ``PT15M``, ``P1W``, ``PT0S``) in µs.

    Years and months have no fixed length: a non-zero Y or M (before T) is refused with
    OperationNotSupported.  A zero duration means the whole time range.
    """
    if not isinstance(raw, str):
        raise BadRequestData(f"aggrPeriodDuration must be an ISO 8601 duration string, got {raw!r:.60}")
    match = _DURATION.match(raw)
    if match is None:
        raise BadRequestData(f"aggrPeriodDuration must be an ISO 8601 duration such as PT1H or P1D, got {raw!r:.60}")
    years, months, weeks, days, hours, minutes, seconds = match.groups()
    if int(years or 0) or int(months or 0):
        raise OperationNotSupported(
            f"aggrPeriodDuration {raw!r:.60}: years and months have no fixed length; use days or weeks"
        )
    whole = ((int(weeks or 0) * 7 + int(days or 0)) * 24 + int(hours or 0)) * 3600 + int(minutes or 0) * 60
    fraction = seconds or "0"
    secs, _, micros = fraction.partition(".")
    period = (whole + int(secs)) * US + int((micros + "000000")[:6])
    if period > MAX_PERIOD_US:  # beyond any history, and beyond 64-bit µs arithmetic in SQL
        raise BadRequestData(f"aggrPeriodDuration {raw!r:.60} is longer than 1000 years")
    return period


def parse_aggregation(methods: Any, duration: Any) -> Aggregation:
    """``aggrMethods`` (comma-separated string or list of strings) and ``aggrPeriodDuration``."""
    if methods is None:
        raise BadRequestData("aggregatedValues needs aggrMethods (e.g. aggrMethods=avg,max)")
    if isinstance(methods, str):
        names = [m.strip() for m in methods.split(",") if m.strip()]
    elif isinstance(methods, list) and all(isinstance(m, str) for m in methods):
        names = [n.strip() for m in methods for n in m.split(",") if n.strip()]
    else:
        raise BadRequestData("aggrMethods must be a comma-separated list of aggregation methods")
    if not names:
        raise BadRequestData("aggrMethods names no aggregation method")
    unknown = [m for m in names if m not in AGGREGATION_METHODS]
    if unknown:
        raise BadRequestData(
            f"aggrMethods: unknown method(s) {', '.join(unknown)[:200]}; allowed: {', '.join(AGGREGATION_METHODS)}"
        )
    period = 0 if duration is None else parse_duration(duration)
    return Aggregation(tuple(dict.fromkeys(names)), period)


# -- results -------------------------------------------------------------------------------


def instance_id(series_id: int, observed_us: int) -> str:
    """The stable id of a history instance: its series and its instant."""
    return f"urn:ngsi-ld:Instance:{series_id}-{observed_us}"


def iso(value_us: int) -> str:
    """A UTC date-time with no more fractional digits than needed (``2020-08-01T12:03:00Z``)."""
    moment = datetime.fromtimestamp(value_us // US, tz=UTC)
    micros = value_us % US
    base = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"  # %Y would not pad years before 1000
    if micros == 0:
        return base + "Z"
    if micros % 1000 == 0:
        return f"{base}.{micros // 1000:03d}Z"
    return f"{base}.{micros:06d}Z"


@dataclass
class SeriesResult:
    """The history of one attribute instance (one datasetId) of one entity."""

    series_id: int
    attr_iri: str
    dataset_id: str  # "" for the default instance
    attr_type: str
    #: (time by the requested time property, observedAt key, instance), oldest first
    instances: list[tuple[int, int, Instance]] = field(default_factory=list)
    #: method -> [(value, period start, period end)], oldest first
    aggregates: dict[str, list[tuple[Any, int, int]]] = field(default_factory=dict)


@dataclass
class TemporalEntity:
    """One entity (its current id, type and system times) and the history of its attributes."""

    entity: Entity
    series: list[SeriesResult]


@dataclass(frozen=True)
class ContentRange:
    """Which time range a truncated answer covers (``Content-Range: date-time <start>-<end>/<size>``)."""

    start_us: int
    end_us: int
    size: int | None = None

    def header(self) -> str:
        """The header value."""
        return f"date-time {iso(self.start_us)}-{iso(self.end_us)}/{'*' if self.size is None else self.size}"


@dataclass(frozen=True)
class Segment:
    """A part of the aggregated time range and where it is read from."""

    source: Literal["raw", "hourly", "daily"]
    start: int | None
    end: int | None


@dataclass
class TemporalAnswer:
    """The entities with their history, the total (``count``), and the truncation if any."""

    entities: list[TemporalEntity]
    total: int | None = None
    content_range: ContentRange | None = None
    #: how an aggregation was read (raw rows and roll-ups); empty for instances
    plan: list[Segment] = field(default_factory=list)


@dataclass(frozen=True)
class HourlySeries:
    """One attribute instance's hourly means: ``means[i]`` is hour ``i`` of the range (None: no data)."""

    entity_id: str
    attr_iri: str
    dataset_id: str  # "" for the default instance
    means: list[float | None]


@dataclass(slots=True)
class _Bucket:
    """Partial aggregates of one bucket of one series (raw rows and roll-ups combine exactly)."""

    total: int = 0
    count: int = 0  # numeric values
    sum: float = 0.0
    sumsq: float = 0.0
    min: float | None = None
    max: float | None = None
    text_min: str | None = None
    text_max: str | None = None
    distinct: int = 0

    def add(self, total: int, count: int, s: Any, sq: Any, lo: Any, hi: Any) -> None:
        self.total += int(total)
        self.count += int(count or 0)
        if count:
            self.sum += float(s)
            self.sumsq += float(sq)
            self.min = float(lo) if self.min is None else min(self.min, float(lo))
            self.max = float(hi) if self.max is None else max(self.max, float(hi))

    def add_text(self, lo: str | None, hi: str | None) -> None:
        if lo is not None and (self.text_min is None or lo < self.text_min):
            self.text_min = lo
        if hi is not None and (self.text_max is None or hi > self.text_max):
            self.text_max = hi

    def value(self, method: str) -> Any:
        if method == "totalCount":
            return self.total
        if method == "distinctCount":
            return self.distinct
        if method == "min":
            return self.min if self.count else self.text_min
        if method == "max":
            return self.max if self.count else self.text_max
        if not self.count:
            return None  # not applicable to non-numeric values (clause 4.5.19)
        if method == "sum":
            return self.sum
        if method == "sumsq":
            return self.sumsq
        mean = self.sum / self.count
        if method == "avg":
            return mean
        # Population standard deviation from the running sums (what roll-ups keep).
        return math.sqrt(max(self.sumsq / self.count - mean * mean, 0.0))


# -- the service ---------------------------------------------------------------------------


class TemporalService:
    """Reads the history of entities: instances, truncation and aggregation."""

    def __init__(
        self,
        db: Database,
        context: ContextService,
        *,
        instance_limit: int,
        period_limit: int | None = None,
        use_rollups: bool = True,
    ):
        """Read history through ``context``'s entity selection.

        ``instance_limit``: most instances per attribute in one answer; ``period_limit``: most
        aggregation periods (default: ``instance_limit`` but at least :data:`MAX_PERIODS`).
        """
        self.db = db
        self.context = context
        self.instance_limit = instance_limit
        self.period_limit = period_limit if period_limit is not None else max(instance_limit, MAX_PERIODS)
        self.use_rollups = use_rollups

    # -- entry points ----------------------------------------------------------------------

    def retrieve(self, tenant: str, entity_id: str, request: TemporalRequest) -> TemporalAnswer:
        """The temporal evolution of one entity; NotFound if it does not exist."""
        entity = self.context.get_entity(tenant, entity_id)
        return self._history(tenant, [entity], request)

    def query(
        self,
        tenant: str,
        params: QueryParams,
        expand: Expand,
        request: TemporalRequest,
        *,
        allow_unfiltered: bool = False,
    ) -> TemporalAnswer:
        """The temporal evolution of the entities a query selects (one page of them)."""
        found, total = self.context.query(tenant, params, expand, allow_unfiltered=allow_unfiltered)
        answer = self._history(tenant, found, request)
        answer.total = total
        return answer

    def history_of(self, tenant: str, entities: Sequence[Entity], request: TemporalRequest) -> TemporalAnswer:
        """The temporal evolution of entities already selected (in that order)."""
        return self._history(tenant, list(entities), request)

    def hourly_means(
        self, tenant: str, entities: Sequence[Entity], attrs: frozenset[str], start_us: int, hours: int
    ) -> list[HourlySeries]:
        """Every series' hourly means of numeric values over ``hours`` hours from ``start_us``.

        The same figures as ``aggrMethods=avg`` with ``aggrPeriodDuration=PT1H`` over that range,
        read lean for solutions that recompute a whole city's indices: one value slot per hour
        (None without data), from the hourly roll-ups wherever :meth:`plan` allows (a start on
        the hour) and raw rows elsewhere, with no per-bucket objects.  Series without data in
        the range are included.
        """
        if hours <= 0:
            raise ValueError("hourly means span at least one hour")
        end_us = start_us + hours * HOUR_US
        aggregation = Aggregation(("avg",), HOUR_US)
        request = TemporalRequest(
            temporal=TemporalQuery(timerel="between", time_at=start_us, end_time_at=end_us),
            attrs=attrs,
            aggregation=aggregation,
        )
        raw = text(
            "SELECT series_id, (observed_at - :origin) / :period AS k, SUM(value_num), COUNT(value_num) FROM history "
            "WHERE series_id IN :ids AND observed_at >= :start AND observed_at < :end GROUP BY series_id, k"
        ).bindparams(bindparam("ids", expanding=True))
        rolled = text(
            'SELECT series_id, (bucket_start - :origin) / :period AS k, "sum", "count" FROM history_rollup '
            f"WHERE series_id IN :ids AND period_s = {HOURLY} AND bucket_start >= :start AND bucket_start < :end"
        ).bindparams(bindparam("ids", expanding=True))
        with self.db.read() as conn:
            found = self._series(conn, tenant, list(entities), request)
            out: list[HourlySeries] = []
            slots: dict[int, list[float | None]] = {}
            for entity_id, group in found.items():
                for series in group:
                    item = HourlySeries(entity_id, series.attr_iri, series.dataset_id, [None] * hours)
                    out.append(item)
                    slots[series.series_id] = item.means
            ids = list(slots)
            segments = self.plan(conn, ids, aggregation, request.temporal, start_us, end_us) if ids else []
            for segment in segments:
                sql = raw if segment.source == "raw" else rolled
                params = {"origin": start_us, "period": HOUR_US, "start": segment.start, "end": segment.end}
                for i in range(0, len(ids), CHUNK):
                    # The segments do not overlap: each (series, hour) comes from exactly one row.
                    for sid, k, total, count in conn.execute(sql, {**params, "ids": ids[i : i + CHUNK]}).fetchall():
                        if count:
                            slots[sid][int(k)] = float(total) / int(count)
        return out

    def numeric_readings(
        self, tenant: str, entities: Sequence[Entity], attr: str, start_us: int, end_us: int
    ) -> dict[str, list[tuple[int, float]]]:
        """Every entity's numeric values of ``attr`` (default instance) observed in ``[start_us, end_us)``, oldest first.

        Raw rows, read lean and whole (no instance limit): for solutions that need every reading of
        a counter, such as energy meters, where a truncated answer would be a wrong figure.
        """
        request = TemporalRequest(
            temporal=TemporalQuery(timerel="between", time_at=start_us, end_time_at=end_us),
            attrs=frozenset({attr}),
        )
        sql = text(
            "SELECT series_id, observed_at, value_num FROM history WHERE series_id IN :ids "
            "AND observed_at >= :start AND observed_at < :end AND value_num IS NOT NULL ORDER BY series_id, observed_at"
        ).bindparams(bindparam("ids", expanding=True))
        out: dict[str, list[tuple[int, float]]] = {}
        with self.db.read() as conn:
            owners = {
                series.series_id: entity_id
                for entity_id, group in self._series(conn, tenant, list(entities), request).items()
                for series in group
                if not series.dataset_id
            }
            ids = list(owners)
            for i in range(0, len(ids), CHUNK):
                params = {"ids": ids[i : i + CHUNK], "start": start_us, "end": end_us}
                for series_id, observed_us, value in conn.execute(sql, params):
                    out.setdefault(owners[series_id], []).append((int(observed_us), float(value)))
        return out

    # -- series ----------------------------------------------------------------------------

    def _history(self, tenant: str, entities: list[Entity], request: TemporalRequest) -> TemporalAnswer:
        with self.db.read() as conn:
            series = self._series(conn, tenant, entities, request)
            flat = [s for group in series.values() for s in group]
            if request.aggregation is not None:
                content_range, plan = self._aggregate(conn, flat, request)
            else:
                content_range, plan = self._instances(conn, flat, request), []
            self._fill_types(conn, entities, series)
        out = []
        for entity in entities:
            kept = [s for s in series.get(entity["id"], []) if s.instances or s.aggregates]
            out.append(TemporalEntity(entity, kept))
        return TemporalAnswer(out, content_range=content_range, plan=plan)

    @staticmethod
    def _series(
        conn: Connection, tenant: str, entities: list[Entity], request: TemporalRequest
    ) -> dict[str, list[SeriesResult]]:
        c = history_series.c
        found: dict[str, list[SeriesResult]] = {}
        ids = [e["id"] for e in entities]
        for start in range(0, len(ids), CHUNK):
            query = select(c.series_id, c.entity_id, c.attr_iri, c.dataset_id).where(
                c.tenant == tenant, c.entity_id.in_(ids[start : start + CHUNK])
            )
            if request.attrs is not None:
                query = query.where(c.attr_iri.in_(sorted(request.attrs)))
            for series_id, entity_id, attr_iri, dataset_id in conn.execute(query):
                if request.dataset_ids is not None and (dataset_id or "@none") not in request.dataset_ids:
                    continue
                found.setdefault(entity_id, []).append(SeriesResult(series_id, attr_iri, dataset_id, ""))
        for group in found.values():
            group.sort(key=lambda s: (s.attr_iri, s.dataset_id))
        return found

    def _fill_types(self, conn: Connection, entities: list[Entity], series: dict[str, list[SeriesResult]]) -> None:
        """The attribute type of each series: from its instances, the entity, else its newest row."""
        unknown: list[SeriesResult] = []
        by_id = {e["id"]: e for e in entities}
        for entity_id, group in series.items():
            attrs = by_id[entity_id]["attrs"]
            for s in group:
                if s.instances:
                    s.attr_type = s.instances[-1][2].get("type", "Property")
                    continue
                current = next(
                    (i for i in attrs.get(s.attr_iri, ()) if (i.get("datasetId") or "") == s.dataset_id), None
                )
                if current is not None:
                    s.attr_type = current.get("type", "Property")
                elif s.aggregates:
                    unknown.append(s)
        for s in unknown:  # attributes the entity no longer has: rare, one indexed row each
            row = conn.execute(
                text("SELECT instance FROM history WHERE series_id = :sid ORDER BY observed_at DESC LIMIT 1"),
                {"sid": s.series_id},
            ).first()
            s.attr_type = orjson.loads(row[0]).get("type", "Property") if row else "Property"

    # -- per-series edge rows ------------------------------------------------------------

    def _edge_rows(
        self,
        conn: Connection,
        series_ids: Sequence[int],
        columns: str,
        column: str,
        lower: int | None,
        upper: int | None,
        limit: int,
        *,
        descending: bool,
        table: str = "history",
        extra: str = "",
    ) -> dict[int, list[Any]]:
        """The first (or last) ``limit`` rows of each series in ``[lower, upper)`` by ``column``.

        One index range scan per series: on PostgreSQL in one statement (LATERAL), on SQLite one
        statement per series (in-process, no round trip).
        """
        conditions = [f"{column} >= :lower"] if lower is not None else []
        if upper is not None:
            conditions.append(f"{column} < :upper")
        if extra:
            conditions.append(extra)
        where = "".join(f" AND {c}" for c in conditions)
        order = f"{column} DESC" if descending else column
        if column == "recorded_at":  # not unique within a series: make the order total
            order += ", observed_at DESC" if descending else ", observed_at"
        params: dict[str, Any] = {"lower": lower, "upper": upper, "n": limit}
        out: dict[int, list[Any]] = {}
        if self.db.is_postgres:
            sql = text(
                f"SELECT s.id, h.* FROM unnest(CAST(:ids AS integer[])) AS s(id) CROSS JOIN LATERAL "
                f"(SELECT {columns} FROM {table} WHERE series_id = s.id{where} ORDER BY {order} LIMIT :n) AS h"
            )
            for start in range(0, len(series_ids), CHUNK):
                chunk = list(series_ids[start : start + CHUNK])
                for row in conn.execute(sql, {**params, "ids": chunk}):
                    out.setdefault(row[0], []).append(tuple(row[1:]))
            return out
        sql = text(f"SELECT {columns} FROM {table} WHERE series_id = :sid{where} ORDER BY {order} LIMIT :n")
        for series_id in series_ids:
            rows = [tuple(r) for r in conn.execute(sql, {**params, "sid": series_id})]
            if rows:
                out[series_id] = rows
        return out

    # -- instances -------------------------------------------------------------------------

    def _instances(self, conn: Connection, series: list[SeriesResult], request: TemporalRequest) -> ContentRange | None:
        if not series:
            return None
        temporal = request.temporal
        limit = max(1, min(self.instance_limit, MAX_INSTANCES_PER_RESPONSE // len(series)))
        last_n = temporal.last_n
        fetch = min(last_n, limit + 1) if last_n is not None else limit + 1
        column = temporal.column
        time_index = 0 if column == "observed_at" else 1
        rows = self._edge_rows(
            conn,
            [s.series_id for s in series],
            "observed_at, recorded_at, instance",
            column,
            temporal.lower,
            temporal.upper,
            fetch,
            descending=last_n is not None,
        )
        fetched: dict[int, list[tuple[int, int, Instance]]] = {
            sid: [(r[time_index], r[0], orjson.loads(r[2])) for r in found] for sid, found in rows.items()
        }
        truncated = {sid: found for sid, found in fetched.items() if len(found) > limit}
        content_range = None
        if truncated:
            if last_n is None:
                # Oldest first: the answer ends where the first attribute ran out of room.
                cut = min(found[limit - 1][0] for found in truncated.values())
                for sid, found in fetched.items():
                    fetched[sid] = [row for row in found[:limit] if row[0] <= cut]
                start = temporal.lower
                if start is None:
                    start = min(found[0][0] for found in fetched.values() if found)
                content_range = ContentRange(start, cut)
            else:
                # lastN counts from the newest: the answer ends (going back) where room ran out.
                cut = max(found[limit - 1][0] for found in truncated.values())
                for sid, found in fetched.items():
                    fetched[sid] = [row for row in found[:limit] if row[0] >= cut]
                start = temporal.upper
                if start is None:
                    start = max(found[0][0] for found in fetched.values() if found)
                content_range = ContentRange(start, cut, last_n)
        for s in series:
            found = fetched.get(s.series_id, [])
            if last_n is not None:
                found.reverse()
            s.instances = found
        return content_range

    # -- aggregation -----------------------------------------------------------------------

    def _watermark(self, conn: Connection) -> int | None:
        row = conn.execute(
            select(history_watermark.c.recorded_at).where(history_watermark.c.name == ROLLUP_WATERMARK)
        ).first()
        return None if row is None else int(row[0])

    def _extent(self, conn: Connection, ids: list[int], temporal: TemporalQuery, *, last: bool) -> int | None:
        """The first (or last) instant any of the series has in the time range.

        Raw rows decide, except where retention has dropped them: an hour that is only left as a
        roll-up counts from its start (first) or up to its end (last).
        """
        column = temporal.column
        lower, upper = temporal.lower, temporal.upper
        raw = self._edge_rows(conn, ids, column, column, lower, upper, 1, descending=last)
        edges = [int(rows[0][0]) for rows in raw.values()]
        best = (max(edges) if last else min(edges)) if edges else None
        if column != "observed_at":
            return best
        rolled = self._edge_rows(
            conn,
            ids,
            "bucket_start",
            "bucket_start",
            None if lower is None else _floor(lower, HOUR_US),
            upper,
            1,
            descending=last,
            table="history_rollup",
            extra=f"period_s = {HOURLY}",
        )
        hours = [int(rows[0][0]) for rows in rolled.values()]
        if not hours:
            return best
        if last:
            if best is not None:  # the newest data is raw unless retention took the whole range
                return best
            end = max(hours) + HOUR_US - 1
            return end if upper is None else min(end, upper - 1)
        first = min(hours)
        if best is None or first + HOUR_US <= best:  # an hour before the oldest raw row
            return first if lower is None else max(first, lower)
        return best

    def plan(
        self,
        conn: Connection,
        ids: list[int],
        aggregation: Aggregation,
        temporal: TemporalQuery,
        origin: int,
        upper: int | None,
    ) -> list[Segment]:
        """Split ``[origin, upper)`` into parts read from raw rows and parts read from roll-ups.

        Roll-ups (hourly ``R = 1 h``, daily ``R = 1 d``) are used only where they give exactly what
        raw rows give: every roll-up bucket must fall inside one aggregation period (the period is
        a multiple of ``R`` and the origin is aligned to ``R``, or there is one period only), the
        roll-up job must have seen every raw row of those buckets (nothing recorded after the
        watermark), distinctCount is never rolled up, and totalCount/min/max only where no
        non-numeric instance was rolled past.
        """
        everything = [Segment("raw", origin, upper)]
        if (
            not self.use_rollups
            or temporal.column != "observed_at"
            or "distinctCount" in aggregation.methods
            or not ids
        ):
            return everything
        period = aggregation.period_us
        hourly_ok = period == 0 or (period % HOUR_US == 0 and origin % HOUR_US == 0)
        daily_ok = period == 0 or (period % DAY_US == 0 and origin % DAY_US == 0)
        if not hourly_ok:
            return everything
        watermark = self._watermark(conn)
        if watermark is None:
            return everything
        a_h = _ceil(origin, HOUR_US)
        b_h = None if upper is None else _floor(upper, HOUR_US)
        stale = self._stale_from(conn, ids, watermark, a_h, b_h)
        if stale is not None:
            cut = _floor(stale, HOUR_US)
            b_h = cut if b_h is None else min(b_h, cut)
        if b_h is not None and b_h <= a_h:
            return everything
        if {"totalCount", "min", "max"} & set(aggregation.methods) and self._has_other(conn, ids, a_h, b_h):
            return everything
        segments = [Segment("raw", origin, a_h)] if origin < a_h else []
        a_d = _ceil(a_h, DAY_US)
        b_d = None if b_h is None else _floor(b_h, DAY_US)
        if daily_ok and (b_d is None or a_d < b_d):
            if a_h < a_d:
                segments.append(Segment("hourly", a_h, a_d))
            segments.append(Segment("daily", a_d, b_d))
            if b_d is not None and b_h is not None and b_d < b_h:
                segments.append(Segment("hourly", b_d, b_h))
        else:
            segments.append(Segment("hourly", a_h, b_h))
        if b_h is not None and (upper is None or b_h < upper):
            segments.append(Segment("raw", b_h, upper))
        return segments

    def _stale_from(self, conn: Connection, ids: list[int], watermark: int, start: int, end: int | None) -> int | None:
        """The earliest instant in ``[start, end)`` of any row of these series recorded after the watermark.

        SQLite walks the ``recorded_at`` index (only the rows written since the last roll-up run).
        On PostgreSQL that index is a BRIN, which is cheap to keep but only as selective as its
        summaries are fresh, so the series' own range is scanned instead: still far less work than
        aggregating it, and no planner guesswork.
        """
        bound = "" if end is None else " AND observed_at < :end"
        hint = "" if self.db.is_postgres else " INDEXED BY ix_history_recorded"
        sql = text(
            f"SELECT MIN(observed_at) FROM history{hint} WHERE recorded_at > :wm AND series_id IN :ids "
            f"AND observed_at >= :start{bound}"
        ).bindparams(bindparam("ids", expanding=True))
        params = {"wm": watermark, "start": start, "end": end}
        found = [conn.execute(sql, {**params, "ids": ids[i : i + CHUNK]}).scalar() for i in range(0, len(ids), CHUNK)]
        known = [int(v) for v in found if v is not None]
        return min(known) if known else None

    def _has_other(self, conn: Connection, ids: list[int], start: int, end: int | None) -> bool:
        """Whether any of these series has non-numeric instances rolled up in ``[start, end)``."""
        bound = "" if end is None else " AND bucket_start < :end"
        sql = text(
            f"SELECT 1 FROM history_rollup WHERE series_id IN :ids AND period_s = {HOURLY_OTHER} "
            f"AND bucket_start >= :start{bound} LIMIT 1"
        ).bindparams(bindparam("ids", expanding=True))
        return any(
            conn.execute(sql, {"ids": ids[i : i + CHUNK], "start": start, "end": end}).first() is not None
            for i in range(0, len(ids), CHUNK)
        )

    def _aggregate(
        self, conn: Connection, series: list[SeriesResult], request: TemporalRequest
    ) -> tuple[ContentRange | None, list[Segment]]:
        aggregation = request.aggregation
        assert aggregation is not None
        temporal = request.temporal
        ids = [s.series_id for s in series]
        if not ids:
            return None, []
        period = aggregation.period_us
        lower, upper = temporal.lower, temporal.upper
        if (
            lower is not None
            and upper is not None
            and (period == 0 or -(-(upper - lower) // period) <= self.period_limit)
        ):
            # A closed range that holds few enough periods decides everything by itself: finding
            # each series' first and last instant (one index probe per series) would change nothing.
            first, last = lower, upper - 1
        else:
            found_first = self._extent(conn, ids, temporal, last=False)
            found_last = self._extent(conn, ids, temporal, last=True)
            if found_first is None or found_last is None:
                return None, []  # no history at all in the range
            first, last = found_first, found_last
        origin = lower if lower is not None else first
        content_range = None
        if period > 0:
            # Periods between the first and the last instant (empty ones before or after do not count).
            k_first, k_last = (first - origin) // period, (last - origin) // period
            if k_last - k_first + 1 > self.period_limit:
                # Too many periods for one answer: the first period_limit of them, flagged with 206.
                upper = origin + (k_first + self.period_limit) * period
                content_range = ContentRange(origin + k_first * period, upper)
        segments = self.plan(conn, ids, aggregation, temporal, origin, upper)
        buckets: dict[tuple[int, int], _Bucket] = {}
        for segment in segments:
            if segment.source == "raw":
                self._raw_buckets(conn, ids, aggregation, temporal.column, origin, segment, buckets)
            else:
                self._rollup_buckets(conn, ids, aggregation, origin, segment, buckets)
        whole_end = upper if upper is not None else last
        by_series: dict[int, list[tuple[int, _Bucket]]] = {}
        for (sid, k), bucket in buckets.items():
            by_series.setdefault(sid, []).append((k, bucket))
        methods = aggregation.methods
        for s in series:
            out: dict[str, list[tuple[Any, int, int]]] = {method: [] for method in methods}
            found = by_series.get(s.series_id, [])
            found.sort(key=_first)
            for k, bucket in found:
                start = origin + k * period
                end = start + period if period > 0 else whole_end
                if methods == ("avg",) and bucket.count:  # the common case, without the dispatch
                    out["avg"].append((bucket.sum / bucket.count, start, end))
                    continue
                for method in methods:
                    value = bucket.value(method)
                    if value is not None:
                        out[method].append((value, start, end))
            s.aggregates = {method: values for method, values in out.items() if values}
        return content_range, segments

    def _raw_buckets(
        self,
        conn: Connection,
        ids: list[int],
        aggregation: Aggregation,
        column: str,
        origin: int,
        segment: Segment,
        buckets: dict[tuple[int, int], _Bucket],
    ) -> None:
        period = aggregation.period_us
        methods = set(aggregation.methods)
        k = f"({column} - :origin) / :period" if period > 0 else "0"
        conditions = ["series_id IN :ids"]
        if segment.start is not None:
            conditions.append(f"{column} >= :start")
        if segment.end is not None:
            conditions.append(f"{column} < :end")
        extra = []
        texts = bool({"min", "max"} & methods)
        distinct = "distinctCount" in methods
        if self.db.is_postgres:
            source = "(SELECT series_id, observed_at, recorded_at, value_num"
            source += ", instance::jsonb AS j" if texts or distinct else ""
            source += f" FROM history WHERE {' AND '.join(conditions)}) AS h"
            if texts:
                text_value = (
                    "CASE WHEN value_num IS NULL AND jsonb_typeof(j -> 'value') = 'string' THEN j ->> 'value' END"
                )
                extra += [f"MIN({text_value})", f"MAX({text_value})"]
            if distinct:
                members = ", ".join(f"(j -> '{m}')::text" for m in _VALUE_MEMBERS)
                extra.append(f"COUNT(DISTINCT COALESCE(value_num::text, {members}))")
            where = ""
        else:
            source = "history"
            if texts:
                text_value = (
                    "CASE WHEN value_num IS NULL AND json_type(instance, '$.value') = 'text' "
                    "THEN json_extract(instance, '$.value') END"
                )
                extra += [f"MIN({text_value})", f"MAX({text_value})"]
            if distinct:
                members = ", ".join(f"instance -> '$.{m}'" for m in _VALUE_MEMBERS)
                extra.append(f"COUNT(DISTINCT COALESCE(CAST(value_num AS TEXT), {members}))")
            where = f" WHERE {' AND '.join(conditions)}"
        columns = ", ".join(
            [
                "series_id",
                f"{k} AS k",
                "COUNT(*)",
                "COUNT(value_num)",
                "SUM(value_num)",
                "SUM(value_num * value_num)",
                "MIN(value_num)",
                "MAX(value_num)",
                *extra,
            ]
        )
        sql = text(f"SELECT {columns} FROM {source}{where} GROUP BY series_id, k").bindparams(
            bindparam("ids", expanding=True)
        )
        params = {"origin": origin, "period": period, "start": segment.start, "end": segment.end}
        for i in range(0, len(ids), CHUNK):
            for row in conn.execute(sql, {**params, "ids": ids[i : i + CHUNK]}).fetchall():
                bucket = buckets.setdefault((row[0], int(row[1])), _Bucket())
                bucket.add(row[2], row[3], row[4], row[5], row[6], row[7])
                position = 8
                if texts:
                    bucket.add_text(row[8], row[9])
                    position = 10
                if distinct:
                    bucket.distinct = int(row[position])

    def _rollup_buckets(
        self,
        conn: Connection,
        ids: list[int],
        aggregation: Aggregation,
        origin: int,
        segment: Segment,
        buckets: dict[tuple[int, int], _Bucket],
    ) -> None:
        period = aggregation.period_us
        k = "(bucket_start - :origin) / :period" if period > 0 else "0"
        bound = "" if segment.end is None else " AND bucket_start < :end"
        sql = text(
            f'SELECT series_id, {k} AS k, SUM("count"), SUM("sum"), SUM(sumsq), MIN("min"), MAX("max") '
            f"FROM history_rollup WHERE series_id IN :ids AND period_s = :p AND bucket_start >= :start{bound} "
            "GROUP BY series_id, k"
        ).bindparams(bindparam("ids", expanding=True))
        params = {
            "origin": origin,
            "period": period,
            "p": HOURLY if segment.source == "hourly" else DAILY,
            "start": segment.start,
            "end": segment.end,
        }
        for i in range(0, len(ids), CHUNK):
            # fetchall: one driver call for the whole answer (iterating fetches row by row, 3x slower).
            for sid, kk, count, s, sq, lo, hi in conn.execute(sql, {**params, "ids": ids[i : i + CHUNK]}).fetchall():
                # Roll-ups count numeric instances only; plan() reads raw rows wherever a marker says an
                # hour held others and totalCount, min or max is asked for.
                key = (sid, int(kk))
                bucket = buckets.get(key)
                if bucket is None:
                    # Most buckets come from one roll-up row: fill it directly (a hundred thousand a read).
                    n = int(count or 0)
                    buckets[key] = _Bucket(n, n, float(s), float(sq), float(lo), float(hi)) if n else _Bucket()
                else:
                    bucket.add(count, count, s, sq, lo, hi)


#: Members holding an instance's value, by attribute type (distinctCount compares these).
_VALUE_MEMBERS = ("value", "object", "languageMap", "json", "vocab", "valueList", "objectList")


def _first(item: tuple[int, _Bucket]) -> int:
    return item[0]


def _floor(value: int, unit: int) -> int:
    return value - value % unit


def _ceil(value: int, unit: int) -> int:
    return -(-value // unit) * unit
