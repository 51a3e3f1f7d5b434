"""The bench database: created for one run and dropped after it, seeded straight in SQL,
and the raw psycopg2 baselines that the service is compared with."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import psycopg2
import psycopg2.errors
from psycopg2 import sql

from leads.config import Settings
from leads.db.embedded import resolve_database_url
from leads.db.migrations import apply_migrations
from leads.db.pool import ConnectionPool, transaction
from leads.web import auth
from leads_contract.values import CUSTOM_FIELDS, TEXT_FIELDS

# Seeded leads: 70 % pending, 20 % sent, 10 % replied; created in 2020, one per
# millisecond, so the list order is the seed order. Lead n's email is seeded_email(n); ids
# are time-ordered like the service's UUIDv7 ids and can be computed (see seeded_lead_id)
# without reading them back.
SEED_LEADS = """
INSERT INTO leads (workspace_id, id, campaign_id, identity, status, email, first_name,
                   last_name, company, position, headline, custom_fields, created_at,
                   updated_at)
SELECT %(workspace_id)s,
       (lpad(to_hex(%(campaign_number)s), 8, '0') || '-0000-7000-8000-'
        || lpad(to_hex(n), 12, '0'))::uuid,
       %(campaign_id)s,
       'lead' || n || '@company' || (n %% 997) || '.example.com',
       (CASE WHEN n %% 10 < 7 THEN 'pending' WHEN n %% 10 < 9 THEN 'sent'
             ELSE 'replied' END)::lead_status,
       'lead' || n || '@company' || (n %% 997) || '.example.com',
       'First' || n, 'Last' || n, 'Company ' || (n %% 997), 'Head of Growth',
       'Helping B2B teams grow pipeline', jsonb_build_object('segment', 'smb', 'score', n %% 100),
       %(seeded_at)s::timestamptz + n * interval '1 millisecond',
       %(seeded_at)s::timestamptz + n * interval '1 millisecond'
FROM generate_series(%(first)s, %(first)s + %(count)s - 1) AS n
"""

# A suppression list of `count` entries, normalized as the service stores them: entry k
# (from 1) is the domain suppressed_domain(k) for the first `domains`, the LinkedIn URL
# suppressed_linkedin_url(k) for the next `linkedin_urls`, else the email of seeded lead
# SUPPRESSED_EVERY * k (seeded_email). Time-ordered ids, created in 2020.
SEED_SUPPRESSIONS = """
INSERT INTO suppressions (workspace_id, id, kind, value, reason, created_at)
SELECT %(workspace_id)s,
       ('ffffffff-0000-7000-8000-' || lpad(to_hex(k), 12, '0'))::uuid,
       entry.kind,
       entry.value,
       (enum_range(NULL::suppression_reason))[1 + k %% 4],
       '2020-01-01T00:00:00Z'::timestamptz + k * interval '1 millisecond'
