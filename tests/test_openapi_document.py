"""The committed openapi.json is the document the service serves, as `make openapi` writes it:
keys sorted, indented by two spaces, non-ASCII text as is, a newline at the end. The id that
each creating operation answers with links to every operation that takes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leads.routes.campaigns import CAMPAIGN_ID_TARGETS
from leads.routes.webhooks import WEBHOOK_ID_TARGETS

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


def pointer(method: str, path: str) -> str:
    """The JSON pointer of an operation of the document."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def operations_taking(document: dict, parameter: str) -> set[str]:
    """The pointers of the operations whose path holds {parameter}."""
    return {
        pointer(method, path)
        for path, operations in document["paths"].items()
        if "{" + parameter + "}" in path
        for method in operations
        if method != "parameters"
    }


# Each creating operation: its path, the path parameter its id fills, the runtime expression
# of the id in its 201 answer, and its links' targets by name (method, path, description).
CREATING = [
    ("/api/campaigns", "campaign_id", "$response.body#/campaign/id", CAMPAIGN_ID_TARGETS),
    ("/api/webhooks", "webhook_id", "$response.body#/webhook/id", WEBHOOK_ID_TARGETS),
]


@pytest.mark.parametrize(("path", "parameter", "expression", "targets"), CREATING)
def test_a_created_id_links_to_every_operation_that_takes_it(
    app, path, parameter, expression, targets
):
    document = app.test_client().get("/openapi.json").get_json()
    links = document["paths"][path]["post"]["responses"]["201"]["links"]
    assert links == {
        name: {
            "operationRef": pointer(method, target),
            "parameters": {parameter: expression},
            "description": description,
        }
        for name, (method, target, description) in targets.items()
    }
    assert {link["operationRef"] for link in links.values()} == operations_taking(
        document, parameter
    )


def test_only_creating_operations_carry_links(app):
    document = app.test_client().get("/openapi.json").get_json()
    with_links = {
        (method, path, status)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method != "parameters"
        for status, response in operation["responses"].items()
        if "links" in response
    }
    assert with_links == {("post", "/api/campaigns", "201"), ("post", "/api/webhooks", "201")}
