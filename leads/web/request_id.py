"""X-Request-ID on every response: the client's when it sent a sane one, else a new one."""

from __future__ import annotations

import re
import secrets

from flask import Flask, g, request

HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def new_request_id() -> str:
    """32 random hex digits (uuid4().hex's shape, in a third of its time)."""
    return secrets.token_hex(16)


def init_request_id(app: Flask) -> None:
    @app.before_request
    def assign_request_id() -> None:
        sent = request.headers.get(HEADER, "")
        g.request_id = sent if _SANE_REQUEST_ID.match(sent) else new_request_id()

    @app.after_request
    def echo_request_id(response):
        response.headers[HEADER] = g.get("request_id") or new_request_id()
        return response
