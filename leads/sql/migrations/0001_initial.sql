-- The lead roster: workspaces and their tokens, campaigns, leads, and the per-status
-- lead counts that keep campaign stats exact without recounting the roster.

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

CREATE FUNCTION count_inserted_leads() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO campaign_lead_counts AS counts (campaign_id, status, lead_count)
    SELECT campaign_id, status, count(*) FROM inserted_leads GROUP BY campaign_id, status
    ORDER BY campaign_id, status
    ON CONFLICT (campaign_id, status)
    DO UPDATE SET lead_count = counts.lead_count + EXCLUDED.lead_count;
    RETURN NULL;
END;
$$;

CREATE FUNCTION count_deleted_leads() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE campaign_lead_counts AS counts
    SET lead_count = counts.lead_count - gone.lead_count
    FROM (
        SELECT campaign_id, status, count(*) AS lead_count
        FROM deleted_leads GROUP BY campaign_id, status
    ) AS gone
    WHERE counts.campaign_id = gone.campaign_id AND counts.status = gone.status;
    RETURN NULL;
END;
$$;

CREATE FUNCTION count_updated_leads() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Lock the counts this statement moves in one order first: the two statements below
    -- cannot take their locks in a chosen order, and concurrent status changes of one
    -- campaign must queue up rather than deadlock.
    PERFORM 1
    FROM campaign_lead_counts AS counts
    WHERE (counts.campaign_id, counts.status) IN (
        SELECT campaign_id, status FROM old_leads
        UNION
        SELECT campaign_id, status FROM new_leads
    )
    ORDER BY counts.campaign_id, counts.status
    FOR UPDATE;

    -- Moves out of a status go through a plain UPDATE (those leads were counted, so their
    -- row exists). They cannot go through the upsert below: INSERT checks lead_count >= 0
    -- on the proposed row before ON CONFLICT turns it into an update.
    UPDATE campaign_lead_counts AS counts
    SET lead_count = counts.lead_count + moves.delta
    FROM (
        SELECT campaign_id, status, sum(delta) AS delta
        FROM (
            SELECT campaign_id, status, 1 AS delta FROM new_leads
            UNION ALL
            SELECT campaign_id, status, -1 AS delta FROM old_leads
        ) AS changes
        GROUP BY campaign_id, status
        HAVING sum(delta) < 0
    ) AS moves
    WHERE counts.campaign_id = moves.campaign_id AND counts.status = moves.status;

    INSERT INTO campaign_lead_counts AS counts (campaign_id, status, lead_count)
    SELECT campaign_id, status, sum(delta)
    FROM (
        SELECT campaign_id, status, 1 AS delta FROM new_leads
        UNION ALL
        SELECT campaign_id, status, -1 AS delta FROM old_leads
    ) AS changes
    GROUP BY campaign_id, status
    HAVING sum(delta) > 0
    ORDER BY campaign_id, status
    ON CONFLICT (campaign_id, status)
    DO UPDATE SET lead_count = counts.lead_count + EXCLUDED.lead_count;
    RETURN NULL;
END;
$$;

CREATE TRIGGER leads_count_inserted AFTER INSERT ON leads
    REFERENCING NEW TABLE AS inserted_leads
    FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_leads();
CREATE TRIGGER leads_count_deleted AFTER DELETE ON leads
    REFERENCING OLD TABLE AS deleted_leads
    FOR EACH STATEMENT EXECUTE FUNCTION count_deleted_leads();
CREATE TRIGGER leads_count_updated AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_leads NEW TABLE AS new_leads
    FOR EACH STATEMENT EXECUTE FUNCTION count_updated_leads();

-- Writes the campaign's stats from the maintained counts and returns them: total, one
-- count per lead status, contacted (past pending, not cancelled) and last_synced_at.
CREATE FUNCTION recalculate_campaign_stats(p_campaign_id uuid) RETURNS jsonb
LANGUAGE sql AS $$
    WITH per_status AS (
        SELECT s.status, coalesce(c.lead_count, 0) AS lead_count
        FROM unnest(enum_range(NULL::lead_status)) AS s (status)
        LEFT JOIN campaign_lead_counts AS c
            ON c.campaign_id = p_campaign_id AND c.status = s.status
    ),
    stats AS (
        SELECT jsonb_build_object('total', sum(lead_count))
            || jsonb_object_agg(status, lead_count)
            || jsonb_build_object(
                'contacted', sum(lead_count) FILTER (WHERE status NOT IN ('pending', 'cancelled')),
                'last_synced_at', now()
            ) AS stats
        FROM per_status
    )
    UPDATE campaigns
    SET stats = stats.stats
    FROM stats
    WHERE campaigns.id = p_campaign_id
    RETURNING campaigns.stats;
$$;
