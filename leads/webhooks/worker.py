"""The webhook worker (`flask --app app webhooks worker`): turns the change feed's new events
into deliveries, and attempts the due ones, several at once.

- Fan-out (the main thread, every poll interval): for each enabled endpoint behind its
  workspace's feed, one delivery per new event of its types, and its position moved past
  them, in one statement (`fan_out_webhook_events`). Writes only record their event: what
  webhooks there are costs them nothing.
- Attempts (LEADS_WEBHOOKS_CONCURRENCY sender threads): each claims the delivery due first
  with FOR UPDATE SKIP LOCKED, attempts it and records the outcome in the same
  transaction, so the row stays locked for the whole attempt. Another worker skips it
  meanwhile; a worker that dies (SIGKILL included) has its transaction rolled back by the
  server, and the delivery is due again as it was.
- stop() (SIGTERM, SIGINT): no new claim; the attempts in flight finish and are recorded.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from leads.config import Settings
from leads.db.pool import ConnectionPool, DatabaseUnavailable, transaction
from leads.domain import events, webhooks
from leads.webhooks import metrics
from leads.webhooks.sender import Sender, signed_request

logger = logging.getLogger("leads.webhooks")

# A fan-out statement's share: endpoints, and events per endpoint.
FAN_OUT_ENDPOINTS = 100
FAN_OUT_EVENTS = 1000


class Worker:
    def __init__(self, pool: ConnectionPool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings
        self._stopping = threading.Event()
        # Senders without work wait on it; a fan-out that made deliveries wakes them.
        self._work = threading.Condition()

    def stop(self) -> None:
        """Claim nothing more; run() returns once the attempts in flight are recorded.
        Safe in a signal handler: it takes no lock a sender may hold."""
        self._stopping.set()

    def run(self) -> None:
        senders = [
            threading.Thread(target=self._send, name=f"webhook-sender-{number}")
            for number in range(self._settings.webhooks_concurrency)
        ]
        for sender in senders:
            sender.start()
        logger.info(
            "webhook worker started", extra={"concurrency": self._settings.webhooks_concurrency}
        )
        try:
            while not self._stopping.is_set():
                self._guarded(self.fan_out)
                self._stopping.wait(self._settings.webhooks_poll_interval)
        finally:
            self._stopping.set()
            with self._work:
                self._work.notify_all()
            for sender in senders:
                sender.join()
        logger.info("webhook worker stopped")

    def fan_out(self) -> int:
        """Make the deliveries of every new event; return how many."""
        created = 0
        while not self._stopping.is_set():
            with transaction(self._pool) as tx:
                done = tx.fetch_one(
                    "fan_out_webhook_events",
                    {
                        "endpoints": FAN_OUT_ENDPOINTS,
                        "events": FAN_OUT_EVENTS,
                        "retry_window": webhooks.RETRY_WINDOW * self._settings.webhooks_time_scale,
                    },
                )
            created += done["created"]
            if done["endpoints"] == 0:
                break
        if created:
            with self._work:
                self._work.notify_all()
        return created

    def attempt_next(self, sender: Sender) -> bool:
        """Attempt the delivery due first, if any; return whether there was one."""
        scale = self._settings.webhooks_time_scale
        with transaction(self._pool) as tx:
            claimed = tx.fetch_one("claim_webhook_delivery")
            if claimed is None:
                return False
            keys = [bytes(claimed["secret"])]
            if claimed["previous_secret"] is not None:
                keys.append(bytes(claimed["previous_secret"]))
            body, headers = signed_request(events.event_body(claimed), keys, datetime.now(UTC))
            started = time.perf_counter()
            outcome = sender.send(claimed["url"], body, headers)
            duration = time.perf_counter() - started
            state = tx.fetch_one(
                "record_webhook_attempt",
                {
                    "workspace_id": claimed["workspace_id"],
                    "id": claimed["delivery_id"],
                    "delivered": outcome.delivered,
                    "status_code": outcome.status_code,
                    "error": outcome.error,
                    "delay": webhooks.retry_delay(claimed["attempts"] + 1, scale),
                },
            )["state"]
        metrics.observe_attempt(outcome.result, duration, state)
        logger.info(
            "webhook attempt %s",
            outcome.result,
            extra={
                "workspace_id": str(claimed["workspace_id"]),
                "webhook_id": str(claimed["endpoint_id"]),
                "delivery_id": str(claimed["delivery_id"]),
                "event_id": str(claimed["id"]),
                "attempt": claimed["attempts"] + 1,
                "status": outcome.status_code,
                "error": outcome.error,
                "state": state,
                "duration_ms": round(duration * 1000, 2),
            },
        )
        self._note_endpoint_health(claimed, outcome.delivered)
        return True

    def _note_endpoint_health(self, claimed: dict, delivered: bool) -> None:
        """Outside the claiming transaction: the endpoint row is locked by PATCH and DELETE
        before they wait for the deliveries' rows, so a sender holding a delivery's row
        must not wait for the endpoint's. Written only when it changes."""
        params = {"workspace_id": claimed["workspace_id"], "id": claimed["endpoint_id"]}
        if delivered:
            if claimed["failing_since"] is not None:
                with transaction(self._pool) as tx:
                    tx.execute("note_webhook_success", params)
            return
        scale = self._settings.webhooks_time_scale
        with transaction(self._pool) as tx:
            noted = tx.fetch_one(
                "note_webhook_failure", {**params, "window": webhooks.FAILING_WINDOW * scale}
            )
            if noted is not None and not noted["enabled"]:
                webhooks.set_pending_deliveries(
                    tx, claimed["workspace_id"], claimed["endpoint_id"], False, scale
                )
                logger.warning(
                    "webhook disabled: every attempt failed for 24 hours",
                    extra={
                        "workspace_id": str(claimed["workspace_id"]),
                        "webhook_id": str(claimed["endpoint_id"]),
                    },
                )

    def _send(self) -> None:
        sender = Sender(
            timeout=self._settings.webhooks_timeout,
            allow_private=self._settings.webhooks_allow_private_urls,
        )
        try:
            while not self._stopping.is_set():
                if not self._guarded(self.attempt_next, sender):
                    with self._work:
                        self._work.wait(self._settings.webhooks_poll_interval)
        finally:
            sender.close()

    def _guarded(self, step, *args) -> bool:
        """Run a step; a database away or a bug is logged, and the worker goes on after the
        poll interval rather than dying with its attempts."""
        try:
            return step(*args)
        except DatabaseUnavailable as error:
            logger.warning("database unavailable: %s", error)
        except Exception:
            logger.exception("webhook worker step failed")
        return False
