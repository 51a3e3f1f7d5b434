-- The workspace: every table of a workspace's data carries workspace_id, and its keys, foreign
-- keys and indexes lead with it (the tenant key, so the data can be distributed by workspace:
-- docs/SCALING.md); leads are found by email and LinkedIn URL across a workspace (dedup
-- between campaigns); and the suppression list.
-- depends: 0001_baseline

-- Functions whose arguments or result change here, and the type of the counts' moves, which
-- gains the workspace. The function files create them again after the migrations.
DROP FUNCTION IF EXISTS add_campaign_leads(uuid, uuid, json);
DROP FUNCTION IF EXISTS recalculate_campaign_stats(uuid);
DROP FUNCTION IF EXISTS move_lead_counts(lead_count_move[]);
DROP TYPE lead_count_move;
CREATE TYPE lead_count_move AS (
    workspace_id uuid, campaign_id uuid, status lead_status, delta bigint
);

-- The foreign keys to campaigns go first: they depend on its primary key.
ALTER TABLE leads DROP CONSTRAINT leads_campaign_id_fkey;
ALTER TABLE campaign_lead_counts DROP CONSTRAINT campaign_lead_counts_campaign_id_fkey;

ALTER TABLE campaigns DROP CONSTRAINT campaigns_pkey;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_pkey PRIMARY KEY (workspace_id, id);
-- Listing a workspace's campaigns in order: the unique key above serves lookups by id.
DROP INDEX campaigns_workspace_created_idx;
CREATE INDEX campaigns_workspace_created_idx ON campaigns (workspace_id, created_at, id);

ALTER TABLE leads ADD COLUMN workspace_id uuid;
UPDATE leads SET workspace_id = campaigns.workspace_id
FROM campaigns WHERE campaigns.id = leads.campaign_id;
ALTER TABLE leads ALTER COLUMN workspace_id SET NOT NULL;
ALTER TABLE leads DROP CONSTRAINT leads_pkey;
ALTER TABLE leads ADD CONSTRAINT leads_pkey PRIMARY KEY (workspace_id, id);
ALTER TABLE leads DROP CONSTRAINT leads_campaign_identity_key;
ALTER TABLE leads ADD CONSTRAINT leads_campaign_identity_key
    UNIQUE (workspace_id, campaign_id, identity);
ALTER TABLE leads ADD CONSTRAINT leads_campaign_fkey FOREIGN KEY (workspace_id, campaign_id)
    REFERENCES campaigns (workspace_id, id) ON DELETE CASCADE;
DROP INDEX leads_campaign_order_idx;
DROP INDEX leads_campaign_status_order_idx;
CREATE INDEX leads_campaign_order_idx ON leads (workspace_id, campaign_id, created_at, id);
CREATE INDEX leads_campaign_status_order_idx
    ON leads (workspace_id, campaign_id, status, created_at, id);
CREATE INDEX leads_workspace_email_idx ON leads (workspace_id, email) WHERE email IS NOT NULL;
CREATE INDEX leads_workspace_linkedin_url_idx ON leads (workspace_id, linkedin_url)
    WHERE linkedin_url IS NOT NULL;

ALTER TABLE campaign_lead_counts ADD COLUMN workspace_id uuid;
UPDATE campaign_lead_counts SET workspace_id = campaigns.workspace_id
FROM campaigns WHERE campaigns.id = campaign_lead_counts.campaign_id;
ALTER TABLE campaign_lead_counts ALTER COLUMN workspace_id SET NOT NULL;
ALTER TABLE campaign_lead_counts DROP CONSTRAINT campaign_lead_counts_pkey;
ALTER TABLE campaign_lead_counts ADD CONSTRAINT campaign_lead_counts_pkey
    PRIMARY KEY (workspace_id, campaign_id, status);
ALTER TABLE campaign_lead_counts ADD CONSTRAINT campaign_lead_counts_campaign_fkey
    FOREIGN KEY (workspace_id, campaign_id) REFERENCES campaigns (workspace_id, id)
    ON DELETE CASCADE;

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
