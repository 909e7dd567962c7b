"""Prometheus metrics of notification delivery and the live event stream (served on ``/metrics``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from urbis.context.subscriptions.live import LiveEvents
from urbis.context.subscriptions.service import SubscriptionService


class NotificationMetrics:
    """A collector reading the service's totals when scraped (nothing to update on the hot path)."""

    def __init__(self, service: SubscriptionService, live: LiveEvents) -> None:
        self.service = service
        self.live = live

    def collect(self) -> Iterator[Any]:
        """The current values, in the Prometheus collector protocol."""
        stats = self.service.stats()
        sent = CounterMetricFamily("urbis_notifications_sent", "Notification delivery attempts (retries included)")
        sent.add_metric([], stats["sent"])
        yield sent
        failed = CounterMetricFamily("urbis_notifications_failed", "Notification delivery attempts that failed")
        failed.add_metric([], stats["failed"])
        yield failed
        dropped = CounterMetricFamily("urbis_notifications_dropped", "Notifications dropped because the queue was full")
        dropped.add_metric([], stats["dropped"])
        yield dropped
        yield GaugeMetricFamily(
            "urbis_notifications_queued", "Notifications waiting for delivery", value=stats["queued"]
        )
        yield GaugeMetricFamily(
            "urbis_event_streams", "Open live event streams (/api/v1/events)", value=self.live.count()
        )
