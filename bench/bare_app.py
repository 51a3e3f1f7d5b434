"""The floor for the throughput test: a Flask endpoint that returns a fixed JSON body.

gunicorn serves it with the service's own gunicorn.conf.py; BENCH_BODY_FILE names a file
holding the body of a real page of leads, sent as it is, so both send the same bytes (the
service encodes its page; this floor encodes nothing).
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
