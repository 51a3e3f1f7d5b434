"""Adding leads in batches: local identity check, one Idempotency-Key per batch content,
rows the API rejects mapped back to their input positions and the rest of the batch resent.

Re-running an interrupted import is safe: every batch is resent under the same key (the key
is derived from the campaign and the batch's exact bytes), and the API deduplicates by
identity anyway, so rows that made it the first time come back as duplicates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leads_client.api_client import (
    RETRYABLE_STATUSES,
    ApiClient,
    ServiceError,
    encode_json,
    path_segment,
    response_json,
)
from leads_client.rows import SourceRow, has_value
from leads_contract.values import IDENTITY_FIELD, MAX_LEADS_PER_ADD

# A batch whose Idempotency-Key is still being served answers 409: wait and resend.
ADD_RETRY_STATUSES = RETRYABLE_STATUSES | {409}


@dataclass(frozen=True)
class Rejection:
    position: int
    reason: str


@dataclass
class ImportSummary:
    """Every settled row is counted once: rows == imported + duplicates + len(rejected)."""

    dry_run: bool
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    replayed_batches: int = 0
    complete: bool = False

    def reject(self, row: SourceRow, reason: str) -> None:
        self.rows += 1
        self.rejected.append(Rejection(row.position, reason))


def idempotency_key(campaign_id: str, body: bytes, salt: str = "") -> str:
    """The same batch to the same campaign always gets the same key, so a re-run after an
    interruption is recognized. A salt (`--fresh-keys`) sets a run apart from earlier
    identical ones."""
    digest = hashlib.sha256()
    digest.update(f"leads-cli/add\n{campaign_id}\n{salt}\n".encode())
    digest.update(body)
    return digest.hexdigest()


class LeadImporter:
    def __init__(
        self,
        client: ApiClient,
        campaign: Mapping[str, Any],
        *,
        batch_size: int = MAX_LEADS_PER_ADD,
        dry_run: bool = False,
        on_batch: Callable[[int, ImportSummary], None] | None = None,
        key_salt: str = "",
    ) -> None:
        self._client = client
        self._campaign_id = str(campaign["id"])
        self._campaign_type = campaign["type"]
        self._identity_field = IDENTITY_FIELD[campaign["type"]]
        self._batch_size = batch_size
        self._dry_run = dry_run
        self._key_salt = key_salt
        self._on_batch = on_batch or (lambda position, summary: None)
        # A dry run writes nothing, so a row repeating one of an earlier batch would look
        # new to the API: remember the identities it reported as imported.
        self._dry_run_identities: set[str] = set()
        self.summary = ImportSummary(dry_run=dry_run)

    def run(self, rows: Iterable[SourceRow]) -> ImportSummary:
        """Send every row; ServiceError / ApiUnreachable end the run with `summary` as it is."""
        batch: list[SourceRow] = []
        position = 0
        for row in rows:
            position = row.position
            if row.problem is not None:
                self.summary.reject(row, row.problem)
            elif not has_value(row.lead, self._identity_field):
                self.summary.reject(
                    row, f"{self._identity_field} is required for {self._campaign_type} campaigns"
                )
            else:
                batch.append(row)
                if len(batch) == self._batch_size:
                    self._send(batch)
                    self._on_batch(position, self.summary)
                    batch = []
        if batch:
            self._send(batch)
        self._on_batch(position, self.summary)
        self.summary.complete = True
        return self.summary

    def _send(self, batch: list[SourceRow]) -> None:
        pending = [batch]
        while pending:
            batch = pending.pop()
            body = encode_json({"prospects": [row.lead for row in batch]})
            try:
                response = self._client.request(
                    "POST",
                    f"/api/campaigns/{path_segment(self._campaign_id)}/leads",
                    body=body,
                    params={"dry_run": "true"} if self._dry_run else None,
                    # A dry run writes nothing, so it is safe to repeat without a key; with
                    # one, a later dry run would replay a stale answer.
                    idempotency_key=None
                    if self._dry_run
                    else idempotency_key(self._campaign_id, body, self._key_salt),
                    retry_statuses=ADD_RETRY_STATUSES,
                )
            except ServiceError as error:
                if error.status_code == 413:
                    if len(batch) == 1:
                        self.summary.reject(batch[0], "too large for the API's request size limit")
                        continue
                    # Halve the batch: the second half goes back first so it is sent last.
                    half = len(batch) // 2
                    pending += [batch[half:], batch[:half]]
                    continue
                problems = rejected_indexes(error) if error.status_code == 400 else None
                if not problems or not all(index < len(batch) for index in problems):
                    raise
                for index in sorted(problems):
                    self.summary.reject(batch[index], problems[index])
                rest = [row for index, row in enumerate(batch) if index not in problems]
                if rest:
                    pending.append(rest)  # new content, so a new key
                continue
            self._count(batch, response_json(response), response.headers)

    def _count(self, batch: list[SourceRow], body: Mapping[str, Any], headers: Any) -> None:
        if headers.get("Idempotent-Replayed", "").lower() == "true":
            self.summary.replayed_batches += 1
        imported = body["imported"]
        duplicates = body["duplicates"]
        if self._dry_run:
            for result in body["results"]:
                if result["outcome"] != "imported":
                    continue
                if result["identity"] in self._dry_run_identities:
                    imported -= 1
                    duplicates += 1
                else:
                    self._dry_run_identities.add(result["identity"])
        self.summary.rows += len(batch)
        self.summary.imported += imported
        self.summary.duplicates += duplicates


def rejected_indexes(error: ServiceError) -> dict[int, str] | None:
    """{index in the batch: reason} from a 400 whose errors are all per row, as in
    `{"json": {"prospects": {"3": {"email": ["Not a valid email address."]}}}}`;
    None when the request failed as a whole (e.g. a frozen roster)."""
    located = error.errors.get("json")
    if not isinstance(located, Mapping) or set(located) != {"prospects"}:
        return None
    per_index = located["prospects"]
    if not isinstance(per_index, Mapping) or not per_index:
        return None
    problems = {}
    for key, messages in per_index.items():
        if not str(key).isdigit():
            return None
        problems[int(key)] = row_reason(messages)
    return problems


def row_reason(messages: Any, path: tuple[str, ...] = ()) -> str:
    """`{"email": ["Not a valid email address."]}` -> `email: Not a valid email address.`"""
    if isinstance(messages, Mapping):
        return "; ".join(row_reason(value, (*path, str(key))) for key, value in messages.items())
    if isinstance(messages, list | tuple):
        return "; ".join(row_reason(value, path) for value in messages)
    text = str(messages)
    place = ".".join(part for part in path if part != "_schema")
    if not place or text.startswith(f"{path[-1]} "):
        return text
    return f"{place}: {text}"
