"""One JSON log line per request, and the logging configuration that makes every line JSON.

The request line names the method, the route template (not the path), the status, the
duration, the request id and the workspace: never a header, a query string or a body, so
that no token and no lead's personal data reaches the logs.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, g, request
from gunicorn.glogging import Logger as GunicornLogger
from pythonjsonlogger.json import JsonFormatter
from pythonjsonlogger.orjson import OrjsonFormatter

REQUEST_LOGGER = "leads.requests"
# A path no route matches (404, or 405 for its method): one label for all of them.
UNMATCHED_ROUTE = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_label() -> str:
    """The route template (`/api/campaigns/<campaign_id>/leads`), never the path."""
    return request.url_rule.rule if request.url_rule else UNMATCHED_ROUTE


def method_label() -> str:
    return request.method if request.method in METHODS else "OTHER"


def init_request_log(app: Flask) -> None:
    logger = logging.getLogger(REQUEST_LOGGER)

    @app.before_request
    def start_clock() -> None:
        g.request_log_started = time.perf_counter()

    @app.after_request
    def log_request(response):
        started = g.get("request_log_started")
        duration_ms = None if started is None else (time.perf_counter() - started) * 1000
        route = route_label()
        workspace_id = g.get("workspace_id")
        fields = {
            "method": method_label(),
            "route": route,
            "status": response.status_code,
            "duration_ms": None if duration_ms is None else round(duration_ms, 2),
            "request_id": g.get("request_id"),
            "workspace_id": None if workspace_id is None else str(workspace_id),
        }
        logger.info("%s %s %s", fields["method"], route, response.status_code, extra=fields)
        return response


def logging_config(level: str) -> dict[str, Any]:
    """dictConfig for gunicorn (logconfig_dict): every logger, gunicorn's included, writes
    JSON lines to stdout."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "leads.web.request_log.JsonLineFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",
            }
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json",
            }
        },
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            # gunicorn gives this one a handler of its own; an empty list drops it, so its
            # lines go through the root logger's JSON handler.
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            # The request line of leads.requests is the access log; gunicorn's would
            # repeat it without the route or the workspace.
            "gunicorn.access": {"handlers": [], "propagate": False},
            # yoyo logs every step of every migration at INFO.
            "yoyo": {"level": "WARNING"},
        },
    }


class JsonLineFormatter(OrjsonFormatter):
    """python-json-logger's orjson flavour, the faster of its encoders, with its
    JsonFormatter for what orjson refuses (an integer beyond 64 bits, a lone surrogate): no
    line is lost to the encoder."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fallback = JsonFormatter(*args, **kwargs)

    def jsonify_log_record(self, log_data: dict) -> str:
        try:
            return super().jsonify_log_record(log_data)
        except TypeError:  # orjson.JSONEncodeError is one
            return self._fallback.jsonify_log_record(log_data)


def skip_unused_record_fields() -> None:
    """Stop `logging` from gathering what no line of ours writes: the thread and the process
    (the public switches of the Logging HOWTO's "Optimization" section). Every line is
    level, logger, message, its extra fields and time.

    The caller's file, line and function are still gathered: `logging` has no public switch
    for them.
    """
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


class ServiceGunicornLogger(GunicornLogger):
    """gunicorn's logger without its access log: the request line above is the access log.

    gunicorn takes any logging configuration as a wish for its access log, so it would build
    the line's fields on every request for a logger with no handler.
    """

    def access(self, resp, req, environ, request_time) -> None:
        pass