FROM generate_series(1, %(count)s) AS k,
LATERAL (
    SELECT 'domain'::suppression_kind AS kind, 'blocked' || k || '.example.net' AS value
    WHERE k <= %(domains)s
    UNION ALL
    SELECT 'linkedin_url', 'https://www.linkedin.com/in/unsubscribed-' || k
    WHERE k > %(domains)s AND k <= %(domains)s + %(linkedin_urls)s
    UNION ALL
    SELECT 'email', 'lead' || m || '@company' || (m %% 997) || '.example.com'
    FROM (SELECT k * %(every)s AS m) AS seeded
    WHERE k > %(domains)s + %(linkedin_urls)s
) AS entry
"""
SUPPRESSED_EVERY = 10

# The columns of a floor's rows, in the order of stored_rows' tuples and of the statements
# below: those a POST writes (status, created_at and updated_at are the table's defaults,
# for the service's writes as for the floors'), then the email's domains, which the
# suppression check probes.
FLOOR_COLUMNS = ("id", "identity", *TEXT_FIELDS, CUSTOM_FIELDS, "domains")

# The suppression check of a row r of a POST floor: no entry of the workspace is its
# email, its LinkedIn URL or one of r.domains, its email's domain and each parent of it
# (parent_domains, computed before the clock like the identities; an array, or its literal
# as text). Each is a probe of the unique index (workspace_id, kind, value), as the
# service's check is.
NOT_SUPPRESSED = """
NOT EXISTS (
    SELECT FROM suppressions AS entry
    WHERE entry.workspace_id = %(workspace_id)s
      AND (entry.kind = 'email' AND entry.value = r.email
           OR entry.kind = 'linkedin_url' AND entry.value = r.linkedin_url
           OR entry.kind = 'domain' AND entry.value = ANY (r.domains::text[]))
)
"""

# The floor of a POST: the batch, already normalized and given ids, copied into a staging
# table and moved into the real table in one statement, where the same suppression check,
# indexes, triggers, foreign keys and unique constraint (the dedup against the roster) act
# as on the service's writes. The staging table is the baseline connection's own, of the
# leads columns' types and the email's domains, and each commit empties it.
CREATE_STAGING = """
CREATE TEMPORARY TABLE lead_staging ON COMMIT DELETE ROWS AS
SELECT id, identity, email, linkedin_url, first_name, last_name, name, company, position,
       headline, custom_fields, NULL::text[] AS domains
FROM leads
WITH NO DATA
"""
COPY_TO_STAGING = """
COPY lead_staging (id, identity, email, linkedin_url, first_name, last_name, name, company,
                   position, headline, custom_fields, domains)
FROM STDIN
"""
INSERT_FROM_STAGING = (
    """
INSERT INTO leads (workspace_id, id, campaign_id, identity, email, linkedin_url, first_name,
                   last_name, name, company, position, headline, custom_fields)
SELECT %(workspace_id)s, r.id, %(campaign_id)s, r.identity, r.email, r.linkedin_url,
       r.first_name, r.last_name, r.name, r.company, r.position, r.headline, r.custom_fields
FROM lead_staging AS r
WHERE """
    + NOT_SUPPRESSED
    + "ON CONFLICT (workspace_id, campaign_id, identity) DO NOTHING"
)

# The old floor of a POST, reported beside the COPY floor: the same rows sent as one array
# a column, which psycopg2 adapts from Python lists inside the timed call.
UNNEST_FLOOR = (
    """
INSERT INTO leads (workspace_id, id, campaign_id, identity, email, linkedin_url, first_name,
                   last_name, name, company, position, headline, custom_fields)
SELECT %(workspace_id)s, r.id, %(campaign_id)s, r.identity, r.email, r.linkedin_url,
       r.first_name, r.last_name, r.name, r.company, r.position, r.headline,
       r.custom_fields::jsonb
FROM unnest(%(id)s::uuid[], %(identity)s::text[], %(email)s::text[],
            %(linkedin_url)s::text[], %(first_name)s::text[], %(last_name)s::text[],
            %(name)s::text[], %(company)s::text[], %(position)s::text[],
            %(headline)s::text[], %(custom_fields)s::text[], %(domains)s::text[])
     AS r (id, identity, email, linkedin_url, first_name, last_name, name, company, position,
           headline, custom_fields, domains)
WHERE """
    + NOT_SUPPRESSED
    + "ON CONFLICT (workspace_id, campaign_id, identity) DO NOTHING"
)

# What a POST stored, for comparing two campaigns' rosters: every column but those that
# differ by nature (id, campaign, timestamps), in identity order.
STORED_LEADS = """
SELECT identity, status, email, linkedin_url, first_name, last_name, name, company, position,
       headline, custom_fields
FROM leads
WHERE workspace_id = %(workspace_id)s AND campaign_id = %(campaign_id)s
ORDER BY identity
"""

# The SQL floor of a GET: the page itself, the way a hand-written query would list it.
PAGE_COLUMNS = """
SELECT id, campaign_id, status, email, linkedin_url, first_name, last_name,
       coalesce(name, nullif(concat_ws(' ', first_name, last_name), '')) AS name,
       company, position, headline, custom_fields, created_at, updated_at
