"""Domain errors and the one helper that turns any failure into the contract's error body."""

from __future__ import annotations

import http
import logging
import traceback
from collections.abc import Iterator, Mapping
from typing import Any

import psycopg2
from flask import Flask, current_app, g, jsonify
from werkzeug.exceptions import HTTPException

from leads.db.pool import DatabaseUnavailable

logger = logging.getLogger("leads")


class ApiError(Exception):
    """An expected failure with its HTTP status and one human sentence."""

    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        errors: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})
        if status_code is not None:
            self.status_code = status_code


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    status_code = 401

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="leads"'})


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class Gone(ApiError):
    status_code = 410


class CampaignNotFound(NotFound):
    """One body for a campaign that does not exist and one of another workspace."""

    def __init__(self) -> None:
        super().__init__("Campaign not found.")


class RosterFrozen(BadRequest):
    def __init__(self, campaign_status: str) -> None:
        super().__init__(
            f"Campaign is {campaign_status} — the roster is frozen once a campaign leaves draft."
        )


def error_response(
    status_code: int,
    message: str,
    errors: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
):
    body: dict[str, Any] = {
        "code": status_code,
        "status": http.HTTPStatus(status_code).phrase,
        "message": message,
    }
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status_code
    response.headers.update(headers or {})
    return response


def validation_message(errors: Mapping[Any, Any]) -> str:
    """Name every offending place: `prospects[3], prospects[17]: email is required ...`.

    Places with the same message are grouped, in the order they first appear.
    """
    groups: dict[str, list[str]] = {}
    for path, message in _flatten(errors, []):
        place, text = _place_and_text(path, message)
        groups.setdefault(text, []).append(place)
    parts = []
    for text, places in groups.items():
        named = ", ".join(place for place in places if place)
        parts.append(f"{named}: {text}" if named else text)
    return "; ".join(parts) or "The request is not valid."


def _flatten(errors: Any, path: list) -> Iterator[tuple[list, str]]:
    if isinstance(errors, Mapping):
        for key, value in errors.items():
            yield from _flatten(value, [*path, key])
    elif isinstance(errors, list | tuple):
        for item in errors:
            yield from _flatten(item, path)
    else:
        yield path, str(errors)


def _place_and_text(path: list, message: str) -> tuple[str, str]:
    # Drop the request location ("json", "query") and marshmallow's "_schema" key.
    keys = [key for key in path[1:] if key != "_schema"]
    if keys and isinstance(keys[-1], str) and not keys[-1].isdigit():
        field = keys[-1]
        if message.startswith(f"{field} "):
            keys = keys[:-1]  # the message already names its field
    place = ""
    for key in keys:
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
            place += f"[{key}]"
        else:
            place += f".{key}" if place else str(key)
    return place, message.rstrip(".")


def api_error_response(error: ApiError):
    return error_response(error.status_code, error.message, error.errors, error.headers)


def database_unavailable_response(error: DatabaseUnavailable):
    logger.warning("database unavailable: %s", error)
    retry_after = str(current_app.config["LEADS_SETTINGS"].retry_after_seconds)
    return error_response(
        503,
        "The database is unavailable; retry later.",
        headers={"Retry-After": retry_after},
    )


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DatabaseUnavailable, database_unavailable_response)
    app.register_error_handler(ApiError, api_error_response)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return handle_http_exception(error)
        log_unexpected(error)
        request_id = g.get("request_id", "unknown")
        return error_response(
            500, f"Internal server error; quote request id {request_id} when reporting it."
        )


def log_unexpected(error: Exception) -> None:
    """Log a 500 with its type, where it happened and the request id, never its message.

    An exception's text may quote a lead: PostgreSQL's DETAIL names the row that broke a
    constraint (`Key (identity)=(ada@example.com)`), a KeyError its key. The traceback's
    frames (files, lines, code) and, for a database error, its SQLSTATE and the schema
    objects involved are enough to find the bug; the request id joins it to the request.
    """
    frames = "".join(traceback.format_tb(error.__traceback__))
    kind = f"{type(error).__module__}.{type(error).__qualname__}"
    if isinstance(error, psycopg2.Error):
        diag = error.diag
        where = ", ".join(
            f"{name} {value}"
            for name, value in (
                ("table", diag.table_name),
                ("column", diag.column_name),
                ("constraint", diag.constraint_name),
            )
            if value
        )
        kind += f" (SQLSTATE {error.pgcode}{', ' + where if where else ''})"
    logger.error(
        "unhandled error %s in request %s; traceback (message withheld):\n%s",
        kind,
        g.get("request_id", "unknown"),
        frames,
    )


def handle_http_exception(error: HTTPException):
    """Werkzeug and webargs errors (404 route, 405, 413, body validation) in our shape."""
    if error.code is None or error.code >= 500:
        logger.error("server error: %s", error)
        request_id = g.get("request_id", "unknown")
        return error_response(
            500, f"Internal server error; quote request id {request_id} when reporting it."
        )
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    headers = dict(data.get("headers") or {})
    if errors:
        message = validation_message(errors)
    elif error.code == 413:
        message = _too_large_message()
    else:
        message = data.get("message") or _sentence(error.description) or error.name
    if error.code == 405 and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return error_response(error.code, message, errors, headers)


def _too_large_message() -> str:
    # werkzeug's own ("The data value transmitted exceeds the capacity limit.") names no
    # limit: a client, an agent above all, needs the number to split its request.
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is None:
        return "The request body is too large; split it into smaller requests."
    return (
        f"The request body is larger than this service's limit of {limit:,} bytes; "
        "split it into smaller requests."
    )


def _sentence(description: str | None) -> str:
    return " ".join((description or "").split())
