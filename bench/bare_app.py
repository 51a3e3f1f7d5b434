"""The floor for the throughput test: a Flask endpoint that returns a fixed JSON body.

gunicorn serves it with the service's own gunicorn.conf.py; BENCH_BODY_FILE names a file
holding the body of a real page of leads, sent as it is (the service, too, sends a page it
did not encode: the database builds each lead's JSON), so both send the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask


def create_app() -> Flask:
    app = Flask("bare")
    body = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()

    @app.get("/page")
    def page():
        return app.response_class(body, mimetype="application/json")

    return app
