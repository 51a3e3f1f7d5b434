"""OpenAPI links: the id a creating operation answers with, fed to the operations that take
it in their path, so that clients and tools (schemathesis's stateful tests) can follow it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import flask_smorest


def operation_ref(method: str, path: str) -> str:
    """The JSON pointer of an operation in the document, e.g. ("get", "/api/x/{id}") →
    `#/paths/~1api~1x~1{id}/get`: operations have no operationId, so links point at them."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method.lower()


def documents_created_id(
    blp: flask_smorest.Blueprint, resource: str, targets: Mapping[str, tuple[str, str, str]]
) -> Callable:
    """Link the 201 of an operation that creates a `resource` (its body `{resource: {id,
    ...}}`) to each target operation, which takes that id as the path parameter
    `<resource>_id`. `targets` maps each link's name to the target's method, OpenAPI path and
    what the link is for."""
    links = {
        name: {
            "operationRef": operation_ref(method, path),
            "parameters": {f"{resource}_id": f"$response.body#/{resource}/id"},
            "description": description,
        }
        for name, (method, path, description) in targets.items()
    }
    return blp.doc(responses={201: {"links": links}})
