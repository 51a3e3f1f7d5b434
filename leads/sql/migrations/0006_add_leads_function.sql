-- An import of leads (POST /api/campaigns/{id}/leads) in one statement: the campaign locked
-- through the token, the draft check, the insert, the ids of the leads the roster held
-- already and the stats, where the route sent four or five messages (lock, insert, the
-- roster's ids when some rows were there already, stats, COMMIT) and the hand-written
-- insert two (insert, COMMIT). The caller's transaction still commits it (or rolls it
-- back: a dry run): BEGIN travels with this statement, COMMIT follows (docs/PERFORMANCE.md).
--
-- p_rows: the batch, deduplicated and given ids by the caller, as one JSON array of
-- objects (see _insert_rows in leads/roster.py). The unique constraint on
-- (campaign_id, identity) decides dedup against the roster: ON CONFLICT DO NOTHING.
--
-- No row when the token is unknown or revoked or the campaign is not in its workspace.
-- A campaign that is not a draft: its status, and nothing inserted (existing and stats are
-- null; the caller answers 400: the roster is frozen). Else existing maps each identity
-- of the batch that the roster held already to that lead's id (an empty object when there
-- was none), and stats are the campaign's stats after the insert.
CREATE FUNCTION add_campaign_leads(
    p_token_hash bytea,
    p_campaign_id uuid,
    p_rows json
) RETURNS TABLE (
    workspace_id uuid, campaign_status campaign_status, existing json, stats jsonb
)
LANGUAGE plpgsql AS $$
DECLARE
    not_inserted text[];
BEGIN
    -- Every write locks its campaign row first (see lock_campaign in queries.sql).
    SELECT campaigns.workspace_id, campaigns.status INTO workspace_id, campaign_status
    FROM campaigns
    JOIN api_tokens ON api_tokens.workspace_id = campaigns.workspace_id
    WHERE campaigns.id = p_campaign_id
      AND api_tokens.token_hash = p_token_hash AND api_tokens.revoked_at IS NULL
    FOR UPDATE OF campaigns;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF campaign_status = 'draft' THEN
        -- As json, not jsonb: read once, it need not be built into a jsonb value first.
        WITH batch AS (
            SELECT *
            FROM json_to_recordset(p_rows) AS batch_rows (
                id uuid, identity text, email text, linkedin_url text, first_name text,
                last_name text, name text, company text, position text, headline text,
                custom_fields jsonb
            )
        ),
        inserted AS (
            INSERT INTO leads (id, campaign_id, identity, email, linkedin_url, first_name,
                               last_name, name, company, position, headline, custom_fields)
            SELECT batch.id, p_campaign_id, batch.identity, batch.email, batch.linkedin_url,
                   batch.first_name, batch.last_name, batch.name, batch.company,
                   batch.position, batch.headline, coalesce(batch.custom_fields, '{}'::jsonb)
            FROM batch
            ON CONFLICT (campaign_id, identity) DO NOTHING
            RETURNING leads.identity
        )
        SELECT array_agg(missing.identity) INTO not_inserted
        FROM (
            SELECT batch.identity FROM batch
            EXCEPT
            SELECT inserted.identity FROM inserted
        ) AS missing;
        existing := '{}'::json;
        IF not_inserted IS NOT NULL THEN
            -- A statement of its own: it sees the roster as the insert left it, and the
            -- leads that were there before are the ones the insert did not write.
            SELECT json_object_agg(leads.identity, leads.id) INTO existing
            FROM leads
            WHERE leads.campaign_id = p_campaign_id AND leads.identity = ANY (not_inserted);
        END IF;
        -- The statement-level trigger has updated the counts by now: the stats include it.
        stats := recalculate_campaign_stats(p_campaign_id);
    END IF;
    RETURN NEXT;
END;
$$;