FROM leads
"""
PAGE_BY_OFFSET = (
    PAGE_COLUMNS
    + """WHERE workspace_id = %(workspace_id)s AND campaign_id = %(campaign_id)s
  AND (%(status)s::lead_status IS NULL OR status = %(status)s::lead_status)
ORDER BY created_at, id
LIMIT %(limit)s OFFSET %(offset)s"""
)
# The same first page with every column as text (custom_fields and timestamps unparsed):
# what the database sends, with nothing decoded by the driver but strings. A reference for
# the page's anatomy (bench.run.Bench.measure_page_anatomy), not a baseline.
PAGE_AS_TEXT = """
SELECT id::text, campaign_id::text, status::text, email, linkedin_url, first_name, last_name,
       coalesce(name, nullif(concat_ws(' ', first_name, last_name), '')) AS name,
       company, position, headline, custom_fields::text, created_at::text, updated_at::text
FROM leads
WHERE workspace_id = %(workspace_id)s AND campaign_id = %(campaign_id)s
ORDER BY leads.created_at, leads.id  -- the columns, not the text of the same names
LIMIT %(limit)s OFFSET 0"""
PAGE_AFTER = (
    PAGE_COLUMNS
    + """WHERE workspace_id = %(workspace_id)s AND campaign_id = %(campaign_id)s
  AND (%(status)s::lead_status IS NULL OR status = %(status)s::lead_status)
  AND (created_at, id) > (%(after_created_at)s, %(after_id)s)
ORDER BY created_at, id
LIMIT %(limit)s"""
)
DELETE_ALL_FLOOR = (
    "DELETE FROM leads WHERE workspace_id = %(workspace_id)s AND campaign_id = %(campaign_id)s"
)
DELETE_FLOOR = DELETE_ALL_FLOOR + " AND id = ANY(%(ids)s::uuid[])"

# The floor of POST /api/suppressions/check: one query that probes the unique index
# (workspace_id, kind, value) once for each candidate value of each identity, made before the
# clock in the order of the rule's preference (check_candidates), and keeps, per identity,
# the entry of the first candidate that matches. The LIMIT keeps each a probe of the index
# (the planner would join the whole list by hash); the candidates travel as three array
# literals, parsed once each by the server.
CHECK_FLOOR = """
SELECT DISTINCT ON (candidate.n)
       candidate.n, entry.id, entry.kind, entry.value, entry.reason, entry.note,
       entry.created_at
FROM unnest(%(n)s::integer[], %(kind)s::suppression_kind[], %(value)s::text[])
     WITH ORDINALITY AS candidate (n, kind, value, preference)
