-- The current schema of the lead roster, as the migrations and the function files produce
-- it (tests/test_migrations.py checks that they do): read this file to know the database.
-- Load it into an empty database with `psql -f leads/sql/schema.sql`; migrations/ holds the
-- ordered changes that reach it from an earlier release, functions/ the one definition of
-- each function, included below.

CREATE TYPE campaign_type AS ENUM ('email', 'linkedin');
CREATE TYPE campaign_status AS ENUM ('draft', 'active', 'paused', 'completed');
-- The order of this enum is the order of the stats keys and of prospects_by_status.
CREATE TYPE lead_status AS ENUM (
    'pending',
    'sent', 'connection_sent', 'connected', 'message_sent',
    'replied', 'bounced', 'completed', 'timed_out', 'cancelled'
);

CREATE TABLE workspaces (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- The first characters of the token, shown in listings and used to revoke it.
    token_prefix  text NOT NULL UNIQUE,
    -- SHA-256 of the whole token: tokens are never stored in clear.
    token_hash    bytea NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);

CREATE TABLE campaigns (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          text NOT NULL,
    type          campaign_type NOT NULL,
    status        campaign_status NOT NULL DEFAULT 'draft',
    stats         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT campaigns_workspace_name_key UNIQUE (workspace_id, name)
);

CREATE INDEX campaigns_workspace_created_idx ON campaigns (workspace_id, created_at, id);

CREATE TABLE leads (
    id             uuid PRIMARY KEY,
    campaign_id    uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    -- The campaign's dedup key: the normalized email (email campaigns) or the
    -- canonical LinkedIn URL (LinkedIn campaigns).
    identity       text NOT NULL,
    status         lead_status NOT NULL DEFAULT 'pending',
    email          text,
    linkedin_url   text,
    first_name     text,
    last_name      text,
    -- Only a name the client gave; the API derives one from first and last name otherwise.
    name           text,
    company        text,
    position       text,
    headline       text,
    custom_fields  jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT leads_campaign_identity_key UNIQUE (campaign_id, identity)
);

-- The list order (oldest first, ties by id), with and without a status filter.
CREATE INDEX leads_campaign_order_idx ON leads (campaign_id, created_at, id);
CREATE INDEX leads_campaign_status_order_idx ON leads (campaign_id, status, created_at, id);

-- Lead counts per campaign and status, kept by statement-level triggers on leads so that
-- stats cost grows with the rows a statement touches, never with the roster.
CREATE TABLE campaign_lead_counts (
    campaign_id  uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    status       lead_status NOT NULL,
    lead_count   bigint NOT NULL DEFAULT 0 CHECK (lead_count >= 0),
    PRIMARY KEY (campaign_id, status)
);

-- A move of leads in campaign_lead_counts: the leads of one campaign and status gained
-- (delta > 0) or lost (delta < 0) by one statement (see functions/move_lead_counts.sql).
CREATE TYPE lead_count_move AS (campaign_id uuid, status lead_status, delta bigint);

-- Responses of writes sent with an Idempotency-Key, recorded in the transaction of the
-- write itself, so that a retry replays the response instead of writing again.
CREATE TABLE idempotency_keys (
    workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    idempotency_key  text NOT NULL,
    -- SHA-256 of method, path, query and body: the same key with another request is refused.
    request_hash     bytea NOT NULL,
    response_status  smallint NOT NULL,
    -- The exact response bytes (jsonb would reorder the keys).
    response_body    bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, idempotency_key)
);

-- The purge of expired records finds them by age.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Functions, each defined once in its own file, and the triggers that call them (each in
-- the file of its function).
\ir functions/add_campaign_leads.sql
\ir functions/count_added_or_removed_leads.sql
\ir functions/count_updated_leads.sql
\ir functions/delete_campaign_leads.sql
\ir functions/list_campaign_leads.sql
\ir functions/lock_draft_campaign.sql
\ir functions/move_lead_counts.sql
\ir functions/recalculate_campaign_stats.sql
