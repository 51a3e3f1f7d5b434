"""Opaque cursors: keyset cursors for the lists in (created_at, id) order (a roster, the
suppression list), where the next page starts and for what query; and positions in the
change feed."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from leads_contract.values import LEAD_STATUSES

CURSOR_VERSION = 1
# version, scope, created_at (microseconds since the Unix epoch), row id, status
# (0 = no filter, else 1 + its index in LEAD_STATUSES).
_PAYLOAD = struct.Struct(">B16sq16sB")
# 42 + 6 bytes: a multiple of 3, so the base64 text has no padding and no spare bits
# (every character of a cursor counts; an edited one cannot decode to the same cursor).
_CHECKSUM_BYTES = 6
_CURSOR_BYTES = _PAYLOAD.size + _CHECKSUM_BYTES
CURSOR_LENGTH = _CURSOR_BYTES * 4 // 3
_CURSOR_TEXT = re.compile(rf"[A-Za-z0-9_-]{{{CURSOR_LENGTH}}}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class InvalidCursor(ValueError):
    """The text is not a cursor this service issued (malformed, truncated or edited)."""


@dataclass(frozen=True)
class ListCursor:
    """The position after the last row of a page: the list order is (created_at, id).

    What the page was listed from travels in the cursor, so that a cursor replayed against
    another list or filter is refused, not misread: `scope` is the campaign of a roster
    (with its status filter in `status`), or a digest of the suppression list's filters
    (filter_scope).
    """

    scope: UUID
    created_at: datetime
    row_id: UUID
    status: str | None


def after_params(cursor: ListCursor | None) -> dict[str, datetime | UUID | None]:
    """The parameters of a list's statement that say where its page starts: after the
    cursor's row, or from the first row without one (both null)."""
    return {
        "after_created_at": cursor.created_at if cursor else None,
        "after_id": cursor.row_id if cursor else None,
    }


def encode_cursor(cursor: ListCursor) -> str:
    status_code = 0 if cursor.status is None else LEAD_STATUSES.index(cursor.status) + 1
    payload = _PAYLOAD.pack(
        CURSOR_VERSION,
        cursor.scope.bytes,
        (cursor.created_at - _EPOCH) // _MICROSECOND,
        cursor.row_id.bytes,
        status_code,
    )
    return base64.urlsafe_b64encode(payload + _checksum(payload)).decode("ascii")


def decode_cursor(text: str) -> ListCursor:
    """The cursor `encode_cursor` made, or InvalidCursor for any other text."""
    # Only the URL-safe alphabet: b64decode would also take "+" and "/" for "-" and "_".
    if not _CURSOR_TEXT.fullmatch(text):
        raise InvalidCursor("not a cursor's length or alphabet")
    try:
        raw = base64.urlsafe_b64decode(text)
    except binascii.Error:
        raise InvalidCursor("not base64") from None
    payload, checksum = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    # The checksum catches edited, truncated and corrupted cursors. It is not a signature,
    # and needs not be: every query is scoped to the path's campaign or the token's
    # workspace, so a forged cursor could only move where a page starts in a list the
    # caller may read anyway.
    if not hmac.compare_digest(checksum, _checksum(payload)):
        raise InvalidCursor("checksum mismatch")
    version, scope, micros, row_id, status_code = _PAYLOAD.unpack(payload)
    if version != CURSOR_VERSION or status_code > len(LEAD_STATUSES):
        raise InvalidCursor("unknown version or status")
    try:
        created_at = _EPOCH + micros * _MICROSECOND
    except OverflowError:
        raise InvalidCursor("timestamp out of range") from None
    return ListCursor(
        scope=UUID(bytes=scope),
        created_at=created_at,
        row_id=UUID(bytes=row_id),
        status=None if status_code == 0 else LEAD_STATUSES[status_code - 1],
    )


def _checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_CHECKSUM_BYTES, person=b"leads-cursor").digest()


def filter_scope(*filters: str | None) -> UUID:
    """The scope of a list that is filtered by these values: the same filters, the same
    scope."""
    text = "\x00".join("" if value is None else value for value in filters)
    digest = hashlib.blake2b(text.encode(), digest_size=16, person=b"leads-scope").digest()
    return UUID(bytes=digest)


# A position of the change feed: a version byte of its own and the position.
_FEED_PAYLOAD = struct.Struct(">Bq")
_FEED_VERSION = 0x45
_FEED_CURSOR_BYTES = _FEED_PAYLOAD.size + _CHECKSUM_BYTES
_FEED_CURSOR_TEXT = re.compile(rf"[A-Za-z0-9_-]{{{_FEED_CURSOR_BYTES * 4 // 3}}}")


def encode_feed_cursor(position: int) -> str:
    payload = _FEED_PAYLOAD.pack(_FEED_VERSION, position)
    return base64.urlsafe_b64encode(payload + _checksum(payload)).decode("ascii")


def decode_feed_cursor(text: str) -> int:
    """The position `encode_feed_cursor` wrote, or InvalidCursor for any other text."""
    if not _FEED_CURSOR_TEXT.fullmatch(text):
        raise InvalidCursor("not a cursor's length or alphabet")
    raw = base64.urlsafe_b64decode(text)
    payload, checksum = raw[: _FEED_PAYLOAD.size], raw[_FEED_PAYLOAD.size :]
    if not hmac.compare_digest(checksum, _checksum(payload)):
        raise InvalidCursor("checksum mismatch")
    version, position = _FEED_PAYLOAD.unpack(payload)
    if version != _FEED_VERSION or position < 0:
        raise InvalidCursor("unknown version or position")
    return position