CROSS JOIN LATERAL (
    SELECT suppressions.id, suppressions.kind, suppressions.value, suppressions.reason,
           suppressions.note, suppressions.created_at
    FROM suppressions
    WHERE suppressions.workspace_id = %(workspace_id)s
      AND suppressions.kind = candidate.kind AND suppressions.value = candidate.value
    LIMIT 1
) AS entry
ORDER BY candidate.n, candidate.preference
"""


def seeded_lead_id(campaign_number: int, n: int) -> UUID:
    return UUID(f"{campaign_number:08x}-0000-7000-8000-{n:012x}")


def seeded_email(n: int) -> str:
    """The email of seeded lead n (SEED_LEADS), which is also its identity."""
    return f"lead{n}@company{n % 997}.example.com"


def suppressed_domain(k: int) -> str:
    """The value of domain entry k of a seeded suppression list (SEED_SUPPRESSIONS)."""
    return f"blocked{k}.example.net"


def suppressed_linkedin_url(k: int) -> str:
    """The value of LinkedIn URL entry k of a seeded suppression list."""
    return f"https://www.linkedin.com/in/unsubscribed-{k}"


def parent_domains(email: str) -> list[str]:
    """The values a domain entry may have to match `email` (an ASCII one): its domain and
    each parent of it with a dot, the longest first: eu.acme.com, then acme.com."""
    labels = email.rpartition("@")[2].split(".")
    return [".".join(labels[depth:]) for depth in range(len(labels) - 1)]


class Campaign(NamedTuple):
    """A campaign and its workspace: every key of a roster starts with the workspace."""

    workspace_id: str
    id: str

    @property
    def params(self) -> dict[str, str]:
        return {"workspace_id": self.workspace_id, "campaign_id": self.id}


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


class BenchDatabase:
    """A database of its own on DATABASE_URL's server (or the embedded one); a run's other
    databases are told apart by a suffix."""

    def __init__(self, suffix: str = "") -> None:
        settings = Settings.from_environment()
        self.server_url = resolve_database_url(settings.database_url, settings.embedded_data_dir)
        self.name = f"leads_bench_{os.getpid()}{suffix}"
        self.url = _with_database(self.server_url, self.name)
        self._connection: psycopg2.extensions.connection | None = None

    def create(self) -> None:
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)"))
        self._admin(sql.SQL("CREATE DATABASE {}"))
        apply_migrations(self.url)

    def drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)"))

    def _admin(self, statement: sql.SQL) -> None:
        connection = psycopg2.connect(_with_database(self.server_url, "postgres"))
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement.format(sql.Identifier(self.name)))
        finally:
            connection.close()

    @property
    def connection(self) -> psycopg2.extensions.connection:
        """The baselines' connection: plain psycopg2, one transaction per operation, with
        the POST floor's staging table.

        With psycopg2's own type casters only: uuid columns come back as text, as the
        service's own queries return them, so that the GET floor builds no UUID object the
        service does not build either."""
        if self._connection is None:
            self._connection = psycopg2.connect(self.url)
            with self._connection.cursor() as cursor:
                cursor.execute(CREATE_STAGING)
            self._connection.commit()
        return self._connection

    @contextmanager
    def autocommit(self) -> Iterator[psycopg2.extensions.cursor]:
        connection = psycopg2.connect(self.url)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                yield cursor
        finally:
            connection.close()

    def server_version(self) -> str:
        with self.autocommit() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]

    def create_token(self, workspace: str = "bench") -> str:
        """A token of the workspace of that name, created with it when it is new."""
        pool = ConnectionPool(self.url, size=1, connect_timeout=5, wait_timeout=5)
        try:
            with transaction(pool) as tx:
                return auth.create_token(tx, workspace)
        finally:
            pool.close()

    def create_campaign(self, name: str, workspace: str = "bench") -> Campaign:
        with self.autocommit() as cursor:
            cursor.execute(
                "INSERT INTO campaigns (workspace_id, name, type)"
                " SELECT id, %(name)s, 'email' FROM workspaces WHERE name = %(workspace)s"
                " RETURNING workspace_id, id",
                {"name": name, "workspace": workspace},
            )
            campaign = Campaign(*(str(value) for value in cursor.fetchone()))
            cursor.execute("SELECT recalculate_campaign_stats(%s, %s)", campaign)
            return campaign

    def seed(self, campaign: Campaign, campaign_number: int, count: int, first: int = 1) -> float:
        """Insert leads `first` to `first + count - 1` (seeded_email) in one statement (the
        triggers keep the counts); seconds."""
        params = {
            **campaign.params,
            "campaign_number": campaign_number,
            "first": first,
            "count": count,
            "seeded_at": "2020-01-01T00:00:00Z",
        }
        return self._timed(
            (SEED_LEADS, params), ("SELECT recalculate_campaign_stats(%s, %s)", campaign)
        )

    def seed_suppressions(
        self, workspace_id: str, count: int, domains: int, linkedin_urls: int
    ) -> float:
        """A suppression list of `count` entries in one statement (SEED_SUPPRESSIONS);
        seconds."""
        params = {
            "workspace_id": workspace_id,
            "count": count,
            "domains": domains,
            "linkedin_urls": linkedin_urls,
            "every": SUPPRESSED_EVERY,
        }
        return self._timed((SEED_SUPPRESSIONS, params))

    def _timed(self, *statements: tuple[str, object]) -> float:
        """Seconds to run these (statement, parameters), each committed."""
        started = time.perf_counter()
        with self.autocommit() as cursor:
            for statement, params in statements:
                cursor.execute(statement, params)
        return time.perf_counter() - started

    def vacuum_and_checkpoint(self, tables: tuple[str, ...] = ("leads", "suppressions")) -> None:
        """What autovacuum would do by itself, now: index-only scans need the visibility map,
        plans the statistics. Then a checkpoint."""
        with self.autocommit() as cursor:
            cursor.execute(
                sql.SQL("VACUUM ANALYZE {}").format(sql.SQL(", ").join(map(sql.Identifier, tables)))
            )
        self.checkpoint()

    def checkpoint(self) -> None:
        """A checkpoint (when the role may), so that the checkpointer does not write the
        pages just written out in the middle of the next measurement."""
        with self.autocommit() as cursor:
            try:
                cursor.execute("CHECKPOINT")
            except psycopg2.errors.InsufficientPrivilege:
                pass

    def remove_recent(self, campaign: Campaign) -> None:
        """Undo a measurement's writes: seeded leads are from 2020, new ones from today."""
        with self.autocommit() as cursor:
            cursor.execute(
                "DELETE FROM leads WHERE workspace_id = %(workspace_id)s"
                " AND campaign_id = %(campaign_id)s AND created_at > '2021-01-01'",
                campaign.params,
            )

    def lead_count(self, campaign: Campaign, status: str | None = None) -> int:
        with self.autocommit() as cursor:
            cursor.execute(
                "SELECT coalesce(sum(lead_count), 0) FROM campaign_lead_counts"
                " WHERE workspace_id = %(workspace_id)s AND campaign_id = %(campaign_id)s"
                " AND (%(status)s::lead_status IS NULL OR status = %(status)s::lead_status)",
                {**campaign.params, "status": status},
            )
            return int(cursor.fetchone()[0])

    def stored_leads(self, campaign: Campaign) -> list[tuple]:
        with self.autocommit() as cursor:
            cursor.execute(STORED_LEADS, campaign.params)
            return cursor.fetchall()

    def lead_counts(self, campaign: Campaign) -> list[tuple]:
        """The counts per status that the triggers keep."""
        with self.autocommit() as cursor:
            cursor.execute(
                "SELECT status, lead_count FROM campaign_lead_counts"
                " WHERE workspace_id = %(workspace_id)s AND campaign_id = %(campaign_id)s"
                " ORDER BY status",
                campaign.params,
            )
            return cursor.fetchall()

    def row_at(self, campaign: Campaign, position: int, status: str | None) -> tuple:
        """(created_at, id) of the lead at 1-based `position` in the list order."""
        with self.autocommit() as cursor:
            cursor.execute(
                "SELECT created_at, id FROM leads"
                " WHERE workspace_id = %(workspace_id)s AND campaign_id = %(campaign_id)s"
                " AND (%(status)s::lead_status IS NULL OR status = %(status)s::lead_status)"
                " ORDER BY created_at, id OFFSET %(offset)s LIMIT 1",
                {**campaign.params, "status": status, "offset": position - 1},
            )
            return cursor.fetchone()

    # The baselines: each runs and commits one operation and returns its seconds.

    def copy_floor(self, campaign: Campaign, batch: bytes) -> float:
        """The POST floor: `batch` (see copy_batch) copied into the staging table and
        inserted from there, in one transaction. Every row must be new and not suppressed."""
        connection = self.connection
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.copy_expert(COPY_TO_STAGING, io.BytesIO(batch))
            copied = cursor.rowcount
            cursor.execute(INSERT_FROM_STAGING, campaign.params)
            inserted = cursor.rowcount
        connection.commit()
        elapsed = time.perf_counter() - started
        assert inserted == copied, (inserted, copied)
        return elapsed

    def unnest_floor(self, campaign: Campaign, columns: dict[str, list]) -> float:
        """The old POST floor: `columns` (see unnest_columns) adapted by psycopg2."""
        params = {**campaign.params, **columns}
        return self.statement_floor(UNNEST_FLOOR, params, len(columns["id"]))

    def statement_floor(self, query: str, params: dict, expected_rows: int) -> float:
        """One statement and its commit: the rows of a query fetched, those of a write
        counted; either way there must be `expected_rows`."""
        connection = self.connection
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(query, params)
            rows = cursor.rowcount if cursor.description is None else len(cursor.fetchall())
        connection.commit()
        elapsed = time.perf_counter() - started
        assert rows == expected_rows, rows
        return elapsed

    def check_floor(self, workspace_id: str, identities: list[dict]) -> list[tuple]:
        """The rows of CHECK_FLOOR for `identities`, untimed: what the floor finds."""
        with self.autocommit() as cursor:
            cursor.execute(
                CHECK_FLOOR, {"workspace_id": workspace_id, **check_candidates(identities)}
            )
            return cursor.fetchall()


