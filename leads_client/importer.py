"""Importing rows in batches: one path for leads (POST /api/campaigns/{id}/leads) and
suppression entries (POST /api/suppressions). Rows with a local problem are rejected before
sending; each batch gets one Idempotency-Key derived from its target and exact content; rows
the API rejects are mapped back to their input positions and the rest of the batch resent;
a batch too large for the API is halved.

Re-running an interrupted import is safe: every batch is resent under the same key, and the
API deduplicates anyway (leads by identity, entries by value), so rows that made it the first
time come back as replays or duplicates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from leads_client.api_client import (
    RETRYABLE_STATUSES,
    ApiClient,
    ServiceError,
    encode_json,
    path_segment,
    response_json,
)
from leads_client.rows import SourceRow, has_value
from leads_contract.values import IDENTITY_FIELD, MAX_LEADS_PER_ADD, MAX_SUPPRESSIONS_PER_ADD

# A batch whose Idempotency-Key is still being served answers 409: wait and resend.
ADD_RETRY_STATUSES = RETRYABLE_STATUSES | {409}


@dataclass(frozen=True)
class Rejection:
    position: int
    reason: str


@dataclass(frozen=True)
class Noted:
    """A row the API settled in a way worth naming: `detail` says how (the suppression
    entry that matched it, the other campaign's lead it duplicates)."""

    position: int
    identity: str
    detail: Mapping[str, Any]


@dataclass
class ImportSummary:
    """What an import did so far. Every settled row is counted once: by its outcome (the
    subclass's counts) or as rejected."""

    dry_run: bool = False
    rows: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    replayed_batches: int = 0
    complete: bool = False

    def reject(self, row: SourceRow, reason: str) -> None:
        self.rows += 1
        self.rejected.append(Rejection(row.position, reason))

    def counts(self) -> dict[str, int]:
        """The outcomes so far, in display order, rejected last."""
        return {"rejected": len(self.rejected)}


@dataclass
class LeadSummary(ImportSummary):
    """rows == imported + duplicates + suppressed + len(rejected). Duplicates of leads in
    other campaigns (`--dedupe workspace|live`) and suppressed rows are named."""

    imported: int = 0
    duplicates: int = 0
    suppressed: int = 0
    workspace_duplicates: list[Noted] = field(default_factory=list)
    suppressed_rows: list[Noted] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "imported": self.imported,
            "duplicates": self.duplicates,
            "suppressed": self.suppressed,
            **super().counts(),
        }


@dataclass
class SuppressionSummary(ImportSummary):
    """rows == added + duplicates + len(rejected). `removed_from_drafts` (leads removed per
    draft campaign) is None unless the import asked for it."""

    added: int = 0
    duplicates: int = 0
    removed_from_drafts: dict[str, int] | None = None

    def counts(self) -> dict[str, int]:
        return {"added": self.added, "duplicates": self.duplicates, **super().counts()}


def idempotency_key(scope: str, body: bytes, salt: str = "") -> str:
    """The same batch to the same target (`scope`: a campaign's id, with its dedupe mode when
    one is given; the suppression list) always gets the same key, so a re-run after an
    interruption is recognized. A salt (`--fresh-keys`) sets a run apart from earlier
    identical ones."""
    digest = hashlib.sha256()
    digest.update(f"leads-cli/add\n{scope}\n{salt}\n".encode())
    digest.update(body)
    return digest.hexdigest()


