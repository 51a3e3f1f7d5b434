"""The one access check: each request's bearer token is resolved to its workspace.

A token belongs to one workspace and is stored only as a SHA-256 hash. Every route of a
protected blueprint runs `authenticate_request` before its view: an unknown, revoked or
malformed token is a 401 before the request is looked at any further, and the view finds
the workspace in `current_workspace_id()`. There is no cache: a revoked token is refused
from its revocation on.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from uuid import UUID

from flask import g, request

from leads.db.pool import ConnectionPool, Transaction, current_pool, read_one
from leads.errors import Unauthorized

TOKEN_MARKER = "ld_"
# ld_ + 43 URL-safe characters (32 random bytes).
_TOKEN = re.compile(r"^ld_[A-Za-z0-9_-]{43}$")
PREFIX_LENGTH = len(TOKEN_MARKER) + 8
MAX_AUTHORIZATION_LENGTH = 512
UNKNOWN_TOKEN = "The token is unknown or revoked."


def hash_token(token: str) -> bytes:
    # Tokens carry 256 random bits, so a plain SHA-256 cannot be brute-forced.
    return hashlib.sha256(token.encode("ascii")).digest()


def create_token(tx: Transaction, workspace_name: str) -> str:
    """Create a token for the workspace (creating the workspace if needed); return it."""
    workspace = tx.fetch_one("create_workspace", {"name": workspace_name})
    token = TOKEN_MARKER + secrets.token_urlsafe(32)
    tx.execute(
        "create_token",
        {
            "workspace_id": workspace["id"],
            "token_prefix": token[:PREFIX_LENGTH],
            "token_hash": hash_token(token),
        },
    )
    return token


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header, or Unauthorized."""
    if not authorization:
        raise Unauthorized("Authentication required: send Authorization: Bearer <token>.")
    if len(authorization) > MAX_AUTHORIZATION_LENGTH:
        raise Unauthorized("The Authorization header is malformed.")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _TOKEN.match(token):
        raise Unauthorized("The Authorization header is malformed: expected Bearer <token>.")
    return token


def token_hash_of(authorization: str | None) -> bytes:
    """The hash of the token of an `Authorization: Bearer <token>` header, or Unauthorized.
    Only the hash is ever looked up: how long a lookup takes says nothing of the token."""
    return hash_token(bearer_token(authorization))


def authenticate(pool: ConnectionPool, authorization: str | None) -> UUID:
    """The workspace id of the header's token if it is valid and unrevoked, or Unauthorized."""
    token_hash = token_hash_of(authorization)
    # One statement on its own, in one round trip.
    row = read_one(pool, "find_token", {"token_hash": token_hash})
    if row is None or not hmac.compare_digest(bytes(row["token_hash"]), token_hash):
        raise Unauthorized(UNKNOWN_TOKEN)
    return row["workspace_id"]


def authenticate_request() -> None:
    """A before_request hook: resolve the request's token to its workspace, or 401."""
    g.workspace_id = authenticate(current_pool(), request.headers.get("Authorization"))


def current_workspace_id() -> UUID:
    """The workspace of the request's token, as `authenticate_request` resolved it."""
    return g.workspace_id
