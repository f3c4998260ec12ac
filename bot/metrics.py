"""Prometheus metrics (optional: served only when ``metrics.port`` is set).

One private registry, so a test or a second bot in the same process never collides with
the global default. Counters move where things happen (the daily job, the sender); the
subscriber gauge is computed from the store at scrape time, so it cannot drift.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["Metrics"]

log = logging.getLogger(__name__)


class Metrics:
    """The bot's metrics: alerts by kind, deliveries by outcome, job duration, staleness."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.alerts = Counter(
            "corrbot_alerts_total", "Alerts recorded, by kind", ["kind"], registry=self.registry
        )
        self.deliveries = Counter(
            "corrbot_deliveries_total",
            "Delivery attempts by outcome (sent, retry, failed, deactivated, migrated, merged)",
            ["outcome"],
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "corrbot_job_duration_seconds",
            "Duration of the daily job",
            buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
            registry=self.registry,
        )
        self.job_runs = Counter(
            "corrbot_job_runs_total",
            "Daily job runs by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.staleness = Gauge(
            "corrbot_data_staleness_sessions",
            "NYSE sessions the newest price lags behind the newest expected one",
            ["symbol"],
            registry=self.registry,
        )
        self.subscribers = Gauge(
            "corrbot_active_subscribers", "Chats receiving alerts", registry=self.registry
        )

    def count_subscribers_with(self, counter: Callable[[], int]) -> None:
        """Compute the subscriber gauge from the store at each scrape."""
        self.subscribers.set_function(lambda: float(counter()))

    def serve(self, port: int, address: str) -> None:
        """Expose ``/metrics`` on ``address:port`` (a daemon thread)."""
        start_http_server(port, addr=address, registry=self.registry)
        log.info("metrics served on %s:%d", address, port, extra={"event": "metrics.started"})
