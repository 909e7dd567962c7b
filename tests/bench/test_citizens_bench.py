"""The citizens benchmark end to end on a tiny city, on both databases."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from urbis.bench.citizens import run_citizens_bench


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_tiny_run_measures_every_operation_against_its_baseline(backend: str, postgres_url: str) -> None:
    output = io.StringIO()
    admin = postgres_url.rsplit("/", 1)[0] + "/postgres"
    rows = run_citizens_bench(
        backends=[backend],
        postgres_admin_url=admin,
        reports=40,
        posts=10,
        reads=3,
        ballots=5,
        console=Console(file=output, width=200),
    )
    assert rows[0].what == "Open311 POST requests"
    assert rows[0].count == 10
    assert len(rows) == 8
    assert all(row.rate > 0 and row.p95_ms >= row.p50_ms > 0 for row in rows)
    assert rows[0].ratio is not None and rows[-1].ratio is not None
    text = output.getvalue()
    assert "urbis bench citizens" in text and "GET requests within 500 m" in text
