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
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          text NOT NULL,
    type          campaign_type NOT NULL,
    status        campaign_status NOT NULL DEFAULT 'draft',
    stats         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT campaigns_workspace_name_key UNIQUE (workspace_id, name),
    CONSTRAINT campaigns_pkey PRIMARY KEY (workspace_id, id)
);

-- Listing a workspace's campaigns in order: the unique key above serves lookups by id.
CREATE INDEX campaigns_workspace_created_idx ON campaigns (workspace_id, created_at, id);

CREATE TABLE leads (
    id             uuid NOT NULL,
    campaign_id    uuid NOT NULL,
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
    workspace_id   uuid NOT NULL,
    CONSTRAINT leads_pkey PRIMARY KEY (workspace_id, id),
    CONSTRAINT leads_campaign_identity_key UNIQUE (workspace_id, campaign_id, identity),
    CONSTRAINT leads_campaign_fkey FOREIGN KEY (workspace_id, campaign_id)
        REFERENCES campaigns (workspace_id, id) ON DELETE CASCADE
);

-- The list order (oldest first, ties by id), with and without a status filter.
CREATE INDEX leads_campaign_order_idx ON leads (workspace_id, campaign_id, created_at, id);
CREATE INDEX leads_campaign_status_order_idx
    ON leads (workspace_id, campaign_id, status, created_at, id);
-- Dedup between the campaigns of a workspace (add_campaign_leads, with dedupe workspace or
-- live) finds leads by the field, whatever their campaign's type.
CREATE INDEX leads_workspace_email_idx ON leads (workspace_id, email) WHERE email IS NOT NULL;
CREATE INDEX leads_workspace_linkedin_url_idx ON leads (workspace_id, linkedin_url)
    WHERE linkedin_url IS NOT NULL;

-- Lead counts per campaign and status, kept by statement-level triggers on leads so that
-- stats cost grows with the rows a statement touches, never with the roster.
CREATE TABLE campaign_lead_counts (
    campaign_id   uuid NOT NULL,
    status        lead_status NOT NULL,
    lead_count    bigint NOT NULL DEFAULT 0 CHECK (lead_count >= 0),
    workspace_id  uuid NOT NULL,
    CONSTRAINT campaign_lead_counts_pkey PRIMARY KEY (workspace_id, campaign_id, status),
    CONSTRAINT campaign_lead_counts_campaign_fkey FOREIGN KEY (workspace_id, campaign_id)
        REFERENCES campaigns (workspace_id, id) ON DELETE CASCADE
);

-- A move of leads in campaign_lead_counts: the leads of one campaign and status gained
-- (delta > 0) or lost (delta < 0) by one statement (see functions/move_lead_counts.sql).
CREATE TYPE lead_count_move AS (
    workspace_id uuid, campaign_id uuid, status lead_status, delta bigint
);

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

-- The suppression list (do-not-contact): identities no campaign of the workspace may hold.
CREATE TYPE suppression_kind AS ENUM ('email', 'domain', 'linkedin_url');
CREATE TYPE suppression_reason AS ENUM ('unsubscribed', 'bounced', 'complained', 'manual');

CREATE TABLE suppressions (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    kind          suppression_kind NOT NULL,
    -- Normalized as identities are (leads/domain/identity.py), so that equality matches.
    value         text NOT NULL,
    reason        suppression_reason NOT NULL DEFAULT 'manual',
    note          text CHECK (char_length(note) <= 500),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT suppressions_pkey PRIMARY KEY (workspace_id, id),
    -- One entry per value; it also serves every match (matching_suppressions.sql).
    CONSTRAINT suppressions_value_key UNIQUE (workspace_id, kind, value)
);

-- The list order (oldest first, ties by id).
CREATE INDEX suppressions_order_idx ON suppressions (workspace_id, created_at, id);

-- The change feed: every change of a roster, a campaign or the suppression list is an event,
-- written in the transaction of the change (functions/record_event.sql), at a position of
-- its workspace's feed that follows commit order.

-- Per workspace: the last position given to an event, and the last one purged (a cursor
-- before it has lost events: 410).
CREATE TABLE event_positions (
    workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    last_position   bigint NOT NULL DEFAULT 0,
    purged_through  bigint NOT NULL DEFAULT 0,
    CONSTRAINT event_positions_pkey PRIMARY KEY (workspace_id)
);