def stored_rows(rows: list[dict], ids: list[str]) -> list[tuple]:
    """Rows of an email campaign's POST body as the service stores them (the email trimmed
    and lowercased is the identity), with the email's domains (parent_domains) as an array
    literal: one tuple of FLOOR_COLUMNS each."""
    stored = []
    for lead_id, row in zip(ids, rows, strict=True):
        email = row["email"].strip().lower()
        stored.append(
            (
                lead_id,
                email,
                email,
                None,
                row.get("first_name"),
                row.get("last_name"),
                row.get("name"),
                row.get("company"),
                row.get("position"),
                row.get("headline"),
                json.dumps(row.get("custom_fields", {})),
                array_literal(parent_domains(email)),
            )
        )
    return stored


def check_candidates(identities: list[dict]) -> dict[str, str]:
    """The parameters of CHECK_FLOOR for normalized identities (each {"email": ...} or
    {"linkedin_url": ...}) but the workspace: every value an entry may have to match the
    n-th (from 1), in the order of the rule's preference (the email, then its domain and
    each parent, the longest first; or the LinkedIn URL), as array literals."""
    candidates: dict[str, list] = {"n": [], "kind": [], "value": []}
    for n, identity in enumerate(identities, start=1):
        if "email" in identity:
            email = identity["email"]
            pairs = [("email", email), *(("domain", domain) for domain in parent_domains(email))]
        else:
            pairs = [("linkedin_url", identity["linkedin_url"])]
        for kind, value in pairs:
            candidates["n"].append(str(n))
            candidates["kind"].append(kind)
            candidates["value"].append(value)
    return {name: array_literal(values) for name, values in candidates.items()}


def array_literal(values: list[str]) -> str:
    """A PostgreSQL array literal of these strings, each quoted."""
    quoted = (value.replace("\\", "\\\\").replace('"', '\\"') for value in values)
    return "{" + ",".join(f'"{value}"' for value in quoted) + "}"


def copy_batch(rows: list[tuple]) -> bytes:
    """Stored rows as the body of a COPY in text format: tab-separated fields, one line a
    row, \\N for NULL."""
    lines = ("\t".join(_copy_field(value) for value in row) for row in rows)
    return "".join(f"{line}\n" for line in lines).encode()


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: str | None) -> str:
    return "\\N" if value is None else value.translate(_COPY_ESCAPES)


def unnest_columns(rows: list[tuple]) -> dict[str, list]:
    """Stored rows as one list a column, for UNNEST_FLOOR."""
    return {
        column: list(values)
        for column, values in zip(FLOOR_COLUMNS, zip(*rows, strict=True), strict=True)
    }