class BatchImporter:
    """The import path: subclasses say where a batch goes (`path`, `params`, `body`),
    what a row may not be (`problem`) and how an answer counts (`count`)."""

    items_key: ClassVar[str]  # the body's list: "prospects", "entries"
    rerun_note: ClassVar[str]  # what a re-run makes of the rows that made it

    def __init__(
        self,
        client: ApiClient,
        summary: ImportSummary,
        *,
        path: str,
        key_scope: str,
        batch_size: int,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        key_salt: str = "",
    ) -> None:
        self._client = client
        self._path = path
        self._params = dict(params or {})
        self._body = dict(body or {})
        self._key_scope = key_scope
        self._batch_size = batch_size
        self._key_salt = key_salt
        self.summary = summary

    def problem(self, row: SourceRow) -> str | None:
        """Why the row cannot be sent, found without asking the API; None when it can."""
        return row.problem

    def item(self, row: SourceRow) -> Any:
        """What the row sends."""
        return row.item

    def count(self, batch: list[SourceRow], body: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def run(
        self,
        rows: Iterable[SourceRow],
        on_batch: Callable[[int, ImportSummary], None] | None = None,
    ) -> ImportSummary:
        """Send every row; ServiceError / ApiUnreachable end the run with `summary` as it is.
        `on_batch(position, summary)` follows each batch: `position` is the last row's."""
        on_batch = on_batch or (lambda position, summary: None)
        batch: list[SourceRow] = []
        position = 0
        for row in rows:
            position = row.position
            problem = self.problem(row)
            if problem is not None:
                self.summary.reject(row, problem)
                continue
            batch.append(row)
            if len(batch) == self._batch_size:
                self._send(batch)
                on_batch(position, self.summary)
                batch = []
        if batch:
            self._send(batch)
        on_batch(position, self.summary)
        self.summary.complete = True
        return self.summary

    def _send(self, batch: list[SourceRow]) -> None:
        pending = [batch]
        while pending:
            batch = pending.pop()
            body = encode_json({self.items_key: [self.item(row) for row in batch], **self._body})
            try:
                response = self._client.request(
                    "POST",
                    self._path,
                    body=body,
                    params=self._params or None,
                    # A dry run writes nothing, so it is safe to repeat without a key; with
                    # one, a later dry run would replay a stale answer.
                    idempotency_key=None
                    if self.summary.dry_run
                    else idempotency_key(self._key_scope, body, self._key_salt),
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
                problems = (
                    rejected_indexes(error, self.items_key) if error.status_code == 400 else None
                )
                if not problems or not all(index < len(batch) for index in problems):
                    raise
                for index in sorted(problems):
                    self.summary.reject(batch[index], problems[index])
                rest = [row for index, row in enumerate(batch) if index not in problems]
                if rest:
                    pending.append(rest)  # new content, so a new key
                continue
            if response.headers.get("Idempotent-Replayed", "").lower() == "true":
                self.summary.replayed_batches += 1
            self.summary.rows += len(batch)
            self.count(batch, response_json(response))


class LeadImporter(BatchImporter):
    """Leads into a campaign's roster; rows without the campaign's identity are rejected
    before sending."""

    items_key = "prospects"
    rerun_note = "rows already imported will count as duplicates"
    summary: LeadSummary

    def __init__(
        self,
        client: ApiClient,
        campaign: Mapping[str, Any],
        *,
        batch_size: int = MAX_LEADS_PER_ADD,
        dry_run: bool = False,
        dedupe: str | None = None,
        key_salt: str = "",
    ) -> None:
        campaign_id = str(campaign["id"])
        super().__init__(
            client,
            LeadSummary(dry_run=dry_run),
            path=f"/api/campaigns/{path_segment(campaign_id)}/leads",
            params={
                **({"dedupe": dedupe} if dedupe else {}),
                **({"dry_run": "true"} if dry_run else {}),
            },
            # The query is part of the request the API compares a key's replay with.
            key_scope=campaign_id + (f"?dedupe={dedupe}" if dedupe else ""),
            batch_size=batch_size,
            key_salt=key_salt,
        )
        self._campaign_type = campaign["type"]
        self._identity_field = IDENTITY_FIELD[campaign["type"]]
        # A dry run writes nothing, so a row repeating one of an earlier batch would look
        # new to the API: remember the identities it reported as imported.
        self._dry_run_identities: set[str] = set()

    def problem(self, row: SourceRow) -> str | None:
        if row.problem is None and not has_value(row.item, self._identity_field):
            return f"{self._identity_field} is required for {self._campaign_type} campaigns"
        return row.problem

    def count(self, batch: list[SourceRow], body: Mapping[str, Any]) -> None:
        summary = self.summary
        summary.imported += body["imported"]
        summary.duplicates += body["duplicates"]
        summary.suppressed += body.get("suppressed", 0)
        for result in body["results"]:
            position = batch[result["index"]].position
            outcome = result["outcome"]
            if outcome == "suppressed":
                summary.suppressed_rows.append(
                    Noted(position, result["identity"], result["suppressed_by"])
                )
            elif outcome == "duplicate" and result["duplicate_of"] == "workspace":
                summary.workspace_duplicates.append(
                    Noted(
                        position,
                        result["identity"],
                        {"id": result["id"], "campaign_id": result["campaign_id"]},
                    )
                )
            elif outcome == "imported" and summary.dry_run:
                if result["identity"] in self._dry_run_identities:
                    summary.imported -= 1
                    summary.duplicates += 1
                else:
                    self._dry_run_identities.add(result["identity"])


class SuppressionImporter(BatchImporter):
    """Entries into the workspace's suppression list; `reason` fills the entries that give
    none."""

    items_key = "entries"
    rerun_note = "entries already added will count as duplicates"
    summary: SuppressionSummary

    def __init__(
        self,
        client: ApiClient,
        *,
        reason: str | None = None,
        remove_from_drafts: bool = False,
        batch_size: int = MAX_SUPPRESSIONS_PER_ADD,
        key_salt: str = "",
    ) -> None:
        super().__init__(
            client,
            SuppressionSummary(removed_from_drafts={} if remove_from_drafts else None),
            path="/api/suppressions",
            body={"remove_from_drafts": True} if remove_from_drafts else None,
            key_scope="suppressions",
            batch_size=batch_size,
            key_salt=key_salt,
        )
        self._reason = reason

    def item(self, row: SourceRow) -> Any:
        if self._reason is None or "reason" in row.item:
            return row.item
        return {**row.item, "reason": self._reason}

    def count(self, batch: list[SourceRow], body: Mapping[str, Any]) -> None:
        summary = self.summary
        summary.added += body["added"]
        summary.duplicates += body["duplicates"]
        removed = body.get("removed_from_drafts")
        if summary.removed_from_drafts is not None and removed is not None:
            for campaign in removed["campaigns"]:
                total = summary.removed_from_drafts.get(campaign["id"], 0)
                summary.removed_from_drafts[campaign["id"]] = total + campaign["removed"]


def rejected_indexes(error: ServiceError, items_key: str) -> dict[int, str] | None:
    """{index in the batch: reason} from a 400 whose errors are all per row, as in
    `{"json": {"prospects": {"3": {"email": ["Not a valid email address."]}}}}`;
    None when the request failed as a whole (e.g. a frozen roster)."""
    located = error.errors.get("json")
    if not isinstance(located, Mapping) or set(located) != {items_key}:
        return None
    per_index = located[items_key]
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
