"""The worker's Prometheus metrics, served by the worker itself on
LEADS_WEBHOOKS_METRICS_PORT (the web server's /metrics is another process's).

Attempts and ended deliveries are counted by the worker that made them (add them up over
the workers). The queue's size and age are read from the database at each scrape, so every
worker reports the same values (take their max).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from leads.db.pool import ConnectionPool, DatabaseUnavailable

logger = logging.getLogger("leads.webhooks")

ATTEMPTS = Counter(
    "leads_webhook_attempts",
    "Delivery attempts, by result: delivered (2xx), status (another status), timeout, "
    "connection (no answer), refused (the URL's host resolved to a forbidden address).",
    ["result"],
)
ATTEMPT_DURATION = Histogram(
    "leads_webhook_attempt_duration_seconds",
    "Time an attempt took, from resolving the host to the end of the answer read.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DELIVERIES = Counter(
    "leads_webhook_deliveries",
    "Deliveries that ended, by outcome: delivered, or failed after 24 hours of retries.",
    ["outcome"],
)


def observe_attempt(result: str, duration: float, state: str) -> None:
    """Count an attempt, and its delivery when the attempt ended it."""
    ATTEMPTS.labels(result).inc()
    ATTEMPT_DURATION.observe(duration)
    if state != "pending":
        DELIVERIES.labels(state).inc()


class QueueCollector(Collector):
    """The deliveries waiting for a worker, read from the database when scraped."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Registering a collector calls describe(), or else collect(): no query then.
        yield from self._families(None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            queue = self._pool.run_alone("webhook_queue", {})[0]
        except DatabaseUnavailable as error:
            logger.warning("metrics: database unavailable: %s", error)
            return
        yield from self._families(queue)

    @staticmethod
    def _families(queue: dict | None) -> Iterator[GaugeMetricFamily]:
        pending = GaugeMetricFamily(
            "leads_webhook_deliveries_pending",
            "Deliveries waiting for an attempt (retries included; not those of disabled webhooks).",
        )
        oldest = GaugeMetricFamily(
            "leads_webhook_oldest_pending_age_seconds",
            "Age of the oldest delivery waiting for an attempt (0 when none waits).",
        )
        if queue is not None:
            pending.add_metric([], queue["pending"])
            oldest.add_metric([], queue["oldest_age"])
        yield pending
        yield oldest


class MetricsServer:
    """The worker's /metrics (any path, as prometheus_client serves it), on a thread."""

    def __init__(self, pool: ConnectionPool, host: str, port: int) -> None:
        self._collector = QueueCollector(pool)
        REGISTRY.register(self._collector)
        try:
            self._server, self._thread = start_http_server(port, addr=host)
        except OSError:
            REGISTRY.unregister(self._collector)
            raise

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        REGISTRY.unregister(self._collector)
