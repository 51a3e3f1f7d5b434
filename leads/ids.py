"""Time-ordered lead ids, so that leads added in one batch list in the order they were sent."""

from __future__ import annotations

import secrets
import time
from uuid import UUID

_RAND_B_BITS = 62


def new_lead_ids(count: int) -> list[UUID]:
    """`count` UUIDv7 (RFC 9562) ids, strictly increasing in the order returned.

    The batch shares one millisecond timestamp and random rand_a; rand_b counts up from a
    random start, leaving room so that it cannot overflow within a batch.
    """
    millis = time.time_ns() // 1_000_000
    rand_a = secrets.randbits(12)
    start = secrets.randbits(_RAND_B_BITS - 1)  # below half the range: room for any batch
    head = (millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62)
    return [UUID(int=head | (start + offset)) for offset in range(count)]
