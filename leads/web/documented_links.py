"""OpenAPI links: how the id a write creates feeds the operations that take it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import flask_smorest


def operation_ref(method: str, path: str) -> str:
    """The JSON pointer of an operation of the document, e.g. ("get", "/api/x/{id}") →
    `#/paths/~1api~1x~1{id}/get`. Operations have no operationId, so links name them so."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method.lower()


def link(
    method: str,
    path: str,
    description: str,
    *,
    parameters: Mapping[str, str] | None = None,
    request_body: Any = None,
) -> dict:
    """One OpenAPI link object to the operation `method path`. `parameters` map target
    parameters (`path.campaign_id`) to runtime expressions; `request_body` is a body whose
    string values may be runtime expressions (tools such as schemathesis fill in the rest
    of the body)."""
    definition: dict[str, Any] = {
        "operationRef": operation_ref(method, path),
        "description": description,
    }
    if parameters:
        definition["parameters"] = dict(parameters)
    if request_body is not None:
        definition["requestBody"] = request_body
    return definition


def documents_links(
    blp: flask_smorest.Blueprint, status_code: int, links: Mapping[str, dict]
) -> Callable:
    """Add `links` to the operation's documented response of `status_code`."""
    return blp.doc(responses={status_code: {"links": dict(links)}})
