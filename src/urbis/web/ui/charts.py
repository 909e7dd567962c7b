"""The charts page: a week or a month of the city in six charts, each drawn from its JSON twin, each with a CSV.

The page itself is a light frame (headings, the 7/30 days switch, a canvas per chart naming its
JSON twin in ``data-src``): the series are computed when the charts ask for them, together,
so a month of a large city never holds the page back.
"""

from __future__ import annotations

from babel.dates import get_day_names
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from urbis.core.errors import NotFound
from urbis.dashboard.charts import CHART_NAMES, WINDOW_DAYS, ChartSeries, ChartService, parse_days, parse_month
from urbis.web.params import json_response
from urbis.web.ui.common import ViewerDep, csv_response, render

router = APIRouter(prefix="/dashboard/charts", include_in_schema=False)


def charts_of(request: Request) -> ChartService:
    """The app's chart service (one per app: what it keeps is shared by every request)."""
    service: ChartService = request.app.state.charts
    return service


async def _series(request: Request, tenant: str, name: str) -> ChartSeries:
    if name not in CHART_NAMES:
        raise NotFound(f"no chart {name!r:.40}; the charts are {', '.join(CHART_NAMES)}")
    charts = charts_of(request)
    month = parse_month(request.query_params.get("month"))
    if month is not None:
        # A calendar month (the monthly report's charts): its complete days.
        return await run_in_threadpool(charts.series_in, tenant, name, charts.month(month))
    days = parse_days(request.query_params.get("days"))
    return await run_in_threadpool(charts.series, tenant, name, days)


@router.get("")
async def charts_page(request: Request, viewer: ViewerDep) -> Response:
    """The six charts of the last 7 or 30 days (``?days=``), each with a summary and a CSV link."""
    days = parse_days(request.query_params.get("days"))
    window = charts_of(request).window(days)
    weekdays = get_day_names("abbreviated", locale=viewer.language)
    context = {
        "window": window,
        "days": days,
        "choices": WINDOW_DAYS,
        "names": CHART_NAMES,
        "weekday_names": [weekdays[n] for n in range(7)],
    }
    return render(request, "charts.html", viewer, context)


@router.get("/{name}.json")
async def chart_json(request: Request, viewer: ViewerDep, name: str) -> Response:
    """One chart's series (``?days=7|30`` or ``?month=YYYY-MM``), as its canvas draws it."""
    series = await _series(request, viewer.tenant, name)
    return json_response(series.to_json())


@router.get("/{name}.csv")
async def chart_csv(request: Request, viewer: ViewerDep, name: str) -> Response:
    """One chart's series as a table (``?days=7|30`` or ``?month=YYYY-MM``)."""
    series = await _series(request, viewer.tenant, name)
    header, rows = series.table()
    window = series.window
    return csv_response(f"{name}-{window.first.isoformat()}-{window.last.isoformat()}.csv", header, rows)
