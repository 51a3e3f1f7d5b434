"""The floor for the throughput test: Flask returning a fixed JSON body, nothing else.

gunicorn serves it with the service's own gunicorn.conf.py; BENCH_BODY_FILE names a JSON
file holding the body of a real page of leads, so both send the same bytes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, jsonify


def create_app() -> Flask:
    app = Flask("bare")
    app.json.sort_keys = False  # as the service: keys in the order they were built
    body = json.loads(Path(os.environ["BENCH_BODY_FILE"]).read_text(encoding="utf-8"))

    @app.get("/page")
    def page():
        return jsonify(body)

    return app