CREATE TABLE events (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- 1, 2, 3 ... in the order the events' transactions committed, without gaps.
    position      bigint NOT NULL,
    id            uuid NOT NULL,
    type          text NOT NULL,
    -- No foreign key: an event names a campaign by id only, and stays as it was written.
    campaign_id   uuid,
    -- json, not jsonb: the keys stay in the order they were written.
    data          json NOT NULL,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_pkey PRIMARY KEY (workspace_id, position),
    CONSTRAINT events_id_key UNIQUE (workspace_id, id)
);
-- Out of line, not compressed: the ids an event names (up to 1000 uuids as text) compress
-- slowly and poorly, and the write that records the event would pay for it.
ALTER TABLE events ALTER COLUMN data SET STORAGE EXTERNAL;

-- The purge of events past their retention finds them by age, whatever the workspace.
CREATE INDEX events_occurred_idx ON events (occurred_at);

-- Webhooks: endpoints that receive the workspace's events, signed as the Standard Webhooks
-- specification says, and one delivery per event and endpoint, which the worker
-- (`flask --app app webhooks worker`) creates from the change feed and attempts.

CREATE TABLE webhook_endpoints (
    workspace_id           uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                     uuid NOT NULL,
    url                    text NOT NULL,
    description            text,
    -- The event types delivered, or {*} for every type.
    event_types            text[] NOT NULL,
    enabled                boolean NOT NULL DEFAULT true,
    -- The signing key, the bytes of whsec_<base64>: kept as is, since signing needs it.
    secret                 bytea NOT NULL,
    -- After a rotation the previous key signs too, until previous_secret_until.
    previous_secret        bytea,
    previous_secret_until  timestamptz,
    -- The position of the workspace's feed up to which the events became deliveries.
    fanned_out_through     bigint NOT NULL,
    -- The first failed attempt since the last successful one (null while attempts succeed).
    failing_since          timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (workspace_id, id)
);

CREATE TYPE webhook_delivery_state AS ENUM ('pending', 'delivered', 'failed');

CREATE TABLE webhook_deliveries (
    workspace_id      uuid NOT NULL,
    id                uuid NOT NULL,
    endpoint_id       uuid NOT NULL,
    -- The event, by its position in the workspace's feed.
    event_position    bigint NOT NULL,
    state             webhook_delivery_state NOT NULL DEFAULT 'pending',
    attempts          integer NOT NULL DEFAULT 0,
    last_status_code  smallint,
    last_error        text,
    last_attempt_at   timestamptz,
    -- When the worker attempts it next: null once delivered or failed, and while the
    -- endpoint is disabled.
    next_attempt_at   timestamptz,
    -- An attempt that fails when the next would come after this time fails the delivery.
    retry_until       timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (workspace_id, id),
    -- One delivery per event and endpoint; it also orders an endpoint's listing.
    CONSTRAINT webhook_deliveries_event_key UNIQUE (workspace_id, endpoint_id, event_position),
    CONSTRAINT webhook_deliveries_endpoint_fkey FOREIGN KEY (workspace_id, endpoint_id)
        REFERENCES webhook_endpoints (workspace_id, id) ON DELETE CASCADE,
    -- A delivery lives as long as its event: `events purge` takes both.
    CONSTRAINT webhook_deliveries_event_fkey FOREIGN KEY (workspace_id, event_position)
        REFERENCES events (workspace_id, position) ON DELETE CASCADE
);

-- The purge of events finds their deliveries.
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (workspace_id, event_position);
-- The workers' queue: the deliveries due first, whatever the workspace.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';

-- Functions, each defined once in its own file, and the triggers that call them (each in
-- the file of its function).
\ir functions/add_campaign_leads.sql
\ir functions/add_suppressions.sql
\ir functions/count_added_or_removed_leads.sql
\ir functions/count_updated_leads.sql
\ir functions/delete_campaign_leads.sql
\ir functions/email_domains.sql
\ir functions/list_campaign_leads.sql
\ir functions/lock_draft_campaign.sql
\ir functions/lock_workspace.sql
\ir functions/matching_suppressions.sql
\ir functions/move_lead_counts.sql
\ir functions/recalculate_campaign_stats.sql
\ir functions/record_event.sql
