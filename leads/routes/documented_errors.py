"""The error responses every operation documents, beside its own."""

from __future__ import annotations

from collections.abc import Callable

from leads.api import Blueprint


def documents_errors(blp: Blueprint, *status_codes: int) -> Callable:
    """Document the common errors (401, 500, 503) plus the given ones."""

    def decorator(func: Callable) -> Callable:
        for code in sorted({401, 500, 503, *status_codes}):
            func = blp.alt_response(code, response=_response_name(code))(func)
        return func

    return decorator


def _response_name(code: int) -> str:
    import http

    return http.HTTPStatus(code).name
