"""Operational endpoints: ``/healthz``, ``/metrics`` (Prometheus) and ``/version``."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import text
from starlette.responses import JSONResponse, Response

import urbis
from urbis.web.ngsild.common import call
from urbis.web.params import json_response

router = APIRouter(tags=["system"])


class HttpMetrics:
    """Request counts and latencies in a registry owned by one app (tests build many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "urbis_http_requests", "HTTP requests served", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "urbis_http_request_seconds",
            "Time to answer HTTP requests",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )

    def install(self, app: FastAPI) -> None:
        """Measure every request by its route template (not its raw path, to keep labels few)."""

        @app.middleware("http")
        async def measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            start = time.perf_counter()
            status = 500  # an unhandled error leaves here as an exception; the outer handler answers 500
            try:
                response = await call_next(request)
                status = response.status_code
            finally:
                route = request.scope.get("route")
                template = getattr(route, "path", "unmatched")
                self.latency.labels(request.method, template).observe(time.perf_counter() - start)
                self.requests.labels(request.method, template, str(status)).inc()
            return response


@router.get("/healthz", summary="Liveness and database check")
async def healthz(request: Request) -> Response:
    """200 when the database answers, 503 otherwise."""

    def ping() -> None:
        with request.app.state.db.read() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await call(ping)
    except Exception as exc:  # noqa: BLE001 - any database failure means "unhealthy"
        return JSONResponse({"status": "unhealthy", "database": str(exc.__class__.__name__)}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "version": urbis.__version__})


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request) -> Response:
    """Metrics in the Prometheus text format."""
    registry: CollectorRegistry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/version", summary="Broker version")
async def version() -> Response:
    """Name and version, for clients that probe the broker's vendor."""
    return JSONResponse({"broker": "urbis", "version": urbis.__version__, "ngsi-ld": "1.8"})


@router.get("/api/v1/solutions/status", summary="How the city solutions are running in this process")
async def solutions_status(request: Request) -> Response:
    """Per solution: whether this process runs it, runs and failures, the last run's duration and lag."""
    return json_response([runner.describe() for runner in request.app.state.solution_runners])
