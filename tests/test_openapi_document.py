"""The committed openapi.json is the document the service serves, as `make openapi` writes it:
keys sorted, indented by two spaces, non-ASCII text as is, a newline at the end."""

from __future__ import annotations

import json
from pathlib import Path

COMMITTED = Path(__file__).resolve().parent.parent / "openapi.json"
OUT_OF_DATE = (
    "openapi.json is not the document the service serves at /openapi.json: "
    "run `make openapi` and commit openapi.json"
)


def test_the_committed_document_is_the_served_one(app):
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    served = json.dumps(response.get_json(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
    assert committed == served, OUT_OF_DATE
