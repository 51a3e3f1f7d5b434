"""Time-ordered lead ids, so that leads added in one batch list in the order they were sent."""

from __future__ import annotations

import secrets
import time

_RAND_B_BITS = 62


def new_lead_ids(count: int) -> list[str]:
    """`count` UUIDv7 (RFC 9562) ids as canonical text, strictly increasing in the order
    returned.

    The batch shares one millisecond timestamp and random rand_a; rand_b counts up from a
    random start, leaving room so that it cannot overflow within a batch. The ids only go
    on to the database and the response, so they are written as text directly rather than
    built as a UUID object per lead only to be turned into text again.
    """
    millis = time.time_ns() // 1_000_000
    rand_a = secrets.randbits(12)
    start = secrets.randbits(_RAND_B_BITS - 1)  # below half the range: room for any batch
    # The high 64 bits (timestamp, version 7, rand_a) are the batch's: the first three groups.
    high = f"{(millis << 16) | (0x7 << 12) | rand_a:016x}"
    prefix = f"{high[:8]}-{high[8:12]}-{high[12:]}-"
    low_head = 0b10 << _RAND_B_BITS  # the RFC 9562 variant
    ids = []
    for offset in range(count):
        low = f"{low_head | (start + offset):016x}"
        ids.append(f"{prefix}{low[:4]}-{low[4:]}")
    return ids
