"""Lead ids: UUIDv7 as canonical text, strictly increasing within a batch."""

from __future__ import annotations

import time
import uuid

from leads.domain.ids import new_lead_ids


def test_a_batch_is_canonical_uuidv7_text_in_increasing_order():
    before_ms = time.time_ns() // 1_000_000
    ids = new_lead_ids(1000)
    after_ms = time.time_ns() // 1_000_000

    parsed = [uuid.UUID(lead_id) for lead_id in ids]
    assert [str(value) for value in parsed] == ids  # canonical: lowercase, hyphenated
    assert {value.version for value in parsed} == {7}
    assert {value.variant for value in parsed} == {uuid.RFC_4122}
    assert [value.int for value in parsed] == sorted({value.int for value in parsed})
    assert all(before_ms <= value.int >> 80 <= after_ms for value in parsed)


def test_batches_do_not_repeat_ids():
    first, second = new_lead_ids(500), new_lead_ids(500)
    assert len(set(first) | set(second)) == 1000


def test_an_empty_batch():
    assert new_lead_ids(0) == []
